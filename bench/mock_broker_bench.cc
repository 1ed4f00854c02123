// Produce and consume rates against the embedded broker (ingest::MockBroker), bootstrapped
// through its fixed-port forwarder vs the mock's own broker list. The direct bootstrap is the
// baseline: clients follow metadata to the real broker ports either way, so the two should match.
//
//   build/release/mock_broker_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <memory>
#include <string>

#include "ingest/mock_broker.h"

namespace {

using segstream::ingest::MockBroker;

constexpr int kMessages = 100000;
constexpr int kPartitions = 6;

std::unique_ptr<RdKafka::Conf> Conf(const std::map<std::string, std::string>& settings) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : settings) conf->set(k, v, err);
  return conf;
}

MockBroker& Broker() {
  static MockBroker* broker = [] {
    MockBroker::Options options;
    options.topics = {};
    auto* b = new MockBroker(options);  // lives for the process: destroying it costs ~1 s
    if (!b->Start().ok()) std::abort();
    return b;
  }();
  return *broker;
}

std::string Bootstrap(bool forwarder) {
  return forwarder ? Broker().bootstrap() : Broker().direct_bootstraps();
}

// A fresh topic per run keeps every run under the mock's 5 MiB-per-partition cap.
std::string NewTopic() {
  static int n = 0;
  std::string topic = "bench-" + std::to_string(n++);
  if (!Broker().CreateTopic(topic, kPartitions).ok()) std::abort();
  return topic;
}

// Keyed ~100-byte checkout-like records: idempotent, lz4, acks=all (KAFKA_MOCK.md settings).
void Produce(const std::string& bootstrap, const std::string& topic) {
  auto conf = Conf({{"bootstrap.servers", bootstrap},
                    {"enable.idempotence", "true"},
                    {"acks", "all"},
                    {"compression.type", "lz4"},
                    {"linger.ms", "5"},
                    {"batch.size", "1000000"}});
  std::string err;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  for (int i = 0; i < kMessages; ++i) {
    std::string key = "customer-" + std::to_string(i % 4339);
    std::string value = "{\"invoice_no\":\"" + std::to_string(536365 + i) +
                        "\",\"lines\":[{\"sku\":\"85123A\",\"quantity\":6,\"unit_price_micros\":"
                        "2550000}]}";
    while (producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                             value.data(), value.size(), key.data(), key.size(), 0,
                             nullptr) == RdKafka::ERR__QUEUE_FULL) {
      producer->poll(1);
    }
  }
  if (producer->flush(60000) != RdKafka::ERR_NO_ERROR) std::abort();
}

// Reads the topic from the start until every partition reports EOF; returns records read.
int Consume(const std::string& bootstrap, const std::string& topic) {
  auto conf = Conf({{"bootstrap.servers", bootstrap},
                    {"group.id", "bench"},
                    {"enable.partition.eof", "true"},
                    {"enable.auto.commit", "false"},
                    {"fetch.wait.max.ms", "10"}});
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  std::vector<RdKafka::TopicPartition*> parts;
  for (int p = 0; p < kPartitions; ++p) {
    parts.push_back(RdKafka::TopicPartition::create(topic, p, RdKafka::Topic::OFFSET_BEGINNING));
  }
  consumer->assign(parts);
  RdKafka::TopicPartition::destroy(parts);
  int read = 0, eofs = 0;
  while (eofs < kPartitions) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
    if (m->err() == RdKafka::ERR_NO_ERROR) ++read;
    if (m->err() == RdKafka::ERR__PARTITION_EOF) ++eofs;
  }
  consumer->close();
  return read;
}

void BM_Produce(benchmark::State& state) {
  const std::string bootstrap = Bootstrap(state.range(0) == 1);
  const uint64_t relayed_before = Broker().bootstrap_bytes_relayed();
  for (auto _ : state) {
    state.PauseTiming();
    std::string topic = NewTopic();
    state.ResumeTiming();
    Produce(bootstrap, topic);
  }
  state.SetItemsProcessed(state.iterations() * kMessages);
  state.counters["fwd_bytes_per_run"] =
      static_cast<double>(Broker().bootstrap_bytes_relayed() - relayed_before) /
      static_cast<double>(state.iterations());
  state.SetLabel(state.range(0) == 1 ? "via forwarder" : "direct (baseline)");
}

void BM_Consume(benchmark::State& state) {
  const std::string bootstrap = Bootstrap(state.range(0) == 1);
  const uint64_t relayed_before = Broker().bootstrap_bytes_relayed();
  int read = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::string topic = NewTopic();
    Produce(Broker().direct_bootstraps(), topic);
    state.ResumeTiming();
    read = Consume(bootstrap, topic);
  }
  if (read != kMessages) state.SkipWithError("consumed a different count than produced");
  state.SetItemsProcessed(state.iterations() * kMessages);
  state.counters["fwd_bytes_per_run"] =
      static_cast<double>(Broker().bootstrap_bytes_relayed() - relayed_before) /
      static_cast<double>(state.iterations());
  state.SetLabel(state.range(0) == 1 ? "via forwarder" : "direct (baseline)");
}

BENCHMARK(BM_Produce)->Arg(0)->Arg(1)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Consume)->Arg(0)->Arg(1)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
