// What `segstream serve` publishes on `/v1/events` (DESIGN §6) from its own snapshots: a
// `top-items` event whenever the top 10 of window `all` changes. Segment changes and drift alerts
// join it when the segments issue lands.
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

}  // namespace segstream::serve
