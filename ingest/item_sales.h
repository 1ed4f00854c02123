// Stage 1 → stage 2 repartition: a processed Checkout becomes one `item-sales` record per sku
// (DESIGN §1, semantics of DESIGN §3).
#pragma once

#include <cstdint>
#include <vector>

#include "segstream.pb.h"

namespace segstream::ingest {

struct ItemSalesOptions {
  // Basket cap of "bought together" (stream/together.h), ≥ 1. Default 100. Stage 1 stores the
  // basket of a checkout with 2..max_basket_for_pairs distinct sale skus; a checkout with more is
  // counted as capped (segstream_baskets_capped_total) and takes part in no pair, though it still
  // counts in orders and in lift's base: the pairs of one wholesale order would outweigh many
  // ordinary ones. In Online Retail 628 of 20,727 sale checkouts have more than 100 distinct sale
  // skus (the largest 1,110). Also caps ItemSale.basket, whose only reader now is stage 2's test
  // "non-empty on seq 0 ⇔ the checkout has a sale".
  int max_basket_for_pairs = 100;
};

// Replaces `*out` with one ItemSale per distinct sku of `checkout`, in order of first appearance
// (`seq` = that index). Per sku:
//   orders         1 if the checkout has a sale line (quantity > 0) of it, else 0
//   units          Σ quantity over its sale lines
//   returned_units Σ −quantity over its return lines (quantity < 0)
//   revenue_micros Σ quantity × unit_price_micros over its sale lines, exact int64
//   description    its first non-empty description in the checkout
// plus event_time_ms and invoice_no of the checkout and the given source partition/offset.
// `basket` (the distinct skus with sale lines, in seq order, capped by
// `options.max_basket_for_pairs`) is filled only on the record with seq 0, to keep volume down:
// stage 2 gets each checkout's basket once.
//
// Expects a validated checkout (ingest/validate.h); lines with quantity 0 add nothing.
// The elements already in `*out` are cleared and refilled, keeping their string allocations, so
// pass the same vector for every checkout.
//
// Returns true when every sum is exact. A sum (or a quantity × price product) that would overflow
// int64 saturates at INT64_MAX (INT64_MIN for a negative revenue) and the call returns false: the
// record is still produced, and the caller should count it in a metric. Reaching it needs more
// than 9.2 × 10^12 currency units on one sku of one checkout.
bool SplitIntoItemSales(const v1::Checkout& checkout, int32_t source_partition,
                        int64_t source_offset, std::vector<v1::ItemSale>* out,
                        const ItemSalesOptions& options = {});

}  // namespace segstream::ingest
