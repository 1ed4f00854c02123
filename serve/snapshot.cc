#include "serve/snapshot.h"

#include <algorithm>

namespace segstream::serve {

std::shared_ptr<const Snapshot> BuildSnapshot(storage::PipelineStatus status,
                                              std::vector<storage::ItemCounts> items,
                                              int64_t allowed_lateness_ms) {
  auto snap = std::make_shared<Snapshot>();
  snap->status = std::move(status);
  snap->watermark_ms = snap->status.min_partition_max_event_ms > 0
                           ? snap->status.min_partition_max_event_ms - allowed_lateness_ms
                           : 0;
  snap->items.reserve(items.size());
  for (auto& counts : items) snap->items.push_back(ItemView{std::move(counts), -1});
  const size_t n = snap->items.size();
  std::vector<size_t> idx(n);
  for (size_t i = 0; i < n; ++i) {
    idx[i] = i;
    snap->by_sku.emplace(snap->items[i].counts.sku, i);
  }
  auto ranked = [&](auto key) {
    std::vector<size_t> order = idx;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      auto ka = key(snap->items[a].counts), kb = key(snap->items[b].counts);
      if (ka != kb) return ka > kb;
      return snap->items[a].counts.sku < snap->items[b].counts.sku;
    });
    return order;
  };
  snap->by_orders = ranked([](const storage::ItemCounts& c) { return c.orders; });
  snap->by_units = ranked([](const storage::ItemCounts& c) { return c.units; });
  snap->by_revenue = ranked([](const storage::ItemCounts& c) { return c.revenue_micros; });

  // Exact mid-rank percentiles over items with orders >= 1, from the descending orders ranking:
  // walk groups of equal orders from the smallest up.
  std::vector<size_t> with_orders;
  for (size_t i : snap->by_orders) {
    if (snap->items[i].counts.orders >= 1) with_orders.push_back(i);
  }
  std::reverse(with_orders.begin(), with_orders.end());
  const double total = static_cast<double>(with_orders.size());
  size_t below = 0;
  for (size_t g = 0; g < with_orders.size();) {
    size_t end = g;
    const int64_t value = snap->items[with_orders[g]].counts.orders;
    while (end < with_orders.size() && snap->items[with_orders[end]].counts.orders == value) ++end;
    const double equal = static_cast<double>(end - g);
    const double pct = 100.0 * (static_cast<double>(below) + 0.5 * equal) / total;
    for (size_t k = g; k < end; ++k) snap->items[with_orders[k]].percentile = pct;
    below = end;
    g = end;
  }
  snap->built_at = std::chrono::system_clock::now();
  return snap;
}

SnapshotCache::SnapshotCache(SnapshotCacheOptions options) : options_(std::move(options)) {}

SnapshotCache::~SnapshotCache() { Stop(); }

Status SnapshotCache::Refresh() {
  if (!redis_) {
    auto conn = storage::RedisConnection::Connect(options_.redis);
    if (!conn.ok()) return conn.status();
    redis_ = std::make_unique<storage::RedisConnection>(std::move(*conn));
  }
  storage::SnapshotReader reader(redis_.get());
  auto status = reader.ReadStatus();
  if (!status.ok()) {
    redis_.reset();  // reconnect next time
    return status.status();
  }
  auto items = reader.ReadItems();
  if (!items.ok()) {
    redis_.reset();
    return items.status();
  }
  auto snap = BuildSnapshot(std::move(*status), std::move(*items), options_.allowed_lateness_ms);
  std::lock_guard lock(mu_);
  current_ = std::move(snap);
  return Status::Ok();
}

void SnapshotCache::Start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      Status s = Refresh();
      lock.lock();
      last_error_ = s.ok() ? "" : s.ToString();
      wake_.wait_for(lock, options_.refresh_interval, [this] { return stopping_; });
    }
  });
}

void SnapshotCache::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const Snapshot> SnapshotCache::Get() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::string SnapshotCache::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

}  // namespace segstream::serve
