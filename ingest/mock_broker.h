// MockBroker: an embedded Kafka-protocol cluster (librdkafka's mock cluster) for `segstream
// broker`, `segstream run` and every test (DESIGN §1, §7). Real TCP, real Kafka protocol; its
// differences from Apache Kafka (5 MiB per partition, no broker-side dedup, no transactions, no
// Admin API) are measured in /work/shared/KAFKA_MOCK.md.
//
//   ingest::MockBroker broker;                 // 1 broker, 6 partitions, the five topics of §2
//   if (Status s = broker.Start(); !s.ok()) ...;
//   conf->set("bootstrap.servers", broker.bootstrap());   // "127.0.0.1:P", stable
//   broker.SetBrokerDown(1); ...; broker.SetBrokerUp(1);   // fault injection
//
// The mock's brokers bind random loopback ports, so a TcpForwarder on a fixed port gives a stable
// bootstrap address; metadata then advertises the real broker ports and clients connect to those
// directly. New bootstrap connections go to the lowest-numbered broker that is not set down.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ingest/tcp_forwarder.h"
#include "stream/status.h"

namespace segstream::ingest {

class MockBroker {
 public:
  // The five topics of DESIGN §2.
  static std::vector<std::string> DefaultTopics();

  struct Options {
    // Brokers in the mock cluster. 1 by default: the mock serves every broker from one thread
    // (one "rdk:mock" thread whatever the count), so more brokers add connections, not
    // parallelism, and a single node is what a dev broker should look like. Fault tests that
    // move leaders, or take one broker down while the group coordinator stays up, use 3.
    int broker_count = 1;
    // Bootstrap (forwarder) port on 127.0.0.1; 0 picks a free one.
    int port = 0;
    // Partitions of each pre-created topic.
    int partitions = 6;
    // Topics created at start. Topics not listed are auto-created with 4 partitions by the mock
    // on the first metadata request for them (librdkafka's hard-coded default).
    std::vector<std::string> topics = DefaultTopics();
    // Replicas per partition, at most broker_count; 0 = min(3, broker_count). Replicas only
    // show in metadata: the mock does not replicate, and a downed leader is not replaced.
    int replication_factor = 0;
  };

  MockBroker() : MockBroker(Options{}) {}
  explicit MockBroker(Options options);
  ~MockBroker();  // Stop()
  MockBroker(const MockBroker&) = delete;
  MockBroker& operator=(const MockBroker&) = delete;

  // Creates the cluster and topics and starts the forwarder. Errors: bad options
  // (kInvalidArgument), port in use (kUnavailable), librdkafka failures (kInternal).
  Status Start();
  // Stops the forwarder and destroys the cluster (its data is gone). Idempotent. Takes up to
  // ~1 s (librdkafka 2.0.2 shutdown race, see mock_broker.cc); the ports close at once.
  void Stop();

  // "127.0.0.1:P": the stable bootstrap address for clients.
  std::string bootstrap() const { return "127.0.0.1:" + std::to_string(port()); }
  int port() const { return forwarder_ ? forwarder_->port() : 0; }
  // The mock's own comma-separated broker list (random ports), bypassing the forwarder.
  std::string direct_bootstraps() const { return direct_bootstraps_; }
  // Loopback port broker `broker_id` (1-based) listens on, or 0 if there is no such broker.
  int broker_port(int32_t broker_id) const;
  int broker_count() const { return options_.broker_count; }
  // Bytes that went through the bootstrap forwarder (clients should only bootstrap there).
  uint64_t bootstrap_bytes_relayed() const { return forwarder_ ? forwarder_->bytes_relayed() : 0; }
  int partitions() const { return options_.partitions; }

  // Creates one more topic (e.g. a test's own); kInvalidArgument if it exists or is malformed.
  Status CreateTopic(const std::string& topic, int partitions);

  // --- fault injection (thread-safe; the mock applies them on its own thread) ---
  // Down: the broker closes its connections and refuses new ones; partitions it leads stall
  // until SetBrokerUp (no leader election). The forwarder skips it for new bootstraps.
  Status SetBrokerDown(int32_t broker_id);
  Status SetBrokerUp(int32_t broker_id);
  // The next errors.size() requests with this ApiKey (0 Produce, 1 Fetch, 3 Metadata, 8
  // OffsetCommit, 11 JoinGroup, ...) fail with these codes, in order, on any broker.
  void PushRequestErrors(int16_t api_key, const std::vector<rd_kafka_resp_err_t>& errors);
  Status SetPartitionLeader(const std::string& topic, int32_t partition, int32_t broker_id);
  // Everything else in rdkafka_mock.h (rtt, coordinator_set, follower watermarks, ...). Wrap
  // such calls in Nudged(), or they may stall for a second.
  rd_kafka_mock_cluster_t* raw() const { return cluster_.get(); }

  // Runs `call`, a blocking call into the mock cluster's thread, and returns its result.
  // librdkafka 2.0.2's mock thread can miss the wake-up for an op enqueued right after it served
  // the previous one (its wake-up fd handler discards bytes written after the queue was served)
  // and then sleeps out its 1 s poll timeout: measured, 3 of 8 back-to-back set_down/set_up calls
  // took 1000 ms. Any socket event also serves the op queue, so while `call` blocks, a helper
  // thread connects to a broker port every 2 ms. Every fault-injection method uses it.
  template <typename F>
  auto Nudged(F&& call) const {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::thread nudger([&] {
      std::unique_lock lock(mu);
      while (!cv.wait_for(lock, std::chrono::milliseconds(2), [&] { return done; })) Poke();
    });
    auto result = call();
    {
      std::lock_guard lock(mu);
      done = true;
    }
    cv.notify_one();
    nudger.join();
    return result;
  }

 private:
  struct KafkaDeleter {
    void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  };
  struct ConfDeleter {
    void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
  };
  struct ClusterDeleter {
    void operator()(rd_kafka_mock_cluster_t* c) const { rd_kafka_mock_cluster_destroy(c); }
  };

  void Poke() const;

  Status Validate() const;
  Status CheckBroker(int32_t broker_id) const;
  void RetargetForwarder();  // lowest-numbered broker that is up

  Options options_;
  // Destroyed in reverse order: forwarder, then cluster, then the handle that owns it.
  std::unique_ptr<rd_kafka_t, KafkaDeleter> handle_;
  std::unique_ptr<rd_kafka_mock_cluster_t, ClusterDeleter> cluster_;
  std::unique_ptr<TcpForwarder> forwarder_;
  std::string direct_bootstraps_;
  std::vector<int> broker_ports_;  // index broker_id - 1

  mutable std::mutex mu_;
  std::vector<bool> broker_up_;  // guarded by mu_
};

}  // namespace segstream::ingest
