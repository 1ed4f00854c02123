#include "serve/segments_api.h"

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "serve/params.h"
#include "serve/redis_pool.h"
#include "storage/segment_reader.h"

namespace segstream::serve {

using nlohmann::json;

namespace {

json FeatureObject(const stream::FeatureVector& v) {
  json out = json::object();
  for (int j = 0; j < stream::kFeatureCount; ++j)
    out[std::string(stream::FeatureNames()[j])] = v[j];
  return out;
}

json FeatureArray(const stream::FeatureVector& v) {
  return json(std::vector<double>(v.begin(), v.end()));
}

json FeatureNamesJson() {
  json names = json::array();
  for (std::string_view name : stream::FeatureNames()) names.push_back(std::string(name));
  return names;
}

json TransformJson(const stream::FeatureTransform& t) {
  json per_feature = json::object();
  for (int j = 0; j < stream::kFeatureCount; ++j) {
    per_feature[std::string(stream::FeatureNames()[j])] = {
        {"log1p", t.log1p[j]}, {"center", t.center[j]}, {"scale", t.scale[j]}};
  }
  return {{"description", t.Describe()}, {"per_feature", per_feature}};
}

// Quantiles of the basket value of every checkout with a sale (t-digest, issue 4): what a
// "typical" basket is, next to the segments' mean basket values.
json BasketJson(const SegmentsView& view) {
  if (!view.basket || view.basket->Count() == 0) return nullptr;
  json quantiles = json::object();
  for (const char* q : {"0.1", "0.25", "0.5", "0.75", "0.9", "0.99"}) {
    quantiles[q] = view.basket->Quantile(std::stod(q));
  }
  return {{"checkouts", view.basket->Count()}, {"quantiles", quantiles}};
}

// The snapshot for a parameterless snapshot route, or the response to send instead: 400 on a
// parameter, 503 before the first snapshot, 500 when the segment state does not decode.
std::optional<Response> SegmentsSnapshot(const SnapshotCache* cache, const Request& request,
                                         std::shared_ptr<const Snapshot>* out) {
  if (Status s = CheckParams(request, {}); !s.ok()) return ErrorResponse(s);
  auto snap = cache->Current();
  if (!snap.ok()) return ErrorResponse(snap.status());
  if (!(*snap)->segments.error.empty()) {
    return JsonError(500, "the segment state in Redis does not decode: " + (*snap)->segments.error);
  }
  *out = std::move(*snap);
  return std::nullopt;
}

Response SegmentsEndpoint(const SnapshotCache* cache, int default_k, const Request& request) {
  std::shared_ptr<const Snapshot> snap;
  if (auto refused = SegmentsSnapshot(cache, request, &snap)) return std::move(*refused);
  const SegmentsView& view = snap->segments;
  json body = {{"features", FeatureNamesJson()},  {"watermark_ms", snap->watermark_ms},
               {"scored", view.scored},           {"customers", view.customers},
               {"segmented", view.segmented},     {"segments", json::array()},
               {"basket_value", BasketJson(view)}};
  if (!view.model) {  // warming up: not an error, the dashboard says so
    body.update({{"model_version", 0},
                 {"k", default_k},
                 {"transform", nullptr},
                 {"inertia", 0.0},
                 {"as_of_ms", 0}});
    return JsonResponse(body);
  }
  const stream::SegmentModel& m = *view.model;
  const std::vector<int64_t> sizes = view.sizes();
  body.update({{"model_version", m.version},
               {"k", m.k},
               {"transform", TransformJson(m.transform)},
               {"inertia", view.inertia()},
               {"as_of_ms", m.as_of_ms}});
  for (int s = 0; s < m.k; ++s) {
    body["segments"].push_back({{"id", s},
                                {"label", m.labels[s]},
                                {"size", s < static_cast<int>(sizes.size()) ? sizes[s] : 0},
                                {"centroid", FeatureObject(m.CentroidOriginal(s))},
                                {"centroid_scaled", FeatureArray(m.centroids[s])}});
  }
  return JsonResponse(body);
}

// The drift monitors' table as the lease holder last wrote it, plus the newest alerts. Before the
// first evaluation (no model yet, or fewer than two days of panes) the table is empty and
// `warming_up` is true.
Response DriftEndpoint(const SnapshotCache* cache, const Request& request) {
  std::shared_ptr<const Snapshot> snap;
  if (auto refused = SegmentsSnapshot(cache, request, &snap)) return std::move(*refused);
  const SegmentsView& view = snap->segments;
  json body = view.drift_report.is_object()
                  ? view.drift_report
                  : json{{"model_version", view.model ? view.model->version : 0},
                         {"evaluated_through_ms", 0},
                         {"warming_up", true},
                         {"psi", nullptr},
                         {"psi_state", "ok"},
                         {"segments", json::array()}};
  body["alerts"] = view.drift_alerts;
  body["watermark_ms"] = snap->watermark_ms;
  return JsonResponse(body);
}

Response CustomerEndpoint(const SnapshotCache* cache, RedisPool* pool, const Request& request) {
  if (Status s = CheckParams(request, {}); !s.ok()) return ErrorResponse(s);
  auto snap = cache->Current();
  if (!snap.ok()) return ErrorResponse(snap.status());
  const std::string id(request.PathParam("id"));
  const SegmentsView& view = (*snap)->segments;
  auto found = pool->Run([&](storage::RedisConnection& redis) {
    return storage::SegmentReader(&redis).ReadCustomer(id, view.partitions);
  });
  if (!found.ok()) return ErrorResponse(found.status());
  if (!found->has_value()) return JsonError(404, "customer '" + id + "' has never been seen");
  const storage::StoredCustomer& customer = **found;
  const stream::CustomerState& state = customer.state;
  if (state.segment < 0 || !state.has_sale()) {
    return JsonError(404, "customer '" + id + "' is not segmented (yet)");
  }
  // The snapshot's model, unless it is older than the customer's assignment (the snapshot lags
  // by one refresh interval); then the current one from Redis.
  std::optional<stream::SegmentModel> model = view.model;
  if (!model || model->version < state.model_version || state.segment >= model->k) {
    auto fresh = pool->Run(
        [](storage::RedisConnection& redis) { return storage::SegmentReader(&redis).ReadModel(); });
    if (!fresh.ok()) return ErrorResponse(fresh.status());
    model = std::move(*fresh);
  }
  if (!model || state.segment >= model->k) {
    return JsonError(503, "customer '" + id + "' is in segment " + std::to_string(state.segment) +
                              " but no model has it yet; retry shortly");
  }
  return JsonResponse({{"customer_id", id},
                       {"segment", state.segment},
                       {"label", model->labels[state.segment]},
                       {"distance", state.distance},
                       {"features", FeatureObject(stream::RawFeatures(state, model->as_of_ms))},
                       {"features_scaled", FeatureArray(stream::DequantizeVector(state.quantized))},
                       {"as_of_ms", model->as_of_ms},
                       {"model_version", state.model_version},
                       {"partition", customer.partition}});
}

// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
void AppendCsvField(std::string_view field, std::string* out) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(field);
    return;
  }
  out->push_back('"');
  for (char c : field) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

// The export, one HSCAN page of one partition per chunk: memory is one page (plus, per partition,
// the ids already sent, for exactly-once: see SegmentReader::ScanCustomersPage), whatever the
// number of customers. Pages are read while the workers keep writing, so the file is not a
// point-in-time snapshot: a customer is in it once, with the record of the moment its page was
// read.
class CustomerExport : public BodyStream {
 public:
  CustomerExport(std::shared_ptr<RedisPool> pool, std::vector<int32_t> partitions, int64_t count)
      : pool_(std::move(pool)), partitions_(std::move(partitions)), count_(count) {}

