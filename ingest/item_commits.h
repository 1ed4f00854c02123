// Stage 2 commit coalescing (issue 10). Redis time goes mostly to the stage-2 commit script, whose
// work grows with the distinct (sku, commit) pairs: per pair a few HINCRBYs per window, an APPEND
// of basket refs, a description. One cycle's item-sales batch is small (~900 records per
// partition on the Online Retail run), so a sku recurs few times in it; folding several cycles
// into one commit cut the pairs from 151k (1,000 records per commit) to 69k (3,000) and 26k
// (10,000) on that stream. The folded records are not committed until the commit lands: a crash
// or a fence drops them and the partition is replayed from Redis's offset, as a failed batch is.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_set>

#include "ingest/stages.h"
#include "storage/partition_state.h"

namespace segstream::ingest {

// Records of one item-sales partition processed but not yet committed, as one commit.
struct PendingItemSales {
  storage::ItemSalesCommit commit;
  ItemPartitionState state;  // the partition's stage-2 state after the folded records
  int64_t records = 0;       // records folded in (applied, duplicate or undecodable)
  std::chrono::steady_clock::time_point since{};  // when its oldest record was consumed (about)

  bool empty() const { return records == 0; }
  // Folds `batch` in. An empty one first starts from `committed`, the state as of `stored_offset`
  // under `generation` (the fence of the commit). `consumed`: when the batch was consumed.
  Status Fold(ItemStage* stage, const MessageBatch& batch, int64_t generation,
              int64_t stored_offset, const ItemPartitionState& committed,
              std::chrono::steady_clock::time_point consumed);
};

// The skus whose description an owner of an item-sales partition has committed since its claim.
// The commit stores a description with HSETNX, which never overwrites, so sending it again is
// wasted bytes and a wasted call: a commit sends each sku's description once per claim. Bounded:
// past `capacity` skus the rest are always sent (as before).
class DescribedSkus {
 public:
  explicit DescribedSkus(size_t capacity = 0) : capacity_(capacity) {}
  // Clears the descriptions in `commit` of skus already described.
  void Strip(storage::ItemSalesCommit* commit) const;
  // After `commit` landed: its described skus need no description any more.
  void Remember(const storage::ItemSalesCommit& commit);
  size_t size() const { return skus_.size(); }

 private:
  size_t capacity_;
  std::unordered_set<std::string> skus_;
};

}  // namespace segstream::ingest
