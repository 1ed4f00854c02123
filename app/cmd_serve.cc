#include <spdlog/spdlog.h>

#include "app/cli.h"
#include "app/commands.h"
#include "app/serve_stack.h"
#include "app/signals.h"

namespace segstream::app {

void RegisterServeCommand(CLI::App& root) {
  auto* cmd = root.add_subcommand("serve", "HTTP API and dashboard over the Redis state");
  struct Flags {
    std::string http = "127.0.0.1:8080", brokers;
    RedisFlags redis;
    int64_t changes_per_second = serve::SegmentChangeLimits{}.max_per_window;
  };
  auto flags = std::make_shared<Flags>();
  AddRedisFlags(cmd, &flags->redis, "The workers' Redis (required)");
  cmd->add_option("--http", flags->http, "Listen address HOST:PORT")->capture_default_str();
  cmd->add_option("--brokers", flags->brokers,
                  "Kafka bootstrap servers: reported in /v1/status, and segment-changes is "
                  "published on /v1/events as `segment-change` events");
  cmd->add_option("--segment-changes-per-second", flags->changes_per_second,
                  "At most this many segment-change events a second on /v1/events; the rest of "
                  "each second is summed up in one segment-changes-summary event")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  cmd->callback([flags] {
    auto redis = ParseRedisFlags("serve", flags->redis, /*required=*/true);
    auto [host, port] = ParseHostPort("serve", "--http", flags->http);
    StopOnSignals signals;
    ServeStack stack({.redis = *redis,
                      .brokers_shown = flags->brokers,
                      .redis_shown = flags->redis.shown(),
                      .http_host = host,
                      .http_port = port,
                      .segment_feed_brokers = flags->brokers,
                      .segment_change_limits = {.max_per_window = flags->changes_per_second,
                                                .window = std::chrono::seconds(1)}});
    if (Status s = stack.Start(); !s.ok()) Fail("serve", s.message());
    std::printf("dashboard=http://%s/\n", stack.address().c_str());
    std::fflush(stdout);
    while (!signals.stopped()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stack.Stop();
  });
}

}  // namespace segstream::app
