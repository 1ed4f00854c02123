#include "serve/serve_metrics.h"

#include <iterator>

#include "serve/sse.h"
#include "storage/partition_state.h"

namespace segstream::serve {

namespace {

double Seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

// "checkouts:3" -> {"checkouts", "3"}; a key without ':' is all topic.
LabelValues TopicPartition(const std::string& key) {
  const size_t colon = key.rfind(':');
  if (colon == std::string::npos) return {key, ""};
  return {key.substr(0, colon), key.substr(colon + 1)};
}

}  // namespace

ServeMetrics::ServeMetrics()
    : http_requests_(registry_.AddCounter("segstream_http_requests_total",
                                          "HTTP requests answered, by status code.", {"code"})),
      http_duration_(registry_.AddHistogram(
          "segstream_http_request_duration_seconds",
          "From a request fully read to its response ready to write, by route pattern.", {"route"},
          LatencyBuckets())),
      redis_rtt_(registry_
                     .AddHistogram("segstream_redis_rtt_seconds",
                                   "Round trip of a PING to Redis on serve's probe connection.", {},
                                   LatencyBuckets())
                     .Get()),
      redis_up_(registry_.AddGauge("segstream_redis_up", "1 when the last Redis PING succeeded.")),
      redis_errors_(registry_
                        .AddCounter("segstream_redis_probe_errors_total",
                                    "Redis PINGs that failed (connect, timeout or error reply).")
                        .Get()),
      snapshot_up_(registry_.AddGauge("segstream_snapshot_up",
                                      "1 once serve holds a snapshot of the pipeline state.")),
      snapshot_age_(
          registry_.AddGauge("segstream_snapshot_age_seconds",
                             "Age of the snapshot the API answers from (its staleness bound).")),
      events_consumed_(registry_.AddCounter("segstream_events_consumed_total",
                                            "Checkouts consumed by the workers: processed plus "
                                            "dead-lettered.")),
      events_processed_(
          registry_.AddCounter("segstream_events_processed_total",
                               "Valid checkouts processed (dead-lettered excluded).")),
      dlq_(registry_.AddCounter("segstream_dlq_total",
                                "Checkouts sent to checkouts.dlq, by reason.", {"reason"})),
      lag_(registry_.AddGauge("segstream_consumer_lag",
                              "Records behind the partition end, as last seen by its worker.",
                              {"topic", "partition"})),
      lag_total_(registry_.AddGauge("segstream_consumer_lag_total_records",
                                    "Sum of segstream_consumer_lag over every partition.")),
      watermark_(
          registry_.AddGauge("segstream_watermark_ms",
                             "Event-time watermark (ms since the epoch) the API answers at.")),
      max_event_time_(registry_.AddGauge("segstream_max_event_time_ms",
                                         "Largest event time seen by any partition (ms since the "
                                         "epoch).")),
      item_sales_produced_(registry_.AddCounter("segstream_item_sales_produced_total",
                                                "item-sales records produced by stage 1.")),
      item_sales_applied_(registry_.AddCounter("segstream_item_sales_applied_total",
                                               "item-sales records applied by stage 2.")),
      item_sales_duplicates_(registry_.AddCounter("segstream_item_sales_duplicates_dropped_total",
                                                  "Replayed item-sales records stage 2 dropped.")),
      late_events_(registry_.AddCounter("segstream_late_events_total",
                                        "Events older than the pane retention (counted in the "
                                        "`all` window only).")),
      sale_checkouts_(registry_.AddCounter(
          "segstream_sale_checkouts_total",
          "Checkouts with at least one sale line (the base of bought-together lift).")),
      baskets_stored_(registry_.AddCounter(
          "segstream_baskets_stored_total",
          "Checkouts whose basket (2..max_basket_for_pairs distinct sale skus) stage 1 stored for "
          "bought together.")),
      baskets_capped_(registry_.AddCounter(
          "segstream_baskets_capped_total",
          "Checkouts with more distinct sale skus than max_basket_for_pairs (default 100): no "
          "basket stored, so they count in orders but in no bought-together pair.")),
      items_(registry_.AddGauge("segstream_items", "Distinct skus with any counter.")),
      replay_done_(registry_.AddGauge(
          "segstream_replay_done", "1 when the embedded CSV replay has finished (segstream run).")),
      replay_events_(registry_.AddGauge("segstream_replay_events",
                                        "Checkouts produced by the embedded CSV replay so far.")),
      model_version_(registry_.AddGauge("segstream_segment_model_version",
                                        "Version of the global segment model (absent before the "
                                        "first model).")),
      kmeans_inertia_(registry_.AddGauge(
          "segstream_kmeans_inertia",
          "Sum of squared distances of the segmented customers to their segment centroids, in "
          "model units (live membership, as /v1/segments).")),
      segment_size_(registry_.AddGauge(
          "segstream_segment_size", "Customers in each segment (live membership).", {"segment"})),
      sse_clients_(
          registry_.AddGauge("segstream_sse_clients", "Event-stream clients attached now.")),
      sse_published_(registry_.AddCounter("segstream_sse_events_published_total",
                                          "Events published to /v1/events.")),
      sse_dropped_(registry_.AddCounter("segstream_sse_clients_dropped_total",
                                        "Event-stream clients dropped because they fell behind.")),
      batch_commit_(registry_.AddHistogram(
          "segstream_batch_commit_seconds",
          "Workers' atomic Redis commit of one batch (state with its offset), by stage. Each "
          "partition's latest commit is counted with its next one.",
          {"stage"},
          std::vector<double>(std::begin(storage::kCommitBucketBounds),
                              std::end(storage::kCommitBucketBounds)))) {}

void ServeMetrics::CountRequest(const RequestLog& log) {
  if (log.status >= 100 && log.status < static_cast<int>(by_code_.size())) {
    Counter* counter = by_code_[log.status].load(std::memory_order_acquire);
    if (counter == nullptr) {
      counter = &http_requests_.WithLabels({std::to_string(log.status)});
      by_code_[log.status].store(counter, std::memory_order_release);
    }
    counter->Increment();
  } else {
    http_requests_.WithLabels({std::to_string(log.status)}).Increment();
  }
  // Unmatched targets share one label value, so scanners cannot grow the series set.
  const std::string route = log.route.empty() ? "unmatched" : std::string(log.route);
  http_duration_.WithLabels({route}).Observe(Seconds(log.duration));
}

RequestObserver ServeMetrics::HttpObserver() {
  return [this](const RequestLog& log) { CountRequest(log); };
}

RedisProbeObserver ServeMetrics::RedisObserver() {
  return [this](const Status& status, std::chrono::nanoseconds rtt) {
    if (status.ok()) {
      redis_rtt_.Observe(Seconds(rtt));
      redis_up_.Get().Set(1);
    } else {
      redis_errors_.Increment();
      redis_up_.Get().Set(0);
    }
  };
}

void ServeMetrics::Collect(const Snapshot* snap, const SseHub* sse,
                           std::chrono::system_clock::time_point now) {
  if (sse != nullptr) {
    sse_clients_.Get().Set(static_cast<double>(sse->client_count()));
    sse_published_.Get().SetTotal(static_cast<double>(sse->published_total()));
    sse_dropped_.Get().SetTotal(static_cast<double>(sse->dropped_total()));
  }
  snapshot_up_.Get().Set(snap != nullptr ? 1 : 0);
  if (snap == nullptr) return;
  const auto& st = snap->status;
  auto d = [](int64_t v) { return static_cast<double>(v); };
  snapshot_age_.Get().Set(std::chrono::duration<double>(now - snap->built_at).count());
  events_consumed_.Get().SetTotal(d(st.events_processed + st.dlq_events));
  events_processed_.Get().SetTotal(d(st.events_processed));
  for (const auto& [reason, count] : st.dlq_reasons) dlq_.WithLabels({reason}).SetTotal(d(count));
  int64_t lag_total = 0;
  for (const auto& [key, progress] : st.partitions) {
    lag_.WithLabels(TopicPartition(key)).Set(d(progress.lag()));
    lag_total += progress.lag();
  }
  lag_total_.Get().Set(d(lag_total));
  watermark_.Get().Set(d(snap->watermark_ms));
  max_event_time_.Get().Set(d(st.max_event_ms));
  item_sales_produced_.Get().SetTotal(d(st.item_sales_produced));
  item_sales_applied_.Get().SetTotal(d(st.item_sales_applied));
  item_sales_duplicates_.Get().SetTotal(d(st.item_sales_duplicates));
  late_events_.Get().SetTotal(d(st.late_events));
  sale_checkouts_.Get().SetTotal(d(st.sale_checkouts));
  baskets_stored_.Get().SetTotal(d(st.baskets_stored));
  baskets_capped_.Get().SetTotal(d(st.baskets_capped));
  items_.Get().Set(d(static_cast<int64_t>(snap->all().items.size())));
  if (st.replay_known) {
    replay_done_.Get().Set(st.replay_done ? 1 : 0);
    replay_events_.Get().Set(d(st.replay_events));
  }
  for (const auto& [stage, h] : st.commit_durations) {
    batch_commit_.WithLabels({stage}).SetCumulative(
        std::vector<uint64_t>(h.cumulative.begin(), h.cumulative.end()),
        static_cast<uint64_t>(h.count), static_cast<double>(h.sum_us) / 1e6);
  }
  const SegmentsView& segments = snap->segments;
  if (segments.model && segments.error.empty()) {
    model_version_.Get().Set(d(segments.model->version));
    kmeans_inertia_.Get().Set(segments.inertia());
    const std::vector<int64_t> sizes = segments.sizes();
    for (size_t i = 0; i < sizes.size(); ++i) {
      segment_size_.WithLabels({std::to_string(i)}).Set(d(sizes[i]));
    }
  }
}

std::string ServeMetrics::Scrape(const SnapshotCache* cache, const SseHub* sse) {
  auto snap = cache->Get();
  Collect(snap.get(), sse, std::chrono::system_clock::now());
  return registry_.Render();
}

void RegisterMetrics(Router& router, ServeMetrics* metrics, MetricsSources sources) {
  router.Get("/metrics", [metrics, sources](const Request&) {
    Response response;
    response.content_type = std::string(kPrometheusContentType);
    response.body = metrics->Scrape(sources.cache, sources.sse);
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
  });
}

}  // namespace segstream::serve
