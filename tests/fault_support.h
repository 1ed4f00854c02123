// Fixtures of the C++ fault tests (label `fault`, DESIGN §7): an in-process MockBroker (so a test
// can inject broker faults through the librdkafka mock API) and a RedisChild with `appendfsync
// always`, real `segstream worker` child processes, an input producer written straight against
// librdkafka, and the exact checks every test ends with. The input and its expected counts are in
// fault_input.h.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ingest/mock_broker.h"
#include "storage/redis_child.h"
#include "storage/redis_client.h"
#include "storage/snapshot_reader.h"
#include "tests/fault_input.h"

namespace segstream::tests {

using Seconds = std::chrono::duration<double>;

// A `segstream` child process with stdout and stderr in one log file. It gets
// PR_SET_PDEATHSIG=SIGKILL, so it never outlives the test; the destructor kills and reaps it.
class Child {
 public:
  static std::unique_ptr<Child> Start(const std::vector<std::string>& args,
                                      const std::string& log_path);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // Reaps the child if it exited; false once it has.
  bool Running();
  void Signal(int sig);
  // Exit code, 128 + signal if killed, or nullopt if still running after `timeout`.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  std::optional<int> exit_code() const { return exit_code_; }
  std::string Log() const;
  // VmRSS from /proc/<pid>/status in KiB; 0 if the process is gone.
  int64_t RssKib() const;

 private:
  Child(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}
  pid_t pid_;
  std::string log_path_;
  std::optional<int> exit_code_;
};

// Records as the DLQ topic holds them.
struct DlqRecord {
  int32_t partition = -1;
  int64_t offset = -1;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::map<std::string, std::string> headers;
};

class FaultPipeline {
 public:
  struct Options {
    int broker_count = 1;
    int partitions = 4;
    int session_timeout_ms = 3000;
    // Extra `segstream worker` flags. The default keeps stage 1 at most ~20,000 item-sales ahead
    // of stage 2 (back-pressure in play all along), so a fault at some fraction of the committed
    // checkouts meets both stages busy.
    std::vector<std::string> worker_args = {"--max-item-sales-backlog", "20000"};
  };

  explicit FaultPipeline(Options options);
  ~FaultPipeline();

  // Starts the broker, Redis (AOF, appendfsync always) and a temp dir for logs.
  Status Start();
  ingest::MockBroker& broker() { return *broker_; }
  storage::RedisChild& redis() { return *redis_; }

  // Produces every record to `checkouts` (idempotent, acks=all) before any worker runs, records
  // where each landed, and checks the topic holds exactly that many records (no duplicates).
  Status ProduceInput(std::vector<InputRecord>* records);
  int64_t input_count() const { return input_count_; }

  Child* StartWorker(const std::string& name);
  Child* worker(const std::string& name) { return workers_.at(name).get(); }
  std::map<std::string, std::unique_ptr<Child>>& workers() { return workers_; }

  // Status from Redis; reconnects as needed (Redis may be down in a test).
  Result<storage::PipelineStatus> ReadStatus();
  // Checkouts committed (processed + dead-lettered); -1 while Redis is unreachable.
  int64_t Committed();
  // Waits until at least `n` checkouts are committed; false on timeout or a dead worker.
  bool WaitCommitted(int64_t n, std::chrono::milliseconds timeout);
  // Waits until every partition (checkouts and item-sales) that had work left when called has
  // committed past where it was: how long the pipeline took to move again everywhere after a
  // fault, and over how many partitions.
  struct Advance {
    Seconds took;
    int partitions = 0;
  };
  Result<Advance> WaitAllPartitionsAdvance(std::chrono::milliseconds timeout);
  // Every input record committed by stage 1 and every item-sale applied by stage 2.
  Status WaitDrained(std::chrono::milliseconds timeout);

  // gtest checks: totals, DLQ reasons, every item's four counters, no extra items, the DLQ topic
  // (one record per dead-lettered input after dedup by source position, right reason, original
  // key and bytes) and every worker still running.
  void ExpectExact(const Truth& truth, const std::vector<InputRecord>& records);
  std::vector<DlqRecord> ReadDlq();
  // SIGTERM every running worker; each must exit 0.
  void StopWorkers();
  // The end of every worker's log, for failure messages.
  std::string WorkerLogs(size_t tail_bytes = 4000) const;
  int CountInLogs(const std::string& needle) const;

 private:
  Result<std::map<std::string, storage::PartitionProgress>> Progress();

  Options options_;
  std::string dir_;
  std::unique_ptr<ingest::MockBroker> broker_;
  std::unique_ptr<storage::RedisChild> redis_;
  std::unique_ptr<storage::RedisConnection> conn_;
  std::map<std::string, std::unique_ptr<Child>> workers_;
  std::map<int32_t, int64_t> end_offsets_;  // checkouts partition -> end offset after input
  int64_t input_count_ = 0;
};

}  // namespace segstream::tests
