// "Bought together" state (issue 12, stream/together.h) against a real redis-server: the real
// stages (stage 1 producing to the in-process mock broker) fill the commits, the atomic commit
// scripts store baskets and refs, and the reader and counting kernel give pair counts equal to a
// brute-force count over the checkouts defined here. Also: replays change nothing, windows and
// retention of the per-pane sale checkouts, the basket cap.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <set>

#include "ingest/item_sales.h"
#include "ingest/kafka.h"
#include "ingest/mock_broker.h"
#include "ingest/stages.h"
#include "storage/keys.h"
#include "storage/partition_state.h"
#include "storage/redis_child.h"
#include "storage/snapshot_reader.h"
#include "storage/together_reader.h"
#include "stream/together.h"
#include "tests/fake_message.h"

namespace segstream {
namespace {

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kT0 = 1'291'190'400'000;  // 2010-12-01 08:00 UTC, a pane start

using testing_support::FakeMessage;

// A checkout as the test defines it: (sku, quantity) lines at an event time.
struct Spec {
  int64_t event_ms;
  std::vector<std::pair<std::string, int64_t>> lines;
};

v1::Checkout ToCheckout(const Spec& spec, int n) {
  v1::Checkout c;
  c.set_invoice_no("INV" + std::to_string(n));
  c.set_customer_id("");
  c.set_store("United Kingdom");
  c.set_event_time_ms(spec.event_ms);
  for (const auto& [sku, quantity] : spec.lines) {
    v1::Line* line = c.add_lines();
    line->set_sku(sku);
    line->set_quantity(quantity);
    line->set_unit_price_micros(1'000'000);
  }
  return c;
}

// The distinct skus with a sale line of a checkout (the brute force's own, from the spec).
std::set<std::string> SaleSkus(const Spec& spec) {
  std::set<std::string> out;
  for (const auto& [sku, quantity] : spec.lines) {
    if (quantity > 0) out.insert(sku);
  }
  return out;
}

std::map<std::string, int64_t> AsMap(const std::vector<stream::PartnerCount>& v) {
  std::map<std::string, int64_t> m;
  for (const auto& p : v) m[p.sku] = p.count;
  return m;
}

class TogetherStateTest : public ::testing::Test {
 protected:
  static constexpr int kCap = 3;  // small basket cap, so one checkout below is capped

  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    auto conn = storage::RedisConnection::Connect({redis_.host(), redis_.port()});
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    conn_ = std::make_unique<storage::RedisConnection>(std::move(*conn));
    ASSERT_TRUE(broker_.Start().ok());
    ingest::KafkaOptions kafka;
    kafka.brokers = broker_.bootstrap();
    auto producer = ingest::Producer::Create(kafka);
    ASSERT_TRUE(producer.ok()) << producer.status().ToString();
    producer_ = std::move(*producer);
    store_ = std::make_unique<storage::PartitionStateStore>(conn_.get());
  }

  // Runs stage 1 over `specs` as checkouts partition `partition`, offsets first..; commits.
  storage::CheckoutsCommit Stage1(int32_t partition, const std::vector<Spec>& specs,
                                  int64_t first_offset) {
    ingest::MessageBatch batch;
    for (size_t i = 0; i < specs.size(); ++i) {
      batch.push_back(std::make_unique<FakeMessage>(
          ToCheckout(specs[i], static_cast<int>(first_offset + i)).SerializeAsString(),
          first_offset + static_cast<int64_t>(i)));
    }
    auto claim = store_->Claim(storage::kCheckoutsTopic, partition);
    EXPECT_TRUE(claim.ok());
    storage::CheckoutsCommit commit;
    commit.generation = claim->generation;
    commit.expected_offset = claim->next_offset;
    ingest::CheckoutStage stage(producer_.get(), {.max_basket_for_pairs = kCap});
    EXPECT_TRUE(stage.Process(partition, batch, &commit).ok());
    EXPECT_TRUE(producer_->Flush(std::chrono::seconds(10)).ok());
    Status s = store_->CommitCheckouts(partition, commit);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return commit;
  }

