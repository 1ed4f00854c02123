// The embedded pipeline as `segstream run` and `segstream bench e2e` start it: a child
// redis-server and the mock broker (DESIGN §6), and the workers on a thread of their own.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ingest/mock_broker.h"
#include "ingest/worker.h"
#include "storage/redis_child.h"
#include "storage/redis_client.h"

namespace segstream::app {

// The bundled Online Retail file: ./data/ when run from the checkout, else beside the source tree
// the binary was built from.
std::string DefaultRetailCsv();

struct EmbeddedOptions {
  int broker_port = 0;  // bootstrap port; 0 picks a free one
  int redis_port = 0;   // 0 picks a free one
  int partitions = 6;   // of every pre-created topic
  // Extra redis.conf lines for the child redis-server (tuning experiments); none by default.
  std::vector<std::string> redis_config;
};

// Redis first, then the broker; both stop with the object (broker first).
class EmbeddedServers {
 public:
  explicit EmbeddedServers(EmbeddedOptions options);
  Status Start();

  storage::RedisOptions redis_client() const { return {redis_.host(), redis_.port()}; }
  std::string redis_address() const { return redis_.address(); }
  std::string brokers() const { return broker_.bootstrap(); }
  ingest::MockBroker& broker() { return broker_; }

  // The workers' settings against these servers: every partition owned by this process, dealt
  // over the pool's threads (no group join; group "segstream" for advisory offsets).
  ingest::WorkerOptions WorkerOptions(const ingest::SegmenterOptions& segments) const;

 private:
  int partitions_;
  storage::RedisChild redis_;
  ingest::MockBroker broker_;
};

// ingest::RunWorkers on a background thread until Stop() (or a worker fails).
class WorkerPool {
 public:
  WorkerPool(ingest::WorkerOptions options, int threads);
  ~WorkerPool();  // Stop()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Stops and joins; the workers' result (OK if they stopped cleanly).
  Status Stop();
  // True once the workers stopped on an error (they run until Stop() otherwise).
  bool failed() const { return failed_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::mutex mu_;
  Status status_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace segstream::app
