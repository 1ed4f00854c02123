// Reads the pipeline's state out of Redis for serving: every partition's meta and item counters,
// summed over partitions (each sku lives in exactly one item-sales partition).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "storage/redis_client.h"

namespace segstream::storage {

struct ItemCounts {
  std::string sku;
  std::string description;
  int64_t orders = 0;
  int64_t units = 0;
  int64_t returned_units = 0;
  int64_t revenue_micros = 0;
  int32_t partition = -1;  // item-sales partition holding the sku (each sku lives in one)
};

struct PartitionProgress {
  int64_t committed_offset = -1;  // next offset to read; -1 = none committed
  int64_t high_watermark = -1;    // end offset as last seen by the worker
  int64_t lag() const {
    return high_watermark < 0 ? 0 : high_watermark - std::max<int64_t>(committed_offset, 0);
  }
};

// Batch commit durations of one topic, summed over its partitions (the `commit_*` meta fields,
// storage/partition_state.h).
struct CommitHistogram {
  std::vector<int64_t> cumulative;  // per kCommitBucketBounds, cumulative as stored
  int64_t count = 0;
  int64_t sum_us = 0;
};

struct PipelineStatus {
  int64_t events_processed = 0;  // valid checkouts, DLQ excluded
  int64_t dlq_events = 0;
  int64_t item_sales_produced = 0;         // unique item-sales records (stage 1, exactly once)
  int64_t item_sales_applied = 0;          // of those, applied by stage 2 (duplicates excluded)
  int64_t item_sales_duplicates = 0;       // replayed records stage 2 dropped
  int64_t late_events = 0;                 // older than pane retention: counted in `all` only
  int64_t max_event_ms = 0;                // max over partitions
  int64_t min_partition_max_event_ms = 0;  // min over partitions with events (watermark input)
  // Bought together (stream/together.h): checkouts with a sale line (stage 2, lift's base in
  // window `all`), baskets stored by stage 1, and checkouts above the basket cap (not stored).
  int64_t sale_checkouts = 0;
  int64_t baskets_stored = 0;
  int64_t baskets_capped = 0;
  std::map<std::string, int64_t> dlq_reasons;
  std::map<std::string, PartitionProgress> partitions;      // "checkouts:0", "item-sales:3", ...
  std::map<std::string, CommitHistogram> commit_durations;  // by topic; absent before any
  bool replay_known = false;
  bool replay_done = false;
  int64_t replay_events = 0;
  int64_t replay_rows_skipped = 0;
};

class SnapshotReader {
 public:
  explicit SnapshotReader(RedisConnection* redis) : redis_(redis) {}

  Result<PipelineStatus> ReadStatus();
  // Every item with any counter, unordered (window `all`).
  Result<std::vector<ItemCounts>> ReadItems();

  // Partitions of `topic` that a worker has claimed.
  Result<std::vector<int32_t>> Partitions(std::string_view topic);
  // Event-time panes of one item-sales partition: pane start -> version (bumped by each commit
  // that touches the pane), so a reader reloads only the panes that changed.
  Result<std::map<int64_t, int64_t>> ReadPaneVersions(int32_t partition);
  // The per-sku counters of the given panes of one partition (descriptions left empty).
  Result<std::map<int64_t, std::vector<ItemCounts>>> ReadPanes(int32_t partition,
                                                               const std::vector<int64_t>& starts);
  // Checkouts with a sale in each of the given panes of one partition (0 where none).
  Result<std::map<int64_t, int64_t>> ReadPaneSaleCheckouts(int32_t partition,
                                                           const std::vector<int64_t>& starts);

 private:
  RedisConnection* redis_;
};

}  // namespace segstream::storage
