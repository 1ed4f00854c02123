// Measures the Redis round-trip time with a PING on its own connection at a fixed interval, for
// `segstream_redis_rtt_seconds` and `segstream_redis_up`. A PING isolates the network and server
// latency from the size of what a snapshot refresh reads, so the histogram stays comparable as
// the catalogue grows.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "storage/redis_client.h"
#include "stream/status.h"

namespace segstream::serve {

struct RedisProbeOptions {
  storage::RedisOptions redis;
  // Time between two PINGs. Default 1 s: 1 small command per second is noise for Redis, and a
  // 15 s Prometheus scrape still sees ~15 observations.
  std::chrono::milliseconds interval{1000};
};

// Called on the probe's thread after each attempt: the PING's round trip when `status` is ok.
using RedisProbeObserver = std::function<void(const Status& status, std::chrono::nanoseconds rtt)>;

class RedisProbe {
 public:
  RedisProbe(RedisProbeOptions options, RedisProbeObserver observer);
  ~RedisProbe();  // Stop()
  RedisProbe(const RedisProbe&) = delete;
  RedisProbe& operator=(const RedisProbe&) = delete;

  void Start();
  // Idempotent; returns after the thread has joined (at most one Redis timeout).
  void Stop();
  // One attempt on the caller's thread (used by Start's loop and by tests).
  void ProbeOnce();

 private:
  const RedisProbeOptions options_;
  const RedisProbeObserver observer_;
  std::unique_ptr<storage::RedisConnection> redis_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace segstream::serve
