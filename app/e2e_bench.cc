#include "app/e2e_bench.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "app/embedded.h"
#include "app/serve_stack.h"
#include "ingest/csv_reader.h"
#include "ingest/kafka.h"
#include "ingest/replay.h"
#include "segstream.pb.h"
#include "storage/keys.h"

namespace segstream::app {

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The pipeline's outputs beside its state, as `run` serves them; a free port, loopback only.
std::unique_ptr<ServeStack> MaybeServe(bool serve, const EmbeddedServers& servers,
                                       const ingest::SegmenterOptions& segments) {
  if (!serve) return nullptr;
  auto stack =
      std::make_unique<ServeStack>(ServeStackOptions{.redis = servers.redis_client(),
                                                     .brokers_shown = servers.brokers(),
                                                     .redis_shown = servers.redis_address(),
                                                     .http_host = "127.0.0.1",
                                                     .http_port = 0,
                                                     .segments_k = segments.model.k});
  if (Status s = stack->Start(); !s.ok()) {
    spdlog::warn("bench: API not started ({}); measuring without it", s.message());
    return nullptr;
  }
  return stack;
}

// Redis's view of one topic's partitions: `field` of each `{topic:P}:meta` (-1 if absent).
Result<std::vector<int64_t>> MetaField(storage::RedisConnection* redis, std::string_view topic,
                                       int partitions, const std::string& field) {
  std::vector<std::vector<std::string>> commands;
  for (int p = 0; p < partitions; ++p) {
    commands.push_back({"HGET", storage::PartitionKey(topic, p, "meta"), field});
  }
  auto replies = redis->Pipeline(commands);
  if (!replies.ok()) return replies.status();
  std::vector<int64_t> values;
  for (const auto& reply : *replies) {
    auto v = reply.AsInt();
    values.push_back(reply.is_nil() || !v.ok() ? -1 : *v);
  }
  return values;
}

// Waits until a worker has claimed every partition of both input topics: the group is formed and
// fetching has begun. Returns when that was seen.
Result<Clock::time_point> WaitForAssignment(storage::RedisConnection* redis, int partitions,
                                            const WorkerPool& workers, std::chrono::seconds timeout,
                                            const std::atomic<bool>& stop) {
  const auto deadline = Clock::now() + timeout;
  while (!stop.load() && !workers.failed() && Clock::now() < deadline) {
    bool all = true;
    for (std::string_view topic : {storage::kCheckoutsTopic, storage::kItemSalesTopic}) {
      auto gens = MetaField(redis, topic, partitions, "gen");
      if (!gens.ok()) return gens.status();
      all = all && std::all_of(gens->begin(), gens->end(), [](int64_t g) { return g > 0; });
    }
    if (all) return Clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Status::Timeout("the workers never claimed every partition");
}

int64_t MaxGeneration(storage::RedisConnection* redis, int partitions) {
  int64_t max_gen = 0;
  for (std::string_view topic : {storage::kCheckoutsTopic, storage::kItemSalesTopic}) {
    auto gens = MetaField(redis, topic, partitions, "gen");
    if (gens.ok()) max_gen = std::max(max_gen, *std::max_element(gens->begin(), gens->end()));
  }
  return max_gen;
}

// Fills the topic with `events` checkouts (-1: the file once) through the replay code; a file
// shorter than `events` is read again (event times repeat: the stages do not care).
Status Prefill(const E2eBenchOptions& options, const std::string& brokers,
               const std::atomic<bool>& stop, E2eThroughput* out) {
  ingest::KafkaOptions kafka;
  kafka.brokers = brokers;
  auto producer = ingest::Producer::Create(kafka);
  if (!producer.ok()) return producer.status();
  const auto start = Clock::now();
  do {
    ingest::ReplayOptions replay;
    replay.csv_path = options.csv.empty() ? DefaultRetailCsv() : options.csv;
    replay.limit = options.events < 0 ? -1 : options.events - out->prefilled;
    auto result = ingest::Replay(producer->get(), replay, stop);
    if (!result.ok()) return result.status();
    out->prefilled += result->progress.events;
    out->prefill_rows += result->progress.rows_read;
    if (result->progress.events == 0) break;  // no checkout in the file at all
  } while (options.events >= 0 && out->prefilled < options.events && !stop.load());
  out->prefill_seconds = Seconds(Clock::now() - start);
  if (stop.load()) return Status::Unavailable("stopped");

  // The mock keeps 5 MiB per partition and drops the oldest batches silently (KAFKA_MOCK.md).
  int64_t in_topic = 0;
  for (int p = 0; p < options.partitions; ++p) {
    int64_t low = -1, high = -1;
    RdKafka::ErrorCode err = (*producer)->raw()->query_watermark_offsets(
        std::string(storage::kCheckoutsTopic), p, &low, &high, 5000);
    if (err != RdKafka::ERR_NO_ERROR) {
      return Status::Unavailable("watermarks of checkouts:" + std::to_string(p) + ": " +
                                 RdKafka::err2str(err));
    }
    if (low != 0) {
      return Status::InvalidArgument(
          "the broker dropped the oldest records of checkouts:" + std::to_string(p) +
          " (5 MiB per partition): use fewer --events or more --partitions");
    }
    in_topic += high;
  }
  if (in_topic != out->prefilled) {
    return Status::Internal("topic holds " + std::to_string(in_topic) + " records, " +
                            std::to_string(out->prefilled) + " produced");
  }
  return Status::Ok();
}

// Records when the group first assigns partitions, and assigns them.
class AssignClock : public RdKafka::RebalanceCb {
 public:
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      consumer->assign(partitions);
      if (!assigned_) assigned_ = Clock::now();
    } else {
      consumer->unassign();
    }
  }
  std::optional<Clock::time_point> assigned() const { return assigned_; }

