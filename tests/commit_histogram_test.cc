// segstream_batch_commit_seconds (issue 8): a commit adds the duration it carries to cumulative
// counters in its partition's meta hash, inside the fenced atomic call; SnapshotReader sums them
// per topic. Against a real redis-server.
#include <gtest/gtest.h>

#include <vector>

#include "storage/keys.h"
#include "storage/partition_state.h"
#include "storage/redis_child.h"
#include "storage/snapshot_reader.h"

namespace segstream::storage {
namespace {

class CommitHistogramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    auto conn = RedisConnection::Connect({redis_.host(), redis_.port()});
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    conn_ = std::make_unique<RedisConnection>(std::move(*conn));
  }

  // Commits one checkouts batch of offset `from` -> from + 1 carrying `previous_us`.
  Status Checkouts(PartitionStateStore& store, int32_t p, int64_t gen, int64_t from,
                   int64_t previous_us) {
    CheckoutsCommit c;
    c.generation = gen;
    c.expected_offset = from;
    c.next_offset = from < 0 ? 1 : from + 1;
    c.events = 1;
    c.previous_commit_us = previous_us;
    return store.CommitCheckouts(p, c);
  }

  RedisChild redis_;
  std::unique_ptr<RedisConnection> conn_;
};

TEST_F(CommitHistogramTest, CarriedDurationsBecomeCumulativeBucketsSummedOverPartitions) {
  PartitionStateStore store(conn_.get());
  auto c0 = store.Claim(kCheckoutsTopic, 0);
  auto c1 = store.Claim(kCheckoutsTopic, 1);
  ASSERT_TRUE(c0.ok() && c1.ok());
  ASSERT_TRUE(Checkouts(store, 0, c0->generation, -1, -1).ok());  // nothing to carry yet
  ASSERT_TRUE(Checkouts(store, 0, c0->generation, 1, 1500).ok());
  ASSERT_TRUE(Checkouts(store, 1, c1->generation, -1, 100).ok());       // on the 0.0001 bound
  ASSERT_TRUE(Checkouts(store, 1, c1->generation, 1, 3'000'000).ok());  // above every bound

  SnapshotReader reader(conn_.get());
  auto status = reader.ReadStatus();
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  ASSERT_EQ(status->commit_durations.count("checkouts"), 1u);
  EXPECT_EQ(status->commit_durations.count("item-sales"), 0u);
  const CommitHistogram& h = status->commit_durations.at("checkouts");
  EXPECT_EQ(h.count, 3);
  EXPECT_EQ(h.sum_us, 1500 + 100 + 3'000'000);
  // By hand over the bounds 0.0001 0.00025 0.0005 0.001 0.0025 ... 2.5 (seconds, `le`):
  // 100 us counts from 0.0001 on, 1500 us from 0.0025 on, 3 s in none.
  const std::vector<int64_t> expected = {1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2};
  EXPECT_EQ(h.cumulative, expected);
  auto field =
      conn_->Command({"HGET", PartitionKey(kCheckoutsTopic, 0, "meta"), "commit_le_0.001"});
  ASSERT_TRUE(field.ok());
  EXPECT_TRUE(field->is_nil());  // a bucket never reached is never written
}

TEST_F(CommitHistogramTest, ItemSalesCommitsCarryTheirOwnStage) {
  PartitionStateStore store(conn_.get());
  auto claim = store.Claim(kItemSalesTopic, 2);
  ASSERT_TRUE(claim.ok());
  ItemSalesCommit c;
  c.generation = claim->generation;
  c.expected_offset = -1;
  c.next_offset = 4;
  c.applied = 4;
  c.items["85123A"] = {.orders = 1,
                       .units = 6,
                       .returned_units = 0,
                       .revenue_micros = 15'300'000,
                       .description = "WHITE HANGING HEART T-LIGHT HOLDER"};
  c.previous_commit_us = 20'000;
  ASSERT_TRUE(store.CommitItemSales(2, c).ok());

  SnapshotReader reader(conn_.get());
  auto status = reader.ReadStatus();
  ASSERT_TRUE(status.ok());
  const CommitHistogram& h = status->commit_durations.at("item-sales");
  EXPECT_EQ(h.count, 1);
  EXPECT_EQ(h.sum_us, 20'000);
  // 20 ms: from the 0.025 bound on (index 7).
  const std::vector<int64_t> expected = {0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1};
  EXPECT_EQ(h.cumulative, expected);
  EXPECT_EQ(status->item_sales_applied, 4);  // the batch itself landed as before
}

TEST_F(CommitHistogramTest, AFencedCommitRecordsNothing) {
  PartitionStateStore zombie(conn_.get());
  auto old_claim = zombie.Claim(kCheckoutsTopic, 0);
  ASSERT_TRUE(old_claim.ok());
  ASSERT_TRUE(zombie.Claim(kCheckoutsTopic, 0).ok());  // a new owner
  Status s = Checkouts(zombie, 0, old_claim->generation, -1, 700);
  EXPECT_EQ(s.code(), StatusCode::kFenced) << s.ToString();
  auto count = conn_->Command({"HGET", PartitionKey(kCheckoutsTopic, 0, "meta"), "commit_count"});
  ASSERT_TRUE(count.ok());
  EXPECT_TRUE(count->is_nil());
}

}  // namespace
}  // namespace segstream::storage
