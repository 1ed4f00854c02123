#include "storage/segment_reader.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "storage/keys.h"
#include "storage/redis_child.h"

namespace segstream::storage {
namespace {

// One redis-server for the whole suite (starting one per test costs more than the tests); each
// test flushes it first.
class SegmentReaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new RedisChild();
    ASSERT_TRUE(server_->Start().ok());
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    auto conn = RedisConnection::Connect({server_->host(), server_->port()});
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    redis_ = std::make_unique<RedisConnection>(std::move(*conn));
    Run({"FLUSHALL"});
  }
  RedisValue Run(const std::vector<std::string>& argv) {
    auto reply = redis_->Command(argv);
    EXPECT_TRUE(reply.ok()) << reply.status().ToString();
    EXPECT_FALSE(reply->is_error()) << reply->str;
    return reply.ok() ? *reply : RedisValue{};
  }

  static RedisChild* server_;
  std::unique_ptr<RedisConnection> redis_;
};
RedisChild* SegmentReaderTest::server_ = nullptr;

stream::SegmentModel TwoSegmentModel() {
  stream::SegmentModel m;
  m.version = 7;
  m.k = 2;
  m.as_of_ms = 1'300'000'000'000;
  m.transform.log1p = {true, true, true, true, true, false};
  m.transform.center = {1, 2, 3, 4, 5, 0.5};
  m.transform.scale = {1, 1, 2, 2, 1, 0.25};
  m.centroids = {{-1, 0.5, 0.25, 0, 1, 0}, {2, -0.5, -1.5, 0.125, 0, 0.75}};
  m.labels = {"Champions", "Lapsed"};
  m.sizes = {30, 12};
  m.inertia = 17.5;
  return m;
}

stream::CustomerState Customer(int64_t seed, int32_t segment) {
  stream::CustomerState c;
  c.first_sale_ms = 1'290'000'000'000 + seed;
  c.last_sale_ms = 1'295'000'000'000 + seed;
  c.sale_checkouts = 1 + seed % 5;
  c.sales_micros = 1'000'000 * (10 + seed);
  c.units = 3 + seed;
  c.distinct_items = 2 + seed % 3;
  c.segment = segment;
  if (segment >= 0) {
    c.distance = 0.5;
    c.quantized = {seed, -seed, 2 * seed, 0, 1'000'000, -7};
    c.model_version = 7;
    c.as_of_ms = 1'300'000'000'000;
  }
  return c;
}

TEST_F(SegmentReaderTest, ModelMissingThenReadBack) {
  SegmentReader reader(redis_.get());
  auto none = reader.ReadModel();
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_value());

  const stream::SegmentModel written = TwoSegmentModel();
  Run({"SET", "{model}:current", written.Encode()});
  auto read = reader.ReadModel();
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_TRUE(read->has_value());
  const stream::SegmentModel& m = **read;
  EXPECT_EQ(m.version, 7);
  EXPECT_EQ(m.k, 2);
  EXPECT_EQ(m.as_of_ms, 1'300'000'000'000);
  EXPECT_EQ(m.labels, written.labels);
  EXPECT_EQ(m.sizes, written.sizes);
  EXPECT_EQ(m.transform.log1p, written.transform.log1p);
  ASSERT_EQ(m.centroids.size(), 2u);
  for (int s = 0; s < 2; ++s) {
    for (int f = 0; f < stream::kFeatureCount; ++f) {
      EXPECT_DOUBLE_EQ(m.centroids[s][f], written.centroids[s][f]);
    }
  }
  EXPECT_DOUBLE_EQ(m.inertia, 17.5);
}

TEST_F(SegmentReaderTest, CorruptModelIsAnErrorNotACrash) {
  SegmentReader reader(redis_.get());
  Run({"SET", "{model}:current", "not a model"});
  auto garbage = reader.ReadModel();
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.status().code(), StatusCode::kCorruption);
  EXPECT_NE(garbage.status().message().find("{model}:current"), std::string::npos);

  std::string truncated = TwoSegmentModel().Encode();
  truncated.resize(truncated.size() / 2);
  Run({"SET", "{model}:current", truncated});
  EXPECT_EQ(reader.ReadModel().status().code(), StatusCode::kCorruption);

  Run({"DEL", "{model}:current"});
  Run({"HSET", "{model}:current", "a", "b"});  // wrong type
  EXPECT_EQ(reader.ReadModel().status().code(), StatusCode::kCorruption);
}