 private:
  std::optional<Clock::time_point> assigned_;
};

// The physical limit: the worker's consumer settings, a fresh group, nothing done per record.
Result<RateFigure> MeasureRawConsume(ingest::KafkaOptions kafka, int64_t total,
                                     std::chrono::seconds timeout, const std::atomic<bool>& stop) {
  kafka.group = "segstream-bench-raw";
  AssignClock clock;
  auto consumer = ingest::CreateConsumer(kafka, &clock);
  if (!consumer.ok()) return consumer.status();
  const auto start = Clock::now();
  RdKafka::ErrorCode err = (*consumer)->subscribe({std::string(storage::kCheckoutsTopic)});
  if (err != RdKafka::ERR_NO_ERROR) return Status::Unavailable(RdKafka::err2str(err));
  const auto deadline = start + timeout;
  int64_t consumed = 0;
  Clock::time_point last = start;
  while (consumed < total && !stop.load() && Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m((*consumer)->consume(100));
    if (m->err() == RdKafka::ERR_NO_ERROR) {
      ++consumed;
      last = Clock::now();
    }
  }
  (*consumer)->close();
  if (consumed < total) {
    return Status::Timeout("raw consumer read " + std::to_string(consumed) + " of " +
                           std::to_string(total));
  }
  RateFigure figure;
  figure.events = consumed;
  const auto assigned = clock.assigned().value_or(start);
  figure.join_seconds = Seconds(assigned - start);
  figure.seconds = Seconds(last - assigned);
  return figure;
}

bool Drained(const storage::PipelineStatus& status, const std::vector<int64_t>& end_offsets) {
  for (size_t p = 0; p < end_offsets.size(); ++p) {
    auto it = status.partitions.find("checkouts:" + std::to_string(p));
    if (it == status.partitions.end() || it->second.committed_offset != end_offsets[p]) {
      return false;
    }
  }
  return status.item_sales_applied == status.item_sales_produced;
}

}  // namespace

