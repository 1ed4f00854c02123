// The serving snapshot: everything the API answers from, rebuilt from Redis at a bounded interval
// by one background thread, so requests never wait on Redis and every answer in one response is
// consistent with one `watermark_ms` (issue 8: "answers come from a cached snapshot").
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "storage/redis_client.h"
#include "storage/snapshot_reader.h"

namespace segstream::serve {

struct ItemView {
  storage::ItemCounts counts;
  // Mid-rank percentile of `orders` among items with orders >= 1 (DESIGN §3); < 0 = null.
  double percentile = -1;
};

struct Snapshot {
  storage::PipelineStatus status;
  int64_t watermark_ms = 0;
  std::vector<ItemView> items;
  std::unordered_map<std::string, size_t> by_sku;
  // Item indices ranked by orders, units and revenue (descending, ties by sku).
  std::vector<size_t> by_orders, by_units, by_revenue;
  std::chrono::system_clock::time_point built_at;
};

// Builds a snapshot from what storage read (pure: the tests feed it by hand).
std::shared_ptr<const Snapshot> BuildSnapshot(storage::PipelineStatus status,
                                              std::vector<storage::ItemCounts> items,
                                              int64_t allowed_lateness_ms);

struct SnapshotCacheOptions {
  storage::RedisOptions redis;
  // How often the snapshot is rebuilt: the staleness bound of every answer. Default 250 ms.
  std::chrono::milliseconds refresh_interval{250};
  // Watermark = max event time seen - allowed lateness (DESIGN §3). Default 5 min.
  int64_t allowed_lateness_ms = 5 * 60 * 1000;
};

class SnapshotCache {
 public:
  explicit SnapshotCache(SnapshotCacheOptions options);
  ~SnapshotCache();

  void Start();  // background refresh thread
  void Stop();
  // Rebuilds now, on the caller's thread (used at start and by tests).
  Status Refresh();
  // Latest snapshot, or null before the first successful refresh.
  std::shared_ptr<const Snapshot> Get() const;
  // Last refresh error, empty when the last refresh succeeded.
  std::string last_error() const;

 private:
  SnapshotCacheOptions options_;
  std::unique_ptr<storage::RedisConnection> redis_;
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> current_;
  std::string last_error_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace segstream::serve
