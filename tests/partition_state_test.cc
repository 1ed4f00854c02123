// The atomic fenced commit (DESIGN §5) against a real redis-server.
#include "storage/partition_state.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "storage/keys.h"
#include "storage/redis_child.h"
#include "storage/segment_reader.h"
#include "storage/snapshot_reader.h"

namespace segstream::storage {
namespace {

class PartitionStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    auto conn = RedisConnection::Connect({redis_.host(), redis_.port()});
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    conn_ = std::make_unique<RedisConnection>(std::move(*conn));
    auto conn2 = RedisConnection::Connect({redis_.host(), redis_.port()});
    ASSERT_TRUE(conn2.ok());
    other_conn_ = std::make_unique<RedisConnection>(std::move(*conn2));
  }

  RedisChild redis_;
  std::unique_ptr<RedisConnection> conn_, other_conn_;
};

TEST_F(PartitionStateTest, FirstClaimStartsAtEarliestWithGenerationOne) {
  PartitionStateStore store(conn_.get());
  auto claim = store.Claim(kCheckoutsTopic, 3);
  ASSERT_TRUE(claim.ok()) << claim.status().ToString();
  EXPECT_EQ(claim->generation, 1);
  EXPECT_EQ(claim->next_offset, -1);
  EXPECT_TRUE(claim->source_hwm.empty());
}

TEST_F(PartitionStateTest, CommitAppliesCountersAndOffsetTogether) {
  PartitionStateStore store(conn_.get());
  auto claim = store.Claim(kCheckoutsTopic, 0);
  ASSERT_TRUE(claim.ok());
  CheckoutsCommit c;
  c.generation = claim->generation;
  c.expected_offset = -1;
  c.next_offset = 10;
  c.events = 9;
  c.dlq = 1;
  c.item_sales = 40;
  c.max_event_ms = 1291191960000;
  c.dlq_reasons["negative_price"] = 1;
  ASSERT_TRUE(store.CommitCheckouts(0, c).ok());
  c.expected_offset = 10;
  c.next_offset = 15;
  c.events = 5;
  c.dlq = 0;
  c.dlq_reasons.clear();
  ASSERT_TRUE(store.CommitCheckouts(0, c).ok());

  SnapshotReader reader(conn_.get());
  auto status = reader.ReadStatus();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->events_processed, 14);
  EXPECT_EQ(status->dlq_events, 1);
  EXPECT_EQ(status->item_sales_produced, 80);
  EXPECT_EQ(status->dlq_reasons.at("negative_price"), 1);
  EXPECT_EQ(status->partitions.at("checkouts:0").committed_offset, 15);
  auto again = store.Claim(kCheckoutsTopic, 0);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->next_offset, 15);
}

TEST_F(PartitionStateTest, ZombieWithOlderGenerationIsFencedAndChangesNothing) {
  PartitionStateStore zombie(conn_.get());
  PartitionStateStore owner(other_conn_.get());
  auto old_claim = zombie.Claim(kCheckoutsTopic, 1);
  ASSERT_TRUE(old_claim.ok());
  auto new_claim = owner.Claim(kCheckoutsTopic, 1);
  ASSERT_TRUE(new_claim.ok());
  EXPECT_EQ(new_claim->generation, old_claim->generation + 1);

  CheckoutsCommit late;
  late.generation = old_claim->generation;
  late.next_offset = 100;
  late.events = 100;
  Status s = zombie.CommitCheckouts(1, late);
  EXPECT_EQ(s.code(), StatusCode::kFenced) << s.ToString();

  SnapshotReader reader(conn_.get());
  auto status = reader.ReadStatus();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->events_processed, 0);
}

TEST_F(PartitionStateTest, CommitFromAStaleOffsetIsFenced) {
  PartitionStateStore store(conn_.get());
  auto claim = store.Claim(kCheckoutsTopic, 2);
  ASSERT_TRUE(claim.ok());
  CheckoutsCommit c;
  c.generation = claim->generation;
  c.next_offset = 5;
  c.events = 5;
  ASSERT_TRUE(store.CommitCheckouts(2, c).ok());
  // The same batch again (e.g. a retry after a lost reply) must not count twice.
  EXPECT_EQ(store.CommitCheckouts(2, c).code(), StatusCode::kFenced);
}

