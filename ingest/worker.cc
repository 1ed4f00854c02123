#include "ingest/worker.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <thread>

#include "ingest/failpoints.h"
#include "storage/keys.h"
#include "storage/snapshot_reader.h"

namespace segstream::ingest {

using Clock = std::chrono::steady_clock;

class Worker::Rebalancer : public RdKafka::RebalanceCb {
 public:
  explicit Rebalancer(Worker* worker) : worker_(worker) {}
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    // Nothing here commits to Kafka: a commit during a cooperative rebalance gets
    // ILLEGAL_GENERATION and loses every partition on the mock (KAFKA_MOCK.md); the advisory
    // commitAsync stays in Cycle().
    const std::string protocol = consumer->rebalance_protocol();
    const bool cooperative = protocol == "COOPERATIVE";
    if (err != RdKafka::ERR__ASSIGN_PARTITIONS && err != RdKafka::ERR__REVOKE_PARTITIONS) {
      // Neither: librdkafka asks for the whole assignment to be dropped (rdkafkacpp.h).
      spdlog::error("rebalance failed: {}", RdKafka::err2str(err));
      std::vector<RdKafka::TopicPartition*> all;
      for (const auto& [id, owned] : worker_->owned_) {
        all.push_back(RdKafka::TopicPartition::create(id.first, id.second));
      }
      worker_->OnRevoke(all, /*lost=*/true);
      consumer->resume(all);
      for (auto* tp : all) delete tp;
      consumer->unassign();
      return;
    }
    spdlog::info("rebalance ({}): {} {} partitions", protocol,
                 err == RdKafka::ERR__ASSIGN_PARTITIONS ? "assign" : "revoke", partitions.size());
    // A cooperative rebalance comes in two rounds, and membership changes come in bursts: the
    // advisory commits wait a full interval after each callback (CommitAdvisory).
    worker_->advisory_committed_ = Clock::now();
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      worker_->OnAssign(partitions, worker_->stop_);
      if (cooperative) {
        // KIP-429: only the partitions added come in; the rest stay assigned, fetching or paused
        // as they were.
        Check(consumer->incremental_assign(partitions), "incremental_assign");
      } else {
        consumer->assign(partitions);
      }
      // librdkafka keeps an application pause on a partition across unassign/assign (only its
      // own LIB_PAUSE flag is reset on removal, rdkafka_assignment.c; librdkafka#1849). A
      // checkouts partition paused for back-pressure, revoked, and assigned again after the
      // worker resumed the partitions it then owned would never be fetched again: a silent
      // stall, seen in the kill -9 fault test. So an assigned partition starts unpaused; the
      // next cycle pauses again if the backlog still calls for it. An eager assignment is the
      // whole set, so stage 1 starts unpaused. A cooperative one adds to partitions that may be
      // paused: the new checkouts partitions join the pause (ApplyBackpressure resumes and
      // rewinds every owned one together).
      consumer->resume(partitions);
      if (!cooperative) {
        worker_->stage1_paused_ = false;
      } else if (worker_->stage1_paused_) {
        std::vector<RdKafka::TopicPartition*> stage1;
        for (RdKafka::TopicPartition* tp : partitions) {
          if (tp->topic() == storage::kCheckoutsTopic) stage1.push_back(tp);
        }
        if (!stage1.empty()) consumer->pause(stage1);
      }
    } else {
      const bool lost = consumer->assignment_lost();
      if (lost) spdlog::warn("{} partitions lost (not revoked in time)", partitions.size());
      worker_->OnRevoke(partitions, lost);
      consumer->resume(partitions);
      if (cooperative) {
        Check(consumer->incremental_unassign(partitions), "incremental_unassign");
      } else {
        consumer->unassign();
      }
    }
  }

 private:
  static void Check(RdKafka::Error* error, const char* what) {
    std::unique_ptr<RdKafka::Error> owned(error);
    if (owned) spdlog::error("{}: {}", what, owned->str());
  }

  Worker* worker_;
};

Worker::Worker(WorkerOptions options)
    : options_(std::move(options)), item_stage_(options_.windows) {}
Worker::~Worker() = default;

