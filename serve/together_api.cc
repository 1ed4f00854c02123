#include "serve/together_api.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>

#include "serve/params.h"
#include "serve/redis_pool.h"
#include "storage/together_reader.h"

namespace segstream::serve {

using nlohmann::json;

std::vector<TogetherRow> RankPartners(std::vector<stream::PartnerCount> partners, int64_t orders,
                                      const WindowView& window, size_t limit) {
  std::vector<TogetherRow> rows;
  if (orders <= 0 || window.sale_checkouts <= 0) return rows;
  rows.reserve(partners.size());
  for (auto& p : partners) {
    auto it = window.by_sku.find(p.sku);
    if (it == window.by_sku.end() || p.count <= 0) continue;
    const int64_t other = window.items[it->second].counts.orders;
    if (other <= 0) continue;
    TogetherRow row;
    row.sku = std::move(p.sku);
    row.count = p.count;
    row.confidence = static_cast<double>(p.count) / static_cast<double>(orders);
    row.lift =
        row.confidence / (static_cast<double>(other) / static_cast<double>(window.sale_checkouts));
    rows.push_back(std::move(row));
  }
  auto before = [](const TogetherRow& a, const TogetherRow& b) {
    if (a.count != b.count) return a.count > b.count;
    if (a.lift != b.lift) return a.lift > b.lift;
    return a.sku < b.sku;
  };
  if (rows.size() > limit) {
    std::partial_sort(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(limit), rows.end(),
                      before);
    rows.resize(limit);
  } else {
    std::sort(rows.begin(), rows.end(), before);
  }
  return rows;
}

SnapshotDataVersion DataVersionOf(const Snapshot& snapshot) {
  SnapshotDataVersion v;
  for (const auto& [name, progress] : snapshot.status.partitions) {
    v.committed_offsets += std::max<int64_t>(progress.committed_offset, 0);
  }
  v.watermark_ms = snapshot.watermark_ms;
  return v;
}

namespace {

// Ranked answers of the current data version. Offsets only grow, so an answer of an older version
// is never asked for again: a version change empties the cache.
class AnswerCache {
 public:
  explicit AnswerCache(size_t max_entries) : max_entries_(max_entries) {}

  std::shared_ptr<const std::vector<TogetherRow>> Find(const SnapshotDataVersion& version,
                                                       const std::string& window,
                                                       const std::string& sku) {
    std::lock_guard lock(mu_);
    if (!(version == version_)) return nullptr;
    auto it = answers_.find({window, sku});
    return it == answers_.end() ? nullptr : it->second;
  }

  void Put(const SnapshotDataVersion& version, const std::string& window, const std::string& sku,
           std::shared_ptr<const std::vector<TogetherRow>> rows) {
    std::lock_guard lock(mu_);
    if (!(version == version_)) {
      answers_.clear();
      version_ = version;
    }
    if (answers_.size() >= max_entries_) answers_.clear();
    answers_[{window, sku}] = std::move(rows);
  }

 private:
  const size_t max_entries_;
  std::mutex mu_;
  SnapshotDataVersion version_{-1, 0};
  std::map<std::pair<std::string, std::string>, std::shared_ptr<const std::vector<TogetherRow>>>
      answers_;
};

struct Context {
  const SnapshotCache* cache;
  RedisPool pool;
  AnswerCache answers;
  int64_t pane_ms;
};

Response Together(Context* ctx, const Request& request) {
  if (Status s = CheckParams(request, {"n", "window"}); !s.ok()) return ErrorResponse(s);
  auto n = IntParam(request, "n", 1, 1000, 10);
  if (!n.ok()) return ErrorResponse(n.status());
  auto window = EnumParam(request, "window", {"all", "1h", "24h", "7d", "30d"}, "all");
  if (!window.ok()) return ErrorResponse(window.status());
  auto snap = ctx->cache->Current();
  if (!snap.ok()) return ErrorResponse(snap.status());
  const Snapshot& s = **snap;
  const std::string sku(request.PathParam("sku"));
  auto item = s.all().by_sku.find(sku);
  if (item == s.all().by_sku.end()) return JsonError(404, "sku '" + sku + "' has never been seen");
  const WindowView& view = s.windows.at(*window);

  const SnapshotDataVersion version = DataVersionOf(s);
  auto rows = ctx->answers.Find(version, *window, sku);
  if (!rows) {
    const storage::ItemCounts& counts = s.all().items[item->second].counts;
    auto read = ctx->pool.Run([&](storage::RedisConnection& redis) {
      return storage::ReadSkuBaskets(&redis, counts.partition, sku, counts.orders);
    });
    if (!read.ok()) return ErrorResponse(read.status());
    stream::BasketFilter filter;
    filter.pane_ms = ctx->pane_ms;
    if (*window != "all") filter.panes = view.panes;
    auto in_window = view.by_sku.find(sku);
    const int64_t orders =
        in_window == view.by_sku.end() ? 0 : view.items[in_window->second].counts.orders;
    rows = std::make_shared<const std::vector<TogetherRow>>(
        RankPartners(stream::CountPartners(sku, read->baskets, filter), orders, view));
    ctx->answers.Put(version, *window, sku, rows);
  }
  json out = json::array();
  const WindowView& all = s.all();
  for (size_t i = 0; i < rows->size() && static_cast<int64_t>(i) < *n; ++i) {
    const TogetherRow& row = (*rows)[i];
    auto other = all.by_sku.find(row.sku);
    out.push_back({{"sku", row.sku},
                   {"description",
                    other == all.by_sku.end() ? "" : all.items[other->second].counts.description},
                   {"count", row.count},
                   {"confidence", row.confidence},
                   {"lift", row.lift}});
  }
  return JsonResponse(out);
}

}  // namespace

void RegisterTogetherApi(Router& router, const SnapshotCache* cache, TogetherApiOptions options) {
  auto ctx = std::shared_ptr<Context>(
      new Context{cache, RedisPool(options.redis, options.max_idle_connections),
                  AnswerCache(options.max_cached_answers), options.pane_ms});
  router.GetBlocking("/v1/items/{sku}/together",
                     [ctx](const Request& r) { return Together(ctx.get(), r); });
}

}  // namespace segstream::serve