TEST_F(PartitionStateTest, ItemSalesDeltasAndHighWaterMarksSurviveAReclaim) {
  PartitionStateStore store(conn_.get());
  auto claim = store.Claim(kItemSalesTopic, 4);
  ASSERT_TRUE(claim.ok());
  ItemSalesCommit c;
  c.generation = claim->generation;
  c.next_offset = 3;
  c.applied = 3;
  c.source_hwm[0] = {41, 2};
  c.source_hwm[5] = {7, 0};
  c.items["85123A"] = {2, 12, 0, 30'600'000, "WHITE HANGING HEART T-LIGHT HOLDER"};
  c.items["22423"] = {1, 1, 3, 12'750'000, "REGENCY CAKESTAND 3 TIER"};
  ASSERT_TRUE(store.CommitItemSales(4, c).ok());
  ItemSalesCommit d;
  d.generation = claim->generation;
  d.expected_offset = 3;
  d.next_offset = 4;
  d.applied = 1;
  d.source_hwm[0] = {42, 0};
  d.items["85123A"] = {1, 6, 2, 15'300'000, "ignored: first description wins"};
  ASSERT_TRUE(store.CommitItemSales(4, d).ok());

  // A restarted Redis loses its script cache: the store must reload (NOSCRIPT) transparently.
  ASSERT_TRUE(conn_->Command({"SCRIPT", "FLUSH"}).ok());
  auto reclaim = store.Claim(kItemSalesTopic, 4);
  ASSERT_TRUE(reclaim.ok()) << reclaim.status().ToString();
  EXPECT_EQ(reclaim->next_offset, 4);
  ASSERT_EQ(reclaim->source_hwm.size(), 2u);
  EXPECT_EQ(reclaim->source_hwm.at(0).offset, 42);
  EXPECT_EQ(reclaim->source_hwm.at(0).seq, 0);
  EXPECT_EQ(reclaim->source_hwm.at(5).offset, 7);

  SnapshotReader reader(conn_.get());
  auto items = reader.ReadItems();
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 2u);
  for (const auto& item : *items) {
    if (item.sku == "85123A") {
      EXPECT_EQ(item.orders, 3);
      EXPECT_EQ(item.units, 18);
      EXPECT_EQ(item.returned_units, 2);
      EXPECT_EQ(item.revenue_micros, 45'900'000);
      EXPECT_EQ(item.description, "WHITE HANGING HEART T-LIGHT HOLDER");
    } else {
      EXPECT_EQ(item.sku, "22423");
      EXPECT_EQ(item.returned_units, 3);
    }
  }
}

TEST_F(PartitionStateTest, SegmentStateIsCommittedWithTheOffsetAndFencedWithIt) {
  PartitionStateStore store(conn_.get());
  auto claim = store.Claim(kCheckoutsTopic, 2);
  ASSERT_TRUE(claim.ok());
  CheckoutsCommit c;
  c.generation = claim->generation;
  c.expected_offset = -1;
  c.next_offset = 3;
  c.events = 3;
  c.customers = {{"12346", "state of 12346"}, {"12347", "state of 12347"}};
  c.segment_stats = "stats v1";
  c.segment_meta = {{"customers", 2}, {"segmented", 0}, {"scored_version", 0}};
  ASSERT_TRUE(store.CommitCheckouts(2, c).ok());

  // A sweep-only commit: same offset, one customer rewritten, statistics and meta replaced.
  c.expected_offset = 3;
  c.events = 0;
  c.customers = {{"12346", "state of 12346, scored"}};
  c.segment_stats = "stats v2";
  c.segment_meta = {{"customers", 2}, {"segmented", 2}, {"scored_version", 1}};
  ASSERT_TRUE(store.CommitCheckouts(2, c).ok());

  // A zombie's commit changes nothing.
  PartitionStateStore other(other_conn_.get());
  ASSERT_TRUE(other.Claim(kCheckoutsTopic, 2).ok());
  c.customers = {{"12346", "zombie"}, {"99999", "zombie"}};
  c.segment_stats = "zombie";
  EXPECT_EQ(store.CommitCheckouts(2, c).code(), StatusCode::kFenced);

  // What Redis holds (raw values: the commit stores what it is given).
  auto hash = [&](const std::string& key) {
    std::map<std::string, std::string> out;
    auto reply = conn_->Command({"HGETALL", key});
    EXPECT_TRUE(reply.ok());
    for (size_t i = 0; reply.ok() && i + 1 < reply->elements.size(); i += 2) {
      out[reply->elements[i].str] = reply->elements[i + 1].str;
    }
    return out;
  };
  EXPECT_EQ(hash(CustomersKey(2)),
            (std::map<std::string, std::string>{{"12346", "state of 12346, scored"},
                                                {"12347", "state of 12347"}}));
  EXPECT_EQ(hash(SegmentMetaKey(2)),
            (std::map<std::string, std::string>{
                {"customers", "2"}, {"segmented", "2"}, {"scored_version", "1"}}));
  auto stats = conn_->Command({"GET", SegmentStatsKey(2)});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->str, "stats v2");
  auto offset = conn_->Command({"HGET", PartitionKey(kCheckoutsTopic, 2, "meta"), "offset"});
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(offset->str, "3");
  EXPECT_TRUE(hash(CustomersKey(5)).empty());
}