Result<std::unique_ptr<Worker>> Worker::Create(const WorkerOptions& options) {
  std::unique_ptr<Worker> w(new Worker(options));
  auto redis = storage::RedisConnection::Connect(options.redis);
  if (!redis.ok()) return redis.status();
  w->redis_ = std::make_unique<storage::RedisConnection>(std::move(*redis));
  w->state_ = std::make_unique<storage::PartitionStateStore>(w->redis_.get());
  auto producer = Producer::Create(options.kafka);
  if (!producer.ok()) return producer.status();
  w->producer_ = std::move(*producer);
  w->checkout_stage_ = std::make_unique<CheckoutStage>(w->producer_.get());
  // The model lease needs an id unique to this worker instance, across processes and threads.
  std::random_device random;
  const std::string owner =
      std::to_string(::getpid()) + "-" + std::to_string(random()) + std::to_string(random());
  w->segmenter_ =
      std::make_unique<Segmenter>(options.segments, w->redis_.get(), w->producer_.get(), owner);
  w->rebalancer_ = std::make_unique<Rebalancer>(w.get());
  if (options.kafka.assignment_strategy == "cooperative-sticky") {
    w->group_state_ = std::make_unique<GroupStateTracker>();
  }
  auto consumer = CreateConsumer(options.kafka, w->rebalancer_.get(), w->group_state_.get());
  if (!consumer.ok()) return consumer.status();
  w->consumer_ = std::move(*consumer);
  return w;
}

