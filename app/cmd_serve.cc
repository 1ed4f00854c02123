#include <spdlog/spdlog.h>

#include "app/cli.h"
#include "app/commands.h"
#include "app/signals.h"
#include "serve/api.h"
#include "serve/dashboard.h"
#include "serve/events.h"
#include "serve/http_server.h"
#include "serve/redis_probe.h"
#include "serve/segments_api.h"
#include "serve/serve_metrics.h"
#include "serve/snapshot.h"

namespace segstream::app {

void RegisterServeCommand(CLI::App& root) {
  auto* cmd = root.add_subcommand("serve", "HTTP API and dashboard over the Redis state");
  struct Flags {
    std::string redis, redis_cluster, http = "127.0.0.1:8080", brokers;
  };
  auto flags = std::make_shared<Flags>();
  cmd->add_option("--redis", flags->redis, "Redis address HOST:PORT")->required();
  cmd->add_option("--redis-cluster", flags->redis_cluster,
                  "Redis Cluster seed nodes HOST:PORT,... (not supported yet)");
  cmd->add_option("--http", flags->http, "Listen address HOST:PORT")->capture_default_str();
  cmd->add_option("--brokers", flags->brokers, "Kafka bootstrap servers (reported in /v1/status)");
  cmd->callback([flags] {
    if (!flags->redis_cluster.empty()) {
      Fail("serve", "--redis-cluster is not supported yet; use --redis HOST:PORT", 2);
    }
    auto redis = storage::ParseRedisAddress(flags->redis);
    if (!redis.ok()) Fail("serve", redis.status().message(), 2);
    auto [host, port] = ParseHostPort("serve", "--http", flags->http);
    StopOnSignals signals;
    // Declared before the server and the cache that use them, so they outlive both.
    serve::SseHub events;
    serve::TopItemsPublisher publisher(&events);
    serve::SnapshotCacheOptions cache_options;
    cache_options.on_refresh = [&publisher](const serve::Snapshot& s) { publisher.OnSnapshot(s); };
    cache_options.redis = *redis;
    serve::SnapshotCache cache(cache_options);
    cache.Start();
    serve::ServeMetrics metrics;
    serve::RedisProbe probe({.redis = *redis}, metrics.RedisObserver());
    probe.Start();
    serve::Router router;
    serve::RegisterApi(router, &cache, {flags->brokers, flags->redis});
    serve::RegisterSegmentsApi(router, &cache, {.redis = *redis});
    serve::RegisterMetrics(router, &metrics, {.cache = &cache, .sse = &events});
    router.AddEventStream("/v1/events", events);
    serve::RegisterDashboard(router);
    serve::HttpServerOptions http;
    http.host = host;
    http.port = static_cast<uint16_t>(port);
    serve::HttpServer server(std::move(router), http, metrics.HttpObserver());
    if (Status s = server.Start(); !s.ok()) Fail("serve", s.message());
    std::printf("dashboard=http://%s/\n", server.address().c_str());
    std::fflush(stdout);
    while (!signals.stopped()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    server.Stop();
    probe.Stop();
    cache.Stop();
  });
}

}  // namespace segstream::app
