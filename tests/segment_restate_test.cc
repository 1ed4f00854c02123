// The RESTATE rule (ingest/segmenter.h): a stage-1 batch produced a customer's move X -> Y and died
// before its Redis commit; the model changed; the replay keeps the customer in X. Without the rule
// nothing is sent and the last segment-change downstream says Y while Redis says X. Each case is
// a deterministic sequence of claims, batches and commits against a real redis-server and the
// mock broker, reading `segment-changes` back. Models are hand-made so the expected segments
// follow from distances computed in the comments (identity transform: model units = raw
// features), not from the code under test.
#include <gtest/gtest.h>
#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "app/embedded.h"
#include "ingest/kafka.h"
#include "ingest/segmenter.h"
#include "ingest/tail.h"
#include "storage/keys.h"
#include "storage/model_store.h"
#include "storage/partition_state.h"

namespace segstream::ingest {
namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kT0 = 20'000 * kDayMs;  // every checkout and as-of: recency 0 days

// A checkout of one sku, `currency` units of sales.
stream::CheckoutSummary Sale(int64_t currency) {
  return {.event_time_ms = kT0,
          .sales_micros = currency * 1'000'000,
          .units = 1,
          .distinct_sale_skus = 1};
}

// A checkout returning one unit worth `currency`.
stream::CheckoutSummary Return(int64_t currency) {
  return {.event_time_ms = kT0, .returns_micros = currency * 1'000'000, .returned_units = 1};
}

// Two segments that differ only in monetary (feature 2); the other coordinates are `rest`
// (recency, frequency, -, basket value, distinct items, return rate), so a customer's nearer
// segment is decided by |monetary - centroid monetary| alone.
stream::SegmentModel Model(int64_t version, stream::FeatureVector rest, double m0, double m1) {
  stream::SegmentModel model;
  model.version = version;
  model.k = 2;
  model.as_of_ms = kT0;
  for (int j = 0; j < stream::kFeatureCount; ++j) model.transform.scale[j] = 1;
  model.centroids = {rest, rest};
  model.centroids[0][stream::kMonetary] = m0;
  model.centroids[1][stream::kMonetary] = m1;
  model.labels = {"Low", "High"};
  model.sizes = {0, 0};
  return model;
}

struct Event {
  std::string id, reason;
  int from = 0, to = 0;
  int64_t version = 0, offset = 0;
};

class SegmentRestateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    servers_ = new app::EmbeddedServers(app::EmbeddedOptions{});
    ASSERT_TRUE(servers_->Start().ok());
  }
  static void TearDownTestSuite() {
    delete servers_;
    servers_ = nullptr;
  }

  void SetUp() override {
    auto redis = storage::RedisConnection::Connect(servers_->redis_client());
    ASSERT_TRUE(redis.ok()) << redis.status().ToString();
    redis_ = std::make_unique<storage::RedisConnection>(std::move(*redis));
    ASSERT_TRUE(redis_->Command({"FLUSHALL"}).ok());
    KafkaOptions kafka;
    kafka.brokers = servers_->brokers();
    auto producer = Producer::Create(kafka);
    ASSERT_TRUE(producer.ok()) << producer.status().ToString();
    producer_ = std::move(*producer);
    // Nobody under test holds the lease: no refresh publishes a model of its own.
    ASSERT_TRUE(*storage::ModelStore(redis_.get()).AcquireLease("test", 3'600'000));
  }

  // As the lease holder publishes: the model, and the version kept for takeovers.
  void Publish(const stream::SegmentModel& model) {
    auto ok =
        storage::ModelStore(redis_.get()).Publish(model.version - 1, model.version, model.Encode());
    ASSERT_TRUE(ok.ok() && *ok);
    ASSERT_TRUE(
        redis_->Command({"SET", storage::ModelVersionHistoryKey(model.version), model.Encode()})
            .ok());
  }

  // A worker taking `partition` over: claim, model, customers, restate bounds.
  struct Owner {
    std::unique_ptr<Segmenter> segmenter;
    int64_t generation = 0;
    int64_t stored = -1;
    int64_t owed_records = 0;
  };
  Owner TakeOver(int32_t partition, int64_t batch_records = 100) {
    Owner o;
    SegmenterOptions options;
    options.model.k = 2;
    options.refresh_interval = std::chrono::milliseconds(0);
    o.segmenter = std::make_unique<Segmenter>(options, redis_.get(), producer_.get(),
                                              "owner-" + std::to_string(++owners_));
    auto claim =
        storage::PartitionStateStore(redis_.get()).Claim(storage::kCheckoutsTopic, partition);
    EXPECT_TRUE(claim.ok());
    o.generation = claim->generation;
    o.stored = claim->next_offset;
    EXPECT_TRUE(o.segmenter->Tick(std::chrono::steady_clock::now()).ok());
    EXPECT_TRUE(o.segmenter->LoadPartition(partition).ok());
    auto owed = o.segmenter->TakeOver(partition, o.generation, o.stored >= 0, batch_records);
    EXPECT_TRUE(owed.ok()) << owed.status().ToString();
    o.owed_records = owed.ok() ? *owed : -1;
    return o;
  }

  // One stage-1 cycle of `o` on `partition` as the worker runs it: the checkouts (offsets from
  // the stored one), the sweep, the restatements, a flush; then the commit if `commit`. The batch
  // comes back (committed and adopted, or not).
  using Checkouts = std::vector<std::pair<std::string, stream::CheckoutSummary>>;
  SegmentBatch Cycle(Owner& o, int32_t partition, const Checkouts& checkouts, bool commit) {
    SegmentBatch batch = o.segmenter->Begin(partition);
    const int64_t first = std::max<int64_t>(o.stored, 0);
    const int64_t n = static_cast<int64_t>(checkouts.size());
    // As the worker names a batch (ingest/worker.cc).
    batch.restate_trigger = fmt::format("g{}:{}-{}", o.generation, first, first + n);
    if (o.owed_records > 0 && n > 0) {
      batch.restate_below_offset = first + std::min(n, o.owed_records);
    }
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_TRUE(
          o.segmenter->OnCheckout(&batch, checkouts[i].first, checkouts[i].second, first + i).ok());
    }
    EXPECT_TRUE(o.segmenter->Sweep(&batch).ok());
    EXPECT_TRUE(o.segmenter->Restate(&batch).ok());
    EXPECT_TRUE(producer_->Flush(std::chrono::seconds(30)).ok());
    if (commit) {
      storage::CheckoutsCommit c;
      c.generation = o.generation;
      c.expected_offset = o.stored;
      c.next_offset = first + n;
      Segmenter::Fill(batch, &c);
      EXPECT_TRUE(storage::PartitionStateStore(redis_.get()).CommitCheckouts(partition, c).ok());
      o.stored = c.next_offset;
      o.owed_records = std::max<int64_t>(0, o.owed_records - n);
      o.segmenter->Adopt(SegmentBatch(batch));
    }
    return batch;
  }

  // The worker after a failed flush or commit: the batch will be replayed.
  static void Abandon(Owner& o, const SegmentBatch& batch, int64_t records) {
    o.owed_records = std::max(o.owed_records, records);
    o.segmenter->Abandon(batch);
  }

  // `customer`'s segment-changes in the order the topic holds them.
  std::vector<Event> Events(const std::string& customer) {
    TailOptions tail;
    tail.kafka.brokers = servers_->brokers();
    tail.topic = std::string(storage::kSegmentChangesTopic);
    tail.from_beginning = true;
    tail.idle_timeout = std::chrono::milliseconds(1000);
    std::ostringstream out;
    std::atomic<bool> stop{false};
    EXPECT_TRUE(Tail(tail, out, stop).ok());
    std::vector<std::pair<std::pair<int64_t, int64_t>, Event>> found;
    std::istringstream lines(out.str());
    for (std::string line; std::getline(lines, line);) {
      auto j = nlohmann::json::parse(line);
      if (j["customer_id"] != customer) continue;
      found.push_back({{j["_partition"].get<int64_t>(), j["_offset"].get<int64_t>()},
                       {j["event_id"], j["reason"], j["from_segment"], j["to_segment"],
                        j["model_version"], j["source_offset"]}});
    }
    std::sort(found.begin(), found.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<Event> events;
    for (auto& [position, e] : found) events.push_back(e);
    return events;
  }

  int64_t SegmetaField(int32_t partition, const std::string& field) {
    auto v = redis_->Command({"HGET", storage::SegmentMetaKey(partition), field});
    return v.ok() && !v->is_nil() ? *v->AsInt() : -1;
  }

  static app::EmbeddedServers* servers_;
  std::unique_ptr<storage::RedisConnection> redis_;
  std::unique_ptr<Producer> producer_;
  int owners_ = 0;
};

