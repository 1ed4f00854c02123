// A processing worker (DESIGN §1, §5): one consumer in the group subscribed to `checkouts`
// (stage 1) and `item-sales` (stage 2). Each cycle collects a batch, runs the stages, waits for
// delivery of everything produced, then makes one atomic Redis call per partition batch.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "ingest/item_commits.h"
#include "ingest/kafka.h"
#include "ingest/segmenter.h"
#include "ingest/stages.h"
#include "storage/partition_state.h"
#include "storage/redis_client.h"

namespace segstream::ingest {

struct WorkerOptions {
  KafkaOptions kafka;
  storage::RedisOptions redis;
  // A cycle ends after this many records or this long, whichever comes first: large enough to
  // amortise the Redis round trip and the producer flush, small enough to keep latency low.
  int max_batch_records = 20000;
  std::chrono::milliseconds max_batch_wait{20};
  // A checkouts partition's batch holds at most twice as many records as its previous one (at
  // least this many, at most max_batch_records); each commit records that bound with the offset.
  // It is how many records a next owner must treat as possibly processed by a worker that died
  // uncommitted, and restate the segments of (ingest/segmenter.h, RESTATE): with the fixed
  // max_batch_records every takeover restated the rest of the stream in the kill -9 test. The
  // floor keeps a burst after a quiet spell from being held back; `segstream bench e2e` (100k
  // checkouts, backlog) measured no throughput change beyond run-to-run noise (6.6k-8.3k/s).
  int64_t min_batch_cap = 1000;
  // Stage 2 folds a partition's batches of several cycles into one commit (ingest/item_commits.h)
  // until it holds item_commit_records records, or its oldest record was consumed
  // item_commit_interval ago and the partition is caught up (nothing more to fetch: waiting costs
  // latency alone), or item_commit_max_interval ago (behind, latency is the backlog's anyway and
  // fewer commits drain it sooner). A graceful stop or revocation commits what is pending. Memory:
  // per partition at most item_commit_records plus one cycle's records, as per-sku sums and refs.
  // Folded records count as not yet applied for back-pressure (max_item_sales_backlog): they are
  // still only in the topic. Measured on this 2-core box, shared and noisy, alternating runs:
  // `segstream bench e2e` pipeline +8 to +25% in 5 of 6 pairs (e.g. 3,990 against 3,467
  // checkouts/s), Redis time in EVALSHA during `segstream run` -3 to -14%, its wall time and the
  // latency mode unchanged within noise. The panes' counters, per (sku, pane), dominate the
  // script on a replay at full speed (a commit spans many hourly panes) and do not shrink with
  // larger commits; `bench/item_commit_bench` times the script.
  int64_t item_commit_records = 10000;
  std::chrono::milliseconds item_commit_interval{20};
  std::chrono::milliseconds item_commit_max_interval{250};
  // Per item-sales partition, at most this many skus are remembered as described since the claim
  // (their descriptions are then no longer sent, DescribedSkus); past it they are always sent.
  size_t item_described_skus = 1'000'000;
  // Event-time panes and their retention (stage 2).
  stream::WindowOptions windows;
  // How long a cycle waits for its produced records to be acknowledged.
  std::chrono::milliseconds flush_timeout{30000};
  // Longest back-off between Redis reconnect attempts.
  std::chrono::milliseconds max_backoff{2000};
  // Stage-1 back-pressure: while more item-sales records than this are produced but not yet
  // applied by stage 2 (all workers), stage 1 pauses. Bounds the internal topic's backlog, which
  // the embedded broker would otherwise truncate at 5 MiB per partition (KAFKA_MOCK.md).
  int64_t max_item_sales_backlog = 100000;
  // With a cooperative assignment strategy, Kafka's advisory offsets are committed at most this
  // often and only while the group is steady (CommitAdvisory in worker.cc). Kafka's own
  // auto.commit.interval.ms defaults to 5 s; lag tooling reads no faster.
  std::chrono::milliseconds cooperative_commit_interval{5000};
  // Customer segments (stage 1): model size, init threshold, refresh and sweep pacing.
  SegmenterOptions segments;
  // > 0: no consumer group. The process owns partitions [0, static_partitions) of both topics,
  // dealt round-robin over RunWorkers' threads. For `segstream run`, one process that owns
  // everything: it skips the group join (3 s on the embedded broker, KAFKA_MOCK.md). Fencing is
  // unchanged: each partition is claimed in Redis as on a group assignment.
  int static_partitions = 0;
  // Set by RunWorkers from static_partitions: the partitions this worker owns.
  std::vector<int32_t> owned_partitions;
};

struct WorkerCounters {
  std::atomic<int64_t> records_consumed{0};
  std::atomic<int64_t> batches_committed{0};
  std::atomic<int64_t> fenced_batches{0};
  std::atomic<int64_t> retried_batches{0};
  std::atomic<int64_t> backpressure_pauses{0};
};

class Worker {
 public:
  static Result<std::unique_ptr<Worker>> Create(const WorkerOptions& options);
  ~Worker();

