// stream/segments.h: features on a hand-made customer, the text codecs (round trips, a table of
// corrupted inputs, every prefix and single-byte mutation), exact statistics, the transform, the
// model (init on seeded blobs, refresh, assignment with hysteresis) and labels. Expected values
// are computed here by hand or by direct formulas, never by the code under test.
#include "stream/segments.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace segstream::stream {
namespace {

constexpr int64_t kDay = 86'400'000;

CheckoutSummary Checkout(int64_t t, int64_t sales, int64_t units, int64_t skus, int64_t returns = 0,
                         int64_t returned = 0) {
  return {.event_time_ms = t,
          .sales_micros = sales,
          .returns_micros = returns,
          .units = units,
          .returned_units = returned,
          .distinct_sale_skus = skus};
}

// Four checkouts, out of event-time order, one of them return-only.
CustomerState HandMadeCustomer() {
  CustomerState c;
  ApplyCheckout(Checkout(10 * kDay, 25'500'000, 3, 2), &c);
  ApplyCheckout(Checkout(5 * kDay, 10'000'000, 1, 1, 4'000'000, 1), &c);
  ApplyCheckout(Checkout(12 * kDay, 0, 0, 0, 2'500'000, 2), &c);
  ApplyCheckout(Checkout(20 * kDay, 64'500'000, 6, 3), &c);
  return c;
}

TEST(CustomerFeatures, ApplyCheckoutKeepsExactTotals) {
  const CustomerState c = HandMadeCustomer();
  EXPECT_EQ(c.first_sale_ms, 5 * kDay);
  EXPECT_EQ(c.last_sale_ms, 20 * kDay);
  EXPECT_EQ(c.sale_checkouts, 3);
  EXPECT_EQ(c.sales_micros, 100'000'000);
  EXPECT_EQ(c.returns_micros, 6'500'000);
  EXPECT_EQ(c.units, 10);
  EXPECT_EQ(c.returned_units, 3);
  EXPECT_EQ(c.distinct_items, 6);
  EXPECT_TRUE(c.has_sale());
  EXPECT_EQ(c.segment, -1);
}

TEST(CustomerFeatures, ReturnOnlyCustomerHasNoSale) {
  CustomerState c;
  ApplyCheckout(Checkout(7 * kDay, 0, 0, 0, 1'000'000, 1), &c);
  EXPECT_FALSE(c.has_sale());
  EXPECT_EQ(c.first_sale_ms, 0);
  EXPECT_EQ(c.last_sale_ms, 0);
  EXPECT_EQ(c.returns_micros, 1'000'000);
  EXPECT_EQ(c.returned_units, 1);
  // A first sale after the return sets first and last sale.
  ApplyCheckout(Checkout(9 * kDay, 2'000'000, 1, 1), &c);
  EXPECT_EQ(c.first_sale_ms, 9 * kDay);
  EXPECT_EQ(c.last_sale_ms, 9 * kDay);
}

TEST(CustomerFeatures, RawFeaturesExact) {
  const CustomerState c = HandMadeCustomer();
  const FeatureVector f = RawFeatures(c, 30 * kDay + kDay / 2);
  EXPECT_DOUBLE_EQ(f[kRecencyDays], 10.5);
  EXPECT_DOUBLE_EQ(f[kFrequency], 3);
  EXPECT_DOUBLE_EQ(f[kMonetary], 93.5);  // 100 − 6.5
  EXPECT_DOUBLE_EQ(f[kMeanBasketValue], 100.0 / 3);
  EXPECT_DOUBLE_EQ(f[kMeanDistinctItems], 2);  // 6 skus over 3 sale checkouts
  EXPECT_DOUBLE_EQ(f[kReturnRate], 3.0 / 13);  // 3 returned of 10 + 3 units
  // as_of before the last sale: recency clamps at 0.
  EXPECT_EQ(RawFeatures(c, 15 * kDay)[kRecencyDays], 0);
}

TEST(CustomerFeatures, FeatureNamesInOrder) {
  const auto& n = FeatureNames();
  EXPECT_EQ(n[kRecencyDays], "recency_days");
  EXPECT_EQ(n[kFrequency], "frequency");
  EXPECT_EQ(n[kMonetary], "monetary");
  EXPECT_EQ(n[kMeanBasketValue], "mean_basket_value");
  EXPECT_EQ(n[kMeanDistinctItems], "mean_distinct_items");
  EXPECT_EQ(n[kReturnRate], "return_rate");
}

// ---- Customer codec ---------------------------------------------------------------------------

void ExpectSameCustomer(const CustomerState& a, const CustomerState& b) {
  EXPECT_EQ(a.first_sale_ms, b.first_sale_ms);
  EXPECT_EQ(a.last_sale_ms, b.last_sale_ms);
  EXPECT_EQ(a.sale_checkouts, b.sale_checkouts);
  EXPECT_EQ(a.sales_micros, b.sales_micros);
  EXPECT_EQ(a.returns_micros, b.returns_micros);
  EXPECT_EQ(a.units, b.units);
  EXPECT_EQ(a.returned_units, b.returned_units);
  EXPECT_EQ(a.distinct_items, b.distinct_items);
  EXPECT_EQ(a.segment, b.segment);
  EXPECT_EQ(std::memcmp(&a.distance, &b.distance, sizeof(double)), 0) << a.distance;
  EXPECT_EQ(a.quantized, b.quantized);
  EXPECT_EQ(a.model_version, b.model_version);
  EXPECT_EQ(a.as_of_ms, b.as_of_ms);
}

TEST(CustomerCodec, EncodesTheDocumentedLayout) {
  CustomerState c = HandMadeCustomer();
  c.segment = 4;
  c.distance = 0.5;
  c.quantized = {1, -2, 3, -4, 5, 0};
  c.model_version = 7;
  c.as_of_ms = 123;
  EXPECT_EQ(EncodeCustomer(c),
            "c1 432000000 1728000000 3 100000000 6500000 10 3 6 4 0.5 1 -2 3 -4 5 0 7 123");
}

TEST(CustomerCodec, RoundTripsExactly) {
  CustomerState c = HandMadeCustomer();
  for (double d : {0.0, 0.1 + 0.2, 1.0 / 3, 5e-324, 1.7976931348623157e308, 123456.789}) {
    for (int32_t seg : {-1, 0, 63}) {
      c.distance = d;
      c.segment = seg;
      c.quantized = {-1'000'000'000, 1'000'000'000, 0, -1, 123456789, 42};
      c.model_version = 99;
      c.as_of_ms = -5;  // any event time
      auto r = DecodeCustomer(EncodeCustomer(c));
      ASSERT_TRUE(r.ok()) << r.status().ToString() << " " << EncodeCustomer(c);
      ExpectSameCustomer(*r, c);
    }
  }
  auto fresh = DecodeCustomer(EncodeCustomer(CustomerState{}));
  ASSERT_TRUE(fresh.ok());
  ExpectSameCustomer(*fresh, CustomerState{});
}

TEST(CustomerCodec, RejectsCorruptInput) {
  const std::string ok = "c1 1 2 3 4 5 6 7 8 9 0.5 1 2 3 4 5 6 7 8";
  ASSERT_TRUE(DecodeCustomer(ok).ok());
  const char* bad[] = {
      "",
      "c1",
      "c2 1 2 3 4 5 6 7 8 9 0.5 1 2 3 4 5 6 7 8",     // unknown version
      "C1 1 2 3 4 5 6 7 8 9 0.5 1 2 3 4 5 6 7 8",     // tag is case-sensitive
      "c1 1 2 3 4 5 6 7 8 9 0.5 1 2 3 4 5 6 7",       // one field short
      "c1 1 2 3 4 5 6 7 8 9 0.5 1 2 3 4 5 6 7 8 9",   // one field too many
      "c1 1 2 3 4 5 6 7 8 9 0.5 1 2 3 4 5 6 7 8 ",    // trailing space
      " c1 1 2 3 4 5 6 7 8 9 0.5 1 2 3 4 5 6 7 8",    // leading space
      "c1 1  2 3 4 5 6 7 8 9 0.5 1 2 3 4 5 6 7 8",    // empty field
      "c1 1 2 3 4 5 6 7 8 9 0.5 1 2 3 4 5 6 7 8\n",   // trailing newline
      "c1 x 2 3 4 5 6 7 8 9 0.5 1 2 3 4 5 6 7 8",     // not a number
      "c1 1 2 3abc 4 5 6 7 8 9 0.5 1 2 3 4 5 6 7 8",  // trailing garbage in a field
      "c1 1 2 +3 4 5 6 7 8 9 0.5 1 2 3 4 5 6 7 8",    // explicit plus
      "c1 1 2 3.0 4 5 6 7 8 9 0.5 1 2 3 4 5 6 7 8",   // integer field with a fraction
      "c1 1 2 1e3 4 5 6 7 8 9 0.5 1 2 3 4 5 6 7 8",   // integer field in exponent form
      "c1 1 2 99999999999999999999 4 5 6 7 8 9 0.5 1 2 3 4 5 6 7 8",  // int64 overflow
      "c1 1 2 -3 4 5 6 7 8 9 0.5 1 2 3 4 5 6 7 8",                    // negative sale checkouts
      "c1 1 2 3 -4 5 6 7 8 9 0.5 1 2 3 4 5 6 7 8",                    // negative sales
      "c1 1 2 3 4 -5 6 7 8 9 0.5 1 2 3 4 5 6 7 8",                    // negative returns
      "c1 1 2 3 4 5 -6 7 8 9 0.5 1 2 3 4 5 6 7 8",                    // negative units
      "c1 1 2 3 4 5 6 -7 8 9 0.5 1 2 3 4 5 6 7 8",                    // negative returned units
      "c1 1 2 3 4 5 6 7 -8 9 0.5 1 2 3 4 5 6 7 8",                    // negative distinct items
      "c1 1 2 3 4 5 6 7 8 -2 0.5 1 2 3 4 5 6 7 8",                    // segment < -1
      "c1 1 2 3 4 5 6 7 8 64 0.5 1 2 3 4 5 6 7 8",                    // segment > 63
      "c1 1 2 3 4 5 6 7 8 9 nan 1 2 3 4 5 6 7 8",                     // non-finite distance
      "c1 1 2 3 4 5 6 7 8 9 inf 1 2 3 4 5 6 7 8",
      "c1 1 2 3 4 5 6 7 8 9 -inf 1 2 3 4 5 6 7 8",
      "c1 1 2 3 4 5 6 7 8 9 1e999 1 2 3 4 5 6 7 8",         // overflows to inf
      "c1 1 2 3 4 5 6 7 8 9 -0.5 1 2 3 4 5 6 7 8",          // negative distance
      "c1 1 2 3 4 5 6 7 8 9 0.5x 1 2 3 4 5 6 7 8",          // trailing garbage in the distance
      "c1 1 2 3 4 5 6 7 8 9 0.5 1000000001 2 3 4 5 6 7 8",  // quantized beyond the clamp
      "c1 1 2 3 4 5 6 7 8 9 0.5 1 2 3 4 5 6 -7 8",          // negative model version
  };
  for (const char* text : bad) {
    auto r = DecodeCustomer(text);
    EXPECT_FALSE(r.ok()) << "accepted: \"" << text << "\"";
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << text;
    }
  }
}

