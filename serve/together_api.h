// GET /v1/items/{sku}/together?n=10&window=all (DESIGN §6, issue 12): the items most often bought
// in the same checkout as `sku`, a JSON array of {sku, description, count, confidence, lift}:
//   count      = checkouts in the window with sale lines of both skus
//   confidence = count / orders(sku) in the window
//   lift       = confidence / (orders(other) / checkouts with any sale, in the window)
// sorted by count desc, then lift desc, then sku; at most n rows (1..1000, default 10). A window
// `last <duration>` keeps the checkouts whose event-time pane is in the window's panes at the
// snapshot's watermark (the rule of the item counters). An sku never seen is a 404; bad n or
// window a 400.
//
// Counted at read time (stream/together.h): one GETRANGE of the sku's basket refs (cut at the
// snapshot's orders(sku), so counts and orders come from the same state) and one pipelined HMGET
// of the baskets, on the server's blocking pool. Checkouts with more distinct sale skus than the
// stage-1 cap (ingest::ItemSalesOptions::max_basket_for_pairs, default 100) store no basket: they
// count in orders and in the lift base but in no pair (segstream_baskets_capped_total).
//
// Answers are cached per (sku, window) while the snapshot's data version (its committed offsets
// and watermark) is unchanged, so dashboard polls between commits cost no Redis call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "serve/router.h"
#include "serve/snapshot.h"
#include "storage/redis_client.h"
#include "stream/together.h"
#include "stream/windows.h"

namespace segstream::serve {

struct TogetherRow {
  std::string sku;
  int64_t count = 0;
  double confidence = 0;
  double lift = 0;
};

// Most rows an answer has (the largest n).
inline constexpr size_t kMaxTogetherRows = 1000;

// The first `limit` partners in the documented order (pure). `orders` is orders(sku) in `window`; a
// partner without orders in `window` is left out. (Stage 2 judges lateness per item-sales
// partition: a sale of `sku` it took for late counts in no window but `all`, like the counters,
// but a partner's own sale in the same checkout may have been judged otherwise on its partition.
// Only possible while partitions' event times are more than retention − window apart.)
std::vector<TogetherRow> RankPartners(std::vector<stream::PartnerCount> partners, int64_t orders,
                                      const WindowView& window, size_t limit = kMaxTogetherRows);

// What the answer cache is keyed on: it changes whenever a commit lands or the watermark moves.
struct SnapshotDataVersion {
  int64_t committed_offsets = 0;  // Σ committed offsets over every partition of both stages
  int64_t watermark_ms = 0;
  bool operator==(const SnapshotDataVersion&) const = default;
};
SnapshotDataVersion DataVersionOf(const Snapshot& snapshot);

struct TogetherApiOptions {
  storage::RedisOptions redis;
  // Idle Redis connections kept for reuse. Default 4.
  size_t max_idle_connections = 4;
  // Answers (sku, window) kept for the current data version, each at most kMaxTogetherRows rows
  // (~64 KiB). Default 256.
  size_t max_cached_answers = 256;
  // Event-time pane width; must match the workers' (stream/windows.h default 1 h).
  int64_t pane_ms = stream::WindowOptions{}.pane_ms;
};

// `cache` must outlive the router and every server using it.
void RegisterTogetherApi(Router& router, const SnapshotCache* cache, TogetherApiOptions options);

}  // namespace segstream::serve