TEST_F(SegmentReaderTest, PartitionStatsAndMeta) {
  std::vector<stream::SegmentStats> p0(2), p1(2);
  p0[0].Add({1'000'000, 0, 0, 0, 0, 0});
  p0[0].Add({3'000'000, 0, 0, 0, 0, 0});
  p0[1].Add({0, -2'000'000, 0, 0, 0, 0});
  p1[1].Add({0, 4'000'000, 0, 0, 0, 5});
  Run({"SET", SegmentStatsKey(0), stream::EncodeStats(p0)});
  Run({"HSET", SegmentMetaKey(0), "scored_version", "7", "segmented", "3", "customers", "4",
       "future_field", "x"});
  Run({"SET", SegmentStatsKey(1), stream::EncodeStats(p1)});
  Run({"HSET", SegmentMetaKey(1), "scored_version", "6"});
  // Partition 2 has nothing yet.

  SegmentReader reader(redis_.get());
  auto parts = reader.ReadPartitionStats({0, 1, 2}, 2);
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[0].partition, 0);
  ASSERT_EQ((*parts)[0].stats.size(), 2u);
  EXPECT_EQ((*parts)[0].stats[0].count, 2);
  EXPECT_EQ((*parts)[0].stats[0].sum[0], 4'000'000);
  EXPECT_EQ((*parts)[0].stats[1].count, 1);
  EXPECT_EQ((*parts)[0].stats[1].sum[1], -2'000'000);
  EXPECT_EQ((*parts)[0].meta.scored_version, 7);
  EXPECT_EQ((*parts)[0].meta.segmented, 3);
  EXPECT_EQ((*parts)[0].meta.customers, 4);
  ASSERT_EQ((*parts)[1].stats.size(), 2u);
  EXPECT_EQ((*parts)[1].stats[0].count, 0);
  EXPECT_EQ((*parts)[1].stats[1].sum[5], 5);
  EXPECT_EQ((*parts)[1].meta.scored_version, 6);
  EXPECT_EQ((*parts)[1].meta.segmented, 0);  // missing field
  EXPECT_EQ((*parts)[2].partition, 2);
  EXPECT_TRUE((*parts)[2].stats.empty());
  EXPECT_EQ((*parts)[2].meta.scored_version, 0);

  // No model yet (k = 0): the meta alone.
  auto meta_only = reader.ReadPartitionStats({0}, 0);
  ASSERT_TRUE(meta_only.ok()) << meta_only.status().ToString();
  EXPECT_TRUE((*meta_only)[0].stats.empty());
  EXPECT_EQ((*meta_only)[0].meta.customers, 4);

  auto none = reader.ReadPartitionStats({}, 2);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(SegmentReaderTest, CorruptStatsOrMetaIsAnError) {
  SegmentReader reader(redis_.get());
  std::vector<stream::SegmentStats> two(2);
  Run({"SET", SegmentStatsKey(0), stream::EncodeStats(two)});
  auto wrong_k = reader.ReadPartitionStats({0}, 3);
  ASSERT_FALSE(wrong_k.ok());
  EXPECT_EQ(wrong_k.status().code(), StatusCode::kCorruption);
  EXPECT_NE(wrong_k.status().message().find("{checkouts:0}:segstats"), std::string::npos);

  Run({"SET", SegmentStatsKey(0), "1 2 3\n\x01\xff"});
  EXPECT_EQ(reader.ReadPartitionStats({0}, 2).status().code(), StatusCode::kCorruption);

  Run({"DEL", SegmentStatsKey(0)});
  Run({"HSET", SegmentMetaKey(0), "segmented", "12abc"});
  auto bad_meta = reader.ReadPartitionStats({0}, 2);
  ASSERT_FALSE(bad_meta.ok());
  EXPECT_EQ(bad_meta.status().code(), StatusCode::kCorruption);
  EXPECT_NE(bad_meta.status().message().find("segmented"), std::string::npos);
}

