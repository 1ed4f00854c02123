// The serving side as `segstream serve` and `segstream run` start it: the snapshot cache (with
// the top-items publisher on the SSE hub), the Redis probe, metrics, every route and the HTTP
// server, built in the order that lets each outlive its users.
#pragma once

#include <memory>
#include <string>

#include "app/segment_feed.h"
#include "serve/events.h"
#include "serve/http_server.h"
#include "serve/redis_probe.h"
#include "serve/serve_metrics.h"
#include "serve/snapshot.h"
#include "serve/sse.h"
#include "storage/redis_client.h"

namespace segstream::app {

struct ServeStackOptions {
  storage::RedisOptions redis;
  std::string brokers_shown;  // reported by /v1/status
  std::string redis_shown;
  std::string http_host = "127.0.0.1";
  int http_port = 8080;
  int segments_k = 6;  // reported by /v1/segments before the first model (the workers' k)
  // When set, `segment-changes` is consumed from these brokers into /v1/events
  // (segment_feed.h); empty: no `segment-change` events.
  std::string segment_feed_brokers;
  serve::SegmentChangeLimits segment_change_limits;
};

class ServeStack {
 public:
  // Starts the cache refresh and the Redis probe; the server starts with Start().
  explicit ServeStack(const ServeStackOptions& options);
  ~ServeStack();  // Stop()

  Status Start();  // binds and serves; address() is valid after it
  void Stop();     // server, probe, cache
  std::string address() const { return server_->address(); }
  serve::SnapshotCache& cache() { return cache_; }
  SegmentChangeFeed* segment_feed() { return feed_.get(); }

 private:
  serve::SseHub events_;
  serve::TopItemsPublisher publisher_;
  serve::DriftAlertPublisher drift_publisher_;
  serve::SnapshotCache cache_;
  serve::ServeMetrics metrics_;
  serve::RedisProbe probe_;
  std::unique_ptr<serve::HttpServer> server_;
  std::unique_ptr<SegmentChangeFeed> feed_;  // null without brokers
};

}  // namespace segstream::app
