// Per-partition state in Redis, committed with the partition's offset in ONE atomic Lua call that
// first checks the fence: the stored offset and the assignment generation (DESIGN §5). A worker
// that lost its partition (a zombie) gets kFenced and must drop its batch.
#pragma once

#include <climits>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "storage/redis_client.h"

namespace segstream::storage {

// Highest (source offset, seq) of item-sales applied from one stage-1 partition.
struct HighWaterMark {
  int64_t offset = -1;
  int32_t seq = -1;
  bool Covers(int64_t o, int32_t s) const { return o < offset || (o == offset && s <= seq); }
};

// What a worker learns when it takes a partition.
struct PartitionClaim {
  int64_t generation = 0;
  int64_t next_offset = -1;                     // -1: nothing committed yet, start at the earliest
  std::map<int32_t, HighWaterMark> source_hwm;  // item-sales partitions only
  int64_t max_event_ms = 0;                     // newest event time committed on the partition
};

// segstream_batch_commit_seconds (issue 8): a worker times each batch's commit call and hands the
// duration to the next commit of the same partition, which adds it to cumulative counters in the
// partition's meta hash (`commit_count`, `commit_sum_us`, `commit_le_<bound>`), inside the same
// atomic call: no extra round trip, and the counts survive worker and serve restarts. At most once:
// the last commit before a partition moves, and a commit whose retry may double-apply, go
// unrecorded. Bounds in seconds, as Prometheus `le` (the +Inf bucket is `commit_count`).
inline constexpr double kCommitBucketBounds[] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
// The meta field of one bound, e.g. "commit_le_0.0025".
std::string CommitBucketField(double bound);

// Stage 1 (checkouts) batch: counters and the new offset.
struct CheckoutsCommit {
  int64_t generation = 0;
  int64_t expected_offset = -1;  // what the worker believes is stored (fence)
  int64_t next_offset = 0;
  int64_t events = 0;      // checkouts processed (valid)
  int64_t dlq = 0;         // dead-lettered
  int64_t item_sales = 0;  // item-sales records produced
  int64_t max_event_ms = 0;
  int64_t high_watermark = -1;  // broker's end offset as last seen, for lag
  std::map<std::string, int64_t> dlq_reasons;
  // Customer segments (stream/segments.h), written with the offset as absolute values (so a
  // replayed batch writes the same thing): customer id -> EncodeCustomer, the partition's
  // EncodeStats ('' = unchanged) and `{checkouts:P}:segmeta` fields (storage/README.md).
  std::map<std::string, std::string> customers;
  std::string segment_stats;
  std::map<std::string, int64_t> segment_meta;
  std::string
      basket_digest;  // TDigest::Serialize of the partition's basket values ('' = unchanged)
  // Drift purchases (stream/drift_panes.h). Per touched event-time day (start, ms): the day's
  // purchase count, absolute, into the index `{checkouts:P}:drift`, and the batch's purchases
  // (field = source offset, value = EncodeDriftPurchase) into `{checkouts:P}:drift:<day>`.
  // Every key of drift_purchases must be in drift_day_counts. Retired days lose both.
  std::map<int64_t, int64_t> drift_day_counts;
  std::map<int64_t, std::vector<std::pair<std::string, std::string>>> drift_purchases;
  std::vector<int64_t> drift_days_deleted;
  // Bought together (stream/together.h): (source offset, EncodeBasket) of the batch's checkouts
  // with 2..max_basket_for_pairs distinct sale skus, into `{checkouts:P}:baskets` (a replayed
  // batch writes the same fields); and how many checkouts had more (meta `baskets_capped`).
  std::vector<std::pair<int64_t, std::string>> baskets;
  int64_t baskets_capped = 0;
  int64_t previous_commit_us = -1;  // the partition's previous commit duration; -1 = none
};

struct ItemDelta {
  int64_t orders = 0, units = 0, returned_units = 0, revenue_micros = 0;
  std::string description;
};

// Stage 2 (item-sales) batch: per-sku deltas, new high-water marks and the new offset.
struct ItemSalesCommit {
  int64_t generation = 0;
  int64_t expected_offset = -1;
  int64_t next_offset = 0;
  int64_t high_watermark = -1;
  int64_t applied = 0;                          // records applied
  int64_t duplicates = 0;                       // records dropped by the high-water mark
  std::map<int32_t, HighWaterMark> source_hwm;  // only the sources that moved
  std::map<std::string, ItemDelta> items;       // window `all`
  // Event-time panes (stream/windows.h): pane start -> sku -> delta (description unused).
  std::map<int64_t, std::map<std::string, ItemDelta>> panes;
  // Bought together (stream/together.h): checkouts with a sale line (lift's base), counted on the
  // record with seq 0, for window `all` (meta `sale_checkouts`) and per pane (every key must be in
  // `panes`); and per sku the concatenated AppendBasketRef refs of its applied sales, APPENDed to
  // `{item-sales:P}:basket_refs:<sku>`.
  int64_t sale_checkouts = 0;
  std::map<int64_t, int64_t> pane_sale_checkouts;
  std::map<std::string, std::string> basket_refs;
  int64_t max_event_ms = 0;  // newest event time in the batch
  int64_t late_events = 0;   // events older than the retention cutoff (counted in `all` only)
  // Panes starting before this are deleted (retention); INT64_MIN keeps everything.
  int64_t retention_cutoff = INT64_MIN;
  int64_t previous_commit_us = -1;  // the partition's previous commit duration; -1 = none
};

class PartitionStateStore {
 public:
  explicit PartitionStateStore(RedisConnection* redis) : redis_(redis) {}

  // Bumps the partition's generation (fencing out any previous owner) and reads its state.
  Result<PartitionClaim> Claim(std::string_view topic, int32_t partition);
  // kFenced if another owner claimed the partition or the stored offset moved.
  Status CommitCheckouts(int32_t partition, const CheckoutsCommit& commit);
  Status CommitItemSales(int32_t partition, const ItemSalesCommit& commit);

 private:
  Result<RedisValue> RunScript(int which, const std::vector<std::string>& keys,
                               const std::vector<std::string>& args);
  Status CheckCommitReply(const Result<RedisValue>& reply, std::string_view what);

  RedisConnection* redis_;
  std::string sha_[3];  // SCRIPT LOAD digests, reloaded after NOSCRIPT (a restarted Redis)
};

}  // namespace segstream::storage
