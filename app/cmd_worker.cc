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
    std::string assignment_strategy = ingest::KafkaOptions{}.assignment_strategy;
    int64_t max_item_sales_backlog = ingest::WorkerOptions{}.max_item_sales_backlog;
    int64_t item_commit_records = ingest::WorkerOptions{}.item_commit_records;
    int64_t item_commit_interval_ms = ingest::WorkerOptions{}.item_commit_interval.count();
    int64_t item_commit_max_interval_ms = ingest::WorkerOptions{}.item_commit_max_interval.count();
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
  // Default range, measured with tests/fault_rebalance.py (both strategies, alternating runs):
  // cooperative stopped 4 of 8 partitions at a join instead of 8-16 and 2 instead of 8 at a
  // leave, but the group settled only 4.1-8.3 s after a join instead of 2.1-6.1 s (two rounds
  // against the mock), the stream drained no faster, and on librdkafka 2.0.2 it relies on
  // holding the advisory Kafka commits back during rebalances (librdkafka#4059, ingest/kafka.h).
  cmd->add_option("--assignment-strategy", flags->assignment_strategy,
                  "Kafka partition assignment: range or roundrobin (eager: a rebalance stops "
                  "every partition for one round) or cooperative-sticky (KIP-429: only the "
                  "partitions that move stop, but against the embedded mock broker each change "
                  "takes two rounds of (session timeout - 1 s), KAFKA_MOCK.md; in the rebalance "
                  "fault test the group settled after a join in 4-8 s instead of 2-6 s and drained "
                  "no faster, hence the default)")
      ->capture_default_str()
      ->check(CLI::IsMember({"range", "roundrobin", "cooperative-sticky"}));
  cmd->add_option("--max-item-sales-backlog", flags->max_item_sales_backlog,
                  "Stage 1 pauses while more item-sales records than this are produced but not "
                  "yet applied (bounds the internal topic's backlog)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  cmd->add_option("--item-commit-records", flags->item_commit_records,
                  "Stage 2 folds an item-sales partition's batches into one Redis commit until "
                  "it holds this many records (fewer, larger commits: less Redis work)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  cmd->add_option("--item-commit-interval-ms", flags->item_commit_interval_ms,
                  "... or, once the partition is caught up, until its oldest record was consumed "
                  "this long ago (the latency coalescing may add)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{60000}));
  cmd->add_option("--item-commit-max-interval-ms", flags->item_commit_max_interval_ms,
                  "... or, behind its log end, this long ago")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{600000}));
  AddSegmentFlags(cmd, &flags->segments);
  cmd->callback([flags] {
    auto redis = ParseRedisFlags("worker", flags->redis, /*required=*/true);
    ingest::WorkerOptions options;
    options.kafka.brokers = flags->brokers;
    options.kafka.group = flags->group;
    options.kafka.session_timeout_ms = flags->session_timeout_ms;
    options.kafka.assignment_strategy = flags->assignment_strategy;
    options.redis = *redis;
    options.max_item_sales_backlog = flags->max_item_sales_backlog;
    options.item_commit_records = flags->item_commit_records;
    options.item_commit_interval = std::chrono::milliseconds(flags->item_commit_interval_ms);
    options.item_commit_max_interval =
        std::chrono::milliseconds(flags->item_commit_max_interval_ms);
    options.segments = flags->segments;
    StopOnSignals signals;
    ingest::failpoints::InstallFromEnvironment();
    spdlog::info("worker: brokers {} redis {} group {} threads {} assignment {}", flags->brokers,
                 flags->redis.shown(), flags->group, flags->threads, flags->assignment_strategy);
    Status s = ingest::RunWorkers(options, flags->threads, signals.flag());
    if (!s.ok()) Fail("worker", s.ToString());
    spdlog::info("worker: drained and stopped");
  });
}

}  // namespace segstream::app