// ---- Stats codec ------------------------------------------------------------------------------

TEST(StatsCodec, EncodesAndRoundTrips) {
  std::vector<SegmentStats> stats(3);
  stats[0] = {.count = 2, .sum = {1, -2, 3, -4, 5, -6}, .sum_squares = 77};
  stats[2] = {.count = 3, .sum = {3'000'000'000, 0, 0, 0, 0, -1}, .sum_squares = 5};
  const std::string text = EncodeStats(stats);
  EXPECT_EQ(text,
            "s1 3\n"
            "2 1 -2 3 -4 5 -6 77\n"
            "0 0 0 0 0 0 0 0\n"
            "3 3000000000 0 0 0 0 -1 5\n");
  auto r = DecodeStats(text, 3);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*r)[i].count, stats[i].count);
    EXPECT_EQ((*r)[i].sum, stats[i].sum);
    EXPECT_EQ((*r)[i].sum_squares, stats[i].sum_squares);
  }
  // The final newline is optional.
  EXPECT_TRUE(DecodeStats(text.substr(0, text.size() - 1), 3).ok());
}

TEST(StatsCodec, RejectsCorruptInput) {
  const std::string ok = "s1 2\n1 1 2 3 4 5 6 7\n0 0 0 0 0 0 0 0\n";
  ASSERT_TRUE(DecodeStats(ok, 2).ok());
  // The largest values one member can have (every component at the clamp) are accepted.
  ASSERT_TRUE(
      DecodeStats("s1 1\n1 1000000000 -1000000000 1000000000 1000000000 1000000000 1000000000 "
                  "6000000000000\n",
                  1)
          .ok());
  const char* bad[] = {
      "",
      "s1 2",
      "s2 2\n1 1 2 3 4 5 6 7\n0 0 0 0 0 0 0 0\n",    // unknown version
      "s1 3\n1 1 2 3 4 5 6 7\n0 0 0 0 0 0 0 0\n",    // header k differs from the model's
      "s1 2 2\n1 1 2 3 4 5 6 7\n0 0 0 0 0 0 0 0\n",  // header field count
      "s1 x\n1 1 2 3 4 5 6 7\n0 0 0 0 0 0 0 0\n",
      "s1 2\n1 1 2 3 4 5 6 7\n",                                    // a line missing
      "s1 2\n1 1 2 3 4 5 6 7\n0 0 0 0 0 0 0 0\n0 0 0 0 0 0 0 0\n",  // a line too many
      "s1 2\n1 1 2 3 4 5 6 7\n0 0 0 0 0 0 0 0\n\n",                 // blank line at the end
      "s1 2\n1 1 2 3 4 5 6\n0 0 0 0 0 0 0 0\n",                     // field short
      "s1 2\n1 1 2 3 4 5 6 7 8\n0 0 0 0 0 0 0 0\n",                 // field too many
      "s1 2\n1 1 2 3 4 5 6 7z\n0 0 0 0 0 0 0 0\n",                  // trailing garbage
      "s1 2\n1 1 2 3 4.5 5 6 7\n0 0 0 0 0 0 0 0\n",                 // not an integer
      "s1 2\n-1 1 2 3 4 5 6 7\n0 0 0 0 0 0 0 0\n",                  // negative count
      "s1 2\n1 1 2 3 4 5 6 -7\n0 0 0 0 0 0 0 0\n",                  // negative sum of squares
      "s1 2\n1 1 2 3 4 5 6 7\n0 0 0 1 0 0 0 0\n",                   // empty segment with a sum
      "s1 2\n1 1 2 3 4 5 6 7\r\n0 0 0 0 0 0 0 0\n",
      "s1 2\n1 1000000001 0 0 0 0 0 0\n0 0 0 0 0 0 0 0\n",  // |sum| beyond count × clamp
      "s1 2\n1 0 0 0 0 0 -1000000001 0\n0 0 0 0 0 0 0 0\n",
      "s1 2\n1 0 0 0 0 0 0 6000000000002\n0 0 0 0 0 0 0 0\n",  // sum_squares beyond 6e12 + 1
      "s1 2\n1000000001 0 0 0 0 0 0 0\n0 0 0 0 0 0 0 0\n",  // more members than plausible // CRLF
  };
  for (const char* text : bad) {
    auto r = DecodeStats(text, 2);
    EXPECT_FALSE(r.ok()) << "accepted: \"" << text << "\"";
  }
  EXPECT_EQ(DecodeStats(ok, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeStats(ok, 65).status().code(), StatusCode::kInvalidArgument);
}

// ---- Model codec ------------------------------------------------------------------------------

SegmentModel HandMadeModel() {
  SegmentModel m;
  m.version = 12;
  m.k = 4;
  m.as_of_ms = 1'700'000'000'123;
  m.transform.log1p = {true, true, true, true, true, false};
  m.transform.center = {1.0 / 3, 2.5, -0.1, 4, 1e-300, 0};
  m.transform.scale = {0.7, 1, 3.3e10, 1e-12, 2, 0.25};
  m.centroids = {{0.1, 0.2, 0.3, -0.4, 5e-324, 1e300},
                 {-1, -2, -3, -4, -5, -6},
                 {0, 0, 0, 0, 0, 0},
                 {1.0 / 7, 2.0 / 7, 3.0 / 7, 4.0 / 7, 5.0 / 7, 6.0 / 7}};
  m.labels = {"Big spenders", "100% loyal\tand\nnew ", "At risk", "%41 stays literal"};
  m.sizes = {10, 0, 123456789012, 1};
  m.inertia = 98765.4321;
  return m;
}

void ExpectSameModel(const SegmentModel& a, const SegmentModel& b) {
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.k, b.k);
  EXPECT_EQ(a.as_of_ms, b.as_of_ms);
  EXPECT_EQ(a.transform.log1p, b.transform.log1p);
  EXPECT_EQ(a.transform.center, b.transform.center);
  EXPECT_EQ(a.transform.scale, b.transform.scale);
  EXPECT_EQ(a.centroids, b.centroids);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.sizes, b.sizes);
  EXPECT_EQ(a.inertia, b.inertia);
}