app::EmbeddedServers* SegmentRestateTest::servers_ = nullptr;

// What a consumer keeping each customer's last event sees: duplicates by event_id dropped (the
// first copy kept), then the last event's segment.
int LastAfterDedup(const std::vector<Event>& events) {
  std::set<std::string> seen;
  int last = -2;
  for (const Event& e : events) {
    if (seen.insert(e.id).second) last = e.to;
  }
  return last;
}

// After customer C's second checkout: frequency 2, monetary 10 + 1000 = 1010, basket 505,
// 1 distinct item per checkout, no returns. Model v1 puts the segments at monetary 0 and 1500:
// |1010 - 1500| = 490 < |1010 - 0| = 1010 (well past the 0.5% hysteresis), so C moves 0 -> 1.
// Model v2 moves segment 1 to 3000: |1010 - 3000| = 1990 > 1010, so C stays in 0.
const stream::FeatureVector kAfterSecond = {0, 2, 0, 505, 1, 0};

TEST_F(SegmentRestateTest, ReplayUnderNewerModelRestatesTheSegmentItKeeps) {
  Publish(Model(1, kAfterSecond, 0, 1500));
  Owner a = TakeOver(0);
  EXPECT_EQ(a.owed_records, 0);                         // a partition nobody owned: nothing owed
  Cycle(a, 0, {{"C1", Sale(10)}}, /*commit=*/true);     // offset 0: first assignment, 0
  Cycle(a, 0, {{"C1", Sale(1000)}}, /*commit=*/false);  // offset 1: 0 -> 1 sent; A dies

  Publish(Model(2, kAfterSecond, 0, 3000));
  Owner b = TakeOver(0, /*batch_records=*/50);
  EXPECT_EQ(b.owed_records, 100);                       // A's bound, recorded at A's claim
  EXPECT_EQ(SegmetaField(0, "restate_records"), 100);   // max(A's 100, B's 50)
  Cycle(b, 0, {{"C1", Sale(1000)}}, /*commit=*/false);  // C1 stays in 0: restated; B dies
  Owner c = TakeOver(0);
  SegmentBatch failed = Cycle(c, 0, {{"C1", Sale(1000)}}, /*commit=*/false);
  Abandon(c, failed, 1);  // C's flush failed: the same batch again
  SegmentBatch replayed = Cycle(c, 0, {{"C1", Sale(1000)}}, /*commit=*/true);
  EXPECT_EQ(replayed.changed.at("C1").segment, 0);

  std::vector<Event> events = Events("C1");
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].from, -1);
  EXPECT_EQ(events[0].to, 0);
  EXPECT_EQ(events[1].reason, "PURCHASE");
  EXPECT_EQ(events[1].to, 1);
  for (int i : {2, 3, 4}) {
    EXPECT_EQ(events[i].reason, "RESTATE");
    EXPECT_EQ(events[i].from, 0);
    EXPECT_EQ(events[i].to, 0);  // what Redis holds now
    EXPECT_EQ(events[i].version, 2);
    EXPECT_EQ(events[i].offset, 1);
  }
  // The same batch of the same claimant: the same id (a consumer keeps one). Another claimant's
  // restatement is another event.
  EXPECT_EQ(events[3].id, events[4].id);
  EXPECT_NE(events[2].id, events[3].id);
  EXPECT_EQ(LastAfterDedup(events), 0);
}

