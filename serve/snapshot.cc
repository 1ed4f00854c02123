#include "serve/snapshot.h"

#include <algorithm>

#include "storage/keys.h"

namespace segstream::serve {

WindowView BuildWindowView(std::string name, std::vector<storage::ItemCounts> items) {
  WindowView view;
  view.name = std::move(name);
  view.items.reserve(items.size());
  for (auto& counts : items) view.items.push_back(ItemView{std::move(counts), -1});
  const size_t n = view.items.size();
  std::vector<size_t> idx(n);
  for (size_t i = 0; i < n; ++i) {
    idx[i] = i;
    view.by_sku.emplace(view.items[i].counts.sku, i);
  }
  auto ranked = [&](auto key) {
    std::vector<size_t> order = idx;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      auto ka = key(view.items[a].counts), kb = key(view.items[b].counts);
      if (ka != kb) return ka > kb;
      return view.items[a].counts.sku < view.items[b].counts.sku;
    });
    return order;
  };
  view.by_orders = ranked([](const storage::ItemCounts& c) { return c.orders; });
  view.by_units = ranked([](const storage::ItemCounts& c) { return c.units; });
  view.by_revenue = ranked([](const storage::ItemCounts& c) { return c.revenue_micros; });

  // Popularity (DESIGN §3): one t-digest of `orders` per item-sales partition (each sku lives in
  // one), merged, as a reader of per-partition state would; percentiles and quantiles are read
  // from the merged digest. Orders are small integers, which the digest keeps exact.
  std::map<int32_t, stream::TDigest> per_partition;
  for (const ItemView& item : view.items) {
    if (item.counts.orders < 1) continue;
    auto [it, inserted] = per_partition.try_emplace(item.counts.partition, kPopularityCompression);
    it->second.Add(static_cast<double>(item.counts.orders));
    ++view.popular_items;
  }
  for (const auto& [partition, digest] : per_partition) view.popularity.Merge(digest);
  // A digest compresses lazily, in mutable state, on its first query: done here, once, so the
  // I/O threads that share this snapshot only ever read it.
  view.popularity.Compress();
  for (ItemView& item : view.items) {
    if (item.counts.orders >= 1) {
      item.percentile = 100.0 * view.popularity.Cdf(static_cast<double>(item.counts.orders));
    }
  }
  return view;
}

std::vector<storage::ItemCounts> SumPanes(
    const std::map<std::pair<int32_t, int64_t>, std::vector<storage::ItemCounts>>& panes,
    stream::PaneRange range) {
  std::vector<storage::ItemCounts> items;
  std::unordered_map<std::string, size_t> index;
  for (const auto& [key, pane_items] : panes) {
    if (!range.Contains(key.second)) continue;
    for (const auto& c : pane_items) {
      auto [it, inserted] = index.try_emplace(c.sku, items.size());
      if (inserted) {
        items.emplace_back();
        items.back().sku = c.sku;
        items.back().partition = c.partition;
      }
      storage::ItemCounts& sum = items[it->second];
      sum.orders += c.orders;
      sum.units += c.units;
      sum.returned_units += c.returned_units;
      sum.revenue_micros += c.revenue_micros;
    }
  }
  return items;
}

std::shared_ptr<const Snapshot> BuildSnapshot(
    storage::PipelineStatus status, std::vector<storage::ItemCounts> all_items,
    const std::map<std::pair<int32_t, int64_t>, std::vector<storage::ItemCounts>>& panes,
    const stream::WindowOptions& windows, SegmentsView segments,
    const std::map<std::pair<int32_t, int64_t>, int64_t>& pane_sale_checkouts) {
  auto snap = std::make_shared<Snapshot>();
  snap->status = std::move(status);
  snap->segments = std::move(segments);
  snap->watermark_ms = snap->status.min_partition_max_event_ms > 0
                           ? snap->status.min_partition_max_event_ms - windows.allowed_lateness_ms
                           : 0;
  for (const stream::WindowSpec& w : stream::ServedWindows()) {
    if (!w.duration_ms) {
      WindowView view = BuildWindowView(std::string(w.name), std::move(all_items));
      view.sale_checkouts = snap->status.sale_checkouts;
      snap->windows.emplace(w.name, std::move(view));
      continue;
    }
    stream::PaneRange range =
        stream::WindowPanes(snap->watermark_ms, *w.duration_ms, windows.pane_ms);
    WindowView view = BuildWindowView(std::string(w.name), SumPanes(panes, range));
    view.panes = range;
    for (const auto& [key, count] : pane_sale_checkouts) {
      if (range.Contains(key.second)) view.sale_checkouts += count;
    }
    snap->windows.emplace(w.name, std::move(view));
  }
  snap->built_at = std::chrono::system_clock::now();
  return snap;
}