TEST(ModelCodec, RoundTripsExactlyWithAwkwardLabels) {
  const SegmentModel m = HandMadeModel();
  const std::string text = m.Encode();
  // Readable: one line per segment, spaces in labels kept as they are.
  EXPECT_EQ(text.substr(0, text.find('\n')), "m1 12 4 1700000000123 98765.4321");
  EXPECT_NE(text.find("segment 0 10 0.1 0.2 0.3 -0.4 5e-324 1e+300 Big spenders\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("segment 2 123456789012 0 0 0 0 0 0 At risk\n"), std::string::npos);
  auto r = SegmentModel::Decode(text);
  ASSERT_TRUE(r.ok()) << r.status().ToString() << "\n" << text;
  ExpectSameModel(*r, m);
  EXPECT_EQ(r->Encode(), text);
  EXPECT_TRUE(r->ready());
}

// Replaces the first occurrence of `from` in the valid encoding.
std::string Mutate(const std::string& text, const std::string& from, const std::string& to) {
  std::string out = text;
  const size_t pos = out.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) out.replace(pos, from.size(), to);
  return out;
}

TEST(ModelCodec, RejectsCorruptInput) {
  SegmentModel m = HandMadeModel();
  m.labels = {"A", "B", "C", "D"};
  const std::string ok = m.Encode();
  ASSERT_TRUE(SegmentModel::Decode(ok).ok());
  const std::string bad[] = {
      "",
      "m1",
      Mutate(ok, "m1 ", "m2 "),             // unknown version
      Mutate(ok, "m1 12 4 ", "m1 12 0 "),   // k = 0
      Mutate(ok, "m1 12 4 ", "m1 12 65 "),  // k > 64
      Mutate(ok, "m1 12 4 ", "m1 12 5 "),   // k disagrees with the segment lines
      Mutate(ok, "m1 12 4 ", "m1 12 3 "),
      Mutate(ok, "m1 12 ", "m1 -1 "),            // negative version
      Mutate(ok, "98765.4321", "nan"),           // non-finite inertia
      Mutate(ok, "98765.4321", "-1"),            // negative inertia
      Mutate(ok, "98765.4321", "98765.4321 7"),  // header field too many
      Mutate(ok, "log1p 1 1 1 1 1 0", "log1p 1 1 1 1 1 2"),
      Mutate(ok, "log1p 1 1 1 1 1 0", "log1p 1 1 1 1 1"),
      Mutate(ok, "log1p", "logp"),
      Mutate(ok, "scale 0.7", "scale 0"),  // scale must be > 0
      Mutate(ok, "scale 0.7", "scale -0.7"),
      Mutate(ok, "scale 0.7", "scale inf"),
      Mutate(ok, "center 0.", "center nan0."),
      Mutate(ok, "center ", "centre "),
      Mutate(ok, "segment 1 0 -1", "segment 2 0 -1"),   // ids out of order
      Mutate(ok, "segment 1 0 -1", "segment 1 -1 -1"),  // negative size
      Mutate(ok, "segment 1 0 -1", "segment 1 0 inf"),  // non-finite centroid
      Mutate(ok, "segment 1 0 -1", "segment 1 0 x"),
      Mutate(ok, " -6 B\n", " -6\n"),       // label and a field missing
      Mutate(ok, " -6 B\n", " -6 \n"),      // empty label
      Mutate(ok, " -6 B\n", " -6 A\n"),     // duplicate label
      Mutate(ok, " -6 B\n", " -6 B%4\n"),   // truncated escape
      Mutate(ok, " -6 B\n", " -6 B%G1\n"),  // bad escape digit
      Mutate(ok, " -6 B\n", " -6 B\r\n"),   // raw control byte in a label
      Mutate(ok, " -6 B\n", " -6 B\n\n"),   // blank line
      ok + "segment 4 1 0 0 0 0 0 0 E\n",   // a segment more than k
  };
  for (const std::string& text : bad) {
    auto r = SegmentModel::Decode(text);
    EXPECT_FALSE(r.ok()) << "accepted:\n" << text;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
    }
  }
}

