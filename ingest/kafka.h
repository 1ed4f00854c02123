// librdkafka (C++ API) clients configured the way KAFKA_MOCK.md and DESIGN §5 want: idempotent,
// compressed producers; manually committed consumers whose offsets of record live in Redis.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "stream/status.h"

namespace segstream::ingest {

struct KafkaOptions {
  std::string brokers = "127.0.0.1:9092";  // bootstrap list
  std::string group = "segstream";         // consumer group id
  // A crashed worker's partitions move after about this long; the mock needs >= 3000 (its first
  // join waits 3 s).
  int session_timeout_ms = 6000;
  // The mock never wakes a waiting fetch on new data, so end-to-end latency ~ this (KAFKA_MOCK.md).
  int fetch_wait_max_ms = 10;
  // zstd: compresses repeated retail text ~3x better than lz4 (KAFKA_MOCK.md), which multiplies
  // the embedded broker's 5 MiB-per-partition retention; its CPU cost is small next to protobuf.
  std::string compression = "zstd";
  int linger_ms = 5;
  // librdkafka's partition.assignment.strategy: `range`, `roundrobin` (eager: every rebalance
  // revokes everything) or `cooperative-sticky` (KIP-429: only the partitions that move stop).
  // The worker handles both protocols; which is the default, and why, is in app/cmd_worker.cc.
  std::string assignment_strategy = "range";
  std::map<std::string, std::string> extra;  // raw librdkafka properties, applied last
};

// Counts delivery failures since the last Reset(); one per producer, read after flush().
class DeliveryTracker : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override;
  void Reset();
  int64_t failures() const { return failures_.load(); }
  int64_t delivered() const { return delivered_.load(); }
  std::string first_error() const;

 private:
  std::atomic<int64_t> failures_{0};
  std::atomic<int64_t> delivered_{0};
  mutable std::mutex mu_;
  std::string first_error_;
};

struct RecordHeader {
  std::string name;
  std::string value;
};

// An idempotent producer with its delivery tracker.
class Producer {
 public:
  static Result<std::unique_ptr<Producer>> Create(const KafkaOptions& options);

  // Copies key and value; retries while the local queue is full. Partition -1 = by key.
  Status Produce(std::string_view topic, std::string_view key, std::string_view value,
                 const std::vector<RecordHeader>& headers = {}, int32_t partition = -1);
  // Waits for every outstanding record; error if any failed since the last flush.
  Status Flush(std::chrono::milliseconds timeout);
  RdKafka::Producer* raw() { return producer_.get(); }

 private:
  DeliveryTracker tracker_;
  std::unique_ptr<RdKafka::Producer> producer_;
};

// The consumer group's join state, from librdkafka's statistics (`cgrp.join_state`,
// STATISTICS.md), served by the consumer's poll. librdkafka up to 2.6 loses the whole assignment
// when an offset commit sent while its JoinGroup is outstanding comes back ILLEGAL_GENERATION
// (librdkafka#4059, fixed by #4908): with cooperative-sticky that turned every rebalance into a
// full revoke (seen in tests/fault_rebalance.py, debug=cgrp: "OffsetCommit error: Illegal
// generation ... assignment lost"). The worker sends its advisory commits only while this says
// `steady`. An EventCb also takes librdkafka's log and error output, which it prints to stderr
// as librdkafka does without one.
class GroupStateTracker : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& event) override;
  // The last statistics said `steady` (false before the first).
  bool steady() const { return steady_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> steady_{false};
};

// Builds a consumer (auto commit off, offset reset earliest); `rebalance` may be null. With a
// `tracker`, statistics are emitted every `stats_interval_ms` for it.
Result<std::unique_ptr<RdKafka::KafkaConsumer>> CreateConsumer(const KafkaOptions& options,
                                                               RdKafka::RebalanceCb* rebalance,
                                                               GroupStateTracker* tracker = nullptr,
                                                               int stats_interval_ms = 20);

// Number of partitions of `topic`, from broker metadata.
Result<int32_t> PartitionCount(RdKafka::Handle* handle, const std::string& topic,
                               std::chrono::milliseconds timeout);

}  // namespace segstream::ingest
