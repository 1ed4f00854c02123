// segstream's serve-side metrics and the `GET /metrics` route (DESIGN §6, issue 8).
//
// Two kinds of series:
// - pipeline state, copied at scrape time from the latest Snapshot (the totals live in Redis, so
//   every serve process reports the same values and a restart loses nothing);
// - serve's own instruments, updated as things happen: HTTP requests (HttpServer's
//   RequestObserver), Redis round trips (RedisProbe), SSE fan-out (SseHub counters).
#pragma once

#include <array>
#include <atomic>
#include <chrono>

#include "serve/http_server.h"
#include "serve/metrics.h"
#include "serve/redis_probe.h"
#include "serve/router.h"
#include "serve/snapshot.h"

namespace segstream::serve {

class SseHub;

class ServeMetrics {
 public:
  ServeMetrics();
  ServeMetrics(const ServeMetrics&) = delete;
  ServeMetrics& operator=(const ServeMetrics&) = delete;

  // The registry behind /metrics: other in-process components (the embedded workers of
  // `segstream run`) may add their own families to it.
  MetricsRegistry& registry() { return registry_; }

  // For HttpServer: counts `segstream_http_requests_total{code}` and times
  // `segstream_http_request_duration_seconds{route}`. Valid while this object lives.
  RequestObserver HttpObserver();
  // For RedisProbe: `segstream_redis_rtt_seconds` and `segstream_redis_up`.
  RedisProbeObserver RedisObserver();

  // Copies the pipeline state of `snap` (may be null: nothing copied, `segstream_snapshot_up` 0)
  // and the counters of `sse` (may be null) into the registry.
  void Collect(const Snapshot* snap, const SseHub* sse, std::chrono::system_clock::time_point now);

  // Collect() then the registry in text format.
  std::string Scrape(const SnapshotCache* cache, const SseHub* sse);

 private:
  void CountRequest(const RequestLog& log);

  MetricsRegistry registry_;
  // Instruments.
  Family<Counter>& http_requests_;
  Family<Histogram>& http_duration_;
  Histogram& redis_rtt_;
  Family<Gauge>& redis_up_;  // absent until the first probe
  Counter& redis_errors_;
  // Lock-free lookup of http_requests_ by status code (1xx-5xx); null until first seen.
  std::array<std::atomic<Counter*>, 600> by_code_{};
  // Scrape-time state. Label-free families too are held as families and get their series on
  // the first Collect with a snapshot: before it they are absent, not a misleading 0.
  Family<Gauge>& snapshot_up_;
  Family<Gauge>& snapshot_age_;
  Family<Counter>& events_consumed_;
  Family<Counter>& events_processed_;
  Family<Counter>& dlq_;
  Family<Gauge>& lag_;
  Family<Gauge>& lag_total_;
  Family<Gauge>& watermark_;
  Family<Gauge>& max_event_time_;
  Family<Counter>& item_sales_produced_;
  Family<Counter>& item_sales_applied_;
  Family<Counter>& item_sales_duplicates_;
  Family<Counter>& late_events_;
  Family<Counter>& sale_checkouts_;
  Family<Counter>& baskets_stored_;
  Family<Counter>& baskets_capped_;
  Family<Gauge>& items_;
  Family<Gauge>& replay_done_;
  Family<Gauge>& replay_events_;
  Family<Gauge>& model_version_;
  Family<Gauge>& kmeans_inertia_;
  Family<Gauge>& segment_size_;
  Family<Gauge>& sse_clients_;
  Family<Counter>& sse_published_;
  Family<Counter>& sse_dropped_;
  Family<Histogram>& batch_commit_;
};

struct MetricsSources {
  const SnapshotCache* cache = nullptr;  // required
  const SseHub* sse = nullptr;           // optional: SSE fan-out counters
};

// Adds `GET /metrics` (text format 0.0.4). `metrics` and the sources must outlive the router and
// every server using it.
void RegisterMetrics(Router& router, ServeMetrics* metrics, MetricsSources sources);

}  // namespace segstream::serve
