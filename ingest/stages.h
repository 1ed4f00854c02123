// The two processing stages of DESIGN §1, each turning one partition batch into produced records
// and one atomic commit. Stateless between batches apart from what Redis hands back at claim.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <vector>

#include "ingest/item_sales.h"
#include "ingest/kafka.h"
#include "ingest/segmenter.h"
#include "ingest/validate.h"
#include "segstream.pb.h"
#include "storage/partition_state.h"
#include "stream/windows.h"

namespace segstream::ingest {

using MessageBatch = std::vector<std::unique_ptr<RdKafka::Message>>;

// A `too_large` record is dead-lettered as its first this many bytes, with the original size in
// the `segstream.error.original_size` header; every other DLQ record carries its original bytes.
inline constexpr size_t kDlqTooLargePrefixBytes = 64 << 10;

// Stage 1 (checkouts → item-sales, DLQ): decode and validate, dead-letter with reason headers,
// repartition each checkout's lines by sku, and keep each checkout's basket for "bought together"
// (stream/together.h): the distinct sale skus of a checkout with 2..max_basket_for_pairs of them
// go into the commit; a checkout with more is counted as capped. Produces; the caller flushes,
// then commits.
class CheckoutStage {
 public:
  explicit CheckoutStage(Producer* producer, ItemSalesOptions options = {})
      : producer_(producer), options_(options) {}

  // Fills `commit` (counters, next offset); `commit.generation/expected_offset` are the caller's.
  // Each valid checkout of a known customer also goes to `segmenter` (if given) into `segments`.
  Status Process(int32_t partition, const MessageBatch& batch, storage::CheckoutsCommit* commit,
                 Segmenter* segmenter = nullptr, SegmentBatch* segments = nullptr);

 private:
  Producer* producer_;
  ItemSalesOptions options_;
  v1::Checkout checkout_;  // reused: no per-event allocation once warmed up
  std::vector<v1::ItemSale> sales_;
  std::string buffer_;
  std::vector<std::string_view> basket_;
};

// What stage 2 keeps per item-sales partition between batches (restored from Redis at claim).
struct ItemPartitionState {
  std::map<int32_t, storage::HighWaterMark> hwm;  // per stage-1 source partition
  int64_t max_event_ms = 0;                       // newest event applied: drives pane retention
};

// Stage 2 (item-sales → per-sku counters): drops replayed records by the per-source high-water
// mark kept in the same atomic state, aggregates the rest into per-sku deltas for window `all`
// and per event-time pane for the `last <duration>` windows. For "bought together" it appends a
// basket ref per applied sale (orders > 0) and counts checkouts with a sale (the record with
// seq 0 carries a non-empty basket exactly then), in `all` and per pane.
class ItemStage {
 public:
  explicit ItemStage(stream::WindowOptions windows = {}) : windows_(windows) {}

  // Updates `state` as records are accepted; the caller adopts it only once the commit lands.
  Status Process(const MessageBatch& batch, ItemPartitionState* state,
                 storage::ItemSalesCommit* commit);

 private:
  stream::WindowOptions windows_;
  v1::ItemSale sale_;
};

}  // namespace segstream::ingest
