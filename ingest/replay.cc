#include "ingest/replay.h"

#include <chrono>
#include <thread>

namespace segstream::ingest {

using Clock = std::chrono::steady_clock;

Result<ReplayResult> Replay(Producer* producer, const ReplayOptions& options,
                            const std::atomic<bool>& stop) {
  auto reader = CsvCheckoutReader::Open(options.csv_path, options.csv);
  if (!reader.ok()) return reader.status();
  const auto start = Clock::now();
  auto last_report = start;
  int64_t first_event_ms = -1;
  ReplayResult result;
  ReplayProgress& progress = result.progress;
  v1::Checkout checkout;
  std::string value;

  auto report = [&] {
    progress.rows_read = reader->stats().rows_read;
    progress.rows_skipped = reader->stats().rows_skipped;
    progress.bytes_read = reader->bytes_read();
    progress.file_size = reader->file_size();
    if (options.on_progress) options.on_progress(progress);
  };

  while (!stop.load() && (options.limit < 0 || progress.events < options.limit)) {
    auto next = reader->Next(&checkout);
    if (!next.ok()) return next.status();
    if (!*next) break;
    if (options.speed > 0) {
      // Pace in event time: the checkout is due `Δevent / speed` after the first one.
      if (first_event_ms < 0) first_event_ms = checkout.event_time_ms();
      auto due =
          start + std::chrono::microseconds(static_cast<int64_t>(
                      1000.0 * static_cast<double>(checkout.event_time_ms() - first_event_ms) /
                      options.speed));
      while (!stop.load() && Clock::now() < due) {
        producer->raw()->poll(0);
        std::this_thread::sleep_until(std::min(due, Clock::now() + std::chrono::milliseconds(50)));
      }
    }
    while (options.may_continue && !stop.load() && !options.may_continue(progress.events)) {
      producer->raw()->poll(10);
    }
    checkout.SerializeToString(&value);
    const std::string& key =
        checkout.customer_id().empty() ? checkout.invoice_no() : checkout.customer_id();
    if (Status s = producer->Produce(options.topic, key, value); !s.ok()) return s;
    ++progress.events;
    progress.event_time_ms = checkout.event_time_ms();
    if ((progress.events & 255) == 0) {
      producer->raw()->poll(0);
      auto now = Clock::now();
      if (now - last_report > std::chrono::milliseconds(100)) {
        last_report = now;
        report();
      }
    }
  }
  if (Status s = producer->Flush(std::chrono::seconds(60)); !s.ok()) return s;
  report();
  result.csv = reader->stats();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace segstream::ingest
