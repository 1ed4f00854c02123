// "Frequently bought together" (issue 12, DESIGN §6 /v1/items/{sku}/together), computed at read
// time from an exact index instead of kept pair counters:
//   - stage 1 stores each checkout's BASKET (event time + its distinct skus with sale lines) once,
//     keyed by its source offset, when it has 2..max_basket_for_pairs such skus;
//   - stage 2 appends a BASKET REF (source partition, source offset) to a per-sku list for every
//     applied item-sale with orders > 0, so the list of sku X names exactly the checkouts with a
//     sale of X, in the order stage 2 applied them (its length is orders(X) in window `all`).
// The partners of X are then counted over X's baskets. Storage and write work are linear in the
// sale lines; pair counters are quadratic in the basket size (Online Retail: 13.6 M directed pair
// increments, 1.87 M distinct pairs, for 0.5 M sale lines), which made Redis the bottleneck.
//
// This file holds the pure parts: both encodings (bounded, validating decoders) and the counting
// kernel. Time and the window are parameters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stream/windows.h"

namespace segstream::stream {

// ---- baskets ----
// Encoding: event_time_ms as 8 bytes little-endian (two's complement), then per sku a LEB128
// varint length and the sku's bytes; the sku count is implied by the length. Binary-safe: skus may
// hold any byte.
std::string EncodeBasket(int64_t event_time_ms, const std::vector<std::string_view>& skus);

// A decoded basket whose skus point into the encoded bytes (which must outlive it).
struct BasketView {
  int64_t event_time_ms = 0;
  std::vector<std::string_view> skus;
};
// False (and `*out` unspecified) for bytes no EncodeBasket call produced: short header, a varint
// longer than 5 bytes, a length past the end, an empty sku.
bool DecodeBasket(std::string_view bytes, BasketView* out);

// ---- basket refs ----
// A checkout, named by where stage 1 read it.
struct BasketRef {
  int32_t partition = 0;  // ≥ 0
  int64_t offset = 0;     // ≥ 0
  // Stage 2 took the sale for late (older than its pane retention): like the item counters, it
  // counts in window `all` only (DESIGN §3).
  bool late = false;
  bool operator==(const BasketRef&) const = default;
};
// Fixed width so a reader can take the first n refs with one GETRANGE: partition as 4 bytes, its
// top bit set for a late ref, and offset as 8 bytes, little-endian.
inline constexpr size_t kBasketRefBytes = 12;
void AppendBasketRef(std::string* out, BasketRef ref);
// False when the length is not a multiple of kBasketRefBytes or an offset is negative.
bool DecodeBasketRefs(std::string_view bytes, std::vector<BasketRef>* out);

// ---- counting ----
struct PartnerCount {
  std::string sku;
  int64_t count = 0;  // baskets holding both skus
  bool operator==(const PartnerCount&) const = default;
};

// Which baskets count: all of them (window `all`), or those whose event-time pane lies in `panes`
// (a `last <duration>` window: the same pane rule as the item counters, stream::WindowPanes).
struct BasketFilter {
  std::optional<PaneRange> panes;  // nullopt: window `all`
  int64_t pane_ms = WindowOptions{}.pane_ms;
};

struct PartnerCountStats {
  int64_t baskets = 0;      // baskets that counted (in the window, holding the sku)
  int64_t missing = 0;      // refs with no basket: a single-sku or capped checkout, or not yet
                            // committed by stage 1
  int64_t outside = 0;      // baskets outside the window (late ones included)
  int64_t undecodable = 0;  // values DecodeBasket refused, or baskets without the sku
};

// One ref's basket as read: the encoded basket (nullopt = none stored) and the ref's late flag.
struct RefBasket {
  std::optional<std::string> encoded;
  bool late = false;
};

// Counts, for every other sku, the baskets among `baskets` that hold both it and `sku`: each ref
// is one checkout (stage 2 appends refs exactly once), so each basket is counted as often as it
// is listed. A late ref counts in window `all` only. Unordered; every count ≥ 1.
std::vector<PartnerCount> CountPartners(std::string_view sku, const std::vector<RefBasket>& baskets,
                                        const BasketFilter& filter,
                                        PartnerCountStats* stats = nullptr);

}  // namespace segstream::stream
