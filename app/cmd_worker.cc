#include <spdlog/spdlog.h>

#include "app/cli.h"
#include "app/commands.h"
#include "app/segment_flags.h"
#include "app/signals.h"
#include "ingest/failpoints.h"
#include "ingest/worker.h"

namespace segstream::app {

void RegisterWorkerCommand(CLI::App& root) {
  auto* cmd =
      root.add_subcommand("worker", "Processing worker: checkouts -> Redis state and outputs");
  struct Flags {
    std::string brokers, group = "segstream";
    RedisFlags redis;
    int threads = 1, session_timeout_ms = 6000;
    int64_t max_item_sales_backlog = ingest::WorkerOptions{}.max_item_sales_backlog;
    ingest::SegmenterOptions segments;
  };
  auto flags = std::make_shared<Flags>();
  cmd->add_option("--brokers", flags->brokers, "Kafka bootstrap servers (host:port,...)")
      ->required();
  AddRedisFlags(cmd, &flags->redis, "Where state and offsets live (required)");
  cmd->add_option("--group", flags->group, "Consumer group id")->capture_default_str();
  cmd->add_option("--threads", flags->threads, "Consumers in this process (same group)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--session-timeout-ms", flags->session_timeout_ms,
                  "Kafka session timeout: a crashed worker's partitions move after about this long")
      ->capture_default_str()
      ->check(CLI::Range(3000, 300000));
  cmd->add_option("--max-item-sales-backlog", flags->max_item_sales_backlog,
                  "Stage 1 pauses while more item-sales records than this are produced but not "
                  "yet applied (bounds the internal topic's backlog)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  AddSegmentFlags(cmd, &flags->segments);
  cmd->callback([flags] {
    auto redis = ParseRedisFlags("worker", flags->redis, /*required=*/true);
    ingest::WorkerOptions options;
    options.kafka.brokers = flags->brokers;
    options.kafka.group = flags->group;
    options.kafka.session_timeout_ms = flags->session_timeout_ms;
    options.redis = *redis;
    options.max_item_sales_backlog = flags->max_item_sales_backlog;
    options.segments = flags->segments;
    StopOnSignals signals;
    ingest::failpoints::InstallFromEnvironment();
    spdlog::info("worker: brokers {} redis {} group {} threads {}", flags->brokers,
                 flags->redis.shown(), flags->group, flags->threads);
    Status s = ingest::RunWorkers(options, flags->threads, signals.flag());
    if (!s.ok()) Fail("worker", s.ToString());
    spdlog::info("worker: drained and stopped");
  });
}

}  // namespace segstream::app
