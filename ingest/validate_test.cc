#include "ingest/validate.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>

namespace segstream::ingest {
namespace {

v1::Checkout ValidCheckout() {
  v1::Checkout c;
  c.set_invoice_no("536365");
  c.set_customer_id("17850");
  c.set_store("United Kingdom");
  c.set_event_time_ms(1291191960000);
  c.set_currency("GBP");
  v1::Line* a = c.add_lines();
  a->set_sku("85123A");
  a->set_description("WHITE HANGING HEART T-LIGHT HOLDER");
  a->set_quantity(6);
  a->set_unit_price_micros(2'550'000);
  v1::Line* b = c.add_lines();
  b->set_sku("71053");
  b->set_quantity(-1);
  b->set_unit_price_micros(0);
  return c;
}

DlqReason Check(const v1::Checkout& c) {
  v1::Checkout out;
  return DecodeAndValidate(c.SerializeAsString(), &out);
}

TEST(ValidateTest, ReasonNamesAreTheContractStrings) {
  EXPECT_STREQ(DlqReasonName(DlqReason::kOk), "ok");
  EXPECT_STREQ(DlqReasonName(DlqReason::kEmptyValue), "empty_value");
  EXPECT_STREQ(DlqReasonName(DlqReason::kUndecodable), "undecodable");
  EXPECT_STREQ(DlqReasonName(DlqReason::kTooLarge), "too_large");
  EXPECT_STREQ(DlqReasonName(DlqReason::kEmptyInvoiceNo), "empty_invoice_no");
  EXPECT_STREQ(DlqReasonName(DlqReason::kNoLines), "no_lines");
  EXPECT_STREQ(DlqReasonName(DlqReason::kTooManyLines), "too_many_lines");
  EXPECT_STREQ(DlqReasonName(DlqReason::kBadEventTime), "bad_event_time");
  EXPECT_STREQ(DlqReasonName(DlqReason::kEmptySku), "empty_sku");
  EXPECT_STREQ(DlqReasonName(DlqReason::kZeroQuantity), "zero_quantity");
  EXPECT_STREQ(DlqReasonName(DlqReason::kNegativePrice), "negative_price");
}

TEST(ValidateTest, ValidBinaryPassesAndDecodes) {
  const v1::Checkout in = ValidCheckout();
  v1::Checkout out;
  out.set_store("stale");  // reused messages must not leak old fields
  out.add_lines()->set_sku("stale");
  out.add_lines();
  out.add_lines();
  ASSERT_EQ(DecodeAndValidate(in.SerializeAsString(), &out), DlqReason::kOk);
  EXPECT_EQ(out.SerializeAsString(), in.SerializeAsString());
}

TEST(ValidateTest, EmptyOrNullValue) {
  v1::Checkout out;
  EXPECT_EQ(DecodeAndValidate(std::string_view(), &out), DlqReason::kEmptyValue);
  EXPECT_EQ(DecodeAndValidate("", &out), DlqReason::kEmptyValue);
}

TEST(ValidateTest, EveryCheckoutRule) {
  v1::Checkout c = ValidCheckout();
  c.clear_invoice_no();
  EXPECT_EQ(Check(c), DlqReason::kEmptyInvoiceNo);

  c = ValidCheckout();
  c.clear_lines();
  EXPECT_EQ(Check(c), DlqReason::kNoLines);

  c = ValidCheckout();
  c.set_event_time_ms(0);
  EXPECT_EQ(Check(c), DlqReason::kBadEventTime);
  c.set_event_time_ms(-1);
  EXPECT_EQ(Check(c), DlqReason::kBadEventTime);
  c.set_event_time_ms(1);
  EXPECT_EQ(Check(c), DlqReason::kOk);

  // The per-line rules hold for any line, not only the first.
  c = ValidCheckout();
  c.mutable_lines(1)->clear_sku();
  EXPECT_EQ(Check(c), DlqReason::kEmptySku);

  c = ValidCheckout();
  c.mutable_lines(1)->set_quantity(0);
  EXPECT_EQ(Check(c), DlqReason::kZeroQuantity);

  c = ValidCheckout();
  c.mutable_lines(1)->set_unit_price_micros(-1);
  EXPECT_EQ(Check(c), DlqReason::kNegativePrice);

  // Free items and returns are fine (DESIGN §3: returns are lines with quantity < 0).
  c = ValidCheckout();
  c.mutable_lines(0)->set_unit_price_micros(0);
  c.mutable_lines(0)->set_quantity(-5);
  EXPECT_EQ(Check(c), DlqReason::kOk);

  // Anonymous checkouts are valid.
  c = ValidCheckout();
  c.clear_customer_id();
  EXPECT_EQ(Check(c), DlqReason::kOk);
}

TEST(ValidateTest, FirstBrokenRuleInDocumentedOrderWins) {
  v1::Checkout c;
  EXPECT_EQ(Check(c), DlqReason::kEmptyValue);  // all defaults serialize to zero bytes
  c.set_event_time_ms(-5);
  EXPECT_EQ(Check(c), DlqReason::kEmptyInvoiceNo);
  c.set_invoice_no("1");
  EXPECT_EQ(Check(c), DlqReason::kNoLines);
  v1::Line* l = c.add_lines();  // empty sku, zero quantity, negative price at once
  l->set_unit_price_micros(-1);
  EXPECT_EQ(Check(c), DlqReason::kBadEventTime);
  c.set_event_time_ms(5);
  EXPECT_EQ(Check(c), DlqReason::kEmptySku);
  l->set_sku("A");
  EXPECT_EQ(Check(c), DlqReason::kZeroQuantity);
  l->set_quantity(1);
  EXPECT_EQ(Check(c), DlqReason::kNegativePrice);
}

TEST(ValidateTest, LineCountLimit) {
  v1::Checkout c = ValidCheckout();
  c.clear_lines();
  for (int i = 0; i < 10'000; ++i) {
    v1::Line* l = c.add_lines();
    l->set_sku("S");
    l->set_quantity(1);
  }
  EXPECT_EQ(Check(c), DlqReason::kOk);
  c.add_lines()->set_sku("S");  // 10,001 lines (and a zero quantity, which is not reported)
  EXPECT_EQ(Check(c), DlqReason::kTooManyLines);
}

TEST(ValidateTest, HalfAMillionEmptyLinesAreTooManyNotAnAllocationStorm) {
  // Field 6 (lines), length 0: two bytes per line, 524,288 lines in exactly 1 MiB.
  std::string value;
  for (size_t i = 0; i < kMaxCheckoutBytes / 2; ++i) value += std::string("\x32\x00", 2);
  ASSERT_EQ(value.size(), kMaxCheckoutBytes);
  v1::Checkout out;
  EXPECT_EQ(DecodeAndValidate(value, &out), DlqReason::kTooManyLines);
  EXPECT_EQ(out.lines_size(), 0);
}

TEST(ValidateTest, SizeLimitIsOneMebibyte) {
  // Valid JSON padded with whitespace to exactly 1 MiB passes; one byte more does not.
  std::string json = R"({"invoice_no":"1","event_time_ms":5,"lines":[{"sku":"A","quantity":1}]})";
  json.resize(kMaxCheckoutBytes, ' ');
  v1::Checkout out;
  EXPECT_EQ(DecodeAndValidate(json, &out), DlqReason::kOk);
  json.push_back(' ');
  EXPECT_EQ(DecodeAndValidate(json, &out), DlqReason::kTooLarge);
  EXPECT_EQ(DecodeAndValidate(std::string(kMaxCheckoutBytes + 1, '\xff'), &out),
            DlqReason::kTooLarge);
}

TEST(ValidateTest, JsonSnakeCaseWithInt64AsStrings) {
  const std::string json = R"(
    {"invoice_no": "536365", "customer_id": "17850", "store": "United Kingdom",
     "event_time_ms": "1291191960000", "currency": "GBP",
     "lines": [{"sku": "85123A", "description": "WHITE HANGING HEART T-LIGHT HOLDER",
                "quantity": "6", "unit_price_micros": "2550000"},
               {"sku": "71053", "quantity": "-1", "unit_price_micros": "0"}]})";
  v1::Checkout out;
  ASSERT_EQ(DecodeAndValidate(json, &out), DlqReason::kOk);
  EXPECT_EQ(out.SerializeAsString(), ValidCheckout().SerializeAsString());
}

TEST(ValidateTest, JsonLowerCamelCaseWithInt64AsNumbers) {
  const std::string json =
      "\t\r\n {\"invoiceNo\":\"536365\",\"customerId\":\"17850\",\"store\":\"United Kingdom\","
      "\"eventTimeMs\":1291191960000,\"currency\":\"GBP\",\"lines\":["
      "{\"sku\":\"85123A\",\"description\":\"WHITE HANGING HEART T-LIGHT HOLDER\","
      "\"quantity\":6,\"unitPriceMicros\":2550000},"
      "{\"sku\":\"71053\",\"quantity\":-1,\"unitPriceMicros\":0,\"futureField\":[1,2]}]}";
  v1::Checkout out;
  ASSERT_EQ(DecodeAndValidate(json, &out), DlqReason::kOk);
  EXPECT_EQ(out.SerializeAsString(), ValidCheckout().SerializeAsString());
}

TEST(ValidateTest, JsonRulesAndMalformedJson) {
  v1::Checkout out;
  EXPECT_EQ(DecodeAndValidate(R"({"invoice_no":"1","event_time_ms":5})", &out),
            DlqReason::kNoLines);
  EXPECT_EQ(
      DecodeAndValidate(R"({"invoice_no":"1","event_time_ms":5,"lines":[{"sku":"A"}]})", &out),
      DlqReason::kZeroQuantity);
  EXPECT_EQ(DecodeAndValidate(R"({"event_time_ms":5,"lines":[{"sku":"A","quantity":1}]})", &out),
            DlqReason::kEmptyInvoiceNo);
  for (const char* bad : {R"({"invoice_no": )", R"({"lines": "x"})", R"({"event_time_ms": 1.5})",
                          R"({"event_time_ms": "soon"})", "null", "[]", "{", "{}}", "true"}) {
    EXPECT_EQ(DecodeAndValidate(bad, &out), DlqReason::kUndecodable) << bad;
  }
  std::string many = R"({"invoice_no":"1","event_time_ms":5,"lines":[)";
  for (int i = 0; i <= 10'000; ++i)
    many += std::string(i ? "," : "") + R"({"sku":"A","quantity":1})";
  many += "]}";
  EXPECT_EQ(DecodeAndValidate(many, &out), DlqReason::kTooManyLines);
}

TEST(ValidateTest, BinaryThatLooksLikeJsonStillDecodes) {
  // invoice_no of 123 bytes serializes as 0x0A 0x7B...: "\n{" — JSON whitespace, then '{'.
  v1::Checkout c = ValidCheckout();
  c.set_invoice_no(std::string(123, 'X'));
  const std::string bytes = c.SerializeAsString();
  ASSERT_EQ(bytes.substr(0, 2), "\n{");
  v1::Checkout out;
  EXPECT_EQ(DecodeAndValidate(bytes, &out), DlqReason::kOk);
  EXPECT_EQ(out.invoice_no(), c.invoice_no());
}

TEST(ValidateTest, TruncatedBinaryIsUndecodableExceptAtFieldBoundaries) {
  const v1::Checkout full = ValidCheckout();
  const std::string bytes = full.SerializeAsString();
  // Top-level field boundaries, from the serializer (fields are written in number order):
  // a prefix ending at one is a valid, shorter Checkout.
  std::set<size_t> boundaries;
  v1::Checkout partial;
  partial.set_invoice_no(full.invoice_no());
  boundaries.insert(partial.ByteSizeLong());
  partial.set_customer_id(full.customer_id());
  boundaries.insert(partial.ByteSizeLong());
  partial.set_store(full.store());
  boundaries.insert(partial.ByteSizeLong());
  partial.set_event_time_ms(full.event_time_ms());
  boundaries.insert(partial.ByteSizeLong());
  partial.set_currency(full.currency());
  boundaries.insert(partial.ByteSizeLong());
  *partial.add_lines() = full.lines(0);
  boundaries.insert(partial.ByteSizeLong());
  v1::Checkout out;
  for (size_t n = 1; n < bytes.size(); ++n) {
    const DlqReason r = DecodeAndValidate(std::string_view(bytes.data(), n), &out);
    if (boundaries.count(n) != 0) {
      EXPECT_NE(r, DlqReason::kUndecodable) << "prefix " << n;
    } else {
      EXPECT_EQ(r, DlqReason::kUndecodable) << "prefix " << n;
    }
  }
}

TEST(ValidateTest, RandomBytesNeverCrashAndNeverPass) {
  // Protobuf logs an ERROR for each string field with invalid UTF-8; thousands here.
  google::protobuf::LogSilencer quiet;
  std::mt19937_64 rng(20240531);
  v1::Checkout out;
  const std::set<std::string> known = {
      "empty_value", "too_large",      "undecodable", "too_many_lines", "empty_invoice_no",
      "no_lines",    "bad_event_time", "empty_sku",   "zero_quantity",  "negative_price"};
  for (int i = 0; i < 5000; ++i) {
    std::string value(rng() % 300, '\0');
    for (char& ch : value) ch = static_cast<char>(rng());
    if (i % 3 == 0 && !value.empty()) value[0] = '{';  // exercise the JSON path too
    const DlqReason r = DecodeAndValidate(value, &out);
    EXPECT_EQ(known.count(DlqReasonName(r)), 1u) << i;
  }
  // Random mutations of a valid checkout: any reason, or ok, but never a crash.
  const std::string valid = ValidCheckout().SerializeAsString();
  for (int i = 0; i < 5000; ++i) {
    std::string value = valid;
    for (int k = 0; k < 3; ++k) value[rng() % value.size()] = static_cast<char>(rng());
    EXPECT_STRNE(DlqReasonName(DecodeAndValidate(value, &out)), "unknown") << i;
  }
}

}  // namespace
}  // namespace segstream::ingest
