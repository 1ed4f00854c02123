// What `segstream serve` publishes on `/v1/events` (DESIGN §6) from its own snapshots: a
// `top-items` event whenever the top 10 of window `all` changes, and a `drift-alert` event for
// each new segment-drift alert. (Segment changes are on the `segment-changes` topic only.)
#pragma once

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

}  // namespace segstream::serve
