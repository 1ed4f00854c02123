#include "tests/fault_support.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "segstream.pb.h"

namespace segstream::tests {

using Clock = std::chrono::steady_clock;

// What a `too_large` DLQ record keeps of the original (ingest/stages.h), restated here.
constexpr size_t kTooLargePrefix = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// Child

std::unique_ptr<Child> Child::Start(const std::vector<std::string>& args,
                                    const std::string& log_path) {
  std::vector<std::string> full = {SEGSTREAM_BIN};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log < 0 || devnull < 0) return nullptr;
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec (the test process has threads).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(log, STDOUT_FILENO);  // spdlog
    ::dup2(log, STDERR_FILENO);  // librdkafka
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log);
  ::close(devnull);
  if (pid < 0) return nullptr;
  return std::unique_ptr<Child>(new Child(pid, log_path));
}

Child::~Child() {
  if (Running()) {
    ::kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

bool Child::Running() {
  if (exit_code_) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return false;
}

void Child::Signal(int sig) {
  if (Running()) ::kill(pid_, sig);
}

std::optional<int> Child::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Running()) {
    if (Clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_code_;
}

std::string Child::Log() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t Child::RssKib() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Truth

Truth ComputeTruth(const std::vector<InputRecord>& records) {
  Truth truth;
  for (const InputRecord& r : records) {
    if (!r.expected_reason.empty()) {
      ++truth.dlq;
      ++truth.dlq_reasons[r.expected_reason];
      continue;
    }
    ++truth.processed;
    std::set<std::string> sold;
    for (const auto& line : r.lines) {
      ItemTruth& item = truth.items[line.sku];
      if (line.quantity > 0) {
        item.units += line.quantity;
        item.revenue_micros += line.quantity * line.price_micros;
        sold.insert(line.sku);
      } else {
        item.returned_units += -line.quantity;
      }
    }
    for (const std::string& sku : sold) ++truth.items[sku].orders;
  }
  return truth;
}

// ---------------------------------------------------------------------------------------------
// CheckoutGenerator

struct CheckoutGenerator::Draft {
  std::string invoice, customer, store;
  int64_t event_ms = 0;
  std::vector<InputRecord::Line> lines;
};

namespace {

constexpr int kCatalogue = 400;

// The first 40 skus come in case pairs ("SKU0003A" / "SKU0003a"): skus are case-sensitive.
std::string Sku(int i) {
  if (i < 40) return "SKU" + std::to_string(1000 + i / 2) + (i % 2 ? "A" : "a");
  return "P" + std::to_string(20000 + i);
}

void AppendJsonInt(std::string* out, int64_t v, bool as_string) {
  *out += as_string ? "\"" + std::to_string(v) + "\"" : std::to_string(v);
}

}  // namespace

const std::vector<std::string>& CheckoutGenerator::CheckoutRules() {
  static const std::vector<std::string> rules = {
      "empty_invoice_no", "no_lines",       "bad_event_time", "empty_sku",
      "zero_quantity",    "negative_price", "too_many_lines"};
  return rules;
}

CheckoutGenerator::Draft CheckoutGenerator::NewDraft() {
  std::uniform_real_distribution<double> u(0, 1);
  Draft d;
  const int64_t n = next_invoice_++;
  d.invoice = "INV" + std::to_string(500000 + n);
  d.customer = u(rng_) < 0.15 ? "" : "C" + std::to_string(12000 + rng_() % 3000);
  static const char* kStores[] = {"United Kingdom", "France", "Germany", "EIRE", "Spain"};
  d.store = kStores[rng_() % 5];
  d.event_ms = 1291191960000 + n * 37000;
  const int count = u(rng_) < 0.02 ? 40 : 1 + static_cast<int>(rng_() % 10);
  for (int i = 0; i < count; ++i) {
    InputRecord::Line line;
    // Skewed popularity: a few skus get most of the orders.
    line.sku = Sku(static_cast<int>(kCatalogue * std::pow(u(rng_), 2.5)));
    line.quantity = u(rng_) < 0.12 ? -1 - static_cast<int64_t>(rng_() % 6)
                                   : 1 + static_cast<int64_t>(rng_() % 24);
    line.price_micros = (1 + static_cast<int64_t>(rng_() % 2000)) * 10000;
    d.lines.push_back(line);
    if (u(rng_) < 0.1) {  // the same sku again, in the other direction
      InputRecord::Line again = line;
      again.quantity = line.quantity > 0 ? -1 : 3;
      d.lines.push_back(again);
    }
  }
  return d;
}

InputRecord CheckoutGenerator::Encode(const Draft& d, bool json) {
  InputRecord r;
  r.key = d.customer.empty() ? d.invoice : d.customer;
  if (json) {
    // Written by hand (not protobuf's printer): both name styles, int64 as string or number.
    const bool camel = rng_() % 2;
    const bool quoted = rng_() % 2;
    std::string s = "{\"" + std::string(camel ? "invoiceNo" : "invoice_no") + "\": \"" + d.invoice +
                    "\", \"" + (camel ? "customerId" : "customer_id") + "\": \"" + d.customer +
                    "\", \"store\": \"" + d.store + "\", \"" +
                    (camel ? "eventTimeMs" : "event_time_ms") + "\": ";
    AppendJsonInt(&s, d.event_ms, quoted);
    s += ", \"currency\": \"GBP\", \"lines\": [";
    for (size_t i = 0; i < d.lines.size(); ++i) {
      const auto& l = d.lines[i];
      if (i) s += ", ";
      s += "{\"sku\": \"" + l.sku + "\", \"description\": \"ITEM " + l.sku + "\", \"quantity\": ";
      AppendJsonInt(&s, l.quantity, quoted);
      s += ", \"" + std::string(camel ? "unitPriceMicros" : "unit_price_micros") + "\": ";
      AppendJsonInt(&s, l.price_micros, quoted);
      s += "}";
    }
    s += "]}";
    r.value = std::move(s);
  } else {
    v1::Checkout c;
    c.set_invoice_no(d.invoice);
    c.set_customer_id(d.customer);
    c.set_store(d.store);
    c.set_event_time_ms(d.event_ms);
    c.set_currency("GBP");
    for (const auto& l : d.lines) {
      v1::Line* line = c.add_lines();
      line->set_sku(l.sku);
      line->set_description("ITEM " + l.sku);
      line->set_quantity(l.quantity);
      line->set_unit_price_micros(l.price_micros);
    }
    r.value = c.SerializeAsString();
  }
  return r;
}

InputRecord CheckoutGenerator::Valid() {
  Draft d = NewDraft();
  InputRecord r = Encode(d, rng_() % 5 == 0);
  r.lines = d.lines;
  return r;
}

InputRecord CheckoutGenerator::Breaking(const std::string& rule) {
  Draft d = NewDraft();
  const size_t bad = rng_() % d.lines.size();
  bool json = rng_() % 4 == 0;
  if (rule == "empty_invoice_no") {
    d.invoice.clear();
  } else if (rule == "no_lines") {
    d.lines.clear();
  } else if (rule == "too_many_lines") {
    d.lines.assign(10001, {"S", 1, 1});  // 10,001 lines; compresses to almost nothing
    json = false;
  } else if (rule == "bad_event_time") {
    d.event_ms = rng_() % 2 ? 0 : -static_cast<int64_t>(1 + rng_() % 1000000);
  } else if (rule == "empty_sku") {
    d.lines[bad].sku.clear();
  } else if (rule == "zero_quantity") {
    d.lines[bad].quantity = 0;
  } else if (rule == "negative_price") {
    d.lines[bad].price_micros = -1 - static_cast<int64_t>(rng_() % 1000000);
  } else {
    ADD_FAILURE() << "unknown rule " << rule;
  }
  InputRecord r = Encode(d, json);
  if (d.invoice.empty()) r.key = "anon";
  r.expected_reason = rule;
  return r;
}

std::vector<InputRecord> CheckoutGenerator::Stream(int count, int invalid_every) {
  std::vector<InputRecord> out;
  out.reserve(count);
  size_t rule = 0;
  const auto& rules = CheckoutRules();
  for (int i = 0; i < count; ++i) {
    if (invalid_every > 0 && i % invalid_every == invalid_every - 1) {
      // too_many_lines is left to the malformed-flood test: it is 10,001 lines each time.
      out.push_back(Breaking(rules[rule++ % (rules.size() - 1)]));
    } else {
      out.push_back(Valid());
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// FaultPipeline

FaultPipeline::FaultPipeline(Options options) : options_(std::move(options)) {}

FaultPipeline::~FaultPipeline() {
  workers_.clear();  // kills what is left
  broker_.reset();
  redis_.reset();
  if (dir_.empty()) return;
  if (::testing::Test::HasFailure() || std::getenv("SEGSTREAM_KEEP_FAULT_LOGS")) {
    std::cerr << "fault test logs kept in " << dir_ << "\n";
  } else {
    std::filesystem::remove_all(dir_);
  }
}

Status FaultPipeline::Start() {
  char dir[] = "/tmp/segstream-fault-XXXXXX";
  if (!::mkdtemp(dir)) return Status::IoError("mkdtemp");
  dir_ = dir;
  ingest::MockBroker::Options b;
  b.broker_count = options_.broker_count;
  b.partitions = options_.partitions;
  broker_ = std::make_unique<ingest::MockBroker>(b);
  if (Status s = broker_->Start(); !s.ok()) return s;
  storage::RedisChild::Options r;
  r.appendfsync = storage::RedisChild::Fsync::kAlways;  // DESIGN §5: `always` in fault tests
  r.data_dir = dir_ + "/redis";
  redis_ = std::make_unique<storage::RedisChild>(r);
  if (Status s = redis_->Start(); !s.ok()) return s;
  auto conn = storage::RedisConnection::Connect({redis_->host(), redis_->port()});
  if (!conn.ok()) return conn.status();
  conn_ = std::make_unique<storage::RedisConnection>(std::move(*conn));
  return Status::Ok();
}

namespace {

class DeliveryRecorder : public RdKafka::DeliveryReportCb {
 public:
  explicit DeliveryRecorder(std::vector<InputRecord>* records) : records_(records) {}
  void dr_cb(RdKafka::Message& m) override {
    auto& r = (*records_)[reinterpret_cast<uintptr_t>(m.msg_opaque())];
    if (m.err() != RdKafka::ERR_NO_ERROR) {
      if (failures_++ == 0) first_error_ = m.errstr();
      return;
    }
    r.partition = m.partition();
    r.offset = m.offset();
  }
  int failures_ = 0;
  std::string first_error_;

 private:
  std::vector<InputRecord>* records_;
};

std::unique_ptr<RdKafka::Conf> KafkaConf(const std::map<std::string, std::string>& settings) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : settings) {
    EXPECT_EQ(conf->set(k, v, err), RdKafka::Conf::CONF_OK) << k << ": " << err;
  }
  return conf;
}

}  // namespace

Status FaultPipeline::ProduceInput(std::vector<InputRecord>* records) {
  DeliveryRecorder recorder(records);
  auto conf = KafkaConf({{"bootstrap.servers", broker_->bootstrap()},
                         {"enable.idempotence", "true"},
                         {"acks", "all"},
                         {"compression.type", "zstd"},
                         {"linger.ms", "5"},
                         {"batch.size", "1000000"},
                         // Room for the records over the worker's 1 MiB cap (malformed flood).
                         {"message.max.bytes", "3000000"},
                         {"message.timeout.ms", "60000"}});
  std::string err;
  conf->set("dr_cb", &recorder, err);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  if (!producer) return Status::Internal("producer: " + err);
  for (size_t i = 0; i < records->size(); ++i) {
    const InputRecord& r = (*records)[i];
    for (;;) {
      RdKafka::ErrorCode code = producer->produce(
          "checkouts", RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
          r.value ? const_cast<char*>(r.value->data()) : nullptr, r.value ? r.value->size() : 0,
          r.key ? r.key->data() : nullptr, r.key ? r.key->size() : 0, 0,
          reinterpret_cast<void*>(static_cast<uintptr_t>(i)));
      if (code == RdKafka::ERR_NO_ERROR) break;
      if (code != RdKafka::ERR__QUEUE_FULL) {
        return Status::Internal("produce: " + RdKafka::err2str(code));
      }
      producer->poll(50);
    }
  }
  if (producer->flush(60000) != RdKafka::ERR_NO_ERROR) return Status::Timeout("input flush");
  if (recorder.failures_ > 0) return Status::Internal("input delivery: " + recorder.first_error_);
  int64_t total = 0;
  for (int32_t p = 0; p < options_.partitions; ++p) {
    int64_t low = 0, high = 0;
    RdKafka::ErrorCode code = producer->query_watermark_offsets("checkouts", p, &low, &high, 10000);
    if (code != RdKafka::ERR_NO_ERROR) return Status::Internal(RdKafka::err2str(code));
    end_offsets_[p] = high;
    total += high - low;
  }
  if (total != static_cast<int64_t>(records->size())) {
    return Status::Internal("checkouts holds " + std::to_string(total) + " records, not " +
                            std::to_string(records->size()));
  }
  input_count_ = total;
  return Status::Ok();
}

Child* FaultPipeline::StartWorker(const std::string& name) {
  std::vector<std::string> args = {"worker",
                                   "--brokers",
                                   broker_->bootstrap(),
                                   "--redis",
                                   redis_->address(),
                                   "--session-timeout-ms",
                                   std::to_string(options_.session_timeout_ms)};
  args.insert(args.end(), options_.worker_args.begin(), options_.worker_args.end());
  auto child = Child::Start(args, dir_ + "/" + name + ".log");
  Child* raw = child.get();
  workers_[name] = std::move(child);
  return raw;
}

Result<storage::PipelineStatus> FaultPipeline::ReadStatus() {
  storage::SnapshotReader reader(conn_.get());
  auto status = reader.ReadStatus();
  if (!status.ok() && status.status().code() == StatusCode::kUnavailable) {
    if (Status s = conn_->Reconnect(); !s.ok()) return s;
    status = reader.ReadStatus();
  }
  return status;
}

int64_t FaultPipeline::Committed() {
  auto status = ReadStatus();
  return status.ok() ? status->events_processed + status->dlq_events : -1;
}

bool FaultPipeline::WaitCommitted(int64_t n, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (Committed() >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

Result<std::map<std::string, storage::PartitionProgress>> FaultPipeline::Progress() {
  auto status = ReadStatus();
  if (!status.ok()) return status.status();
  return status->partitions;
}

Result<FaultPipeline::Advance> FaultPipeline::WaitAllPartitionsAdvance(
    std::chrono::milliseconds timeout) {
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  auto before = Progress();
  while (!before.ok() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    before = Progress();
  }
  if (!before.ok()) return before.status();
  // Partitions with work left: checkouts below the input's end, item-sales below the end offset
  // the worker last saw.
  std::map<std::string, int64_t> pending;
  for (const auto& [name, progress] : *before) {
    int64_t end = progress.high_watermark;
    if (name.rfind("checkouts:", 0) == 0) end = end_offsets_.at(std::stoi(name.substr(10)));
    if (std::max<int64_t>(progress.committed_offset, 0) < end) {
      pending[name] = progress.committed_offset;
    }
  }
  while (Clock::now() < deadline) {
    auto now = Progress();
    bool all = now.ok();
    for (const auto& [name, was] : pending) {
      if (!all) break;
      auto it = now->find(name);
      all = it != now->end() && it->second.committed_offset > was;
    }
    if (all) return Advance{Seconds(Clock::now() - start), static_cast<int>(pending.size())};
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Status::Timeout("a partition did not move again");
}

Status FaultPipeline::WaitDrained(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string last = "no status";
  while (Clock::now() < deadline) {
    auto st = ReadStatus();
    if (st.ok()) {
      bool offsets_done = true;
      for (const auto& [p, end] : end_offsets_) {
        auto it = st->partitions.find("checkouts:" + std::to_string(p));
        if (end > 0 && (it == st->partitions.end() || it->second.committed_offset != end)) {
          offsets_done = false;
        }
      }
      if (offsets_done && st->events_processed + st->dlq_events == input_count_ &&
          st->item_sales_applied == st->item_sales_produced) {
        return Status::Ok();
      }
      last = "committed " + std::to_string(st->events_processed + st->dlq_events) + " of " +
             std::to_string(input_count_) + ", item-sales applied " +
             std::to_string(st->item_sales_applied) + " of " +
             std::to_string(st->item_sales_produced);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status::Timeout("not drained: " + last);
}

std::vector<DlqRecord> FaultPipeline::ReadDlq() {
  static int reader = 0;
  auto conf = KafkaConf(
      {{"bootstrap.servers", broker_->bootstrap()},
       {"group.id", "fault-dlq-" + std::to_string(::getpid()) + "-" + std::to_string(reader++)},
       {"enable.auto.commit", "false"},
       {"enable.partition.eof", "true"},
       {"fetch.wait.max.ms", "10"}});
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  std::vector<DlqRecord> out;
  if (!consumer) {
    ADD_FAILURE() << err;
    return out;
  }
  std::vector<RdKafka::TopicPartition*> tps;
  for (int32_t p = 0; p < options_.partitions; ++p) {
    tps.push_back(
        RdKafka::TopicPartition::create("checkouts.dlq", p, RdKafka::Topic::OFFSET_BEGINNING));
  }
  consumer->assign(tps);
  RdKafka::TopicPartition::destroy(tps);
  std::set<int32_t> at_end;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (static_cast<int>(at_end.size()) < options_.partitions && Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
    if (m->err() == RdKafka::ERR__PARTITION_EOF) {
      at_end.insert(m->partition());
      continue;
    }
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    DlqRecord r;
    r.partition = m->partition();
    r.offset = m->offset();
    if (m->key()) r.key = *m->key();
    if (m->payload()) r.value = std::string(static_cast<const char*>(m->payload()), m->len());
    if (RdKafka::Headers* h = m->headers()) {
      for (const auto& header : h->get_all()) {
        r.headers[header.key()] =
            header.value()
                ? std::string(static_cast<const char*>(header.value()), header.value_size())
                : "";
      }
    }
    out.push_back(std::move(r));
  }
  EXPECT_EQ(static_cast<int>(at_end.size()), options_.partitions) << "DLQ not read to the end";
  consumer->close();
  return out;
}

void FaultPipeline::ExpectExact(const Truth& truth, const std::vector<InputRecord>& records) {
  auto st = ReadStatus();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->events_processed, truth.processed);
  EXPECT_EQ(st->dlq_events, truth.dlq);
  EXPECT_EQ(st->dlq_reasons, truth.dlq_reasons);
  EXPECT_EQ(st->item_sales_applied, st->item_sales_produced);

  storage::SnapshotReader reader(conn_.get());
  auto items = reader.ReadItems();
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  std::map<std::string, ItemTruth> got;
  for (const auto& item : *items) {
    got[item.sku] = {item.orders, item.units, item.returned_units, item.revenue_micros};
  }
  EXPECT_EQ(got.size(), truth.items.size());
  int wrong = 0;
  for (const auto& [sku, want] : truth.items) {
    auto it = got.find(sku);
    if (it == got.end() || !(it->second == want)) {
      if (++wrong <= 5) {
        ADD_FAILURE() << sku << ": got "
                      << (it == got.end() ? std::string("nothing")
                                          : std::to_string(it->second.orders) + "/" +
                                                std::to_string(it->second.units) + "/" +
                                                std::to_string(it->second.returned_units) + "/" +
                                                std::to_string(it->second.revenue_micros))
                      << ", want " << want.orders << "/" << want.units << "/" << want.returned_units
                      << "/" << want.revenue_micros;
      }
    }
  }
  EXPECT_EQ(wrong, 0) << "items with wrong counts (orders/units/returned/revenue)";

  // The DLQ may repeat a record after a replay (DESIGN §2): dedup by source position.
  std::map<std::pair<int32_t, int64_t>, const InputRecord*> expected;
  for (const InputRecord& r : records) {
    if (!r.expected_reason.empty()) expected[{r.partition, r.offset}] = &r;
  }
  std::map<std::pair<int32_t, int64_t>, DlqRecord> unique;
  for (DlqRecord& d : ReadDlq()) {
    EXPECT_EQ(d.headers["segstream.error.topic"], "checkouts");
    std::pair<int32_t, int64_t> source{std::stoi(d.headers["segstream.error.partition"]),
                                       std::stoll(d.headers["segstream.error.offset"])};
    unique.emplace(source, std::move(d));
  }
  EXPECT_EQ(static_cast<int64_t>(unique.size()), truth.dlq);
  int dlq_wrong = 0;
  for (const auto& [source, want] : expected) {
    auto it = unique.find(source);
    bool ok = it != unique.end() &&
              it->second.headers["segstream.error.reason"] == want->expected_reason &&
              it->second.key == want->key;
    if (ok && want->expected_reason == "too_large") {
      // Only a prefix goes on (ingest/stages.h), with the original size.
      ok = it->second.value == want->value->substr(0, kTooLargePrefix) &&
           it->second.headers["segstream.error.original_size"] ==
               std::to_string(want->value->size());
    } else if (ok) {
      ok = it->second.value == want->value;
    }
    if (!ok && ++dlq_wrong <= 5) {
      ADD_FAILURE() << "DLQ record for checkouts:" << source.first << "@" << source.second << " ("
                    << want->expected_reason << "): "
                    << (it == unique.end()
                            ? "missing"
                            : "reason " + it->second.headers["segstream.error.reason"]);
    }
  }
  EXPECT_EQ(dlq_wrong, 0);

  for (auto& [name, child] : workers_) {
    if (child->exit_code()) continue;  // stopped by the test
    EXPECT_TRUE(child->Running()) << name << " died: " << child->Log();
  }
}

void FaultPipeline::StopWorkers() {
  for (auto& [name, child] : workers_) child->Signal(SIGTERM);
  for (auto& [name, child] : workers_) {
    if (child->exit_code() && *child->exit_code() != 0) continue;  // killed by the test
    auto code = child->Wait(std::chrono::seconds(60));
    EXPECT_EQ(code, std::optional<int>(0)) << name << ":\n" << child->Log();
  }
}

std::string FaultPipeline::WorkerLogs(size_t tail_bytes) const {
  std::string out;
  for (const auto& [name, child] : workers_) {
    std::string log = child->Log();
    if (log.size() > tail_bytes) log = log.substr(log.size() - tail_bytes);
    out += "===== " + name + " =====\n" + log + "\n";
  }
  return out;
}

int FaultPipeline::CountInLogs(const std::string& needle) const {
  int count = 0;
  for (const auto& [name, child] : workers_) {
    const std::string log = child->Log();
    for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) {
      ++count;
    }
  }
  return count;
}

}  // namespace segstream::tests