// Every prefix and every single-byte substitution of a valid encoding: never a crash (run under
// ASan too), and whatever decodes re-encodes to something that decodes to the same model.
TEST(ModelCodec, PrefixesAndMutationsNeverCrash) {
  const std::string ok = HandMadeModel().Encode();
  std::vector<std::string> inputs;
  for (size_t n = 0; n < ok.size(); ++n) inputs.push_back(ok.substr(0, n));
  for (size_t i = 0; i < ok.size(); ++i) {
    for (char ch : {'\0', ' ', '\n', '-', '9', '%', 'e', 'x'}) {
      std::string s = ok;
      s[i] = ch;
      inputs.push_back(s);
    }
  }
  int decoded = 0;
  for (const std::string& s : inputs) {
    auto r = SegmentModel::Decode(s);
    if (!r.ok()) continue;
    ++decoded;
    auto again = SegmentModel::Decode(r->Encode());
    ASSERT_TRUE(again.ok());
    ExpectSameModel(*again, *r);
    EXPECT_EQ(int(r->centroids.size()), r->k);
    EXPECT_EQ(r->labels.size(), r->centroids.size());
  }
  // Some mutations are valid (a digit changed), most are not.
  EXPECT_GT(decoded, 0);
  EXPECT_LT(decoded, int(inputs.size()) / 2);
  // The same for customers and stats.
  const std::string customer = "c1 1 2 3 4 5 6 7 8 9 0.5 1 2 3 4 5 6 7 8";
  const std::string stats = "s1 2\n1 1 2 3 4 5 6 7\n0 0 0 0 0 0 0 0\n";
  for (size_t i = 0; i <= customer.size(); ++i) (void)DecodeCustomer(customer.substr(0, i));
  for (size_t i = 0; i <= stats.size(); ++i) (void)DecodeStats(stats.substr(0, i), 2);
  for (size_t i = 0; i < stats.size(); ++i) {
    for (char ch : {'\0', ' ', '\n', '-', '9'}) {
      std::string s = stats;
      s[i] = ch;
      auto r = DecodeStats(s, 2);
      if (r.ok()) {
        EXPECT_EQ(r->size(), 2u);
      }
    }
  }
}

}  // namespace
}  // namespace segstream::stream
