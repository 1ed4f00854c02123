#include "ingest/mock_broker.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace segstream::ingest {
namespace {

using Clock = std::chrono::steady_clock;

std::unique_ptr<RdKafka::Conf> MakeConf(const std::map<std::string, std::string>& settings) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : settings) {
    EXPECT_EQ(conf->set(k, v, err), RdKafka::Conf::CONF_OK) << k << ": " << err;
  }
  return conf;
}

// The expected record i, computed here and nowhere else.
std::string KeyOf(int i) { return "customer-" + std::to_string(i % 97); }
std::string ValueOf(int i) {
  return "checkout #" + std::to_string(i) + " " + std::string(i % 50, 'x');
}
std::string BinaryHeaderOf(int i) { return std::string("\0\x01", 2) + std::to_string(i * 7); }

class CountingDelivery : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override { (m.err() ? failed : delivered)++; }
  std::atomic<int> delivered{0};
  std::atomic<int> failed{0};
};

// Idempotent, lz4, acks=all: the producer settings of KAFKA_MOCK.md.
class Producer {
 public:
  explicit Producer(const std::string& bootstrap) {
    auto conf = MakeConf({{"bootstrap.servers", bootstrap},
                          {"enable.idempotence", "true"},
                          {"acks", "all"},
                          {"compression.type", "lz4"},
                          {"linger.ms", "5"},
                          {"message.timeout.ms", "20000"},
                          {"reconnect.backoff.ms", "50"},
                          {"reconnect.backoff.max.ms", "1000"}});
    std::string err;
    conf->set("dr_cb", &dr_, err);
    producer_.reset(RdKafka::Producer::create(conf.get(), err));
    EXPECT_TRUE(producer_) << err;
  }
  // Record i to `topic`, keyed, with two headers (one binary) in a fixed order.
  void Send(const std::string& topic, int i) {
    std::string key = KeyOf(i);
    std::string value = ValueOf(i);
    std::string bin = BinaryHeaderOf(i);
    RdKafka::Headers* headers = RdKafka::Headers::create();
    headers->add("seq", std::to_string(i));
    headers->add("bin", bin.data(), bin.size());
    RdKafka::ErrorCode err;
    while ((err = producer_->produce(topic, RdKafka::Topic::PARTITION_UA,
                                     RdKafka::Producer::RK_MSG_COPY, value.data(), value.size(),
                                     key.data(), key.size(), 0, headers, nullptr)) ==
           RdKafka::ERR__QUEUE_FULL) {
      producer_->poll(10);
    }
    ASSERT_EQ(err, RdKafka::ERR_NO_ERROR);  // on success librdkafka owns `headers`
  }
  void Flush() { EXPECT_EQ(producer_->flush(30000), RdKafka::ERR_NO_ERROR); }
  RdKafka::Producer* get() { return producer_.get(); }
  CountingDelivery dr_;

 private:
  std::unique_ptr<RdKafka::Producer> producer_;
};

struct Received {
  std::string key, value, seq, bin;
  int32_t partition;
};

// Consumes until every partition reports EOF; records must all have been produced before.
std::vector<Received> ConsumeToEnd(RdKafka::KafkaConsumer* consumer, int partitions) {
  std::vector<Received> out;
  std::set<int32_t> at_end;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (static_cast<int>(at_end.size()) < partitions && Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
    if (m->err() == RdKafka::ERR__PARTITION_EOF) {
      at_end.insert(m->partition());
    } else if (m->err() == RdKafka::ERR_NO_ERROR) {
      at_end.erase(m->partition());
      Received r{*m->key(), std::string(static_cast<const char*>(m->payload()), m->len()), "", "",
                 m->partition()};
      for (const auto& h : m->headers()->get_all()) {
        (h.key() == "seq" ? r.seq : r.bin) =
            std::string(static_cast<const char*>(h.value()), h.value_size());
      }
      out.push_back(std::move(r));
    }
  }
  EXPECT_EQ(static_cast<int>(at_end.size()), partitions) << "timed out before the end";
  return out;
}

std::map<std::string, std::string> ConsumerSettings(const std::string& bootstrap,
                                                    const std::string& group) {
  return {{"bootstrap.servers", bootstrap},     {"group.id", group},
          {"session.timeout.ms", "6000"},       {"heartbeat.interval.ms", "500"},
          {"fetch.wait.max.ms", "10"},          {"reconnect.backoff.ms", "50"},
          {"reconnect.backoff.max.ms", "1000"}, {"auto.offset.reset", "earliest"},
          {"enable.auto.commit", "false"},      {"enable.partition.eof", "true"}};
}