Result<E2eThroughput> RunThroughputBench(const E2eBenchOptions& options,
                                         const std::atomic<bool>& stop) {
  EmbeddedServers servers({.partitions = options.partitions, .redis_config = options.redis_config});
  if (Status s = servers.Start(); !s.ok()) return s;
  E2eThroughput out;
  if (Status s = Prefill(options, servers.brokers(), stop, &out); !s.ok()) return s;
  spdlog::info("bench: {} checkouts in the topic ({} rows) in {:.2f} s", out.prefilled,
               out.prefill_rows, out.prefill_seconds);

  ingest::WorkerOptions worker_options = servers.WorkerOptions(options.segments);
  worker_options.kafka.extra.insert(options.kafka_config.begin(), options.kafka_config.end());
  auto raw = MeasureRawConsume(worker_options.kafka, out.prefilled, options.phase_timeout, stop);
  if (!raw.ok()) return raw.status();
  out.raw = *raw;
  auto floor = MeasureRepartitionFloor(worker_options.kafka, &servers.broker(), options.partitions,
                                       out.prefilled, options.phase_timeout, stop);
  if (!floor.ok()) return floor.status();
  out.floor = *floor;

  auto conn = storage::RedisConnection::Connect(servers.redis_client());
  if (!conn.ok()) return conn.status();
  storage::RedisConnection* redis = &*conn;
  std::vector<int64_t> end_offsets;
  {
    ingest::KafkaOptions kafka;
    kafka.brokers = servers.brokers();
    auto probe = ingest::Producer::Create(kafka);
    if (!probe.ok()) return probe.status();
    for (int p = 0; p < options.partitions; ++p) {
      int64_t low = -1, high = -1;
      (*probe)->raw()->query_watermark_offsets(std::string(storage::kCheckoutsTopic), p, &low,
                                               &high, 5000);
      end_offsets.push_back(high);
    }
  }

  std::unique_ptr<ServeStack> stack = MaybeServe(options.serve, servers, options.segments);
  const auto start = Clock::now();
  WorkerPool workers(worker_options, options.threads);
  auto assigned =
      WaitForAssignment(redis, options.partitions, workers, options.phase_timeout, stop);
  if (!assigned.ok()) return assigned.status();
  storage::SnapshotReader reader(redis);
  const auto deadline = *assigned + options.phase_timeout;
  bool drained = false;
  while (!stop.load() && !workers.failed() && Clock::now() < deadline) {
    auto status = reader.ReadStatus();
    if (!status.ok()) return status.status();
    if (Drained(*status, end_offsets)) {
      drained = true;
      out.pipeline.seconds = Seconds(Clock::now() - *assigned);
      out.final_status = std::move(*status);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  out.pipeline.join_seconds = Seconds(*assigned - start);
  out.pipeline.events = out.final_status.events_processed + out.final_status.dlq_events;
  out.max_generation = MaxGeneration(redis, options.partitions);
  Status stopped = workers.Stop();
  if (stack) stack->Stop();
  if (!stopped.ok()) return stopped;
  if (!drained) return Status::Timeout("the pipeline did not drain the topic");
  return out;
}

namespace {

// Checkouts from a CSV file, read again and again; each pass is shifted in event time past the
// previous one so event time keeps moving forward, as in a live stream.
class LoopingCheckouts {
 public:
  explicit LoopingCheckouts(std::string path) : path_(std::move(path)) {}

  Status Next(v1::Checkout* out) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!reader_) {
        auto reader = ingest::CsvCheckoutReader::Open(path_);
        if (!reader.ok()) return reader.status();
        reader_.emplace(std::move(*reader));
      }
      auto next = reader_->Next(out);
      if (!next.ok()) return next.status();
      if (*next) {
        if (pass_ == 0) {
          first_ms_ = std::min(first_ms_, out->event_time_ms());
          last_ms_ = std::max(last_ms_, out->event_time_ms());
        }
        out->set_event_time_ms(out->event_time_ms() + shift_ms_);
        return Status::Ok();
      }
      reader_.reset();
      ++pass_;
      shift_ms_ += (last_ms_ - first_ms_) + 24 * 3600 * 1000;
    }
    return Status::InvalidArgument("no checkout in " + path_);
  }

 private:
  std::string path_;
  std::optional<ingest::CsvCheckoutReader> reader_;
  int pass_ = 0;
  int64_t first_ms_ = INT64_MAX, last_ms_ = INT64_MIN, shift_ms_ = 0;
};