bool Worker::ReconnectRedis(const std::atomic<bool>* stop) {
  auto backoff = std::chrono::milliseconds(50);
  while (!(stop && stop->load())) {
    Status s = redis_->Reconnect();
    if (s.ok()) return true;
    spdlog::warn("redis unavailable ({}); retrying in {} ms", s.message(), backoff.count());
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  return false;
}

void Worker::OnAssign(std::vector<RdKafka::TopicPartition*>& partitions,
                      const std::atomic<bool>* stop) {
  for (RdKafka::TopicPartition* tp : partitions) {
    PartitionId id{tp->topic(), tp->partition()};
    buffers_.erase(id);
    carry_.erase(id);
    Result<storage::PartitionClaim> claim = state_->Claim(id.first, id.second);
    while (!claim.ok()) {
      spdlog::warn("claim {}:{}: {}", id.first, id.second, claim.status().ToString());
      if (!ReconnectRedis(stop)) return;
      claim = state_->Claim(id.first, id.second);
    }
    Owned owned;
    owned.generation = claim->generation;
    owned.stored_offset = claim->next_offset;
    owned.position = claim->next_offset < 0 ? 0 : claim->next_offset;
    owned.items.hwm = claim->source_hwm;
    owned.items.max_event_ms = claim->max_event_ms;
    owned.batch_cap = NextBatchCap(0);
    owned.described = DescribedSkus(options_.item_described_skus);
    // Redis holds the offset of record (DESIGN §5); a new group starts at the earliest offset.
    tp->set_offset(claim->next_offset < 0 ? RdKafka::Topic::OFFSET_BEGINNING : claim->next_offset);
    if (id.first == storage::kCheckoutsTopic) {
      // Stage 1's customers and segment statistics, as committed with that offset.
      Status loaded = segmenter_->LoadPartition(id.second);
      while (!loaded.ok()) {
        spdlog::warn("load segments of {}:{}: {}", id.first, id.second, loaded.ToString());
        if (loaded.code() != StatusCode::kUnavailable || !ReconnectRedis(stop)) return;
        loaded = segmenter_->LoadPartition(id.second);
      }
      // What a dead previous owner may have sent without committing is restated on replay.
      auto owed = segmenter_->TakeOver(id.second, owned.generation, claim->next_offset >= 0,
                                       owned.batch_cap);
      while (!owed.ok() && owed.status().code() == StatusCode::kUnavailable) {
        spdlog::warn("restate bounds of {}:{}: {}", id.first, id.second, owed.status().ToString());
        if (!ReconnectRedis(stop)) return;
        owed = segmenter_->TakeOver(id.second, owned.generation, claim->next_offset >= 0,
                                    owned.batch_cap);
      }
      if (owed.ok()) {
        owned.restate_records = *owed;
        // The whole window in the first batch if it comes in time: each of its customers is then
        // restated once, not once per batch (the bound recorded at claim covers it).
        owned.batch_cap = std::clamp<int64_t>(*owed, owned.batch_cap, options_.max_batch_records);
      } else if (owed.status().code() != StatusCode::kFenced) {  // fenced: its commits will be
        spdlog::error("restate bounds of {}:{}: {}", id.first, id.second, owed.status().ToString());
        owned.restate_records = options_.max_batch_records;
      }
    }
    spdlog::info("assigned {}:{} generation {} from offset {}", id.first, id.second,
                 owned.generation, claim->next_offset);
    owned_[id] = std::move(owned);
  }
}

void Worker::OnRevoke(std::vector<RdKafka::TopicPartition*>& partitions, bool lost) {
  for (RdKafka::TopicPartition* tp : partitions) {
    PartitionId id{tp->topic(), tp->partition()};
    auto owned = owned_.find(id);
    if (owned != owned_.end()) {
      spdlog::info("revoked {}:{}", id.first, id.second);
      // Revoked between cycles, so no batch is in flight: with nothing owed either, the next
      // owner has nothing to restate. A lost partition may be owned by another already.
      if (!lost && !failed_ && id.first == storage::kCheckoutsTopic &&
          owned->second.restate_records == 0 && segmenter_->Owns(id.second) &&
          !segmenter_->RestatePending(id.second)) {
        if (Status s = segmenter_->Release(id.second, owned->second.generation); !s.ok()) {
          spdlog::warn("release {}:{}: {}", id.first, id.second, s.ToString());
        }
      }
      if (!lost && !failed_ && id.first == storage::kItemSalesTopic) CommitPendingBeforeRevoke(id);
    }
    owned_.erase(id);
    advisory_.erase(id);
    buffers_.erase(id);  // uncommitted: the next owner replays them from Redis's offset
    carry_.erase(id);
    if (id.first == storage::kCheckoutsTopic) segmenter_->DropPartition(id.second);
  }
}

Result<bool> Worker::CommitLanded(const PartitionId& id, int64_t next_offset) {
  auto reply = redis_->Command(
      {"HMGET", storage::PartitionKey(id.first, id.second, "meta"), "gen", "offset"});
  if (!reply.ok()) return reply.status();
  // A restarted Redis accepts connections while it replays its AOF and answers -LOADING: that
  // error reply has no elements (reading them threw std::out_of_range and killed the worker in
  // the Redis fault test). Ask again once it has loaded.
  if (reply->is_error()) return Status::Unavailable("redis: " + reply->str);
  if (reply->elements.size() != 2) return Status::Corruption("HMGET reply for " + id.first);
  auto gen = reply->elements[0].AsInt();
  auto offset = reply->elements[1].AsInt();
  if (!gen.ok() || !offset.ok()) return Status::Corruption("bad meta for " + id.first);
  const Owned& owned = owned_.at(id);
  if (*gen != owned.generation)
    return Status::Fenced("generation moved to " + std::to_string(*gen));
  return *offset == next_offset;
}

void Worker::Rewind(const PartitionId& id) {
  auto it = owned_.find(id);
  if (it == owned_.end()) return;
  int64_t target =
      it->second.stored_offset < 0 ? RdKafka::Topic::OFFSET_BEGINNING : it->second.stored_offset;
  std::unique_ptr<RdKafka::TopicPartition> tp(
      RdKafka::TopicPartition::create(id.first, id.second, target));
  RdKafka::ErrorCode err = consumer_->seek(*tp, 5000);
  if (err != RdKafka::ERR_NO_ERROR) {
    spdlog::error("seek {}:{} to {}: {}", id.first, id.second, target, RdKafka::err2str(err));
  }
  it->second.position = std::max<int64_t>(it->second.stored_offset, 0);
  it->second.pending = {};  // stage 2: replayed from the stored offset, its marks drop nothing new
  carry_.erase(id);         // fetched again from the stored offset
  ++counters_.retried_batches;
}

int64_t Worker::HighWatermark(const PartitionId& id) {
  int64_t low = -1, high = -1;
  consumer_->get_watermark_offsets(id.first, id.second, &low, &high);
  return high;
}

void Worker::ApplyBackpressure() {
  auto now = Clock::now();
  if (now - backlog_checked_ < std::chrono::milliseconds(50)) return;
  backlog_checked_ = now;
  std::vector<RdKafka::TopicPartition*> stage1;
  for (const auto& [id, owned] : owned_) {
    if (id.first == storage::kCheckoutsTopic) {
      stage1.push_back(RdKafka::TopicPartition::create(id.first, id.second));
    }
  }
  if (stage1.empty()) {
    stage1_paused_ = false;
    return;
  }
  storage::SnapshotReader reader(redis_.get());
  auto status = reader.ReadStatus();
  if (status.ok()) {
    const int64_t backlog = status->item_sales_produced - status->item_sales_applied;
    if (!stage1_paused_ && backlog > options_.max_item_sales_backlog) {
      consumer_->pause(stage1);
      stage1_paused_ = true;
      ++counters_.backpressure_pauses;
      spdlog::info("stage 1 paused: item-sales backlog {}", backlog);
      for (auto* tp : stage1) {
        buffers_.erase({tp->topic(), tp->partition()});
        carry_.erase({tp->topic(), tp->partition()});  // refetched by the rewind on resume
      }
    } else if (stage1_paused_ && backlog <= options_.max_item_sales_backlog / 2) {
      consumer_->resume(stage1);
      stage1_paused_ = false;
      spdlog::info("stage 1 resumed: item-sales backlog {}", backlog);
      // Records fetched before the pause may have been dropped: restart from the committed offset.
      for (auto* tp : stage1) Rewind({tp->topic(), tp->partition()});
    }
  }
  for (auto* tp : stage1) delete tp;
}

Status Worker::Cycle(const std::atomic<bool>& stop) {
  buffers_.clear();
  CommitAdvisory();  // what a cooperative group held back
  ApplyBackpressure();
  if (Status s = segmenter_->Tick(Clock::now()); !s.ok()) {
    // The model is re-read next interval; say so at most every 10 s.
    if (Clock::now() - segment_warned_ > std::chrono::seconds(10)) {
      spdlog::warn("segment model upkeep: {}", s.ToString());
      segment_warned_ = Clock::now();
    }
  }
  // Records held over from the last cycle by a partition's batch_cap come first.
  int carried = 0;
  for (auto it = carry_.begin(); it != carry_.end();) {
    auto owned = owned_.find(it->first);
    if (owned == owned_.end()) {
      it = carry_.erase(it);
      continue;
    }
    carried += static_cast<int>(it->second.size());
    const auto take = std::min<size_t>(it->second.size(), owned->second.batch_cap);
    MessageBatch& batch = buffers_[it->first];
    std::move(it->second.begin(), it->second.begin() + static_cast<std::ptrdiff_t>(take),
              std::back_inserter(batch));
    it->second.erase(it->second.begin(), it->second.begin() + static_cast<std::ptrdiff_t>(take));
    it = it->second.empty() ? carry_.erase(it) : std::next(it);
  }
  int collected = carried;  // memory: at most max_batch_records records held, carried included
  const auto consumed = Clock::now();
  // A cycle ends no later than the first pending stage-2 commit falls due.
  const auto deadline = std::min(consumed + options_.max_batch_wait,
                                 NextItemCommitDue().value_or(consumed + options_.max_batch_wait));
  while (collected < options_.max_batch_records && !stop.load()) {
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (remaining.count() <= 0) break;
    std::unique_ptr<RdKafka::Message> m(consumer_->consume(static_cast<int>(remaining.count())));
    if (m->err() == RdKafka::ERR__TIMED_OUT) break;
    if (m->err() == RdKafka::ERR__PARTITION_EOF) continue;
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      spdlog::warn("consume: {}", m->errstr());
      continue;
    }
    PartitionId id{m->topic_name(), m->partition()};
    if (stage1_paused_ && id.first == storage::kCheckoutsTopic) continue;  // refetched on resume
    auto owned = owned_.find(id);
    if (owned == owned_.end() || m->offset() < owned->second.position) continue;  // stale
    if (m->offset() > owned->second.position && owned->second.position > 0) {
      spdlog::warn("{}:{} skipped from offset {} to {} (log truncated by the broker?)", id.first,
                   id.second, owned->second.position, m->offset());
    }
    owned->second.position = m->offset() + 1;
    MessageBatch& batch = buffers_[id];
    if (id.first == storage::kCheckoutsTopic &&
        (carry_.count(id) > 0 || static_cast<int64_t>(batch.size()) >= owned->second.batch_cap)) {
      carry_[id].push_back(std::move(m));  // over the bound the last commit recorded: next cycle
    } else {
      batch.push_back(std::move(m));
    }
    ++collected;
  }
  counters_.records_consumed += collected - carried;

  // Stage 1 produces everything first; one flush covers every partition of the cycle. A partition
  // with no records but a re-scoring sweep in progress commits too (its offset unchanged).
  std::map<PartitionId, storage::CheckoutsCommit> stage1;
  std::map<PartitionId, SegmentBatch> segments;
  for (const auto& [id, owned] : owned_) {
    if (id.first != storage::kCheckoutsTopic) continue;
    auto records = buffers_.find(id);
    const bool has_records = records != buffers_.end() && !records->second.empty();
    if (!has_records && (owned.stored_offset < 0 || !segmenter_->SweepPending(id.second))) {
      continue;
    }
    storage::CheckoutsCommit& commit = stage1[id];
    commit.generation = owned.generation;
    commit.expected_offset = owned.stored_offset;
    commit.next_offset = owned.stored_offset;
    SegmentBatch* batch = nullptr;
    if (segmenter_->Owns(id.second)) {
      batch = &segments.emplace(id, segmenter_->Begin(id.second)).first->second;
      const int64_t first = std::max<int64_t>(owned.stored_offset, 0);
      batch->restate_trigger =
          fmt::format("g{}:{}-{}", owned.generation, first,
                      has_records ? records->second.back()->offset() + 1 : first);
      if (has_records && owned.restate_records > 0) {
        // The first restate_records records from the stored offset replay a dead owner's batch.
        const MessageBatch& replayed = records->second;
        batch->restate_below_offset = owned.restate_records >= static_cast<int64_t>(replayed.size())
                                          ? replayed.back()->offset() + 1
                                          : replayed[owned.restate_records]->offset();
      }
    }
    if (has_records) {
      if (Status s = checkout_stage_->Process(id.second, records->second, &commit, segmenter_.get(),
                                              batch);
          !s.ok()) {
        return s;
      }
    }
    if (batch != nullptr) {
      if (Status s = segmenter_->Sweep(batch); !s.ok()) return s;
      if (Status s = segmenter_->Restate(batch); !s.ok()) return s;
      Segmenter::Fill(*batch, &commit);
    }
    // How many records past the new offset a next owner restates if this worker dies with its
    // next batch of the partition uncommitted (ingest/segmenter.h): what is left of a previous
    // owner's window, or that next batch's bound, recorded with the offset.
    const int64_t n = has_records ? static_cast<int64_t>(records->second.size()) : 0;
    commit.segment_meta["restate_records"] =
        std::max(std::max<int64_t>(0, owned.restate_records - n), NextBatchCap(n));
    commit.high_watermark = HighWatermark(id);
  }
  // Stage 2 folds its records whatever becomes of stage 1's: a failed flush must not drop them
  // (their offsets are consumed) and they depend on nothing stage 1 commits.
  if (Status s = FoldItemSales(consumed); !s.ok()) return s;
  if (buffers_.empty() && stage1.empty()) {
    CommitItemSales(stop, /*all=*/stop.load());
    return Status::Ok();
  }
  if (!stage1.empty()) {
    if (Status s = producer_->Flush(options_.flush_timeout); !s.ok()) {
      // Nothing of this cycle is committed: replay it (downstream drops the duplicates).
      spdlog::warn("delivery failed, replaying the batch: {}", s.message());
      for (const auto& entry : stage1) Rewind(entry.first);
      for (const auto& [id, batch] : segments) Abandon(id, batch);
      return Status::Ok();
    }
  }

  failpoints::MaybeStopBeforeCommit();
  for (auto& [id, commit] : stage1) {
    commit.previous_commit_us = owned_.at(id).last_commit_us;
    if (CommitOne(
            id, commit.next_offset, &commit.previous_commit_us,
            [&] { return state_->CommitCheckouts(id.second, commit); }, stop)) {
      Owned& owned = owned_.at(id);
      auto records = buffers_.find(id);
      const int64_t n =
          records == buffers_.end() ? 0 : static_cast<int64_t>(records->second.size());
      owned.restate_records = std::max<int64_t>(0, owned.restate_records - n);
      owned.batch_cap = NextBatchCap(n);
      if (auto batch = segments.find(id); batch != segments.end()) {
        segmenter_->Adopt(std::move(batch->second));
      }
    } else if (auto batch = segments.find(id); batch != segments.end()) {
      Abandon(id, batch->second);  // replayed (a fenced partition is dropped: nothing to do)
    }
  }
  CommitItemSales(stop, /*all=*/stop.load());
  CommitAdvisory();
  return Status::Ok();
}

