// Decode + validate a `checkouts` record value (DESIGN §2 "Validation → DLQ", contract).
#pragma once

#include <cstddef>
#include <string_view>

#include "segstream.pb.h"

namespace segstream::ingest {

// Why a record goes to `checkouts.dlq`. DlqReasonName() gives the stable snake_case text used as
// the `segstream.error.reason` header value and as a metric label: never rename one.
enum class DlqReason {
  kOk = 0,          // "ok": valid, process it
  kEmptyValue,      // "empty_value": empty or null (tombstone) value
  kTooLarge,        // "too_large": value over kMaxCheckoutBytes
  kUndecodable,     // "undecodable": neither a binary nor a JSON Checkout
  kTooManyLines,    // "too_many_lines": more than kMaxCheckoutLines lines
  kEmptyInvoiceNo,  // "empty_invoice_no"
  kNoLines,         // "no_lines"
  kBadEventTime,    // "bad_event_time": event_time_ms <= 0
  kEmptySku,        // "empty_sku": some line has an empty sku
  kZeroQuantity,    // "zero_quantity": some line has quantity 0
  kNegativePrice,   // "negative_price": some line has unit_price_micros < 0
};

inline constexpr size_t kMaxCheckoutBytes = size_t{1} << 20;  // "over 1 MiB" is dead-lettered
inline constexpr int kMaxCheckoutLines = 10'000;              // "more than 10,000 lines"

const char* DlqReasonName(DlqReason reason);

// Decodes `value` into `*out` (cleared first; allocations reused) and applies every DLQ rule.
//
// Format: if the first byte that is not JSON whitespace (space, tab, CR, LF) is '{', the value is
// read as JSON (proto3 JSON mapping via protobuf's JsonStringToMessage: snake_case or
// lowerCamelCase names, int64 as number or string; unknown fields ignored, as the binary format
// ignores them, so producers can add fields). Otherwise it is protobuf binary. '{' (0x7B) as a
// binary first byte would be a group tag for field 15, which Checkout does not have, and a binary
// Checkout can start with bytes that are JSON whitespace (tag 0x0A = invoice_no) — so when the
// JSON reading fails, the binary reading is tried before answering `undecodable`.
//
// When several rules are broken, the first in this order is reported: empty_value, too_large,
// undecodable, too_many_lines, empty_invoice_no, no_lines, bad_event_time, then the first bad line
// (on one line: empty_sku, zero_quantity, negative_price). For binary input the lines are counted
// from the top-level fields before any line is materialised, so a hostile value of half a million
// empty lines costs one cheap scan, not half a million allocations; such a value is
// `too_many_lines` even if a line's contents would not decode.
//
// Never crashes on hostile input: the size is checked before any parsing, and protobuf's parsers
// bound nesting depth. `*out` is unspecified when the answer is not kOk.
DlqReason DecodeAndValidate(std::string_view value, v1::Checkout* out);

// The rules that apply to an already decoded Checkout (all but the size, emptiness and decoding
// rules), in the order above. For producers (CSV replay, generator) that want to know what the
// worker will say.
DlqReason ValidateCheckout(const v1::Checkout& checkout);

}  // namespace segstream::ingest