SnapshotCache::SnapshotCache(SnapshotCacheOptions options) : options_(std::move(options)) {}

SnapshotCache::~SnapshotCache() { Stop(); }

Status SnapshotCache::RefreshPanes(storage::SnapshotReader& reader) {
  auto parts = reader.Partitions(storage::kItemSalesTopic);
  if (!parts.ok()) return parts.status();
  std::map<std::pair<int32_t, int64_t>, CachedPane> next;
  for (int32_t p : *parts) {
    auto versions = reader.ReadPaneVersions(p);
    if (!versions.ok()) return versions.status();
    std::vector<int64_t> changed;
    for (const auto& [start, version] : *versions) {
      auto it = panes_.find({p, start});
      if (it != panes_.end() && it->second.version == version) {
        next[{p, start}] = std::move(it->second);
      } else {
        changed.push_back(start);
        next[{p, start}].version = version;
      }
    }
    if (changed.empty()) continue;
    auto loaded = reader.ReadPanes(p, changed);
    if (!loaded.ok()) return loaded.status();
    for (auto& [start, items] : *loaded) next[{p, start}].items = std::move(items);
    // Written in the same commits that bump the pane versions, so reloaded with them.
    auto sales = reader.ReadPaneSaleCheckouts(p, changed);
    if (!sales.ok()) return sales.status();
    for (const auto& [start, count] : *sales) next[{p, start}].sale_checkouts = count;
  }
  panes_ = std::move(next);
  return Status::Ok();
}

Status SnapshotCache::Refresh() {
  if (!redis_) {
    auto conn = storage::RedisConnection::Connect(options_.redis);
    if (!conn.ok()) return conn.status();
    redis_ = std::make_unique<storage::RedisConnection>(std::move(*conn));
  }
  storage::SnapshotReader reader(redis_.get());
  auto status = reader.ReadStatus();
  auto items =
      status.ok() ? reader.ReadItems() : Result<std::vector<storage::ItemCounts>>(status.status());
  Status panes = items.ok() ? RefreshPanes(reader) : items.status();
  // The segment model and statistics are a few hundred bytes per partition: read every time.
  auto segments = panes.ok() ? ReadSegmentsView(redis_.get()) : Result<SegmentsView>(panes);
  if (!segments.ok()) {
    redis_.reset();  // reconnect next time
    panes_.clear();  // a version read from a restarted Redis could repeat: reload everything
    return segments.status();
  }
  std::map<std::pair<int32_t, int64_t>, std::vector<storage::ItemCounts>> pane_items;
  std::map<std::pair<int32_t, int64_t>, int64_t> pane_sales;
  for (const auto& [key, pane] : panes_) {
    pane_items.emplace(key, pane.items);
    pane_sales.emplace(key, pane.sale_checkouts);
  }
  auto snap = BuildSnapshot(std::move(*status), std::move(*items), pane_items, options_.windows,
                            std::move(*segments), pane_sales);
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
      if (s.ok() && options_.on_refresh) options_.on_refresh(*Get());
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

Result<std::shared_ptr<const Snapshot>> SnapshotCache::Current() const {
  auto snap = Get();
  if (!snap) {
    std::string why = last_error();
    return Status::Unavailable("no data yet" + (why.empty() ? "" : ": " + why));
  }
  return snap;
}

std::string SnapshotCache::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

}  // namespace segstream::serve
