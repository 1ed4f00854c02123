#include <iostream>

#include "app/cli.h"
#include "app/commands.h"
#include "app/progress.h"
#include "app/signals.h"
#include "ingest/replay.h"
#include "storage/keys.h"
#include "storage/redis_client.h"

namespace segstream::app {

void RegisterReplayCommand(CLI::App& root) {
  auto* cmd = root.add_subcommand("replay", "Replay an Online Retail CSV into the checkouts topic");
  struct Flags {
    std::string csv, brokers, topic = "checkouts", speed = "max";
    RedisFlags redis;
    int64_t limit = -1;
  };
  auto flags = std::make_shared<Flags>();
  cmd->add_option("--csv", flags->csv, "Input .csv or .csv.gz (Online Retail schema)")->required();
  cmd->add_option("--brokers", flags->brokers, "Kafka bootstrap servers")->required();
  cmd->add_option("--topic", flags->topic, "Target topic")->capture_default_str();
  cmd->add_option("--speed", flags->speed, "'max', or N to play N x event time")
      ->capture_default_str();
  cmd->add_option("--limit", flags->limit, "Stop after N checkouts (-1: all)")
      ->capture_default_str();
  AddRedisFlags(cmd, &flags->redis,
                "Optional: record progress for /v1/status and pace the replay on the workers' "
                "progress (keeps the broker's backlog bounded)");
  cmd->callback([flags] {
    ingest::ReplayOptions options;
    options.csv_path = flags->csv;
    options.topic = flags->topic;
    options.speed = ParseSpeed("replay", flags->speed);
    options.limit = flags->limit;
    ingest::KafkaOptions kafka;
    kafka.brokers = flags->brokers;
    auto producer = ingest::Producer::Create(kafka);
    if (!producer.ok()) Fail("replay", producer.status().message(), 2);
    std::unique_ptr<storage::RedisConnection> redis;
    if (auto address = ParseRedisFlags("replay", flags->redis, /*required=*/false)) {
      auto conn = storage::RedisConnection::Connect(*address);
      if (!conn.ok()) Fail("replay", conn.status().message());
      redis = std::make_unique<storage::RedisConnection>(std::move(*conn));
    }
    ProgressBar bar("replay");
    options.on_progress = [&](const ingest::ReplayProgress& p) {
      bar.Update(p.bytes_read, p.file_size, std::to_string(p.events) + " checkouts");
      if (redis) RecordReplayProgress(redis.get(), p, false);
    };
    std::unique_ptr<PipelineProbe> probe;
    if (redis) {
      // With Redis to read progress from, pace on the workers as `run` does (bounded backlog).
      probe = std::make_unique<PipelineProbe>(redis->options());
      options.may_continue = [&](int64_t produced) { return probe->BacklogBelowLimit(produced); };
    }
    StopOnSignals signals;
    auto result = ingest::Replay(producer->get(), options, signals.flag());
    if (!result.ok()) Fail("replay", result.status().message());
    bar.Finish();
    if (redis) RecordReplayProgress(redis.get(), result->progress, !signals.stopped());
    PrintReplaySummary(*result, std::cerr);
  });
}

}  // namespace segstream::app
