// Progress on stderr for long work: a redrawn bar on a terminal, a line every few seconds
// otherwise (CI logs), and the replay's summary of skipped rows.
#pragma once

#include <chrono>
#include <memory>
#include <ostream>
#include <string>

#include "ingest/replay.h"
#include "storage/redis_client.h"
#include "storage/snapshot_reader.h"

namespace segstream::app {

class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  void Update(int64_t done, int64_t total, const std::string& detail);
  void Finish();

 private:
  std::string label_;
  bool tty_;
  std::chrono::steady_clock::time_point last_;
  std::string last_line_;
};

// Reads pipeline progress from Redis at most every 20 ms (the replay asks per checkout), so
// `run` and `replay --redis` can pace the replay on what the workers have committed.
class PipelineProbe {
 public:
  explicit PipelineProbe(storage::RedisOptions redis) : redis_options_(std::move(redis)) {}
  const storage::PipelineStatus& Get();
  // Unconsumed backlog the replay may run ahead by: keeps each partition of the embedded broker
  // far below its 5 MiB retention (KAFKA_MOCK.md), whatever the speed.
  bool BacklogBelowLimit(int64_t produced, int64_t max_checkouts = 5000);

 private:
  storage::RedisOptions redis_options_;
  std::unique_ptr<storage::RedisConnection> redis_;
  storage::PipelineStatus status_;
  std::chrono::steady_clock::time_point last_{};
};

// Writes progress to Redis; failures are logged, never fatal (progress is informational).
void RecordReplayProgress(storage::RedisConnection* redis, const ingest::ReplayProgress& p,
                          bool done);
void PrintReplaySummary(const ingest::ReplayResult& result, std::ostream& out);

}  // namespace segstream::app