  Result<std::optional<std::string>> Next() override {
    if (!header_sent_) {
      header_sent_ = true;
      std::string header = "customer_id,segment";
      for (std::string_view name : stream::FeatureNames()) header.append(",").append(name);
      return std::optional<std::string>(header + "\n");
    }
    if (next_ >= partitions_.size()) return std::optional<std::string>();
    const int32_t partition = partitions_[next_];
    auto page = pool_->Run([&](storage::RedisConnection& redis) {
      return storage::SegmentReader(&redis).ScanCustomersPage(partition, cursor_, count_);
    });
    if (!page.ok()) return page.status();
    std::string rows;
    for (const storage::StoredCustomer& c : page->customers) {
      if (c.state.segment < 0 || !seen_.insert(c.customer_id).second) continue;
      AppendCsvField(c.customer_id, &rows);
      rows.append(",").append(std::to_string(c.state.segment));
      for (int64_t q : c.state.quantized) rows.append(",").append(FormatQuantized(q));
      rows.push_back('\n');
    }
    cursor_ = std::move(page->next_cursor);
    if (cursor_ == "0") {
      ++next_;
      seen_.clear();
    }
    return std::optional<std::string>(std::move(rows));
  }

 private:
  std::shared_ptr<RedisPool> pool_;
  std::vector<int32_t> partitions_;
  int64_t count_;
  bool header_sent_ = false;
  size_t next_ = 0;
  std::string cursor_ = "0";
  std::unordered_set<std::string> seen_;
};

Response ExportEndpoint(const SnapshotCache* cache, std::shared_ptr<RedisPool> pool,
                        int64_t scan_count, const Request& request) {
  if (Status s = CheckParams(request, {}); !s.ok()) return ErrorResponse(s);
  auto snap = cache->Current();
  if (!snap.ok()) return ErrorResponse(snap.status());
  Response response;
  response.content_type = "text/csv; charset=utf-8";
  response.headers = {{"Content-Disposition", "attachment; filename=\"customers.csv\""},
                      {"Cache-Control", "no-store"}};
  response.stream =
      std::make_shared<CustomerExport>(std::move(pool), (*snap)->segments.partitions, scan_count);
  return response;
}

}  // namespace

void RegisterSegmentsApi(Router& router, const SnapshotCache* cache, SegmentsApiOptions options) {
  auto pool = std::make_shared<RedisPool>(options.redis, options.max_idle_connections);
  const int default_k = options.default_k;
  const int64_t scan_count = options.scan_count < 1 ? 1 : options.scan_count;
  router.Get("/v1/segments", [cache, default_k](const Request& r) {
    return SegmentsEndpoint(cache, default_k, r);
  });
  router.Get("/v1/drift", [cache](const Request& r) { return DriftEndpoint(cache, r); });
  router.GetBlocking("/v1/customers/{id}", [cache, pool](const Request& r) {
    return CustomerEndpoint(cache, pool.get(), r);
  });
  router.Get("/v1/export/customers.csv", [cache, pool, scan_count](const Request& r) {
    return ExportEndpoint(cache, pool, scan_count, r);
  });
}

}  // namespace segstream::serve
