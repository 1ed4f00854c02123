#include "ingest/validate.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/wire_format_lite.h>

namespace segstream::ingest {
namespace {

using google::protobuf::internal::WireFormatLite;

constexpr int kLinesFieldNumber = v1::Checkout::kLinesFieldNumber;

bool LooksLikeJson(std::string_view value) {
  for (char c : value) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{';
  }
  return false;
}

// Walks the top-level fields of a binary Checkout without materialising them and counts the
// `lines` entries. Returns false if the top-level structure does not decode.
bool CountBinaryLines(std::string_view value, int64_t* lines) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(value.data()),
                                            static_cast<int>(value.size()));
  *lines = 0;
  for (;;) {
    const uint32_t tag = in.ReadTag();
    // 0 is both end of input (fine) and a literal zero tag (malformed); only the former ends
    // the message legitimately.
    if (tag == 0) return in.ConsumedEntireMessage();
    if (WireFormatLite::GetTagFieldNumber(tag) == kLinesFieldNumber &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      ++*lines;
    }
    if (!WireFormatLite::SkipField(&in, tag)) return false;
  }
}

bool ParseBinary(std::string_view value, v1::Checkout* out) {
  return out->ParseFromArray(value.data(), static_cast<int>(value.size()));
}

bool ParseJson(std::string_view value, v1::Checkout* out) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  out->Clear();
  return google::protobuf::util::JsonStringToMessage(
             google::protobuf::StringPiece(value.data(), value.size()), out, options)
      .ok();
}

}  // namespace

const char* DlqReasonName(DlqReason reason) {
  switch (reason) {
    case DlqReason::kOk:
      return "ok";
    case DlqReason::kEmptyValue:
      return "empty_value";
    case DlqReason::kTooLarge:
      return "too_large";
    case DlqReason::kUndecodable:
      return "undecodable";
    case DlqReason::kTooManyLines:
      return "too_many_lines";
    case DlqReason::kEmptyInvoiceNo:
      return "empty_invoice_no";
    case DlqReason::kNoLines:
      return "no_lines";
    case DlqReason::kBadEventTime:
      return "bad_event_time";
    case DlqReason::kEmptySku:
      return "empty_sku";
    case DlqReason::kZeroQuantity:
      return "zero_quantity";
    case DlqReason::kNegativePrice:
      return "negative_price";
  }
  return "unknown";
}

DlqReason ValidateCheckout(const v1::Checkout& checkout) {
  if (checkout.lines_size() > kMaxCheckoutLines) return DlqReason::kTooManyLines;
  if (checkout.invoice_no().empty()) return DlqReason::kEmptyInvoiceNo;
  if (checkout.lines_size() == 0) return DlqReason::kNoLines;
  if (checkout.event_time_ms() <= 0) return DlqReason::kBadEventTime;
  for (const v1::Line& line : checkout.lines()) {
    if (line.sku().empty()) return DlqReason::kEmptySku;
    if (line.quantity() == 0) return DlqReason::kZeroQuantity;
    if (line.unit_price_micros() < 0) return DlqReason::kNegativePrice;
  }
  return DlqReason::kOk;
}

DlqReason DecodeAndValidate(std::string_view value, v1::Checkout* out) {
  if (value.empty()) return DlqReason::kEmptyValue;
  if (value.size() > kMaxCheckoutBytes) return DlqReason::kTooLarge;
  bool decoded = false;
  if (LooksLikeJson(value)) decoded = ParseJson(value, out);
  if (!decoded) {
    int64_t lines = 0;
    if (!CountBinaryLines(value, &lines)) return DlqReason::kUndecodable;
    if (lines > kMaxCheckoutLines) return DlqReason::kTooManyLines;
    if (!ParseBinary(value, out)) return DlqReason::kUndecodable;
  }
  return ValidateCheckout(*out);
}

}  // namespace segstream::ingest
