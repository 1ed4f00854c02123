// Malformed flood (DESIGN §2 "Validation → DLQ", issue 7): 10,000 malformed records of every
// kind, shuffled in among 6,000 valid checkouts and produced straight to `checkouts` with
// librdkafka: random bytes, truncated protobuf, empty and null values, JSON garbage, every
// checkout rule (binary and JSON), 10,001-line checkouts, values over the 1 MiB cap (up to 2 MiB),
// null keys. Two `segstream worker` processes must dead-letter every malformed record with its
// reason (original key and bytes), count every valid one exactly, never crash, and keep their RSS
// bounded.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <thread>

#include "segstream.pb.h"
#include "tests/fault_support.h"

namespace segstream::tests {
namespace {

constexpr int kValid = 6000;
constexpr int kMalformed = 10000;
constexpr int kTooManyLines = 5;
constexpr int kTooLarge = 4;
constexpr int64_t kCap = int64_t{1} << 20;  // "over 1 MiB" is too_large (DESIGN §2)
// Sanity bound on each worker's resident memory while it chews through the flood; what was
// measured is printed. librdkafka alone may buffer up to 64 MiB of prefetched records.
constexpr int64_t kRssBoundKib = 384 * 1024;

// Bytes that cannot be a Checkout in either format: the first byte is not JSON whitespace or '{'
// and, read as a protobuf tag, has wire type 6 or 7, which do not exist (protobuf encoding spec).
std::string RandomBytes(std::mt19937_64& rng) {
  std::string s(1 + rng() % 300, '\0');
  s[0] = static_cast<char>((rng() % 32) * 8 + 6 + rng() % 2);
  for (size_t i = 1; i < s.size(); ++i) s[i] = static_cast<char>(rng());
  return s;
}

// A binary Checkout cut inside its last field (a `lines` entry, the highest field number, so
// serialized last): the length prefix promises more bytes than remain.
std::string TruncatedProtobuf(std::mt19937_64& rng) {
  v1::Checkout c;
  // (Appending rather than "literal" + std::string dodges a GCC 12 -Wrestrict false positive.)
  std::string invoice = "TRUNC", sku = "P";
  c.set_invoice_no(invoice.append(std::to_string(rng() % 100000)));
  c.set_event_time_ms(1291191960000);
  for (int i = 0, n = 1 + static_cast<int>(rng() % 4); i < n; ++i) {
    v1::Line* line = c.add_lines();
    line->set_sku(sku + std::to_string(rng() % 1000));
    line->set_quantity(1 + static_cast<int64_t>(rng() % 9));
    line->set_unit_price_micros(1000000);
  }
  std::string bytes = c.SerializeAsString();
  const size_t last = c.lines(c.lines_size() - 1).ByteSizeLong();
  bytes.resize(bytes.size() - 1 - rng() % last);
  return bytes;
}

// Not JSON that protobuf accepts, and (starting with '{"' and a letter, or with 'n' or '[') not
// binary either: '{' opens a group whose first field claims more bytes than the value holds.
const std::vector<std::string>& JsonGarbage() {
  static const std::vector<std::string> garbage = {
      "{",
      R"({"invoice_no": "X1", "lines": [)",
      R"({"invoice_no": 12, "event_time_ms": "soon"})",
      R"({"lines": "not a list", "invoice_no": "Z"})",
      R"({"invoice_no": "X",, "lines": []})",
      R"({"invoice_no": "X", "lines": [{"sku": "A", "quantity": 1.5}]})",
      R"({"event_time_ms": 12, "invoice_no": "X", "extra": {"deep": [1, 2, {"x": )",
      R"({"store": "UK")",
      "[1, 2, 3]",
      "null",
  };
  return garbage;
}

std::vector<InputRecord> Flood(uint64_t seed) {
  CheckoutGenerator gen(seed);
  auto& rng = gen.rng();
  std::vector<InputRecord> records;
  for (int i = 0; i < kValid; ++i) {
    records.push_back(gen.Valid());
    if (i % 13 == 0) records.back().key.reset();  // a null key is no reason to dead-letter
  }
  // A valid checkout just under the cap, with a description of nearly 1 MiB: its item-sales
  // record is nearly as large.
  {
    v1::Checkout c;
    c.set_invoice_no("HUGE-DESCRIPTION");
    c.set_event_time_ms(1291191960000);
    v1::Line* line = c.add_lines();
    line->set_sku("P-BIG");
    line->set_quantity(2);
    line->set_unit_price_micros(1500000);
    line->set_description(std::string(kCap - 200, 'd'));
    InputRecord r;
    r.key = "HUGE-DESCRIPTION";
    r.value = c.SerializeAsString();
    EXPECT_LE(static_cast<int64_t>(r.value->size()), kCap);
    r.lines = {{"P-BIG", 2, 1500000}};
    records.push_back(std::move(r));
  }
  const auto& rules = CheckoutGenerator::CheckoutRules();
  const int cheap = kMalformed - kTooManyLines - kTooLarge;
  for (int i = 0; i < cheap; ++i) {
    InputRecord r;
    r.key = "bad-" + std::to_string(i);
    switch (i % 11) {
      case 0:
        r.value = RandomBytes(rng);
        r.expected_reason = "undecodable";
        break;
      case 1:
        r.value = TruncatedProtobuf(rng);
        r.expected_reason = "undecodable";
        break;
      case 2:
        r.value = "";
        r.expected_reason = "empty_value";
        break;
      case 3:
        r.value.reset();  // null value (a tombstone)
        r.expected_reason = "empty_value";
        break;
      case 4:
        r.value = JsonGarbage()[(i / 11) % JsonGarbage().size()];
        r.expected_reason = "undecodable";
        break;
      default:  // the six cheap checkout rules
        r = gen.Breaking(rules[i % 11 - 5]);
        break;
    }
    if (i % 7 == 0) r.key.reset();
    records.push_back(std::move(r));
  }
  for (int i = 0; i < kTooManyLines; ++i) records.push_back(gen.Breaking("too_many_lines"));
  for (int i = 0; i < kTooLarge; ++i) {
    InputRecord r;
    r.key = "too-large-" + std::to_string(i);
    if (i == 0) {
      r.value = std::string(kCap + 1, 'x');  // one byte over
    } else if (i == 3) {
      r.value = std::string(2 * kCap, 'z');  // over any producer limit the worker could set
    } else if (i == 1) {                     // a well-formed JSON checkout, just too big
      std::string lines;
      while (static_cast<int64_t>(lines.size()) < kCap) {
        lines += R"({"sku": "P1", "quantity": 1, "unit_price_micros": 1}, )";
      }
      r.value = R"({"invoice_no": "BIG", "event_time_ms": 1, "lines": [)" + lines +
                R"({"sku": "P1", "quantity": 1, "unit_price_micros": 1}]})";
    } else {  // a well-formed binary checkout, just too big
      v1::Checkout c;
      c.set_invoice_no("BIG-BINARY");
      c.set_event_time_ms(1291191960000);
      v1::Line* line = c.add_lines();
      line->set_sku("P1");
      line->set_quantity(1);
      line->set_description(std::string(kCap + 4096, 'y'));
      r.value = c.SerializeAsString();
    }
    r.expected_reason = "too_large";
    records.push_back(std::move(r));
  }
  std::shuffle(records.begin(), records.end(), rng);
  return records;
}

TEST(MalformedFloodTest, EveryBadRecordDeadLetteredEveryGoodOneCounted) {
  FaultPipeline pipe({});
  ASSERT_TRUE(pipe.Start().ok());
  auto records = Flood(31);
  const Truth truth = ComputeTruth(records);
  ASSERT_EQ(truth.dlq, kMalformed);
  ASSERT_EQ(truth.processed, kValid + 1);
  Status produced = pipe.ProduceInput(&records);
  ASSERT_TRUE(produced.ok()) << produced.ToString();

  pipe.StartWorker("w0");
  pipe.StartWorker("w1");
  std::map<std::string, int64_t> max_rss;
  Status drained = Status::Timeout("not started");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    for (auto& [name, child] : pipe.workers()) {
      ASSERT_TRUE(child->Running()) << name << " crashed:\n" << child->Log();
      max_rss[name] = std::max(max_rss[name], child->RssKib());
    }
    drained = pipe.WaitDrained(std::chrono::milliseconds(100));
    if (drained.ok()) break;
  }
  ASSERT_TRUE(drained.ok()) << drained.ToString() << "\n" << pipe.WorkerLogs();
  pipe.ExpectExact(truth, records);
  for (const auto& [name, kib] : max_rss) {
    std::cout << "[fault] malformed flood: " << name << " peak RSS " << kib / 1024 << " MiB"
              << std::endl;
    EXPECT_LT(kib, kRssBoundKib) << name;
  }
  pipe.StopWorkers();
}

}  // namespace
}  // namespace segstream::tests
