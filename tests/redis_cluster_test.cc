// Redis Cluster routing (storage/redis_cluster.h) against a real 3-master cluster: slots as the
// servers compute them, redirects during a slot migration, and the atomic partition commit staying
// all-or-nothing while its slot moves.
#include "storage/redis_cluster.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "storage/keys.h"
#include "storage/partition_state.h"
#include "storage/redis_cluster_child.h"
#include "storage/snapshot_reader.h"
#include "stream/together.h"

namespace segstream::storage {
namespace {

TEST(KeySlotTest, MatchesTheSpecificationsExamples) {
  // Redis Cluster specification: CRC16("123456789") = 0x31C3.
  EXPECT_EQ(KeySlot("123456789"), 0x31C3 % kClusterSlots);
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("{user1000}.followers"));
  EXPECT_EQ(KeySlot("foo{{bar}}zap"), KeySlot("{bar"));
  EXPECT_EQ(KeySlot("foo{bar}{zap}"), KeySlot("bar"));
}

TEST(RoutingKeyTest, PicksTheKeyArgument) {
  EXPECT_EQ(RoutingKey({"HGET", "h", "f"}).value(), "h");
  EXPECT_EQ(RoutingKey({"EVALSHA", "abc", "2", "k1", "k2", "a"}).value(), "k1");
  EXPECT_FALSE(RoutingKey({"EVALSHA", "abc", "0", "a"}).has_value());
  EXPECT_FALSE(RoutingKey({"PING"}).has_value());
  EXPECT_FALSE(RoutingKey({"script", "load", "return 1"}).has_value());
  EXPECT_FALSE(RoutingKey({"CLUSTER", "SLOTS"}).has_value());
}

class RedisClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = cluster_.Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
    auto conn = RedisConnection::Connect(cluster_.options());
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    conn_ = std::make_unique<RedisConnection>(std::move(*conn));
  }

  // A master other than `i`.
  int Other(int i) const { return (i + 1) % cluster_.masters(); }

  RedisClusterChild cluster_;
  std::unique_ptr<RedisConnection> conn_;
};

TEST_F(RedisClusterTest, SlotsAgreeWithTheServersAndKeysSpreadOverEveryMaster) {
  for (std::string key : {"foo{}{bar}", "foo{{bar}}zap", "{}", "{", "a{b", "}{x}", "", "é{ü}"}) {
    auto server_slot = cluster_.On(0, {"CLUSTER", "KEYSLOT", key});
    ASSERT_TRUE(server_slot.ok());
    EXPECT_EQ(KeySlot(key), server_slot->integer) << key;
  }
  std::set<int> owners;
  for (int p = 0; p < 12; ++p) {
    const std::string key = PartitionKey(kItemSalesTopic, p, "meta");
    auto server_slot = cluster_.On(0, {"CLUSTER", "KEYSLOT", key});
    ASSERT_TRUE(server_slot.ok());
    EXPECT_EQ(KeySlot(key), server_slot->integer) << key;
    auto set = conn_->Command({"HSET", key, "offset", std::to_string(p)});
    ASSERT_TRUE(set.ok() && !set->is_error()) << (set.ok() ? set->str : set.status().ToString());
    auto owner = cluster_.OwnerOf(KeySlot(key));
    ASSERT_TRUE(owner.ok());
    owners.insert(*owner);
    auto direct = cluster_.On(*owner, {"HGET", key, "offset"});
    ASSERT_TRUE(direct.ok());
    EXPECT_EQ(direct->str, std::to_string(p));
  }
  EXPECT_EQ(owners.size(), 3u);

  // A pipeline spanning every master answers in the order asked.
  std::vector<std::vector<std::string>> reads;
  for (int p = 11; p >= 0; --p) {
    reads.push_back({"HGET", PartitionKey(kItemSalesTopic, p, "meta"), "offset"});
  }
  auto replies = conn_->Pipeline(reads);
  ASSERT_TRUE(replies.ok()) << replies.status().ToString();
  for (int p = 11; p >= 0; --p) EXPECT_EQ((*replies)[11 - p].str, std::to_string(p));
}

TEST_F(RedisClusterTest, ASingleServerConnectionToAClusterNodeSaysSo) {
  // `--redis` given a cluster node: the first key owned elsewhere is redirected, and that is a
  // configuration error, not a value to pass on.
  const std::string key = "{elsewhere}:k";
  const int owner = *cluster_.OwnerOf(KeySlot(key));
  auto single = ParseRedisAddress(cluster_.address(Other(owner)));
  ASSERT_TRUE(single.ok());
  auto conn = RedisConnection::Connect(*single);
  ASSERT_TRUE(conn.ok());
  auto reply = conn->Command({"GET", key});
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(reply.status().message().find("--redis-cluster"), std::string::npos)
      << reply.status().message();
}

