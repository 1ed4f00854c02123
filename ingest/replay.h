// CSV → `checkouts` (DESIGN §2, §6 `segstream replay`): one Checkout per invoice run, keyed by
// customer id (invoice number if anonymous), optionally paced in event time.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "ingest/csv_reader.h"
#include "ingest/kafka.h"

namespace segstream::ingest {

struct ReplayProgress {
  int64_t events = 0;  // checkouts produced
  int64_t rows_read = 0;
  int64_t rows_skipped = 0;
  int64_t bytes_read = 0;  // of the file, for a progress bar
  int64_t file_size = 0;
  int64_t event_time_ms = 0;  // of the last checkout produced
};

struct ReplayOptions {
  std::string csv_path;
  std::string topic = "checkouts";
  // 0 = as fast as possible; N = N× event time (N = 86400 plays a day per second).
  double speed = 0;
  // Stop after this many checkouts; -1 = the whole file.
  int64_t limit = -1;
  CsvOptions csv;
  // Called about every 100 ms and once at the end.
  std::function<void(const ReplayProgress&)> on_progress;
  // Back-pressure: while it returns false the replay waits (the embedded broker keeps only
  // 5 MiB per partition, so `segstream run` holds the unconsumed backlog well under that).
  std::function<bool(int64_t events_produced)> may_continue;
};

struct ReplayResult {
  ReplayProgress progress;
  CsvStats csv;
  double seconds = 0;
};

// Produces every checkout of the file, then flushes. Stops early, cleanly, when `stop` is set.
Result<ReplayResult> Replay(Producer* producer, const ReplayOptions& options,
                            const std::atomic<bool>& stop);

}  // namespace segstream::ingest
