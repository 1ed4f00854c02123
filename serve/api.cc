#include "serve/api.h"

#include <nlohmann/json.hpp>

#include "serve/params.h"

namespace segstream::serve {

using nlohmann::json;

namespace {

json ItemJson(const ItemView& item) {
  const auto& c = item.counts;
  return {{"sku", c.sku},
          {"description", c.description},
          {"orders", c.orders},
          {"units", c.units},
          {"returned_units", c.returned_units},
          {"revenue", static_cast<double>(c.revenue_micros) / 1e6},
          {"revenue_micros", c.revenue_micros},
          {"percentile", item.percentile < 0 ? json(nullptr) : json(item.percentile)}};
}

// 503 until the first snapshot has been read from Redis.
Result<std::shared_ptr<const Snapshot>> Current(const SnapshotCache* cache) {
  auto snap = cache->Get();
  if (!snap) {
    std::string why = cache->last_error();
    return Status::Unavailable("no data yet" + (why.empty() ? "" : ": " + why));
  }
  return snap;
}

// Only `all` is served so far; the event-time windows arrive with the popularity issue (501).
Result<std::string> WindowParam(const Request& request) {
  return EnumParam(request, "window", {"all", "1h", "24h", "7d", "30d"}, "all");
}

Response WindowError(const Result<std::string>& window) {
  if (!window.ok()) return ErrorResponse(window.status());
  return JsonError(501, "window '" + *window + "' is not served yet; only 'all' is available");
}

Response StatusEndpoint(const SnapshotCache* cache, const ApiInfo& info, const Request& request) {
  if (Status s = CheckParams(request, {}); !s.ok()) return ErrorResponse(s);
  auto snap = Current(cache);
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
               {"items", (*snap)->items.size()},
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
  if (!window.ok() || *window != "all") return WindowError(window);
  auto snap = Current(cache);
  if (!snap.ok()) return ErrorResponse(snap.status());
  const Snapshot& s = **snap;
  const auto& order = *by == "orders" ? s.by_orders : *by == "units" ? s.by_units : s.by_revenue;
  json items = json::array();
  for (size_t i = 0; i < order.size() && static_cast<int64_t>(items.size()) < *n; ++i) {
    items.push_back(ItemJson(s.items[order[i]]));
  }
  return JsonResponse(
      {{"window", *window}, {"by", *by}, {"watermark_ms", s.watermark_ms}, {"items", items}});
}

Response OneItem(const SnapshotCache* cache, const Request& request) {
  if (Status s = CheckParams(request, {"window"}); !s.ok()) return ErrorResponse(s);
  auto window = WindowParam(request);
  if (!window.ok() || *window != "all") return WindowError(window);
  auto snap = Current(cache);
  if (!snap.ok()) return ErrorResponse(snap.status());
  std::string sku(request.PathParam("sku"));
  auto it = (*snap)->by_sku.find(sku);
  if (it == (*snap)->by_sku.end()) return JsonError(404, "sku '" + sku + "' has never been seen");
  json body = ItemJson((*snap)->items[it->second]);
  body["window"] = *window;
  body["watermark_ms"] = (*snap)->watermark_ms;
  return JsonResponse(body);
}

}  // namespace

void RegisterApi(Router& router, const SnapshotCache* cache, ApiInfo info) {
  router.Get("/healthz", [](const Request&) { return JsonResponse({{"status", "ok"}}); });
  router.Get("/readyz", [cache](const Request&) {
    auto snap = cache->Get();
    if (!snap) return JsonError(503, "not ready: " + cache->last_error());
    return JsonResponse({{"status", "ready"}});
  });
  router.Get("/v1/status",
             [cache, info](const Request& request) { return StatusEndpoint(cache, info, request); });
  router.Get("/v1/items/top", [cache](const Request& r) { return TopItems(cache, r); });
  router.Get("/v1/items/{sku}", [cache](const Request& r) { return OneItem(cache, r); });
}

}  // namespace segstream::serve