void Worker::Abandon(const PartitionId& id, const SegmentBatch& batch) {
  // Its events are out; its replay restates the customers of its records (ingest/segmenter.h).
  auto owned = owned_.find(id);
  if (owned == owned_.end()) return;
  auto records = buffers_.find(id);
  if (records != buffers_.end()) {
    owned->second.restate_records = std::max<int64_t>(owned->second.restate_records,
                                                      static_cast<int64_t>(records->second.size()));
  }
  segmenter_->Abandon(batch);
}

int64_t Worker::NextBatchCap(int64_t records) const {
  // Twice the last batch: a burst is followed within a few 20 ms cycles, while the window a crash
  // leaves to restate stays about two batches, not max_batch_records.
  const int64_t most = options_.max_batch_records;
  return std::clamp<int64_t>(2 * records, std::min(options_.min_batch_cap, most), most);
}

void Worker::CommitAdvisory() {
  // Kafka's group offsets are advisory (lag tooling); Redis's are the record (DESIGN §5). Eager
  // protocols commit every cycle. Cooperative commits wait for a steady group (librdkafka#4059,
  // see GroupStateTracker) and go out at most every cooperative_commit_interval, counted from the
  // last commit or rebalance callback, so a commit rarely meets a rebalance the statistics have
  // not reported yet (only one starting within their staleness, ~20 ms, of the commit). In
  // tests/fault_rebalance.py with cooperative-sticky: commits every cycle lost an assignment in
  // every run; gated on `steady` alone, in 3 of 12 runs (a commit right after one rebalance met
  // the next); with the wait after callbacks too, in 1 of 15.
  if (advisory_.empty()) return;
  if (group_state_ != nullptr) {
    if (!group_state_->steady()) return;
    if (Clock::now() - advisory_committed_ < options_.cooperative_commit_interval) return;
  }
  advisory_committed_ = Clock::now();
  std::vector<RdKafka::TopicPartition*> offsets;
  for (const auto& [id, offset] : advisory_) {
    offsets.push_back(RdKafka::TopicPartition::create(id.first, id.second, offset));
  }
  advisory_.clear();
  consumer_->commitAsync(offsets);
  for (auto* tp : offsets) delete tp;
}