  // The item-sales records stage 1 makes of `specs` (source partition, offsets first..), as
  // messages at item-sales offsets item_offset.. (all on one item-sales partition).
  ingest::MessageBatch ItemSales(int32_t source, const std::vector<Spec>& specs,
                                 int64_t first_offset, int64_t* item_offset) {
    ingest::MessageBatch batch;
    std::vector<v1::ItemSale> sales;
    for (size_t i = 0; i < specs.size(); ++i) {
      ingest::SplitIntoItemSales(ToCheckout(specs[i], 0), source,
                                 first_offset + static_cast<int64_t>(i), &sales,
                                 {.max_basket_for_pairs = kCap});
      for (const auto& sale : sales) {
        batch.push_back(std::make_unique<FakeMessage>(sale.SerializeAsString(), (*item_offset)++));
      }
    }
    return batch;
  }

  // Stage 2 over `batch` on item-sales partition 0; commits; returns the commit.
  storage::ItemSalesCommit Stage2(const ingest::MessageBatch& batch,
                                  ingest::ItemPartitionState* state,
                                  stream::WindowOptions windows = {}) {
    auto claim = store_->Claim(storage::kItemSalesTopic, 0);
    EXPECT_TRUE(claim.ok());
    storage::ItemSalesCommit commit;
    commit.generation = claim->generation;
    commit.expected_offset = claim->next_offset;
    ingest::ItemStage stage(windows);
    EXPECT_TRUE(stage.Process(batch, state, &commit).ok());
    Status s = store_->CommitItemSales(0, commit);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return commit;
  }

  std::vector<stream::PartnerCount> Partners(const std::string& sku, int64_t max_refs,
                                             const stream::BasketFilter& filter = {}) {
    auto read = storage::ReadSkuBaskets(conn_.get(), 0, sku, max_refs);
    EXPECT_TRUE(read.ok()) << read.status().ToString();
    return stream::CountPartners(sku, read->baskets, filter);
  }

