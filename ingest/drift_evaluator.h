// Segment drift alerting in the pipeline (DESIGN §4 "Drift", issue 9): the model lease holder
// runs the monitors of stream/drift.h over the drift panes every stage-1 partition commits
// (`{checkouts:P}:drift`, stream/drift_panes.h) and
//   - sends each alert as a segstream.v1.DriftAlert on `segment-drift` (key = segment id),
//   - keeps the newest alerts as JSON in `{model}:drift_alerts` (LPUSH, capped),
//   - writes the monitors' current values, the /v1/drift table, to `{model}:drift`.
//
// Event time drives it, not the wall clock: every day boundary the watermark passed since the
// last run is evaluated in turn, as a monitor running in real time would have, so a replay at
// full speed alerts at the same event times as one at 1×. Panes are re-read and mapped into the
// current model's units on every run (the transform is re-fitted as the population grows).
//
// A new lease holder (or a restarted one) replays the stored days from the oldest to rebuild
// levels and cooldowns, and sends only alerts newer than the `evaluated_through_ms` of the stored
// report: alerts the previous holder sent are not sent again. An alert raised after the previous
// holder's last report but before it died can be sent twice; consumers dedup by (segment, kind,
// event_time_ms).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ingest/kafka.h"
#include "storage/redis_client.h"
#include "stream/drift.h"
#include "stream/segments.h"

namespace segstream::ingest {

struct DriftEvaluatorOptions {
  stream::DriftOptions monitors;
  // The stream's first days never enter a window: a stream starts cold (every customer is new,
  // repeat purchases come first from the most frequent customers, lifetime vectors grow), so the
  // mix of segments among purchases shifts for weeks whatever the behaviour. Measured on
  // stationary generated streams with no such exclusion: SHARE_PSI alerts at days 20, 29 and 36
  // (PSI up to 2.4) and a CENTROID_SHIFT at day 35. The monitors' warm-up counts from its end.
  int64_t cold_start_days = 28;
  // Alerts kept in `{model}:drift_alerts` for /v1/drift (the topic keeps them all).
  int64_t alerts_kept = 100;
  // How long to wait for the alerts' delivery before recording them as sent.
  std::chrono::milliseconds flush_timeout{5000};
};

class DriftEvaluator {
 public:
  DriftEvaluator(DriftEvaluatorOptions options, storage::RedisConnection* redis,
                 Producer* producer);

  // One run as lease holder: `model` is current, `partitions` every checkouts partition,
  // `watermark_ms` the global watermark. Does nothing until a pane exists.
  Status Run(const stream::SegmentModel& model, const std::vector<int32_t>& partitions,
             int64_t watermark_ms);
  // The lease was lost: the next run (if the lease comes back) starts over from the stored days.
  void Reset();

  const std::optional<stream::DriftMonitor>& monitor() const { return monitor_; }

 private:
  Status Publish(const stream::SegmentModel& model, const std::vector<stream::DriftSignal>& alerts);
  Status WriteReport(const stream::SegmentModel& model);
  // evaluated_through_ms and first_day_ms of the stored report (0, 0 without one).
  Result<std::pair<int64_t, int64_t>> StoredProgress();

  DriftEvaluatorOptions options_;
  storage::RedisConnection* redis_;
  Producer* producer_;
  std::optional<stream::DriftMonitor> monitor_;
  int64_t evaluated_day_ = 0;     // start of the last day boundary evaluated (0: none yet)
  int64_t sent_through_ms_ = -1;  // alerts at or before this were sent (-1: not read yet)
  int64_t first_day_ms_ = 0;      // the stream's first drift day (0: not known yet)
  std::string buffer_;
};

}  // namespace segstream::ingest
