#include "serve/api.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "serve/params.h"
#include "stream/popularity.h"

namespace segstream::serve {

using nlohmann::json;

namespace {

// Window views carry counters only; the description comes from window `all`.
json ItemJson(const ItemView& item, const WindowView& all) {
  const auto& c = item.counts;
  std::string description = c.description;
  if (description.empty()) {
    auto it = all.by_sku.find(c.sku);
    if (it != all.by_sku.end()) description = all.items[it->second].counts.description;
  }
  return {{"sku", c.sku},
          {"description", description},
          {"orders", c.orders},
          {"units", c.units},
          {"returned_units", c.returned_units},
          {"revenue", static_cast<double>(c.revenue_micros) / 1e6},
          {"revenue_micros", c.revenue_micros},
          {"percentile", item.percentile < 0 ? json(nullptr) : json(item.percentile)}};
}

// `all` or a `last <duration>` window of stream/windows.h.
Result<std::string> WindowParam(const Request& request) {
  return EnumParam(request, "window", {"all", "1h", "24h", "7d", "30d"}, "all");
}

Response StatusEndpoint(const SnapshotCache* cache, const ApiInfo& info, const Request& request) {
  if (Status s = CheckParams(request, {}); !s.ok()) return ErrorResponse(s);
  auto snap = cache->Current();
  if (!snap.ok()) return ErrorResponse(snap.status());
  const auto& st = (*snap)->status;
  json lag_by_partition = json::object();
  int64_t lag = 0;
  for (const auto& [name, progress] : st.partitions) {
    lag_by_partition[name] = progress.lag();
    lag += progress.lag();
  }
  json body = {{"events_processed", st.events_processed},
               {"dlq_events", st.dlq_events},
               {"dlq_by_reason", st.dlq_reasons},
               {"item_sales",
                {{"produced", st.item_sales_produced},
                 {"applied", st.item_sales_applied},
                 {"duplicates_dropped", st.item_sales_duplicates}}},
               {"watermark_ms", (*snap)->watermark_ms},
               {"max_event_time_ms", st.max_event_ms},
               {"lag", lag},
               {"lag_by_partition", lag_by_partition},
               {"replay",
                {{"done", st.replay_done},
                 {"events", st.replay_events},
                 {"rows_skipped", st.replay_rows_skipped},
                 {"known", st.replay_known}}},
               {"items", (*snap)->all().items.size()},
               {"late_events", st.late_events},
               {"together",
                {{"sale_checkouts", st.sale_checkouts},
                 {"baskets_stored", st.baskets_stored},
                 {"baskets_capped", st.baskets_capped}}},
               {"brokers", info.brokers},
               {"redis", info.redis}};
  return JsonResponse(body);
}

Response TopItems(const SnapshotCache* cache, const Request& request) {
  if (Status s = CheckParams(request, {"n", "window", "by"}); !s.ok()) return ErrorResponse(s);
  auto n = IntParam(request, "n", 1, 1000, 10);
  if (!n.ok()) return ErrorResponse(n.status());
  auto by = EnumParam(request, "by", {"orders", "units", "revenue"}, "orders");
  if (!by.ok()) return ErrorResponse(by.status());
  auto window = WindowParam(request);
  if (!window.ok()) return ErrorResponse(window.status());
  auto snap = cache->Current();
  if (!snap.ok()) return ErrorResponse(snap.status());
  const Snapshot& s = **snap;
  const WindowView& view = s.windows.at(*window);
  const auto& order = *by == "orders"  ? view.by_orders
                      : *by == "units" ? view.by_units
                                       : view.by_revenue;
  json items = json::array();
  for (size_t i = 0; i < order.size() && static_cast<int64_t>(items.size()) < *n; ++i) {
    items.push_back(ItemJson(view.items[order[i]], s.all()));
  }
  return JsonResponse(
      {{"window", *window}, {"by", *by}, {"watermark_ms", s.watermark_ms}, {"items", items}});
}

Response OneItem(const SnapshotCache* cache, const Request& request) {
  if (Status s = CheckParams(request, {"window"}); !s.ok()) return ErrorResponse(s);
  auto window = WindowParam(request);
  if (!window.ok()) return ErrorResponse(window.status());
  auto snap = cache->Current();
  if (!snap.ok()) return ErrorResponse(snap.status());
  std::string sku(request.PathParam("sku"));
  const Snapshot& s = **snap;
  if (!s.all().by_sku.count(sku)) return JsonError(404, "sku '" + sku + "' has never been seen");
  const WindowView& view = s.windows.at(*window);
  auto it = view.by_sku.find(sku);
  ItemView absent;  // seen, but not in this window: zeros, percentile null
  absent.counts.sku = sku;
  json body = ItemJson(it == view.by_sku.end() ? absent : view.items[it->second], s.all());
  body["window"] = *window;
  body["watermark_ms"] = s.watermark_ms;
  return JsonResponse(body);
}

// Digest value -> JSON: null for an empty population.
json Number(double v) { return std::isnan(v) ? json(nullptr) : json(v); }

Response Quantiles(const SnapshotCache* cache, const Request& request) {
  if (Status s = CheckParams(request, {"q", "window"}); !s.ok()) return ErrorResponse(s);
  auto qs = DoubleListParam(request, "q", {0, 1}, {0.5, 0.9, 0.99});
  if (!qs.ok()) return ErrorResponse(qs.status());
  auto window = WindowParam(request);
  if (!window.ok()) return ErrorResponse(window.status());
  auto snap = cache->Current();
  if (!snap.ok()) return ErrorResponse(snap.status());
  const WindowView& view = (*snap)->windows.at(*window);
  json quantiles = json::object();
  for (const auto& q : *qs)
    quantiles[q.text] = Number(stream::IntegerQuantile(view.popularity, q.value));
  return JsonResponse({{"window", *window},
                       {"watermark_ms", (*snap)->watermark_ms},
                       {"items", view.popular_items},
                       {"quantiles", quantiles}});
}

// Smallest orders value v with #{orders <= v} >= q n over the window's items with orders >= 1.
double ExactIntegerQuantile(const WindowView& view, double q) {
  const int64_t n = view.popular_items;
  if (n == 0) return std::nan("");
  const int64_t rank = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(q * n - 1e-9)));
  // by_orders is descending and starts with the n popular items: rank k ascending is n - k.
  return static_cast<double>(view.items[view.by_orders[n - rank]].counts.orders);
}

