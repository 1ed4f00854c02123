// Stage 2 commit coalescing (issue 10, ingest/item_commits.h) against a real redis-server: several
// small cycles folded into one commit store exactly the sums of their records, computed here from
// the records themselves; pending records dropped by a crash and replayed by the next owner (with
// a stage-1 replay's duplicates among them) are counted exactly once; a zombie's pending commit is
// fenced and changes nothing.
#include "ingest/item_commits.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <tuple>

#include "storage/keys.h"
#include "storage/redis_child.h"
#include "stream/windows.h"
#include "tests/fake_message.h"

namespace segstream {
namespace {

using testing_support::FakeMessage;
using Clock = std::chrono::steady_clock;

constexpr int64_t kT0 = 1'291'190'400'000;  // 2010-12-01 08:00 UTC, a pane start
constexpr int32_t kPartition = 2;

struct Sums {
  int64_t orders = 0, units = 0, returned = 0, revenue = 0;
};

// The item-sales records of `checkouts` checkouts of stage-1 partition `source`: checkout i has
// 1 + i % 3 skus out of 7, with small deterministic quantities.
std::vector<v1::ItemSale> MakeSales(int32_t source, int checkouts) {
  std::vector<v1::ItemSale> out;
  for (int i = 0; i < checkouts; ++i) {
    const int n = 1 + i % 3;
    for (int k = 0; k < n; ++k) {
      v1::ItemSale s;
      const int sku = (i * 5 + k * 3) % 7;
      s.set_sku("SKU" + std::to_string(sku));
      s.set_description("desc " + std::to_string(sku));
      s.set_event_time_ms(kT0 + 1000 * i);  // all in the first pane
      const bool sale = (i + k) % 4 != 0;
      s.set_orders(sale ? 1 : 0);
      s.set_units(sale ? 1 + (i + k) % 5 : 0);
      s.set_returned_units(sale ? 0 : 1 + k);
      s.set_revenue_micros(sale ? 250'000 * (1 + (i + k) % 5) : 0);
      s.set_source_partition(source);
      s.set_source_offset(i);
      s.set_seq(k);
      if (k == 0 && sale) s.add_basket(s.sku());
      out.push_back(s);
    }
  }
  return out;
}

// Per sku, each distinct (source, offset, seq) counted once: the exactly-once answer.
std::map<std::string, Sums> Expected(const std::vector<v1::ItemSale>& sales) {
  std::set<std::tuple<int32_t, int64_t, int32_t>> seen;
  std::map<std::string, Sums> sums;
  for (const auto& s : sales) {
    if (!seen.insert({s.source_partition(), s.source_offset(), s.seq()}).second) continue;
    Sums& x = sums[s.sku()];
    x.orders += s.orders();
    x.units += s.units();
    x.returned += s.returned_units();
    x.revenue += s.revenue_micros();
  }
  return sums;
}

class ItemCommitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    auto conn = storage::RedisConnection::Connect({redis_.host(), redis_.port()});
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    conn_ = std::make_unique<storage::RedisConnection>(std::move(*conn));
    store_ = std::make_unique<storage::PartitionStateStore>(conn_.get());
  }

  // The log of item-sales partition kPartition: records at offsets 0, 1, ...
  void Append(const std::vector<v1::ItemSale>& sales) {
    for (const auto& s : sales) log_.push_back(s);
  }

  // A cycle's batch: log records [first, first + n).
  ingest::MessageBatch Batch(int64_t first, int64_t n) const {
    ingest::MessageBatch batch;
    for (int64_t o = first; o < first + n; ++o) {
      batch.push_back(std::make_unique<FakeMessage>(log_[o].SerializeAsString(), o));
    }
    return batch;
  }

  // A new owner: claims the partition and takes its state as the worker does (Worker::OnAssign).
  struct Owner {
    int64_t generation = 0, stored_offset = -1;
    ingest::ItemPartitionState items;
    ingest::PendingItemSales pending;
    ingest::DescribedSkus described{1000};
  };
  Owner Claim() {
    auto claim = store_->Claim(storage::kItemSalesTopic, kPartition);
    EXPECT_TRUE(claim.ok()) << claim.status().ToString();
    Owner o;
    o.generation = claim->generation;
    o.stored_offset = claim->next_offset;
    o.items.hwm = claim->source_hwm;
    o.items.max_event_ms = claim->max_event_ms;
    return o;
  }

  // Folds log records [first, end) in cycles of the given sizes (repeated).
  void Fold(Owner* o, int64_t first, int64_t end, const std::vector<int64_t>& sizes) {
    for (size_t c = 0; first < end; ++c) {
      const int64_t n = std::min(sizes[c % sizes.size()], end - first);
      ASSERT_TRUE(o->pending
                      .Fold(&stage_, Batch(first, n), o->generation, o->stored_offset, o->items,
                            Clock::now())
                      .ok());
      first += n;
    }
  }

  // As Worker::CommitItemSales, one partition.
  Status Commit(Owner* o) {
    o->described.Strip(&o->pending.commit);
    Status s = store_->CommitItemSales(kPartition, o->pending.commit);
    if (s.ok()) {
      o->described.Remember(o->pending.commit);
      o->stored_offset = o->pending.commit.next_offset;
      o->items = std::move(o->pending.state);
    }
    o->pending = {};
    return s;
  }