TEST_F(RedisClusterTest, FollowsAskDuringAMigrationAndMovedAfterIt) {
  const std::string key = "{moving}:counter";
  const int slot = KeySlot(key);
  ASSERT_TRUE(conn_->Command({"SET", key, "1"}).ok());
  const int from = *cluster_.OwnerOf(slot);
  const int to = Other(from);

  ASSERT_TRUE(cluster_.BeginMigration(slot, from, to).ok());
  // Keys still on the source: served there. A new key of the slot: ASK, created on the target.
  EXPECT_EQ(conn_->Command({"INCR", key})->integer, 2);
  EXPECT_EQ(conn_->Command({"SET", "{moving}:new", "x"})->str, "OK");
  EXPECT_EQ(cluster_.On(to, {"EXISTS", "{moving}:new"})->integer, 0);  // not without ASKING
  ASSERT_TRUE(cluster_.MoveKeys(slot, from, to).ok());
  // Every key moved, slot still migrating: the source answers ASK, the target serves.
  EXPECT_EQ(conn_->Command({"INCR", key})->integer, 3);
  ASSERT_TRUE(cluster_.FinishMigration(slot, to).ok());
  // The router's table is stale: MOVED, then the new owner.
  EXPECT_EQ(conn_->Command({"INCR", key})->integer, 4);
  EXPECT_EQ(conn_->Command({"GET", "{moving}:new"})->str, "x");
}

ItemSalesCommit SalesCommit(int64_t gen, int64_t expected, int64_t next, int64_t pane) {
  ItemSalesCommit c;
  c.generation = gen;
  c.expected_offset = expected;
  c.next_offset = next;
  c.applied = next - std::max<int64_t>(expected, 0);
  // Every declared key of the stage-2 script exists after the first commit (a description
  // included), so a migration cannot stop the script at its door: only its undeclared pane keys.
  c.items["85123A"] = {
      .orders = 1, .units = 6, .revenue_micros = 15'300'000, .description = "HEART T-LIGHT"};
  c.items["22423"] = {.orders = 1, .units = 2, .returned_units = 1, .revenue_micros = 25'500'000};
  c.panes[pane]["85123A"] = {.orders = 1, .units = 6, .revenue_micros = 15'300'000};
  // Bought together: one sale checkout and one basket ref (a key built inside the script).
  c.sale_checkouts = 1;
  c.pane_sale_checkouts[pane] = 1;
  stream::AppendBasketRef(&c.basket_refs["85123A"], {2, next});
  return c;
}

int64_t RefsOf(RedisConnection* conn, int32_t partition, const std::string& sku) {
  auto v = conn->Command({"STRLEN", BasketRefsKey(partition, sku)});
  return v.ok() ? v->integer / static_cast<int64_t>(stream::kBasketRefBytes) : -1;
}

int64_t OrdersOf(RedisConnection* conn, const std::string& sku) {
  auto v = conn->Command({"HGET", PartitionKey(kItemSalesTopic, 0, "orders"), sku});
  return v.ok() ? *v->AsInt() : -1;
}

TEST_F(RedisClusterTest, ACommitRefusedMidMigrationLeavesNothingHalfDone) {
  PartitionStateStore store(conn_.get());
  auto claim = store.Claim(kItemSalesTopic, 0);
  ASSERT_TRUE(claim.ok()) << claim.status().ToString();
  const int64_t gen = claim->generation;
  ASSERT_TRUE(store.CommitItemSales(0, SalesCommit(gen, -1, 10, 0)).ok());

  const int slot = KeySlot(PartitionKey(kItemSalesTopic, 0, "meta"));
  const int from = *cluster_.OwnerOf(slot);
  const int to = Other(from);
  ASSERT_TRUE(cluster_.BeginMigration(slot, from, to).ok());

  // The next commit writes a new pane: its keys exist nowhere yet, so the source cannot serve
  // them while migrating. With a short budget the router gives up: kUnavailable, nothing written.
  RedisOptions hurried = cluster_.options();
  hurried.timeout = std::chrono::milliseconds(300);
  auto hurried_conn = RedisConnection::Connect(hurried);
  ASSERT_TRUE(hurried_conn.ok());
  PartitionStateStore hurried_store(&*hurried_conn);
  Status refused = hurried_store.CommitItemSales(0, SalesCommit(gen, 10, 20, 3'600'000));
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable) << refused.ToString();
  EXPECT_EQ(OrdersOf(conn_.get(), "85123A"), 1);
  EXPECT_EQ(RefsOf(conn_.get(), 0, "85123A"), 1);
  auto offset = conn_->Command({"HGET", PartitionKey(kItemSalesTopic, 0, "meta"), "offset"});
  EXPECT_EQ(offset->str, "10");

  // The same commit, retried while the migration finishes on another thread, lands once.
  std::thread migrate([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_TRUE(cluster_.MoveKeys(slot, from, to).ok());
    EXPECT_TRUE(cluster_.FinishMigration(slot, to).ok());
  });
  Status landed = store.CommitItemSales(0, SalesCommit(gen, 10, 20, 3'600'000));
  migrate.join();
  ASSERT_TRUE(landed.ok()) << landed.ToString();
  EXPECT_EQ(OrdersOf(conn_.get(), "85123A"), 2);
  EXPECT_EQ(OrdersOf(conn_.get(), "22423"), 2);
  EXPECT_EQ(RefsOf(conn_.get(), 0, "85123A"), 2);
  auto pane = cluster_.On(to, {"HGET", "{item-sales:0}:pane:3600000:orders", "85123A"});
  ASSERT_TRUE(pane.ok());
  EXPECT_EQ(pane->str, "1");
}