  storage::RedisChild redis_;
  std::unique_ptr<storage::RedisConnection> conn_;
  ingest::MockBroker broker_;
  std::unique_ptr<ingest::Producer> producer_;
  std::unique_ptr<storage::PartitionStateStore> store_;
};

// Two stage-1 partitions, one hour apart in event time.
const std::vector<Spec> kPartition0 = {
    {kT0 + 60'000, {{"A", 1}, {"B", 2}, {"A", 1}}},             // A B
    {kT0 + 120'000, {{"A", 1}, {"C", 1}, {"B", -1}}},           // A C (B returned)
    {kT0 + 180'000, {{"A", 3}}},                                // A alone: no basket
    {kT0 + 240'000, {{"A", 1}, {"B", 1}, {"C", 1}, {"D", 1}}},  // 4 skus > cap 3: capped
    {kT0 + 300'000, {{"B", -2}}},                               // return only
};
const std::vector<Spec> kPartition1 = {
    {kT0 + kHour + 60'000, {{"A", 1}, {"B", 1}, {"C", 1}}},  // A B C
    {kT0 + kHour + 120'000, {{"C", 1}, {"B", 1}}},           // C B
    {kT0 + kHour + 180'000, {{"A", 1}, {"B", 1}}},           // A B
};

// Brute force over the specs: checkouts with a sale of both, among those with 2..kCap sale skus.
std::map<std::string, int64_t> Truth(const std::string& sku, std::optional<int64_t> pane = {}) {
  std::map<std::string, int64_t> out;
  for (const auto* specs : {&kPartition0, &kPartition1}) {
    for (const Spec& spec : *specs) {
      if (pane && spec.event_ms / kHour * kHour != *pane) continue;
      const auto skus = SaleSkus(spec);
      if (skus.size() < 2 || skus.size() > 3 || !skus.count(sku)) continue;
      for (const auto& other : skus) {
        if (other != sku) ++out[other];
      }
    }
  }
  return out;
}

TEST_F(TogetherStateTest, StagesStoreBasketsAndRefsThatCountExactPairs) {
  auto c0 = Stage1(0, kPartition0, 100);
  auto c1 = Stage1(1, kPartition1, 0);
  EXPECT_EQ(c0.baskets.size(), 2u);  // A B and A C
  EXPECT_EQ(c0.baskets_capped, 1);
  EXPECT_EQ(c1.baskets.size(), 3u);
  int64_t item_offset = 0;
  ingest::MessageBatch batch = ItemSales(0, kPartition0, 100, &item_offset);
  ingest::MessageBatch more = ItemSales(1, kPartition1, 0, &item_offset);
  for (auto& m : more) batch.push_back(std::move(m));
  ingest::ItemPartitionState state;
  auto commit = Stage2(batch, &state);
  EXPECT_EQ(commit.sale_checkouts, 7);  // every checkout but the return-only one

  // Orders of A: the 4 sale checkouts of partition 0 and 2 of partition 1; one ref each.
  auto refs = conn_->Command({"STRLEN", storage::BasketRefsKey(0, "A")});
  ASSERT_TRUE(refs.ok());
  EXPECT_EQ(refs->integer, 6 * static_cast<int64_t>(stream::kBasketRefBytes));
  for (const char* sku : {"A", "B", "C", "D"}) {
    EXPECT_EQ(AsMap(Partners(sku, 100)), Truth(sku)) << sku;
  }

  auto status = storage::SnapshotReader(conn_.get()).ReadStatus();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->sale_checkouts, 7);
  EXPECT_EQ(status->baskets_stored, 5);
  EXPECT_EQ(status->baskets_capped, 1);
}

TEST_F(TogetherStateTest, ReplaysChangeNothing) {
  Stage1(0, kPartition0, 100);
  Stage1(1, kPartition1, 0);
  int64_t item_offset = 0;
  ingest::MessageBatch batch = ItemSales(0, kPartition0, 100, &item_offset);
  ingest::ItemPartitionState state;
  Stage2(batch, &state);
  auto before = conn_->Command({"GET", storage::BasketRefsKey(0, "A")});
  ASSERT_TRUE(before.ok());

  // Stage 2 sees the same records again (stage 1 replayed them after a lost delivery ack): the
  // high-water marks drop them, so no ref is appended twice and no sale checkout counted twice.
  int64_t again_offset = item_offset;
  ingest::MessageBatch replay = ItemSales(0, kPartition0, 100, &again_offset);
  auto dup = Stage2(replay, &state);
  EXPECT_EQ(dup.applied, 0);
  EXPECT_EQ(dup.duplicates, static_cast<int64_t>(replay.size()));
  EXPECT_TRUE(dup.basket_refs.empty());
  auto after = conn_->Command({"GET", storage::BasketRefsKey(0, "A")});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->str, before->str);

  // A stage-1 batch replayed by a zombie (stale generation) is fenced: the baskets hash and the
  // capped counter are untouched.
  auto baskets = conn_->Command({"HGETALL", storage::BasketsKey(0)});
  ASSERT_TRUE(baskets.ok());
  storage::CheckoutsCommit zombie;
  zombie.generation = 1;  // the partition was claimed again since
  zombie.expected_offset = 100 + static_cast<int64_t>(kPartition0.size());
  zombie.next_offset = zombie.expected_offset + 1;
  zombie.baskets.emplace_back(100, stream::EncodeBasket(1, {"X", "Y"}));
  zombie.baskets_capped = 5;
  ASSERT_TRUE(store_->Claim(storage::kCheckoutsTopic, 0).ok());
  EXPECT_EQ(store_->CommitCheckouts(0, zombie).code(), StatusCode::kFenced);
  auto unchanged = conn_->Command({"HGETALL", storage::BasketsKey(0)});
  ASSERT_TRUE(unchanged.ok());
  ASSERT_EQ(unchanged->elements.size(), baskets->elements.size());
  for (size_t i = 0; i < baskets->elements.size(); ++i) {
    EXPECT_EQ(unchanged->elements[i].str, baskets->elements[i].str);
  }
  auto status = storage::SnapshotReader(conn_.get()).ReadStatus();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->baskets_capped, 1);

  // Basket fields are keyed by source offset: processing the same checkouts again writes the
  // same fields with the same values.
  Stage1(0, kPartition0, 100);
  auto rewritten = conn_->Command({"HGETALL", storage::BasketsKey(0)});
  ASSERT_TRUE(rewritten.ok());
  ASSERT_EQ(rewritten->elements.size(), baskets->elements.size());
  for (size_t i = 0; i < baskets->elements.size(); ++i) {
    EXPECT_EQ(rewritten->elements[i].str, baskets->elements[i].str);
  }
}

TEST_F(TogetherStateTest, RefsCutAtOrdersGiveTheEarlierState) {
  Stage1(0, kPartition0, 100);
  Stage1(1, kPartition1, 0);
  int64_t item_offset = 0;
  ingest::ItemPartitionState state;
  Stage2(ItemSales(0, kPartition0, 100, &item_offset), &state);
  // A snapshot taken now sees orders(A) = 4; stage 2 then applies partition 1's checkouts.
  Stage2(ItemSales(1, kPartition1, 0, &item_offset), &state);
  // Counting over the first 4 refs is the answer as of that snapshot: partition 0 only.
  std::map<std::string, int64_t> want = {{"B", 1}, {"C", 1}};
  EXPECT_EQ(AsMap(Partners("A", 4)), want);
  EXPECT_EQ(AsMap(Partners("A", 6)), Truth("A"));
  EXPECT_TRUE(Partners("A", 0).empty());
}

TEST_F(TogetherStateTest, PaneSaleCheckoutsFollowWindowsAndRetention) {
  Stage1(0, kPartition0, 100);
  Stage1(1, kPartition1, 0);
  int64_t item_offset = 0;
  ingest::ItemPartitionState state;
  stream::WindowOptions windows;
  windows.retention_ms = 2 * kHour;
  Stage2(ItemSales(0, kPartition0, 100, &item_offset), &state, windows);
  Stage2(ItemSales(1, kPartition1, 0, &item_offset), &state, windows);

  storage::SnapshotReader reader(conn_.get());
  auto panes = reader.ReadPaneSaleCheckouts(0, {kT0, kT0 + kHour, kT0 + 2 * kHour});
  ASSERT_TRUE(panes.ok());
  // Pane kT0: 4 sale checkouts (the return-only one is none); pane kT0+1h: 3.
  EXPECT_EQ(*panes, (std::map<int64_t, int64_t>{{kT0, 4}, {kT0 + kHour, 3}, {kT0 + 2 * kHour, 0}}));

  // The kernel keeps the baskets of a window's panes only: the last hour holds partition 1's.
  const stream::BasketFilter last_hour{stream::PaneRange{kT0 + kHour, kT0 + kHour}, kHour};
  EXPECT_EQ(AsMap(Partners("B", 100, last_hour)), Truth("B", kT0 + kHour));
  EXPECT_EQ(AsMap(Partners("B", 100, {stream::PaneRange{kT0, kT0}, kHour})), Truth("B", kT0));

  // Three hours later the first pane falls out of retention (2 h) and its count goes with it.
  const std::vector<Spec> later = {{kT0 + 3 * kHour + 1, {{"A", 1}, {"B", 1}}}};
  Stage1(1, later, 3);
  Stage2(ItemSales(1, later, 3, &item_offset), &state, windows);
  auto after = reader.ReadPaneSaleCheckouts(0, {kT0, kT0 + kHour, kT0 + 3 * kHour});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, (std::map<int64_t, int64_t>{{kT0, 0}, {kT0 + kHour, 3}, {kT0 + 3 * kHour, 1}}));

  // A checkout older than the retention now is late: it counts in `all` (orders, sale checkouts,
  // pairs) but in no pane and in no `last <duration>` window's pairs.
  const std::vector<Spec> late = {{kT0 + 600'000, {{"A", 1}, {"B", 1}, {"D", 1}}}};
  Stage1(1, late, 4);
  auto late_commit = Stage2(ItemSales(1, late, 4, &item_offset), &state, windows);
  EXPECT_EQ(late_commit.late_events, 3);
  EXPECT_TRUE(late_commit.pane_sale_checkouts.empty());
  EXPECT_EQ(AsMap(Partners("B", 100)),
            (std::map<std::string, int64_t>{{"A", 5}, {"C", 2}, {"D", 1}}));
  const stream::BasketFilter recent{stream::PaneRange{kT0 + kHour, kT0 + 3 * kHour}, kHour};
  EXPECT_EQ(AsMap(Partners("B", 100, recent)),
            (std::map<std::string, int64_t>{{"A", 3}, {"C", 2}}));
  auto status = reader.ReadStatus();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->sale_checkouts, 9);  // window `all` keeps everything
}

}  // namespace
}  // namespace segstream
