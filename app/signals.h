// SIGINT/SIGTERM → a stop flag, without doing work in a signal handler: the signals are blocked in
// every thread and one thread sigwait()s for them.
#pragma once

#include <atomic>
#include <thread>

namespace segstream::app {

class StopOnSignals {
 public:
  // Call before starting any other thread, so they all inherit the blocked mask.
  StopOnSignals();
  ~StopOnSignals();
  const std::atomic<bool>& flag() const { return stop_; }
  bool stopped() const { return stop_.load(); }
  // Ends the wait as if a signal had come (e.g. `run --exit-when-done`).
  void RequestStop();

 private:
  std::atomic<bool> stop_{false};
  std::thread waiter_;
};

}  // namespace segstream::app