TEST_F(RedisClusterTest, CommitsStayExactWhileTheirSlotsMoveBackAndForth) {
  // Stage-1 and stage-2 commits in a loop on one thread; the other moves both partitions' slots
  // between masters, pausing inside each migration so commits meet every state.
  PartitionStateStore store(conn_.get());
  const int64_t sales_gen = store.Claim(kItemSalesTopic, 1)->generation;
  const int64_t checkouts_gen = store.Claim(kCheckoutsTopic, 1)->generation;
  const int sales_slot = KeySlot(PartitionKey(kItemSalesTopic, 1, "meta"));
  const int checkouts_slot = KeySlot(PartitionKey(kCheckoutsTopic, 1, "meta"));
  std::atomic<bool> done{false};
  std::thread mover([&] {
    for (int round = 0; round < 6 && !done; ++round) {
      for (int slot : {sales_slot, checkouts_slot}) {
        const int from = *cluster_.OwnerOf(slot);
        const int to = Other(from);
        EXPECT_TRUE(cluster_.BeginMigration(slot, from, to).ok());
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        EXPECT_TRUE(cluster_.MoveKeys(slot, from, to).ok());
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        EXPECT_TRUE(cluster_.FinishMigration(slot, to).ok());
      }
    }
  });
  const int kCommits = 200;
  for (int i = 0; i < kCommits; ++i) {
    ItemSalesCommit sales =
        SalesCommit(sales_gen, i == 0 ? -1 : i * 10, (i + 1) * 10, int64_t{3'600'000} * (i % 7));
    Status s = store.CommitItemSales(1, sales);
    ASSERT_TRUE(s.ok()) << "sales commit " << i << ": " << s.ToString();
    CheckoutsCommit checkouts;
    checkouts.generation = checkouts_gen;
    checkouts.expected_offset = i == 0 ? -1 : i * 5;
    checkouts.next_offset = (i + 1) * 5;
    checkouts.events = 5;
    checkouts.dlq_reasons["negative_price"] = 1;
    checkouts.drift_day_counts[86'400'000LL * (i % 5)] = i;
    checkouts.drift_purchases[86'400'000LL * (i % 5)] = {{std::to_string(i), "v"}};
    checkouts.baskets.emplace_back(i, stream::EncodeBasket(i, {"85123A", "22423"}));
    s = store.CommitCheckouts(1, checkouts);
    ASSERT_TRUE(s.ok()) << "checkouts commit " << i << ": " << s.ToString();
  }
  done = true;
  mover.join();
  auto orders = conn_->Command({"HGET", PartitionKey(kItemSalesTopic, 1, "orders"), "85123A"});
  EXPECT_EQ(*orders->AsInt(), kCommits);
  auto events = conn_->Command({"HGET", PartitionKey(kCheckoutsTopic, 1, "meta"), "events"});
  EXPECT_EQ(*events->AsInt(), 5 * kCommits);
  auto dlq =
      conn_->Command({"HGET", PartitionKey(kCheckoutsTopic, 1, "dlq_reasons"), "negative_price"});
  EXPECT_EQ(*dlq->AsInt(), kCommits);
  int64_t panes_orders = 0;
  for (int p = 0; p < 7; ++p) {
    auto v = conn_->Command(
        {"HGET", "{item-sales:1}:pane:" + std::to_string(3'600'000 * p) + ":orders", "85123A"});
    panes_orders += *v->AsInt();
  }
  EXPECT_EQ(panes_orders, kCommits);
  EXPECT_EQ(RefsOf(conn_.get(), 1, "85123A"), kCommits);
  auto baskets = conn_->Command({"HLEN", BasketsKey(1)});
  EXPECT_EQ(baskets->integer, kCommits);
  auto sales = conn_->Command({"HGET", PartitionKey(kItemSalesTopic, 1, "meta"), "sale_checkouts"});
  EXPECT_EQ(*sales->AsInt(), kCommits);
}

}  // namespace
}  // namespace segstream::storage
