// The Redis key map (documented in storage/README.md). Every key of a partition carries the hash
// tag {topic:partition} so one atomic call touches one Cluster slot (DESIGN §5).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace segstream::storage {

inline constexpr std::string_view kCheckoutsTopic = "checkouts";
inline constexpr std::string_view kItemSalesTopic = "item-sales";
inline constexpr std::string_view kSegmentChangesTopic = "segment-changes";
inline constexpr std::string_view kSegmentDriftTopic = "segment-drift";
inline constexpr std::string_view kDlqTopic = "checkouts.dlq";

// "{checkouts:3}:meta" and friends.
std::string PartitionKey(std::string_view topic, int32_t partition, std::string_view suffix);
// SET of the partition numbers of `topic` that a worker has ever claimed (serve discovers them).
std::string PartitionsSetKey(std::string_view topic);
// HASH of the replay's progress, written by `segstream replay --redis`/`run`.
std::string ReplayStatusKey();

}  // namespace segstream::storage