// Reads partitions [0, partitions) of `topic` from the start by assignment: no group join wait.
std::vector<Received> ReadTopic(const std::string& bootstrap, const std::string& topic,
                                int partitions) {
  auto conf = MakeConf(ConsumerSettings(bootstrap, "segstream-test-reader"));
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  EXPECT_TRUE(consumer) << err;
  std::vector<RdKafka::TopicPartition*> assignment;
  for (int p = 0; p < partitions; ++p) {
    assignment.push_back(
        RdKafka::TopicPartition::create(topic, p, RdKafka::Topic::OFFSET_BEGINNING));
  }
  consumer->assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);
  auto out = ConsumeToEnd(consumer.get(), partitions);
  consumer->close();
  return out;
}

// Every record 0..n-1 arrived with its own key, value and headers; returns how many copies of
// each (the mock does no broker-side dedup, KAFKA_MOCK.md).
std::map<int, int> CheckRecords(const std::vector<Received>& got, int n) {
  std::map<int, int> copies;
  for (const Received& r : got) {
    int i = std::stoi(r.seq);
    EXPECT_EQ(r.key, KeyOf(i));
    EXPECT_EQ(r.value, ValueOf(i));
    EXPECT_EQ(r.bin, BinaryHeaderOf(i));
    ++copies[i];
  }
  EXPECT_EQ(static_cast<int>(copies.size()), n);
  if (!copies.empty()) {
    EXPECT_EQ(copies.begin()->first, 0);
    EXPECT_EQ(copies.rbegin()->first, n - 1);
  }
  return copies;
}

std::unique_ptr<RdKafka::Metadata> FetchMetadata(RdKafka::Handle* handle) {
  RdKafka::Metadata* md = nullptr;
  EXPECT_EQ(handle->metadata(true, nullptr, &md, 10000), RdKafka::ERR_NO_ERROR);
  return std::unique_ptr<RdKafka::Metadata>(md);
}

TEST(MockBrokerTest, TopicsExistWithConfiguredPartitionsAndRealBrokerPorts) {
  MockBroker::Options options;
  options.partitions = 3;
  options.broker_count = 2;
  MockBroker broker(options);
  ASSERT_TRUE(broker.Start().ok());
  EXPECT_EQ(broker.bootstrap(), "127.0.0.1:" + std::to_string(broker.port()));

  Producer producer(broker.bootstrap());
  auto md = FetchMetadata(producer.get());
  std::map<std::string, int> partitions_by_topic;
  for (const auto* t : *md->topics()) partitions_by_topic[t->topic()] = t->partitions()->size();
  for (const char* topic :
       {"checkouts", "item-sales", "segment-changes", "segment-drift", "checkouts.dlq"}) {
    EXPECT_EQ(partitions_by_topic[topic], 3) << topic;
  }
  // Metadata advertises the mock's own ports, never the forwarder's.
  std::map<int32_t, int> ports;
  for (const auto* b : *md->brokers()) ports[b->id()] = b->port();
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports[1], broker.broker_port(1));
  EXPECT_EQ(ports[2], broker.broker_port(2));
  EXPECT_NE(ports[1], broker.port());
}

TEST(MockBrokerTest, ProduceThenConsumeWithAGroupThroughTheForwarder) {
  MockBroker broker;  // defaults: 1 broker, 6 partitions
  ASSERT_TRUE(broker.Start().ok());
  constexpr int kRecords = 3000;
  {
    Producer producer(broker.bootstrap());
    for (int i = 0; i < kRecords; ++i) producer.Send("checkouts", i);
    producer.Flush();
    EXPECT_EQ(producer.dr_.delivered, kRecords);
    EXPECT_EQ(producer.dr_.failed, 0);
  }
  auto conf = MakeConf(ConsumerSettings(broker.bootstrap(), "segstream-test-group"));
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  ASSERT_TRUE(consumer) << err;
  ASSERT_EQ(consumer->subscribe({"checkouts"}), RdKafka::ERR_NO_ERROR);
  auto got = ConsumeToEnd(consumer.get(), 6);
  consumer->close();
  auto copies = CheckRecords(got, kRecords);
  EXPECT_EQ(static_cast<int>(got.size()), kRecords);  // nothing lost, no fault: no duplicates
  // Same key, same partition (the default partitioner hashes the key).
  std::map<std::string, std::set<int32_t>> partitions_of_key;
  for (const Received& r : got) partitions_of_key[r.key].insert(r.partition);
  EXPECT_EQ(partitions_of_key.size(), 97u);
  for (const auto& [key, parts] : partitions_of_key) EXPECT_EQ(parts.size(), 1u) << key;
}

