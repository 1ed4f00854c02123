#include "app/progress.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "storage/replay_progress.h"

namespace segstream::app {

ProgressBar::ProgressBar(std::string label)
    : label_(std::move(label)), tty_(isatty(STDERR_FILENO) != 0) {}

void ProgressBar::Update(int64_t done, int64_t total, const std::string& detail) {
  auto now = std::chrono::steady_clock::now();
  const auto every = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
  if (now - last_ < every) return;
  last_ = now;
  double fraction = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 0;
  if (fraction > 1) fraction = 1;
  constexpr int kWidth = 30;
  int filled = static_cast<int>(fraction * kWidth);
  char line[256];
  std::snprintf(line, sizeof line, "%s [%.*s%*s] %5.1f%% %s", label_.c_str(), filled,
                "##############################", kWidth - filled, "", 100 * fraction,
                detail.c_str());
  last_line_ = line;
  std::cerr << (tty_ ? "\r" : "") << line << (tty_ ? "" : "\n") << std::flush;
}

void ProgressBar::Finish() {
  if (tty_ && !last_line_.empty()) std::cerr << "\n";
}

const storage::PipelineStatus& PipelineProbe::Get() {
  auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(20)) return status_;
  last_ = now;
  if (!redis_) {
    auto conn = storage::RedisConnection::Connect(redis_options_);
    if (!conn.ok()) return status_;
    redis_ = std::make_unique<storage::RedisConnection>(std::move(*conn));
  }
  storage::SnapshotReader reader(redis_.get());
  auto status = reader.ReadStatus();
  if (status.ok()) {
    status_ = std::move(*status);
  } else {
    redis_.reset();
  }
  return status_;
}

bool PipelineProbe::BacklogBelowLimit(int64_t produced, int64_t max_checkouts) {
  const auto& st = Get();
  return produced - (st.events_processed + st.dlq_events) < max_checkouts;
}

void RecordReplayProgress(storage::RedisConnection* redis, const ingest::ReplayProgress& p,
                          bool done) {
  Status s = storage::WriteReplayProgress(redis, p.events, p.rows_skipped, done);
  if (!s.ok()) spdlog::warn("replay progress not recorded: {}", s.message());
}

void PrintReplaySummary(const ingest::ReplayResult& result, std::ostream& out) {
  const auto& p = result.progress;
  out << "replay: " << p.events << " checkouts from " << p.rows_read << " rows in "
      << result.seconds << " s ("
      << static_cast<int64_t>(p.rows_read / std::max(result.seconds, 1e-9)) << " rows/s); "
      << p.rows_skipped << " rows skipped\n";
  for (const auto& [reason, count] : result.csv.skipped_by_reason) {
    out << "  skipped " << count << " rows: " << reason << "\n";
  }
  for (const auto& e : result.csv.examples) {
    out << "  e.g. line " << e.line << " (" << e.reason << "): " << e.text << "\n";
  }
}

}  // namespace segstream::app