  std::map<std::string, int64_t> Hash(std::string_view suffix) {
    auto reply = conn_->Command(
        {"HGETALL", storage::PartitionKey(storage::kItemSalesTopic, kPartition, suffix)});
    EXPECT_TRUE(reply.ok());
    std::map<std::string, int64_t> out;
    for (size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
      out[reply->elements[i].str] = std::stoll(reply->elements[i + 1].str);
    }
    return out;
  }

  std::string Meta(const std::string& field) {
    auto reply = conn_->Command(
        {"HGET", storage::PartitionKey(storage::kItemSalesTopic, kPartition, "meta"), field});
    EXPECT_TRUE(reply.ok());
    return reply->str;
  }

  // The stored per-sku counters, window `all` and the first pane, against `expected`.
  void ExpectStored(const std::map<std::string, Sums>& expected) {
    const std::string pane =
        "pane:" + std::to_string(stream::PaneStart(kT0, stream::WindowOptions{}.pane_ms)) + ":";
    for (const std::string& prefix : {std::string(), pane}) {
      auto orders = Hash(prefix + "orders"), units = Hash(prefix + "units");
      auto returned = Hash(prefix + "returned"), revenue = Hash(prefix + "revenue");
      for (const auto& [sku, x] : expected) {
        SCOPED_TRACE(prefix + sku);
        // Zero sums are not written (the script skips zero deltas).
        EXPECT_EQ(orders.count(sku) ? orders[sku] : 0, x.orders);
        EXPECT_EQ(units.count(sku) ? units[sku] : 0, x.units);
        EXPECT_EQ(returned.count(sku) ? returned[sku] : 0, x.returned);
        EXPECT_EQ(revenue.count(sku) ? revenue[sku] : 0, x.revenue);
      }
      EXPECT_LE(orders.size(), expected.size());
    }
  }

  storage::RedisChild redis_;
  std::unique_ptr<storage::RedisConnection> conn_;
  std::unique_ptr<storage::PartitionStateStore> store_;
  ingest::ItemStage stage_;
  std::vector<v1::ItemSale> log_;
};

TEST_F(ItemCommitsTest, SmallCyclesFoldIntoOneCommitWithTheExactSums) {
  Append(MakeSales(0, 40));
  Append(MakeSales(1, 25));
  const int64_t end = static_cast<int64_t>(log_.size());
  Owner o = Claim();
  Fold(&o, 0, end, {3, 7, 1, 11});
  EXPECT_EQ(o.pending.records, end);
  EXPECT_EQ(Meta("offset"), "");  // nothing committed while the cycles are folded
  ASSERT_TRUE(Commit(&o).ok());

  EXPECT_EQ(Meta("offset"), std::to_string(end));
  EXPECT_EQ(Meta("applied"), std::to_string(end));
  ExpectStored(Expected(log_));
  // Each sku's description, stored by the one commit.
  auto desc = conn_->Command(
      {"HGET", storage::PartitionKey(storage::kItemSalesTopic, kPartition, "desc"), "SKU3"});
  ASSERT_TRUE(desc.ok());
  EXPECT_EQ(desc->str, "desc 3");

  // Later commits of the same owner send no description of a described sku.
  Append(MakeSales(2, 10));
  Fold(&o, end, static_cast<int64_t>(log_.size()), {4});
  o.described.Strip(&o.pending.commit);
  for (const auto& [sku, delta] : o.pending.commit.items) {
    EXPECT_EQ(delta.description, "") << sku;
  }
  ASSERT_TRUE(Commit(&o).ok());
  ExpectStored(Expected(log_));
  EXPECT_EQ(Meta("offset"), std::to_string(log_.size()));
}

TEST_F(ItemCommitsTest, PendingDroppedByACrashIsReplayedExactlyOnce) {
  Append(MakeSales(0, 30));
  const int64_t committed = static_cast<int64_t>(log_.size());
  Owner first = Claim();
  Fold(&first, 0, committed, {5, 9});
  ASSERT_TRUE(Commit(&first).ok());

  // Stage 1 on partition 0 died mid-batch and its replay re-produced checkouts 20..29 after new
  // ones: the log holds their records twice. The owner folds everything, then dies uncommitted.
  std::vector<v1::ItemSale> replayed = MakeSales(0, 30);
  replayed.erase(replayed.begin(),
                 std::find_if(replayed.begin(), replayed.end(),
                              [](const v1::ItemSale& s) { return s.source_offset() >= 20; }));
  Append(MakeSales(1, 15));
  Append(replayed);
  Append(MakeSales(3, 12));
  const int64_t end = static_cast<int64_t>(log_.size());
  Fold(&first, committed, end, {2, 6, 13});
  ASSERT_FALSE(first.pending.empty());
  ingest::PendingItemSales zombie = first.pending;  // the dead owner's, should it wake up

  // The next owner replays from the stored offset in other cycle sizes.
  Owner second = Claim();
  EXPECT_EQ(second.stored_offset, committed);
  Fold(&second, second.stored_offset, end, {17, 4});
  EXPECT_EQ(second.pending.commit.duplicates, static_cast<int64_t>(replayed.size()));
  ASSERT_TRUE(Commit(&second).ok());
  ExpectStored(Expected(log_));
  EXPECT_EQ(Meta("duplicates"), std::to_string(replayed.size()));

  // The first owner's pending commit, sent late, is fenced and changes nothing.
  Status fenced = store_->CommitItemSales(kPartition, zombie.commit);
  EXPECT_EQ(fenced.code(), StatusCode::kFenced) << fenced.ToString();
  ExpectStored(Expected(log_));
  EXPECT_EQ(Meta("offset"), std::to_string(end));
}

}  // namespace
}  // namespace segstream
