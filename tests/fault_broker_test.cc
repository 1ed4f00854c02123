// Broker faults through the librdkafka mock API while two `segstream worker` processes work
// through 60,000 generated checkouts (DESIGN §5, §7): the only broker down and up (shorter and
// longer than the session timeout), retriable request errors on Produce, Fetch and OffsetCommit,
// and partition leaders moving across three brokers plus one of them going down. Each test asserts
// the exact final counts of every item, the totals and the DLQ against expectations computed from
// the generated lines (fault_support.h), and prints how long the pipeline took to move again.
#include <gtest/gtest.h>

#include <iostream>
#include <thread>

#include "tests/fault_support.h"

namespace segstream::tests {
namespace {

constexpr int kCheckouts = 60000;
constexpr int kInvalidEvery = 97;
constexpr auto kMinute = std::chrono::seconds(60);

class BrokerFaultTest : public ::testing::Test {
 protected:
  void Begin(FaultPipeline::Options options, uint64_t seed) {
    pipe_ = std::make_unique<FaultPipeline>(std::move(options));
    ASSERT_TRUE(pipe_->Start().ok());
    if (pipe_->broker().broker_count() > 1) {
      // Keep the group coordinator on broker 1: taking another broker down only stalls the
      // partitions it leads.
      pipe_->broker().Nudged([&] {
        return rd_kafka_mock_coordinator_set(pipe_->broker().raw(), "group", "segstream", 1);
      });
    }
    CheckoutGenerator generator(seed);
    records_ = generator.Stream(kCheckouts, kInvalidEvery);
    truth_ = ComputeTruth(records_);
    Status produced = pipe_->ProduceInput(&records_);
    ASSERT_TRUE(produced.ok()) << produced.ToString();
    pipe_->StartWorker("w0");
    pipe_->StartWorker("w1");
  }

  // Waits until `fraction` of the input is committed.
  void At(double fraction) {
    ASSERT_TRUE(pipe_->WaitCommitted(static_cast<int64_t>(kCheckouts * fraction), kMinute))
        << "stuck before " << fraction << " of the input\n"
        << pipe_->WorkerLogs();
  }

  void Recovered(const std::string& fault) {
    auto took = pipe_->WaitAllPartitionsAdvance(kMinute);
    ASSERT_TRUE(took.ok()) << fault << ": " << took.status().ToString() << "\n"
                           << pipe_->WorkerLogs();
    std::cout << "[fault] " << fault << ": all " << took->partitions
              << " partitions with work left moving again after " << took->took.count() << " s"
              << std::endl;
  }

  void DrainAndCheck() {
    Status drained = pipe_->WaitDrained(std::chrono::seconds(120));
    ASSERT_TRUE(drained.ok()) << drained.ToString() << "\n" << pipe_->WorkerLogs();
    pipe_->ExpectExact(truth_, records_);
    pipe_->StopWorkers();
  }

  std::unique_ptr<FaultPipeline> pipe_;
  std::vector<InputRecord> records_;
  Truth truth_;
};

TEST_F(BrokerFaultTest, OnlyBrokerDownThenUp) {
  Begin({}, 11);
  // Shorter than the session timeout (3 s): the group survives.
  At(0.1);
  ASSERT_TRUE(pipe_->broker().SetBrokerDown(1).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_TRUE(pipe_->broker().SetBrokerUp(1).ok());
  Recovered("broker down 1.5 s");
  // Longer than the session timeout: the coordinator expires every member, the group re-forms.
  At(0.3);
  ASSERT_TRUE(pipe_->broker().SetBrokerDown(1).ok());
  std::this_thread::sleep_for(std::chrono::seconds(5));
  ASSERT_TRUE(pipe_->broker().SetBrokerUp(1).ok());
  Recovered("broker down 5 s");
  DrainAndCheck();
}

TEST_F(BrokerFaultTest, RetriableRequestErrors) {
  Begin({}, 12);
  const std::vector<rd_kafka_resp_err_t> produce = {
      RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE};
  const std::vector<rd_kafka_resp_err_t> fetch = {
      RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
      RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT};
  const std::vector<rd_kafka_resp_err_t> offset_commit = {
      RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
      RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT};
  auto times = [](const std::vector<rd_kafka_resp_err_t>& errors, int n) {
    std::vector<rd_kafka_resp_err_t> out;
    for (int i = 0; i < n; ++i) {
      for (rd_kafka_resp_err_t e : errors) out.push_back(e);
    }
    return out;
  };
  for (double at : {0.1, 0.25, 0.4}) {
    At(at);
    pipe_->broker().PushRequestErrors(0, times(produce, 5));        // Produce
    pipe_->broker().PushRequestErrors(1, times(fetch, 5));          // Fetch
    pipe_->broker().PushRequestErrors(8, times(offset_commit, 3));  // OffsetCommit
    Recovered("60 request errors at " + std::to_string(at));
  }
  DrainAndCheck();
}

TEST_F(BrokerFaultTest, LeaderMovesAndOneOfThreeBrokersDown) {
  FaultPipeline::Options options;
  options.broker_count = 3;
  Begin(options, 13);
  At(0.1);
  ASSERT_TRUE(pipe_->broker().SetBrokerDown(3).ok());
  std::this_thread::sleep_for(std::chrono::seconds(3));
  ASSERT_TRUE(pipe_->broker().SetBrokerUp(3).ok());
  Recovered("broker 3 of 3 down 3 s");
  for (int round = 1; round <= 2; ++round) {
    At(0.1 + 0.1 * round);
    for (const char* topic : {"checkouts", "item-sales", "checkouts.dlq"}) {
      for (int32_t p = 0; p < pipe_->broker().partitions(); ++p) {
        ASSERT_TRUE(pipe_->broker().SetPartitionLeader(topic, p, 1 + (p + round) % 3).ok());
      }
    }
    Recovered("leaders moved (round " + std::to_string(round) + ")");
  }
  DrainAndCheck();
}

}  // namespace
}  // namespace segstream::tests
