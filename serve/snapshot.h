// The serving snapshot: everything the API answers from, rebuilt from Redis at a bounded interval
// by one background thread, so requests never wait on Redis and every answer in one response is
// consistent with one `watermark_ms` (issue 8: "answers come from a cached snapshot").
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "serve/segments_view.h"
#include "storage/redis_client.h"
#include "storage/snapshot_reader.h"
#include "stream/tdigest.h"
#include "stream/windows.h"

namespace segstream::serve {

inline constexpr double kPopularityCompression = 100;

struct ItemView {
  storage::ItemCounts counts;
  // Mid-rank percentile of `orders` among the window's items with orders >= 1 (DESIGN §3), from
  // the window's merged t-digest; < 0 = null (no orders in the window).
  double percentile = -1;
};

// One window's items, ranked.
struct WindowView {
  std::string name;
  stream::PaneRange panes;  // empty for `all`
  std::vector<ItemView> items;
  std::unordered_map<std::string, size_t> by_sku;
  // Item indices ranked by orders, units and revenue (descending, ties by sku).
  std::vector<size_t> by_orders, by_units, by_revenue;
  // Digest of `orders` over the items with orders >= 1: the popularity distribution.
  stream::TDigest popularity{kPopularityCompression};
  int64_t popular_items = 0;  // items with orders >= 1
  // Checkouts with a sale line in the window (bought together's lift base): stage 2's count for
  // `all`, the sum of the window's panes otherwise.
  int64_t sale_checkouts = 0;
};

struct Snapshot {
  storage::PipelineStatus status;
  int64_t watermark_ms = 0;
  std::map<std::string, WindowView, std::less<>> windows;  // "all", "1h", "24h", "7d", "30d"
  SegmentsView segments;                                   // the model and live membership
  std::chrono::system_clock::time_point built_at;

  const WindowView& all() const { return windows.at("all"); }
};

// Builds one window's view from its items (pure: the tests feed it by hand).
WindowView BuildWindowView(std::string name, std::vector<storage::ItemCounts> items);

// Sums the panes of `range` (pane start -> items of that pane, over all partitions).
std::vector<storage::ItemCounts> SumPanes(
    const std::map<std::pair<int32_t, int64_t>, std::vector<storage::ItemCounts>>& panes,
    stream::PaneRange range);

// The whole snapshot from what storage read: window `all` from `all_items`, the other windows
// summed from `panes` ((partition, pane start) -> items) at the watermark, and their sale
// checkouts from `pane_sale_checkouts` (same keys) (pure).
std::shared_ptr<const Snapshot> BuildSnapshot(
    storage::PipelineStatus status, std::vector<storage::ItemCounts> all_items,
    const std::map<std::pair<int32_t, int64_t>, std::vector<storage::ItemCounts>>& panes,
    const stream::WindowOptions& windows, SegmentsView segments = {},
    const std::map<std::pair<int32_t, int64_t>, int64_t>& pane_sale_checkouts = {});

struct SnapshotCacheOptions {
  storage::RedisOptions redis;
  // How often the snapshot is rebuilt: the staleness bound of every answer. Default 250 ms.
  std::chrono::milliseconds refresh_interval{250};
  // Pane width and allowed lateness; must match the workers' (stream/windows.h defaults).
  stream::WindowOptions windows;
  // Called on the refresh thread after each successful refresh (e.g. to publish events).
  std::function<void(const Snapshot&)> on_refresh;
};

class SnapshotCache {
 public:
  explicit SnapshotCache(SnapshotCacheOptions options);
  ~SnapshotCache();

  void Start();  // background refresh thread
  void Stop();
  // Rebuilds now, on the caller's thread (used at start and by tests). Not concurrent with the
  // background thread's own refresh: call it before Start() or after Stop().
  Status Refresh();
  // Latest snapshot, or null before the first successful refresh.
  std::shared_ptr<const Snapshot> Get() const;
  // Last refresh error, empty when the last refresh succeeded.
  std::string last_error() const;
  // The latest snapshot for an answer, or kUnavailable (a 503) before the first one, with the
  // last refresh error.
  Result<std::shared_ptr<const Snapshot>> Current() const;

 private:
  struct CachedPane {
    int64_t version = -1;
    std::vector<storage::ItemCounts> items;
    int64_t sale_checkouts = 0;
  };
  Status RefreshPanes(storage::SnapshotReader& reader);

  SnapshotCacheOptions options_;
  std::unique_ptr<storage::RedisConnection> redis_;
  // (partition, pane start) -> counters, reloaded only when the pane's version moves.
  std::map<std::pair<int32_t, int64_t>, CachedPane> panes_;
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> current_;
  std::string last_error_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace segstream::serve