Status Worker::Run(const std::atomic<bool>& stop) {
  stop_ = &stop;
  // Static assignment: claimed and assigned here, as the rebalance callback would.
  std::vector<RdKafka::TopicPartition*> owned;
  for (std::string_view topic : {storage::kCheckoutsTopic, storage::kItemSalesTopic}) {
    for (int32_t p : options_.owned_partitions) {
      owned.push_back(RdKafka::TopicPartition::create(std::string(topic), p));
    }
  }
  RdKafka::ErrorCode err = RdKafka::ERR_NO_ERROR;
  if (owned.empty()) {
    err = consumer_->subscribe(
        {std::string(storage::kCheckoutsTopic), std::string(storage::kItemSalesTopic)});
  } else {
    OnAssign(owned, &stop);
    err = consumer_->assign(owned);
  }
  if (err != RdKafka::ERR_NO_ERROR) {
    RdKafka::TopicPartition::destroy(owned);
    return Status::Unavailable("subscribe/assign: " + RdKafka::err2str(err));
  }
  Status result;
  while (!stop.load()) {
    result = Cycle(stop);
    if (!result.ok()) {
      failed_ = true;  // a batch may be half produced: leave its partitions unreleased
      break;
    }
  }
  if (!owned.empty()) {
    OnRevoke(owned, /*lost=*/false);
    consumer_->unassign();
    RdKafka::TopicPartition::destroy(owned);
  }
  consumer_->close();  // leaves the group; revokes through the rebalance callback
  if (Status s = producer_->Flush(options_.flush_timeout); !s.ok()) {
    spdlog::warn("final flush: {}", s.message());
  }
  return result;
}

}  // namespace segstream::ingest
