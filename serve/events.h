// What `segstream serve` publishes on `/v1/events` (DESIGN §6): from its own snapshots, a
// `top-items` event whenever the top 10 of window `all` changes and a `drift-alert` event for each
// new segment-drift alert; from the `segment-changes` topic (app/segment_feed.h consumes it), a
// `segment-change` event per change, rate-limited by SegmentChangePublisher.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "serve/snapshot.h"
#include "serve/sse.h"

namespace segstream::serve {

class TopItemsPublisher {
 public:
  explicit TopItemsPublisher(SseHub* hub) : hub_(hub) {}
  // Called after each snapshot refresh (one thread); publishes only when the top 10 moved.
  void OnSnapshot(const Snapshot& snapshot);

 private:
  SseHub* hub_;
  std::string last_;  // the top-10 part of the last event, to skip repeats
};

// A `drift-alert` event (the DriftAlert JSON of /v1/drift) for each alert that appears in the
// snapshot after the publisher's first one: a client that connects later reads the history from
// /v1/drift.
class DriftAlertPublisher {
 public:
  explicit DriftAlertPublisher(SseHub* hub) : hub_(hub) {}
  void OnSnapshot(const Snapshot& snapshot);

 private:
  SseHub* hub_;
  bool primed_ = false;
  std::string newest_;  // the newest alert already seen
};

struct SegmentChangeLimits {
  // `segment-change` events per window; the rest of the window's changes are only counted. A
  // model update re-scores every customer, and a browser cannot render thousands of feed lines a
  // second (nor should each client's queue hold them). Default 20.
  int64_t max_per_window = 20;
  std::chrono::milliseconds window{1000};  // default 1 s
};

// Publishes segment changes as `segment-change` events (the change's JSON as `segstream tail`
// prints it) up to `max_per_window` per fixed window; when a window that dropped some ends, one
// `segment-changes-summary` event says how many, by new segment:
// {"dropped": 1480, "window_ms": 1000, "max_per_window": 20, "to_segment": {"0": 310, ...},
//  "min_event_time_ms": ..., "max_event_time_ms": ...}
// (min/max: partitions interleave, so event times arrive out of order). Time is a parameter; one
// thread.
class SegmentChangePublisher {
 public:
  using Clock = std::chrono::steady_clock;
  SegmentChangePublisher(SseHub* hub, SegmentChangeLimits limits = {})
      : hub_(hub), limits_(limits) {}

  // One change (a JSON object) seen at `now`.
  void OnChange(const nlohmann::json& change, Clock::time_point now);
  // Ends the window if it is over (call when idle too, so a summary is not held back).
  void Tick(Clock::time_point now);

  int64_t published() const { return published_; }
  int64_t dropped_total() const { return dropped_total_; }

 private:
  SseHub* hub_;
  const SegmentChangeLimits limits_;
  bool open_ = false;  // a window is running
  Clock::time_point window_start_;
  int64_t sent_ = 0;     // in this window
  int64_t dropped_ = 0;  // in this window
  std::map<int64_t, int64_t> dropped_to_;
  int64_t min_ms_ = 0, max_ms_ = 0;  // event times of this window's dropped changes
  int64_t published_ = 0, dropped_total_ = 0;
};

}  // namespace segstream::serve