  // Runs until `stop` becomes true, then finishes the cycle in hand, leaves the group and returns.
  Status Run(const std::atomic<bool>& stop);
  const WorkerCounters& counters() const { return counters_; }

 private:
  struct Owned {
    int64_t generation = 0;
    int64_t stored_offset = -1;   // next offset per Redis; -1 = none committed
    int64_t position = -1;        // next offset expected from the consumer
    ItemPartitionState items;     // stage 2 only: as of stored_offset
    PendingItemSales pending;     // stage 2 only: from stored_offset to position, uncommitted
    DescribedSkus described;      // stage 2 only
    int64_t last_commit_us = -1;  // not yet recorded (storage::kCommitBucketBounds); -1 = none
    // Stage 1: records from the stored offset that replay a dead owner's uncommitted batch, whose
    // customers are restated (ingest/segmenter.h, RESTATE); the most records the next batch may
    // hold (WorkerOptions::min_batch_cap), as recorded with the last commit.
    int64_t restate_records = 0;
    int64_t batch_cap = 0;
  };
  using PartitionId = std::pair<std::string, int32_t>;
  using Clock = std::chrono::steady_clock;
  class Rebalancer;

  explicit Worker(WorkerOptions options);
  Status Cycle(const std::atomic<bool>& stop);
  void OnAssign(std::vector<RdKafka::TopicPartition*>& partitions, const std::atomic<bool>* stop);
  // `lost`: taken away without a revocation (session timeout, librdkafka#4059).
  void OnRevoke(std::vector<RdKafka::TopicPartition*>& partitions, bool lost);
  // Retries until Redis answers or `stop`; false if stopped.
  bool ReconnectRedis(const std::atomic<bool>* stop);
  // After a commit whose reply was lost: did it land? (generation unchanged, offset moved).
  Result<bool> CommitLanded(const PartitionId& id, int64_t next_offset);
  // Seeks back to the stored offset; what was consumed past it is dropped (pending included).
  void Rewind(const PartitionId& id);
  // One atomic commit of `id` up to `next_offset` (retries, fences; see item_commits.cc). True if
  // it landed. `previous_commit_us` is the commit's field carrying the last commit's duration.
  bool CommitOne(const PartitionId& id, int64_t next_offset, int64_t* previous_commit_us,
                 const std::function<Status()>& commit, const std::atomic<bool>& stop);
  // Stage 2: folds this cycle's item-sales records into their partitions' pending commits.
  Status FoldItemSales(Clock::time_point consumed);
  // The pending item-sales commit of `id` as it goes out: known descriptions stripped, the log
  // end and the last commit's duration filled in.
  storage::ItemSalesCommit& SealPendingItemSales(const PartitionId& id, Owned* owned);
  // Commits the pending item-sales commits that are due (all of them if `all`).
  void CommitItemSales(const std::atomic<bool>& stop, bool all);
  // A partition being revoked: one attempt to commit what is pending (the fence guards it).
  void CommitPendingBeforeRevoke(const PartitionId& id);
  // When the first pending item-sales commit falls due, if any.
  std::optional<Clock::time_point> NextItemCommitDue();
  Clock::time_point ItemCommitDue(const PartitionId& id, const Owned& owned);
  int64_t HighWatermark(const PartitionId& id);
  // Pauses stage 1 while stage 2 lags too far behind; resumes from the committed offset.
  void ApplyBackpressure();
  // A stage-1 batch produced but not committed, to be replayed.
  void Abandon(const PartitionId& id, const SegmentBatch& batch);
  // The bound of a checkouts partition's next batch after one of `records` records.
  int64_t NextBatchCap(int64_t records) const;
  // Sends the Kafka offsets of the batches committed to Redis since the last time, if allowed.
  void CommitAdvisory();

  WorkerOptions options_;
  WorkerCounters counters_;
  std::unique_ptr<Rebalancer> rebalancer_;
  std::unique_ptr<GroupStateTracker> group_state_;  // cooperative protocols only
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::unique_ptr<Producer> producer_;
  std::unique_ptr<storage::RedisConnection> redis_;
  std::unique_ptr<storage::PartitionStateStore> state_;
  std::map<PartitionId, Owned> owned_;
  std::map<PartitionId, MessageBatch> buffers_;
  // Consumed checkouts records over their partition's batch_cap, first in the next cycle.
  std::map<PartitionId, MessageBatch> carry_;
  std::unique_ptr<CheckoutStage> checkout_stage_;
  std::unique_ptr<Segmenter> segmenter_;
  std::chrono::steady_clock::time_point segment_warned_{};
  ItemStage item_stage_;
  const std::atomic<bool>* stop_ = nullptr;
  bool stage1_paused_ = false;
  bool failed_ = false;  // a cycle failed: the process stops
  std::chrono::steady_clock::time_point backlog_checked_{};
  std::map<PartitionId, int64_t> advisory_;  // Kafka offsets to commit (advisory)
  std::chrono::steady_clock::time_point advisory_committed_{};
};

// Runs `threads` workers (one consumer each, one group) until `stop`; the first error wins.
Status RunWorkers(const WorkerOptions& options, int threads, const std::atomic<bool>& stop);

}  // namespace segstream::ingest
