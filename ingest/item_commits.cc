// Stage 2 commit coalescing (ingest/item_commits.h) and the worker's commit path it shares with
// stage 1 (Worker::CommitOne).
#include "ingest/item_commits.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "ingest/worker.h"
#include "storage/keys.h"

namespace segstream::ingest {

Status PendingItemSales::Fold(ItemStage* stage, const MessageBatch& batch, int64_t generation,
                              int64_t stored_offset, const ItemPartitionState& committed,
                              std::chrono::steady_clock::time_point consumed) {
  if (batch.empty()) return Status::Ok();
  if (empty()) {
    commit = storage::ItemSalesCommit{};
    commit.generation = generation;
    commit.expected_offset = stored_offset;
    state = committed;
    since = consumed;
  }
  // ItemStage::Process only adds to the commit's sums, maps and refs, and moves its offset,
  // marks and event-time fields forward record by record: folding batches one after another
  // gives the commit of their concatenation.
  records += static_cast<int64_t>(batch.size());
  return stage->Process(batch, &state, &commit);
}

void DescribedSkus::Strip(storage::ItemSalesCommit* commit) const {
  if (skus_.empty()) return;
  for (auto& [sku, delta] : commit->items) {
    if (!delta.description.empty() && skus_.count(sku) > 0) delta.description.clear();
  }
}

void DescribedSkus::Remember(const storage::ItemSalesCommit& commit) {
  for (const auto& [sku, delta] : commit.items) {
    if (skus_.size() >= capacity_) return;
    if (!delta.description.empty()) skus_.insert(sku);
  }
}

bool Worker::CommitOne(const PartitionId& id, int64_t next_offset, int64_t* previous_commit_us,
                       const std::function<Status()>& commit, const std::atomic<bool>& stop) {
  // segstream_batch_commit_seconds: an attempt that returned OK is timed, and the duration rides
  // on the partition's next commit (storage/partition_state.h). A retry carries none: the first
  // attempt may have landed with it.
  int64_t commit_us = -1;
  auto attempt = [&] {
    const auto start = Clock::now();
    Status s = commit();
    const auto took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
    commit_us = s.ok() ? took.count() : -1;
    *previous_commit_us = -1;
    return s;
  };
  Status s = attempt();
  while (s.code() == StatusCode::kUnavailable) {
    if (!ReconnectRedis(&stop)) return false;
    if (next_offset == owned_.at(id).stored_offset) {
      // A sweep-only commit leaves the offset where it was, so the offset cannot tell whether
      // it landed; it writes only absolute values, so committing it again is harmless.
      s = attempt();
      continue;
    }
    auto landed = CommitLanded(id, next_offset);
    if (!landed.ok() && landed.status().code() == StatusCode::kUnavailable) {
      // Not known whether the commit landed: never commit again blind. If it had, the retry
      // would be refused for the moved offset and taken for a fence, dropping a partition we
      // still own (no revocation would follow: a stall). Ask again after a pause.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    if (landed.ok() && *landed) {
      s = Status::Ok();
    } else if (landed.ok()) {
      s = attempt();
    } else {
      s = landed.status();
    }
  }
  if (s.code() == StatusCode::kFenced) {
    // Another worker owns the partition now: drop it; the group will revoke it from us.
    spdlog::warn("{}:{} fenced: {}", id.first, id.second, s.message());
    ++counters_.fenced_batches;
    owned_.erase(id);
    advisory_.erase(id);
    carry_.erase(id);
    if (id.first == storage::kCheckoutsTopic) segmenter_->DropPartition(id.second);
    return false;
  }
  if (!s.ok()) {
    spdlog::error("{}:{} commit failed: {}", id.first, id.second, s.ToString());
    Rewind(id);
    return false;
  }
  Owned& owned = owned_.at(id);
  owned.stored_offset = next_offset;
  owned.last_commit_us = commit_us;
  ++counters_.batches_committed;
  advisory_[id] = next_offset;
  return true;
}

Status Worker::FoldItemSales(Clock::time_point consumed) {
  for (const auto& [id, batch] : buffers_) {
    if (id.first != storage::kItemSalesTopic) continue;
    auto owned = owned_.find(id);
    if (owned == owned_.end()) continue;
    Owned& o = owned->second;
    if (Status s =
            o.pending.Fold(&item_stage_, batch, o.generation, o.stored_offset, o.items, consumed);
        !s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

Worker::Clock::time_point Worker::ItemCommitDue(const PartitionId& id, const Owned& owned) {
  // Behind its log end the partition has a backlog: latency is the backlog's, and larger commits
  // drain it sooner. The end offset is librdkafka's last-seen one: stale, it is too low (the
  // commit goes out early, as before coalescing), never too high.
  const bool caught_up = owned.position >= HighWatermark(id);
  return owned.pending.since +
         (caught_up ? options_.item_commit_interval : options_.item_commit_max_interval);
}

std::optional<Worker::Clock::time_point> Worker::NextItemCommitDue() {
  std::optional<Clock::time_point> due;
  for (const auto& [id, owned] : owned_) {
    if (owned.pending.empty()) continue;
    const auto at = ItemCommitDue(id, owned);
    if (!due || at < *due) due = at;
  }
  return due;
}

storage::ItemSalesCommit& Worker::SealPendingItemSales(const PartitionId& id, Owned* owned) {
  storage::ItemSalesCommit& commit = owned->pending.commit;
  owned->described.Strip(&commit);
  commit.high_watermark = HighWatermark(id);
  commit.previous_commit_us = owned->last_commit_us;
  return commit;
}

void Worker::CommitItemSales(const std::atomic<bool>& stop, bool all) {
  const auto now = Clock::now();
  std::vector<PartitionId> due;
  for (const auto& [id, owned] : owned_) {
    const PendingItemSales& p = owned.pending;
    if (p.empty()) continue;
    if (all || p.records >= options_.item_commit_records || now >= ItemCommitDue(id, owned)) {
      due.push_back(id);
    }
  }
  for (const PartitionId& id : due) {
    auto it = owned_.find(id);
    if (it == owned_.end()) continue;  // fenced meanwhile
    storage::ItemSalesCommit& commit = SealPendingItemSales(id, &it->second);
    if (CommitOne(
            id, commit.next_offset, &commit.previous_commit_us,
            [&] { return state_->CommitItemSales(id.second, commit); }, stop)) {
      Owned& owned = owned_.at(id);
      owned.described.Remember(owned.pending.commit);
      owned.items = std::move(owned.pending.state);
      owned.pending = {};
    } else if (auto lost = owned_.find(id); lost != owned_.end()) {
      // Not known to have landed (stopping while Redis is away): never commit it again blind.
      lost->second.pending = {};
    }
  }
}

void Worker::CommitPendingBeforeRevoke(const PartitionId& id) {
  auto it = owned_.find(id);
  if (it == owned_.end() || it->second.pending.empty()) return;
  // Once: whether or not it lands, the next owner's claim fences it and reads the offset that
  // holds, and replays from there.
  storage::ItemSalesCommit& commit = SealPendingItemSales(id, &it->second);
  if (Status s = state_->CommitItemSales(id.second, commit); s.ok()) {
    ++counters_.batches_committed;
  } else {
    spdlog::warn("{}:{} commit at revocation: {}", id.first, id.second, s.ToString());
  }
  it->second.pending = {};
}

}  // namespace segstream::ingest