TEST(MockBrokerTest, BrokerDownThenUpLosesNothing) {
  MockBroker::Options options;
  options.broker_count = 3;
  options.partitions = 3;
  options.topics = {"checkouts"};
  MockBroker broker(options);
  ASSERT_TRUE(broker.Start().ok());
  constexpr int kBefore = 500;
  constexpr int kDuring = 500;
  Producer producer(broker.bootstrap());
  for (int i = 0; i < kBefore; ++i) producer.Send("checkouts", i);
  producer.Flush();

  // Broker 1 leads a partition and is the forwarder's target: both must cope.
  ASSERT_TRUE(broker.SetBrokerDown(1).ok());
  for (int i = kBefore; i < kBefore + kDuring; ++i) producer.Send("checkouts", i);
  producer.get()->poll(300);  // let the producer hit the down broker
  {
    // A new client still bootstraps: the forwarder now points at broker 2.
    Producer newcomer(broker.bootstrap());
    auto md = FetchMetadata(newcomer.get());
    ASSERT_TRUE(md);  // through broker 2: broker 1 refuses every connection while down
    EXPECT_EQ(md->brokers()->size(), 3u);
  }
  ASSERT_TRUE(broker.SetBrokerUp(1).ok());
  producer.Flush();
  EXPECT_EQ(producer.dr_.delivered, kBefore + kDuring);
  EXPECT_EQ(producer.dr_.failed, 0);
  CheckRecords(ReadTopic(broker.bootstrap(), "checkouts", 3), kBefore + kDuring);
}

TEST(MockBrokerTest, RetriableProduceErrorsAreRetriedAndLeadersMove) {
  MockBroker::Options options;
  options.broker_count = 3;
  options.partitions = 2;
  options.topics = {"checkouts"};
  MockBroker broker(options);
  ASSERT_TRUE(broker.Start().ok());
  ASSERT_TRUE(broker.SetPartitionLeader("checkouts", 0, 3).ok());
  ASSERT_TRUE(broker.SetPartitionLeader("checkouts", 1, 3).ok());
  broker.PushRequestErrors(0 /* Produce */, {RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                             RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT});
  Producer producer(broker.bootstrap());
  auto md = FetchMetadata(producer.get());
  for (const auto* t : *md->topics()) {
    if (t->topic() != "checkouts") continue;
    for (const auto* p : *t->partitions()) EXPECT_EQ(p->leader(), 3) << "partition " << p->id();
  }
  for (int i = 0; i < 100; ++i) producer.Send("checkouts", i);
  producer.Flush();
  EXPECT_EQ(producer.dr_.delivered, 100);
  EXPECT_EQ(producer.dr_.failed, 0);
  CheckRecords(ReadTopic(broker.bootstrap(), "checkouts", 2), 100);
}

TEST(MockBrokerTest, BadOptionsAndBusyPortAreClearErrors) {
  for (auto [brokers, partitions, port] :
       {std::tuple{0, 6, 0}, std::tuple{1, 0, 0}, std::tuple{1, 6, 70000}, std::tuple{1, 6, -1}}) {
    MockBroker::Options options;
    options.broker_count = brokers;
    options.partitions = partitions;
    options.port = port;
    MockBroker broker(options);
    EXPECT_EQ(broker.Start().code(), StatusCode::kInvalidArgument)
        << brokers << " " << partitions << " " << port;
  }
  MockBroker first;
  ASSERT_TRUE(first.Start().ok());
  MockBroker::Options options;
  options.port = first.port();
  MockBroker second(options);
  Status s = second.Start();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find(std::to_string(first.port())), std::string::npos) << s.message();
  EXPECT_TRUE(second.raw() == nullptr);
  EXPECT_EQ(first.SetBrokerDown(2).code(), StatusCode::kInvalidArgument);  // no broker 2
}

}  // namespace
}  // namespace segstream::ingest