// Send times of the checkouts, per partition, indexed by offset: the topic starts empty and the
// idempotent producer keeps order, so the k-th checkout sent to a partition gets offset k.
struct SendLog {
  explicit SendLog(int partitions, size_t capacity)
      : times(partitions), sent(partitions), seen(partitions, 0) {
    for (auto& t : times) t.resize(capacity);
  }
  std::vector<std::vector<int64_t>> times;  // ns on the steady clock; written before `sent` moves
  std::vector<std::atomic<int64_t>> sent;
  std::vector<int64_t> seen;  // poller only
};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<LatencyFigures> RunLatencyBench(const LatencyBenchOptions& options,
                                       const std::atomic<bool>& stop) {
  if (options.rate <= 0 || options.duration.count() <= 0) {
    return Status::InvalidArgument("rate and duration must be positive");
  }
  EmbeddedServers servers({.partitions = options.partitions, .redis_config = options.redis_config});
  if (Status s = servers.Start(); !s.ok()) return s;
  auto conn = storage::RedisConnection::Connect(servers.redis_client());
  if (!conn.ok()) return conn.status();
  storage::RedisConnection* redis = &*conn;
  std::unique_ptr<ServeStack> stack = MaybeServe(options.serve, servers, options.segments);
  ingest::WorkerOptions worker_options = servers.WorkerOptions(options.segments);
  worker_options.kafka.extra.insert(options.kafka_config.begin(), options.kafka_config.end());
  WorkerPool workers(worker_options, options.threads);
  // Empty topics: the group forms first, so no latency includes the mock's 3 s first join.
  auto assigned =
      WaitForAssignment(redis, options.partitions, workers, std::chrono::seconds(60), stop);
  if (!assigned.ok()) return assigned.status();

  ingest::KafkaOptions kafka;
  kafka.brokers = servers.brokers();
  auto producer = ingest::Producer::Create(kafka);
  if (!producer.ok()) return producer.status();
  const int64_t total =
      static_cast<int64_t>(options.rate * static_cast<double>(options.duration.count()));
  SendLog log(options.partitions, static_cast<size_t>(total));
  std::atomic<bool> sending_done{false};
  LatencyFigures out;
  std::vector<double> latencies_ms;
  latencies_ms.reserve(static_cast<size_t>(total));
  Status poll_status;

  // Poller: every ~0.5 ms, the committed offset of each checkouts partition in Redis.
  std::thread poller([&] {
    auto last_backlog = Clock::now();
    storage::SnapshotReader reader(redis);
    Clock::time_point drain_deadline = Clock::time_point::max();
    while (!stop.load()) {
      const bool done_sending = sending_done.load();
      if (done_sending && drain_deadline == Clock::time_point::max()) {
        drain_deadline = Clock::now() + options.drain_timeout;
      }
      auto offsets = MetaField(redis, storage::kCheckoutsTopic, options.partitions, "offset");
      if (!offsets.ok()) {
        poll_status = offsets.status();
        return;
      }
      const int64_t now = NowNs();
      bool all_seen = true;
      for (int p = 0; p < options.partitions; ++p) {
        const int64_t sent = log.sent[p].load(std::memory_order_acquire);
        const int64_t upto = std::min((*offsets)[p], sent);
        for (; log.seen[p] < upto; ++log.seen[p]) {
          latencies_ms.push_back(static_cast<double>(now - log.times[p][log.seen[p]]) / 1e6);
        }
        all_seen = all_seen && log.seen[p] == sent;
      }
      if (done_sending && (all_seen || Clock::now() > drain_deadline)) break;
      if (Clock::now() - last_backlog > std::chrono::milliseconds(50)) {
        last_backlog = Clock::now();
        if (auto st = reader.ReadStatus(); st.ok()) {
          out.max_item_sales_backlog = std::max(out.max_item_sales_backlog,
                                                st->item_sales_produced - st->item_sales_applied);
        }
      }
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  });

  LoopingCheckouts source(options.csv.empty() ? DefaultRetailCsv() : options.csv);
  v1::Checkout checkout;
  std::string value;
  Status send_status;
  const auto start = Clock::now();
  for (int64_t k = 0; k < total && !stop.load() && !workers.failed(); ++k) {
    const auto due = start + std::chrono::nanoseconds(
                                 static_cast<int64_t>(static_cast<double>(k) * 1e9 / options.rate));
    if (Clock::now() < due) {
      (*producer)->raw()->poll(0);
      std::this_thread::sleep_until(due);
    }
    if (send_status = source.Next(&checkout); !send_status.ok()) break;
    checkout.SerializeToString(&value);
    const std::string& key =
        checkout.customer_id().empty() ? checkout.invoice_no() : checkout.customer_id();
    // The partition librdkafka's default partitioner would pick for this key (as `replay`
    // sends it), chosen here so the send can be matched with its offset.
    const int32_t p = rd_kafka_msg_partitioner_consistent_random(
        nullptr, key.data(), key.size(), options.partitions, nullptr, nullptr);
    const int64_t index = log.sent[p].load(std::memory_order_relaxed);
    log.times[p][index] = NowNs();
    if (send_status = (*producer)->Produce(storage::kCheckoutsTopic, key, value, {}, p);
        !send_status.ok()) {
      break;
    }
    log.sent[p].store(index + 1, std::memory_order_release);
    ++out.produced;
    if ((k & 63) == 0) (*producer)->raw()->poll(0);
  }
  out.produce_seconds = Seconds(Clock::now() - start);
  if (send_status.ok()) send_status = (*producer)->Flush(std::chrono::seconds(30));
  sending_done = true;
  poller.join();

  for (int p = 0; p < options.partitions; ++p) {
    int64_t low = -1, high = -1;
    (*producer)->raw()->query_watermark_offsets(std::string(storage::kCheckoutsTopic), p, &low,
                                                &high, 5000);
    if (high != log.sent[p].load()) out.offsets_consistent = false;
  }
  Status stopped = workers.Stop();
  if (stack) stack->Stop();
  if (!send_status.ok()) return send_status;
  if (!poll_status.ok()) return poll_status;
  if (!stopped.ok()) return stopped;

  out.measured = static_cast<int64_t>(latencies_ms.size());
  out.achieved_rate =
      out.produce_seconds > 0 ? static_cast<double>(out.produced) / out.produce_seconds : 0;
  out.SetFrom(&latencies_ms);
  return out;
}

}  // namespace segstream::app