// C8: offset 0 a sale of 10 (segment 0); the dead batch has offset 1, a sale of 1000 (monetary
// 1010: 0 -> 1 under v1, as above), and offset 2, a return worth 900 (monetary 110: |110 - 0| <
// |110 - 1500|, 1 -> 0). v2 = {-2000, 1500}: monetary 110 is nearer 1500 (1390 < 2110).
TEST_F(SegmentRestateTest, ReplayThatResendsADeadEventEndsWithARestatement) {
  Publish(Model(1, kAfterSecond, 0, 1500));
  Owner a = TakeOver(5);
  Cycle(a, 5, {{"C8", Sale(10)}}, /*commit=*/true);
  Cycle(a, 5, {{"C8", Sale(1000)}, {"C8", Return(900)}}, /*commit=*/false);  // 0 -> 1 -> 0

  Owner b = TakeOver(5);
  // A smaller first batch under the same model re-sends 0 -> 1 verbatim: a duplicate by id,
  // which a consumer drops, so the dead batch's 1 -> 0 would stay last without a restatement.
  Cycle(b, 5, {{"C8", Sale(1000)}}, /*commit=*/true);
  Publish(Model(2, kAfterSecond, -2000, 1500));
  ASSERT_TRUE(b.segmenter->Tick(std::chrono::steady_clock::now()).ok());
  SegmentBatch last = Cycle(b, 5, {{"C8", Return(900)}}, /*commit=*/true);  // stays in 1
  EXPECT_EQ(last.changed.at("C8").segment, 1);

  std::vector<Event> events = Events("C8");
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events[1].to, 1);
  EXPECT_EQ(events[2].to, 0);
  EXPECT_EQ(events[3].id, events[1].id);  // re-sent verbatim
  EXPECT_EQ(events[4].reason, "RESTATE");
  EXPECT_EQ(events[4].to, 1);
  EXPECT_EQ(events[5].reason, "RESTATE");
  EXPECT_EQ(events[5].to, 1);
  EXPECT_EQ(LastAfterDedup(events), 1);
}

