#include "app/serve_stack.h"

#include "serve/api.h"
#include "serve/dashboard.h"
#include "serve/segments_api.h"
#include "serve/together_api.h"

namespace segstream::app {

namespace {

serve::SnapshotCacheOptions CacheOptions(const ServeStackOptions& options,
                                         serve::TopItemsPublisher* publisher,
                                         serve::DriftAlertPublisher* drift_publisher) {
  serve::SnapshotCacheOptions cache;
  cache.on_refresh = [publisher, drift_publisher](const serve::Snapshot& s) {
    publisher->OnSnapshot(s);
    drift_publisher->OnSnapshot(s);
  };
  cache.redis = options.redis;
  return cache;
}

}  // namespace

ServeStack::ServeStack(const ServeStackOptions& options)
    : publisher_(&events_),
      drift_publisher_(&events_),
      cache_(CacheOptions(options, &publisher_, &drift_publisher_)),
      probe_({.redis = options.redis}, metrics_.RedisObserver()) {
  cache_.Start();
  probe_.Start();
  serve::Router router;
  serve::RegisterApi(router, &cache_, {options.brokers_shown, options.redis_shown});
  serve::RegisterSegmentsApi(router, &cache_,
                             {.redis = options.redis, .default_k = options.segments_k});
  serve::RegisterTogetherApi(router, &cache_, {.redis = options.redis});
  serve::RegisterMetrics(router, &metrics_, {.cache = &cache_, .sse = &events_});
  router.AddEventStream("/v1/events", events_);
  serve::RegisterDashboard(router);
  serve::HttpServerOptions http;
  http.host = options.http_host;
  http.port = static_cast<uint16_t>(options.http_port);
  server_ = std::make_unique<serve::HttpServer>(std::move(router), http, metrics_.HttpObserver());
  if (!options.segment_feed_brokers.empty()) {
    feed_ = std::make_unique<SegmentChangeFeed>(
        SegmentFeedOptions{.brokers = options.segment_feed_brokers,
                           .limits = options.segment_change_limits},
        &events_);
  }
}

ServeStack::~ServeStack() { Stop(); }

Status ServeStack::Start() {
  if (Status s = server_->Start(); !s.ok()) return s;
  if (feed_) feed_->Start();
  return Status::Ok();
}

void ServeStack::Stop() {
  if (feed_) feed_->Stop();
  server_->Stop();
  probe_.Stop();
  cache_.Stop();
}

}  // namespace segstream::app
