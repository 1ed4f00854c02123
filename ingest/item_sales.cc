#include "ingest/item_sales.h"

#include <limits>
#include <string_view>
#include <unordered_map>

namespace segstream::ingest {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// Above this many lines a hash index beats scanning the skus seen so far.
constexpr int kLinearScanLines = 32;

int64_t SaturatingAdd(int64_t a, int64_t b, bool* exact) {
  int64_t r = 0;
  if (!__builtin_add_overflow(a, b, &r)) return r;
  *exact = false;
  return b > 0 ? kMax : kMin;
}

int64_t SaturatingMul(int64_t a, int64_t b, bool* exact) {
  int64_t r = 0;
  if (!__builtin_mul_overflow(a, b, &r)) return r;
  *exact = false;
  return (a < 0) != (b < 0) ? kMin : kMax;
}

int64_t SaturatingNeg(int64_t a, bool* exact) {
  if (a != kMin) return -a;
  *exact = false;
  return kMax;
}

}  // namespace

bool SplitIntoItemSales(const v1::Checkout& checkout, int32_t source_partition,
                        int64_t source_offset, std::vector<v1::ItemSale>* out,
                        const ItemSalesOptions& options) {
  bool exact = true;
  size_t used = 0;
  const bool use_index = checkout.lines_size() > kLinearScanLines;
  std::unordered_map<std::string_view, size_t> index;
  if (use_index) index.reserve(static_cast<size_t>(checkout.lines_size()));

  for (const v1::Line& line : checkout.lines()) {
    const std::string_view sku = line.sku();
    size_t i = used;
    if (use_index) {
      auto [it, inserted] = index.try_emplace(sku, used);
      i = it->second;
    } else {
      for (size_t j = 0; j < used; ++j) {
        if ((*out)[j].sku() == sku) {
          i = j;
          break;
        }
      }
    }
    if (i == used) {
      if (out->size() <= used) {
        out->emplace_back();
      } else {
        (*out)[used].Clear();
      }
      v1::ItemSale& s = (*out)[used];
      s.mutable_sku()->assign(sku);
      s.mutable_invoice_no()->assign(checkout.invoice_no());
      s.set_event_time_ms(checkout.event_time_ms());
      s.set_source_partition(source_partition);
      s.set_source_offset(source_offset);
      s.set_seq(static_cast<int32_t>(used));
      ++used;
    }
    v1::ItemSale& s = (*out)[i];
    const int64_t q = line.quantity();
    if (q > 0) {
      s.set_orders(1);
      s.set_units(SaturatingAdd(s.units(), q, &exact));
      s.set_revenue_micros(SaturatingAdd(
          s.revenue_micros(), SaturatingMul(q, line.unit_price_micros(), &exact), &exact));
    } else if (q < 0) {
      s.set_returned_units(SaturatingAdd(s.returned_units(), SaturatingNeg(q, &exact), &exact));
    }
    if (s.description().empty() && !line.description().empty()) {
      s.mutable_description()->assign(line.description());
    }
  }
  out->resize(used);

  if (used > 0) {
    v1::ItemSale& first = (*out)[0];
    for (size_t j = 0; j < used && first.basket_size() < options.max_basket_for_pairs; ++j) {
      if ((*out)[j].orders() > 0) first.add_basket()->assign((*out)[j].sku());
    }
  }
  return exact;
}

}  // namespace segstream::ingest