TEST_F(SegmentRestateTest, CleanReleaseLeavesNothingToRestate) {
  Publish(Model(1, kAfterSecond, 0, 3000));
  Owner a = TakeOver(1);
  Cycle(a, 1, {{"C2", Sale(10)}}, /*commit=*/true);
  ASSERT_TRUE(a.segmenter->Release(1, a.generation).ok());
  EXPECT_EQ(SegmetaField(1, "restate_records"), 0);
  EXPECT_EQ(SegmetaField(1, "restate_sweep"), 0);

  Owner b = TakeOver(1);
  EXPECT_EQ(b.owed_records, 0);
  EXPECT_FALSE(b.segmenter->RestatePending(1));
  Cycle(b, 1, {{"C2", Sale(1000)}}, /*commit=*/true);  // stays in 0 (1010 vs 3000): nothing sent
  std::vector<Event> events = Events("C2");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].from, -1);
  // A release by a worker whose claim was taken over is refused.
  EXPECT_EQ(a.segmenter->Release(1, a.generation).code(), StatusCode::kFenced);
}

TEST_F(SegmentRestateTest, AbandonedBatchIsRestatedWhenReplayed) {
  Publish(Model(1, kAfterSecond, 0, 1500));
  Owner a = TakeOver(2);
  Cycle(a, 2, {{"C3", Sale(10)}}, /*commit=*/true);
  SegmentBatch failed = Cycle(a, 2, {{"C3", Sale(1000)}}, /*commit=*/false);  // 0 -> 1 sent
  Abandon(a, failed, 1);
  EXPECT_TRUE(a.segmenter->RestatePending(2));
  Publish(Model(2, kAfterSecond, 0, 3000));
  ASSERT_TRUE(a.segmenter->Tick(std::chrono::steady_clock::now()).ok());
  Cycle(a, 2, {{"C3", Sale(1000)}}, /*commit=*/true);  // stays in 0: restated
  EXPECT_FALSE(a.segmenter->RestatePending(2));

  std::vector<Event> events = Events("C3");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].to, 1);
  EXPECT_EQ(events[2].reason, "RESTATE");
  EXPECT_EQ(events[2].to, 0);
}