TEST_F(PartitionStateTest, DriftPurchasesAreWrittenAndRetiredWithTheOffset) {
  constexpr int64_t kDay = 86'400'000;
  PartitionStateStore store(conn_.get());
  auto claim = store.Claim(kCheckoutsTopic, 1);
  ASSERT_TRUE(claim.ok());
  const stream::DriftPurchase a = {{1, 2, 3, 4, 5, 0.5}, {1, 1, 1, 1, 1, 0}},
                              b = {{0, 1, 2, 3, 4, 0}, {2, 2, 2, 2, 2, 0}},
                              c = {{9, 9, 9, 9, 9, 1}, {3, 3, 3, 3, 3, 0}};
  CheckoutsCommit commit;
  commit.generation = claim->generation;
  commit.expected_offset = -1;
  commit.next_offset = 5;
  commit.drift_day_counts = {{kDay, 1}, {2 * kDay, 1}};
  commit.drift_purchases = {{kDay, {{"0", stream::EncodeDriftPurchase(a)}}},
                            {2 * kDay, {{"3", stream::EncodeDriftPurchase(b)}}}};
  ASSERT_TRUE(store.CommitCheckouts(1, commit).ok());
  // The next batch adds to day 2, opens day 3 and retires day 1 (retention), in one call.
  commit.expected_offset = 5;
  commit.next_offset = 9;
  commit.drift_day_counts = {{2 * kDay, 2}, {3 * kDay, 1}};
  commit.drift_purchases = {{2 * kDay, {{"6", stream::EncodeDriftPurchase(c)}}},
                            {3 * kDay, {{"8", stream::EncodeDriftPurchase(a)}}}};
  commit.drift_days_deleted = {kDay};
  ASSERT_TRUE(store.CommitCheckouts(1, commit).ok());
  // A zombie's batch adds nothing.
  PartitionStateStore other(other_conn_.get());
  ASSERT_TRUE(other.Claim(kCheckoutsTopic, 1).ok());
  commit.drift_purchases = {{3 * kDay, {{"99", stream::EncodeDriftPurchase(c)}}}};
  EXPECT_EQ(store.CommitCheckouts(1, commit).code(), StatusCode::kFenced);

  SegmentReader reader(conn_.get());
  auto index = reader.ReadDriftIndex(1);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ(*index, (std::map<int64_t, int64_t>{{2 * kDay, 2}, {3 * kDay, 1}}));
  auto read = reader.ReadDriftPurchases({1, 4});
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->size(), 2u);
  auto sorted = [](std::vector<stream::DriftPurchase> v) {
    std::sort(v.begin(), v.end(),
              [](const auto& x, const auto& y) { return x.lifetime < y.lifetime; });
    return v;
  };
  EXPECT_EQ(sorted(read->at(2 * kDay)), sorted({b, c}));
  EXPECT_EQ(read->at(3 * kDay), std::vector<stream::DriftPurchase>{a});
  auto gone = conn_->Command({"EXISTS", DriftDayKey(1, kDay)});
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->integer, 0);
  // A vector that does not decode is corrupt, not skipped.
  ASSERT_TRUE(conn_->Command({"HSET", DriftDayKey(1, 3 * kDay), "1", "garbage"}).ok());
  EXPECT_EQ(reader.ReadDriftPurchases({1}).status().code(), StatusCode::kCorruption);
}

TEST_F(PartitionStateTest, HighWaterMarkCoversEarlierRecordsOnly) {
  HighWaterMark mark{10, 2};
  EXPECT_TRUE(mark.Covers(9, 99));
  EXPECT_TRUE(mark.Covers(10, 2));
  EXPECT_FALSE(mark.Covers(10, 3));
  EXPECT_FALSE(mark.Covers(11, 0));
  EXPECT_FALSE(HighWaterMark{}.Covers(0, 0));
}

TEST_F(PartitionStateTest, TransportFailureIsUnavailableNotACrash) {
  PartitionStateStore store(conn_.get());
  redis_.Kill();
  auto claim = store.Claim(kCheckoutsTopic, 0);
  EXPECT_EQ(claim.status().code(), StatusCode::kUnavailable) << claim.status().ToString();
}

}  // namespace
}  // namespace segstream::storage
