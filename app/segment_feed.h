// The `segment-change` events of /v1/events (DESIGN §6): serve consumes the `segment-changes`
// topic from its end (no group, no commits: a feed, not a processing stage; every serve process
// sees every change) and hands each record, as `segstream tail` prints it, to a
// serve::SegmentChangePublisher, which rate-limits them for the SSE clients.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "serve/events.h"
#include "serve/sse.h"

namespace segstream::app {

struct SegmentFeedOptions {
  std::string brokers;                  // bootstrap list; required
  serve::SegmentChangeLimits limits;    // events per window, then a summary (serve/events.h)
  std::chrono::milliseconds poll{100};  // consume timeout: also how late a summary may go out
  // Between attempts to reach the broker (it may start after serve). Default 1 s.
  std::chrono::milliseconds retry{1000};
};

class SegmentChangeFeed {
 public:
  SegmentChangeFeed(SegmentFeedOptions options, serve::SseHub* hub);
  ~SegmentChangeFeed();  // Stop()
  SegmentChangeFeed(const SegmentChangeFeed&) = delete;
  SegmentChangeFeed& operator=(const SegmentChangeFeed&) = delete;

  void Start();  // the consumer thread
  void Stop();   // idempotent

  // True once every partition is assigned at its end offset as of then: any change produced
  // after it is published (tests wait for it).
  bool ready() const { return ready_.load(); }
  int64_t consumed() const { return consumed_.load(); }

 private:
  void Run();
  bool Sleep(std::chrono::milliseconds d);  // false when stopping

  const SegmentFeedOptions options_;
  serve::SegmentChangePublisher publisher_;
  std::atomic<bool> ready_{false};
  std::atomic<int64_t> consumed_{0};
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::atomic<bool> stop_flag_{false};
  std::thread thread_;
};

}  // namespace segstream::app