TEST_F(SegmentReaderTest, ReadCustomerLooksInEveryPartition) {
  const stream::CustomerState a = Customer(3, 1);
  const stream::CustomerState b = Customer(4, -1);
  Run({"HSET", CustomersKey(0), "b", stream::EncodeCustomer(b)});
  Run({"HSET", CustomersKey(2), "a", stream::EncodeCustomer(a)});
  SegmentReader reader(redis_.get());

  auto found = reader.ReadCustomer("a", {0, 1, 2});
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->customer_id, "a");
  EXPECT_EQ((*found)->partition, 2);
  const stream::CustomerState& s = (*found)->state;
  EXPECT_EQ(s.first_sale_ms, a.first_sale_ms);
  EXPECT_EQ(s.last_sale_ms, a.last_sale_ms);
  EXPECT_EQ(s.sale_checkouts, a.sale_checkouts);
  EXPECT_EQ(s.sales_micros, a.sales_micros);
  EXPECT_EQ(s.units, a.units);
  EXPECT_EQ(s.distinct_items, a.distinct_items);
  EXPECT_EQ(s.segment, 1);
  EXPECT_DOUBLE_EQ(s.distance, 0.5);
  EXPECT_EQ(s.quantized, a.quantized);
  EXPECT_EQ(s.model_version, 7);

  auto unsegmented = reader.ReadCustomer("b", {0, 1, 2});
  ASSERT_TRUE(unsegmented.ok());
  ASSERT_TRUE(unsegmented->has_value());
  EXPECT_EQ((*unsegmented)->partition, 0);
  EXPECT_EQ((*unsegmented)->state.segment, -1);

  auto unknown = reader.ReadCustomer("nobody", {0, 1, 2});
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->has_value());
  auto no_partitions = reader.ReadCustomer("a", {});
  ASSERT_TRUE(no_partitions.ok());
  EXPECT_FALSE(no_partitions->has_value());

  Run({"HSET", CustomersKey(1), "c", "v1 garbage"});
  auto corrupt = reader.ReadCustomer("c", {0, 1, 2});
  ASSERT_FALSE(corrupt.ok());
  EXPECT_EQ(corrupt.status().code(), StatusCode::kCorruption);
  EXPECT_NE(corrupt.status().message().find("'c'"), std::string::npos);
}

TEST_F(SegmentReaderTest, ScanVisitsEveryCustomerExactlyOnce) {
  // 2,500 entries: past hash-max-listpack-entries (128), so the hash is a real hash table and
  // HSCAN pages through it by cursor.
  constexpr int kCustomers = 2500;
  std::vector<std::string> hset = {"HSET", CustomersKey(4)};
  for (int i = 0; i < kCustomers; ++i) {
    hset.push_back(std::string("c").append(std::to_string(i)));  // GCC 12: false -Wrestrict on +
    hset.push_back(stream::EncodeCustomer(Customer(i, i % 3 - 1)));
  }
  Run(hset);
  SegmentReader reader(redis_.get());
  std::map<std::string, int> visits;
  int64_t segmented = 0;
  Status s = reader.ScanCustomers(
      4,
      [&](const StoredCustomer& c) {
        ++visits[c.customer_id];
        const int i = std::stoi(c.customer_id.substr(1));
        EXPECT_EQ(c.partition, 4);
        EXPECT_EQ(c.state.segment, i % 3 - 1);
        EXPECT_EQ(c.state.sales_micros, int64_t{1'000'000} * (10 + i));
        if (c.state.segment >= 0) ++segmented;
        return Status::Ok();
      },
      100);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(visits.size(), static_cast<size_t>(kCustomers));
  for (const auto& [id, n] : visits) EXPECT_EQ(n, 1) << id;
  // i % 3 - 1 >= 0 for i % 3 in {1, 2}: 833 + 833 of 0..2499.
  EXPECT_EQ(segmented, 1666);

  // A small page really is small.
  auto page = reader.ScanCustomersPage(4, "0", 10);
  ASSERT_TRUE(page.ok());
  EXPECT_LT(page->customers.size(), 100u);
  EXPECT_NE(page->next_cursor, "0");

  // The visitor's error stops the scan.
  int seen = 0;
  Status stop = reader.ScanCustomers(
      4, [&](const StoredCustomer&) { return ++seen == 5 ? Status::Internal("enough") : Status(); },
      100);
  EXPECT_EQ(stop.code(), StatusCode::kInternal);
  EXPECT_EQ(seen, 5);

  // An empty partition visits nothing.
  int none = 0;
  EXPECT_TRUE(
      reader.ScanCustomers(9, [&](const StoredCustomer&) { return ++none, Status(); }).ok());
  EXPECT_EQ(none, 0);
}

TEST_F(SegmentReaderTest, ScanReportsACorruptRecord) {
  Run({"HSET", CustomersKey(0), "ok", stream::EncodeCustomer(Customer(1, 0)), "bad", "x y z"});
  SegmentReader reader(redis_.get());
  Status s = reader.ScanCustomers(0, [](const StoredCustomer&) { return Status::Ok(); });
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("'bad'"), std::string::npos);
}

}  // namespace
}  // namespace segstream::storage