Response TopPercent(const SnapshotCache* cache, const Request& request) {
  if (Status s = CheckParams(request, {"p", "window"}); !s.ok()) return ErrorResponse(s);
  auto p = DoubleParam(request, "p", {0, 100, true, false}, 10.0);
  if (!p.ok()) return ErrorResponse(p.status());
  auto window = WindowParam(request);
  if (!window.ok()) return ErrorResponse(window.status());
  auto snap = cache->Current();
  if (!snap.ok()) return ErrorResponse(snap.status());
  const WindowView& view = (*snap)->windows.at(*window);
  // The (100 - p)th percentile of orders; every item at or above it is in the top p%. The answer
  // lists every such item, so the snapshot's ranked counts give the exact cut cheaply; the
  // merged digest's estimate is reported beside it (they differ only when the digest's rank
  // error straddles a count boundary).
  const double q = 1.0 - *p / 100.0;
  const double estimate = stream::IntegerQuantile(view.popularity, q);
  const double threshold = ExactIntegerQuantile(view, q);
  json items = json::array();
  if (!std::isnan(threshold)) {
    for (size_t i : view.by_orders) {
      const ItemView& item = view.items[i];
      if (static_cast<double>(item.counts.orders) < threshold) break;
      items.push_back(ItemJson(item, (*snap)->all()));
    }
  }
  return JsonResponse({{"window", *window},
                       {"watermark_ms", (*snap)->watermark_ms},
                       {"p", *p},
                       {"threshold", Number(threshold)},
                       {"threshold_estimate", Number(estimate)},
                       {"items", items}});
}

}  // namespace

void RegisterApi(Router& router, const SnapshotCache* cache, ApiInfo info) {
  router.Get("/healthz", [](const Request&) { return JsonResponse({{"status", "ok"}}); });
  router.Get("/readyz", [cache](const Request&) {
    auto snap = cache->Get();
    if (!snap) return JsonError(503, "not ready: " + cache->last_error());
    return JsonResponse({{"status", "ready"}});
  });
  router.Get("/v1/status", [cache, info](const Request& request) {
    return StatusEndpoint(cache, info, request);
  });
  router.Get("/v1/items/top", [cache](const Request& r) { return TopItems(cache, r); });
  router.Get("/v1/items/{sku}", [cache](const Request& r) { return OneItem(cache, r); });
  router.Get("/v1/popularity/quantiles", [cache](const Request& r) { return Quantiles(cache, r); });
  router.Get("/v1/popularity/top-percent",
             [cache](const Request& r) { return TopPercent(cache, r); });
}

}  // namespace segstream::serve