// C4 after one checkout of 10: frequency 1, monetary 10, basket 10. v1: segments at monetary 10
// and 1000 -> C4 in 0. v2: 100 and 12 -> |10 - 12| = 2 < 90: the sweep moves C4 0 -> 1. v3 = v1's
// centroids: C4 stays in 0. C5 (one checkout of 500, so monetary 500; the basket coordinate adds
// the same to both distances) is in 0 under all three: |500 - 10| = 490 < 500, |500 - 100| = 400
// < 488.
const stream::FeatureVector kAfterFirst = {0, 1, 0, 10, 1, 0};

TEST_F(SegmentRestateTest, SweepOfADeadBatchIsRestated) {
  Publish(Model(1, kAfterFirst, 10, 1000));
  Owner a = TakeOver(3);
  Cycle(a, 3, {{"C4", Sale(10)}, {"C5", Sale(500)}}, /*commit=*/true);  // ends the v1 sweep
  EXPECT_EQ(SegmetaField(3, "scored_version"), 1);
  Publish(Model(2, kAfterFirst, 100, 12));
  ASSERT_TRUE(a.segmenter->Tick(std::chrono::steady_clock::now()).ok());
  Cycle(a, 3, {}, /*commit=*/false);  // the v2 sweep: 0 -> 1 sent; A dies uncommitted

  Publish(Model(3, kAfterFirst, 10, 1000));
  Owner b = TakeOver(3);
  EXPECT_TRUE(b.segmenter->RestatePending(3));  // C4: committed at v1, scored_version 1 < 3
  Cycle(b, 3, {}, /*commit=*/true);             // the v3 sweep keeps C4 in 0: restated
  EXPECT_FALSE(b.segmenter->RestatePending(3));

  std::vector<Event> events = Events("C4");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].reason, "MODEL_UPDATE");
  EXPECT_EQ(events[1].to, 1);
  EXPECT_EQ(events[2].reason, "RESTATE");
  EXPECT_EQ(events[2].from, 0);
  EXPECT_EQ(events[2].to, 0);
  EXPECT_EQ(events[2].version, 3);
  // v2, kept, shows the dead sweep left C5 where it was: nothing to restate.
  std::vector<Event> c5 = Events("C5");
  ASSERT_EQ(c5.size(), 1u);
  EXPECT_EQ(c5[0].from, -1);
  EXPECT_EQ(c5[0].to, 0);
}

TEST_F(SegmentRestateTest, WithoutTheModelEverySweptCustomerIsRestated) {
  Publish(Model(1, kAfterFirst, 10, 1000));
  Owner a = TakeOver(4);
  Cycle(a, 4, {{"C6", Sale(10)}, {"C7", Sale(500)}}, /*commit=*/true);
  Publish(Model(2, kAfterFirst, 100, 12));
  ASSERT_TRUE(a.segmenter->Tick(std::chrono::steady_clock::now()).ok());
  Cycle(a, 4, {}, /*commit=*/false);  // C6 0 -> 1 sent; A dies uncommitted
  ASSERT_TRUE(redis_->Command({"DEL", storage::ModelVersionHistoryKey(2)}).ok());  // expired
  Publish(Model(3, kAfterFirst, 10, 1000));
  Owner b = TakeOver(4);
  Cycle(b, 4, {}, /*commit=*/true);
  for (const char* customer : {"C6", "C7"}) {
    std::vector<Event> events = Events(customer);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().reason, "RESTATE") << customer;
    EXPECT_EQ(events.back().to, 0) << customer;
  }
}

}  // namespace
}  // namespace segstream::ingest
