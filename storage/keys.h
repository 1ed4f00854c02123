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

// Customer segments (DESIGN §3, storage/README.md). Per checkouts partition, written by stage 1 in
// the same atomic call as the partition's offset:
// HASH customer id -> stream::EncodeCustomer: "{checkouts:P}:customers".
std::string CustomersKey(int32_t partition);
// STRING stream::EncodeStats of the partition's k segments: "{checkouts:P}:segstats".
std::string SegmentStatsKey(int32_t partition);
// HASH scored_version, segmented, customers: "{checkouts:P}:segmeta".
std::string SegmentMetaKey(int32_t partition);
// STRING stream::TDigest::Serialize of the basket values (currency units) of the partition's
// checkouts with a sale: "{checkouts:P}:basket_digest".
std::string BasketDigestKey(int32_t partition);
// Drift purchases (stream/drift_panes.h): HASH event-time day start (ms) -> purchases stored that
// day, "{checkouts:P}:drift"; and per day a HASH source offset -> stream::EncodeDriftPurchase,
// "{checkouts:P}:drift:<day start>".
std::string DriftIndexKey(int32_t partition);
std::string DriftDayKey(int32_t partition, int64_t day_start_ms);
// Bought together (stream/together.h). HASH source offset -> stream::EncodeBasket of the
// partition's checkouts with 2..max_basket_for_pairs distinct sale skus: "{checkouts:P}:baskets".
std::string BasketsKey(int32_t partition);
// STRING of stream::AppendBasketRef refs, one per applied item-sale of `sku` with orders > 0, in
// apply order, on the sku's item-sales partition: "{item-sales:P}:basket_refs:<sku>".
std::string BasketRefsKey(int32_t item_partition, std::string_view sku);
// HASH pane start -> checkouts with a sale in that pane (counted on the item-sales partition of
// the checkout's first sku): "{item-sales:P}:pane_sale_checkouts".
std::string PaneSaleCheckoutsKey(int32_t item_partition);
// The global model, one slot of its own: STRING stream::SegmentModel::Encode, "{model}:current".
std::string ModelKey();
// STRING worker id, SET NX PX by the worker that builds / refreshes the model: "{model}:lease".
std::string ModelLeaseKey();
// STRING stream::SegmentModel::Encode of one published version, kept a while after the next one
// (SET PX) so a worker taking a partition over can tell what a dead owner's sweep under that
// version did (ingest/segmenter.h, RESTATE): "{model}:v:<version>".
std::string ModelVersionHistoryKey(int64_t version);
// Written by the drift evaluator (the model lease holder), in the model's slot:
// STRING JSON of the monitors' current values, the /v1/drift table: "{model}:drift".
std::string DriftReportKey();
// LIST of DriftAlert JSON objects, newest first, capped: "{model}:drift_alerts".
std::string DriftAlertsKey();

}  // namespace segstream::storage
