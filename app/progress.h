// Progress on stderr for long work: a redrawn bar on a terminal, a line every few seconds
// otherwise (CI logs), and the replay's summary of skipped rows.
#pragma once

#include <chrono>
#include <ostream>
#include <string>

#include "ingest/replay.h"
#include "storage/redis_client.h"

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

// Writes progress to Redis; failures are logged, never fatal (progress is informational).
void RecordReplayProgress(storage::RedisConnection* redis, const ingest::ReplayProgress& p,
                          bool done);
void PrintReplaySummary(const ingest::ReplayResult& result, std::ostream& out);

}  // namespace segstream::app
