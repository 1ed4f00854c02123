// The synthetic stream, checked from its CSV text with the test parser of generator_test_util.h:
// reader compatibility, determinism, ordering, the persona model, seasonality, returns, the
// anonymous share, the Zipf shape, malformed rows and option errors. Tolerances are several
// standard deviations wide.
#include "ingest/generator.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <unordered_map>

#include "ingest/csv_reader.h"
#include "ingest/generator_test_util.h"
#include "ingest/validate.h"

namespace segstream::ingest {
namespace {

using namespace generator_test;

TEST(GeneratorTest, SameSeedSameBytesOtherSeedOtherBytes) {
  GeneratorOptions o = BaseOptions(DriftKind::kSpend);
  o.customers = 1500;
  o.days = 30;
  o.drift.at_day = 10;
  StringSink a, b, c;
  ASSERT_TRUE(Generate(o, &a).ok());
  ASSERT_TRUE(Generate(o, &b).ok());
  o.seed = 8;
  ASSERT_TRUE(Generate(o, &c).ok());
  EXPECT_GT(a.data().size(), 100'000u);
  EXPECT_TRUE(a.data() == b.data());
  EXPECT_FALSE(a.data() == c.data());

  // The .gz output is deterministic too (zlib writes mtime 0) and holds the same bytes.
  o.seed = 7;
  const std::string gz1 = TempPath("a.csv.gz"), gz2 = TempPath("b.csv.gz");
  ASSERT_TRUE(GenerateToFile(o, gz1).ok());
  ASSERT_TRUE(GenerateToFile(o, gz2).ok());
  auto slurp = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_TRUE(slurp(gz1) == slurp(gz2));
  gzFile f = gzopen(gz1.c_str(), "rb");
  ASSERT_NE(f, nullptr);
  std::string plain;
  char buf[1 << 16];
  for (int n; (n = gzread(f, buf, sizeof buf)) > 0;) plain.append(buf, n);
  gzclose(f);
  EXPECT_TRUE(plain == a.data());
  std::remove(gz1.c_str());
  std::remove(gz2.c_str());
}

TEST(GeneratorTest, CsvReaderReadsEveryRowAndCheckout) {
  const Generated& g = Stream(DriftKind::kNone);
  const std::string path = TempPath("stationary.csv");
  std::ofstream(path, std::ios::binary) << g.csv;
  auto reader = CsvCheckoutReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  v1::Checkout c;
  int64_t count = 0, lines = 0, invalid = 0;
  for (;;) {
    auto more = reader->Next(&c);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    if (!*more) break;
    const TCheckout& expected = g.checkouts[static_cast<size_t>(count)];
    ASSERT_EQ(c.invoice_no(), expected.invoice);
    ASSERT_EQ(c.event_time_ms(), expected.epoch_second * 1000);
    ASSERT_EQ(c.customer_id(), expected.customer < 0 ? "" : std::to_string(expected.customer));
    ASSERT_EQ(static_cast<size_t>(c.lines_size()), expected.lines.size());
    ASSERT_EQ(c.lines(0).unit_price_micros(), expected.lines[0].price_pence * 10'000);
    if (ValidateCheckout(c) != DlqReason::kOk) ++invalid;
    lines += c.lines_size();
    ++count;
  }
  EXPECT_EQ(reader->stats().rows_skipped, 0);
  EXPECT_EQ(reader->stats().rows_read, g.result.stats.lines);
  EXPECT_EQ(count, static_cast<int64_t>(g.checkouts.size()));  // invoice runs counted above
  EXPECT_EQ(count, g.result.stats.checkouts);
  EXPECT_EQ(lines, g.result.stats.lines);
  EXPECT_EQ(invalid, 0);
  EXPECT_GT(count, 30'000);
  std::remove(path.c_str());
}

TEST(GeneratorTest, RowsAreOrderedInOpeningHoursWithIncreasingInvoices) {
  const Generated& g = Stream(DriftKind::kNone);
  int64_t last_invoice = -1;
  for (size_t i = 0; i < g.checkouts.size(); ++i) {
    const TCheckout& c = g.checkouts[i];
    if (i > 0) {
      ASSERT_GE(c.date, g.checkouts[i - 1].date) << c.invoice;
    }
    const int64_t number = ParseDigits(std::string_view(c.invoice).substr(c.is_return));
    ASSERT_GT(number, last_invoice);
    last_invoice = number;
    const int64_t hour = (c.epoch_second % 86400) / 3600;
    ASSERT_GE(hour, 8) << c.date;
    ASSERT_LT(hour, 21) << c.date;
    ASSERT_GE(c.day, 0);
    ASSERT_LT(c.day, kDays);
    ASSERT_FALSE(c.lines.empty());
    for (const auto& l : c.lines) {
      ASSERT_GT(l.price_pence, 0);
      ASSERT_NE(l.quantity, 0);
      ASSERT_EQ(l.quantity < 0, c.is_return);
    }
  }
}

TEST(GeneratorTest, WeekendsAreBusierByTheWeekendFactor) {
  const Generated& g = Stream(DriftKind::kNone);
  int64_t weekend = 0, weekday = 0;
  for (const auto& c : g.checkouts) {
    if (c.is_return) continue;
    (c.day % 7 >= 5 ? weekend : weekday) += 1;  // day 0 is a Monday
  }
  // 24 weekend days and 60 weekdays in twelve weeks.
  EXPECT_NEAR((weekend / 24.0) / (weekday / 60.0), 1.5, 0.06);
}

TEST(GeneratorTest, PersonaSharesNearConfigured) {
  const Generated& g = Stream(DriftKind::kNone);
  std::vector<int64_t> counts(g.options.personas.size());
  for (uint8_t p : g.result.truth.persona) ++counts[p];
  const double n = static_cast<double>(g.options.customers);
  for (size_t i = 0; i < counts.size(); ++i) {
    const double share = g.options.personas[i].share;
    const double sd = std::sqrt(share * (1 - share) / n);
    EXPECT_NEAR(counts[i] / n, share, 4 * sd + 1e-12) << g.options.personas[i].name;
  }
}

TEST(GeneratorTest, PersonasBuyAsParameterised) {
  const Generated& g = Stream(DriftKind::kNone);
  std::vector<int64_t> customers(g.options.personas.size());
  for (uint8_t p : g.result.truth.persona) ++customers[p];
  std::map<std::string, PersonaStats> by_name;
  for (size_t i = 0; i < g.options.personas.size(); ++i) {
    const PersonaParams& p = g.options.personas[i];
    if (customers[i] == 0) continue;
    const PersonaStats s = Collect(g, static_cast<int>(i), 0, kDays);
    by_name[p.name] = s;
    const double per_customer = s.purchases / static_cast<double>(customers[i]);
    if (p.mean_gap_days > 0) {
      // A stationary renewal process has kDays / mean gap purchases in expectation.
      EXPECT_NEAR(per_customer / (kDays / p.mean_gap_days), 1.0, 0.08) << p.name;
    } else {
      EXPECT_EQ(s.purchases, customers[i]) << p.name << " buys exactly once";
      EXPECT_EQ(static_cast<int64_t>(s.customers.size()), customers[i]);
    }
    EXPECT_NEAR(s.lines / static_cast<double>(s.purchases) / p.mean_items, 1.0, 0.05) << p.name;
    EXPECT_NEAR(s.units / static_cast<double>(s.lines) / p.mean_quantity, 1.0, 0.07) << p.name;
  }
  const double loyal_price = MeanPrice(by_name["loyal"]);
  EXPECT_NEAR(MeanPrice(by_name["bargain_hunter"]) / loyal_price, 0.6, 0.04);
  EXPECT_NEAR(MeanPrice(by_name["big_spender"]) / loyal_price, 1.3, 0.08);
}

TEST(GeneratorTest, AnonymousShareOfPurchases) {
  for (DriftKind kind : {DriftKind::kNone, DriftKind::kNewPersona}) {
    const Generated& g = Stream(kind);
    int64_t anon[2] = {}, purchases[2] = {};
    for (const auto& c : g.checkouts) {
      if (c.is_return) {
        EXPECT_GE(c.customer, 0) << "returns are never anonymous";
        continue;
      }
      const int half = c.day >= kDriftDay;
      ++purchases[half];
      if (c.customer < 0) ++anon[half];
    }
    for (int half : {0, 1}) {
      EXPECT_NEAR(anon[half] / static_cast<double>(purchases[half]), 0.10, 0.012)
          << DriftKindName(kind) << " half " << half;
    }
    EXPECT_EQ(anon[0] + anon[1], g.result.stats.anonymous_checkouts);
  }
}

TEST(GeneratorTest, ReturnsReferToEarlierPurchasesOfTheSameCustomer) {
  const Generated& g = Stream(DriftKind::kNone);
  // (customer, sku number, price in pence) packed in one key → units bought so far.
  auto key = [](int64_t customer, const std::string& sku, int64_t pence) {
    EXPECT_EQ(sku.substr(0, 3), "SKU");
    return (static_cast<uint64_t>(customer) << 40) |
           (static_cast<uint64_t>(ParseDigits(std::string_view(sku).substr(3))) << 20) |
           static_cast<uint64_t>(pence);
  };
  std::unordered_map<uint64_t, int64_t> bought;
  int64_t returns = 0;
  std::map<int, int64_t> returns_by_persona, purchases_by_persona;
  for (const auto& c : g.checkouts) {
    if (!c.is_return) {
      if (c.customer < 0) continue;
      ++purchases_by_persona[g.PersonaOf(c.customer)];
      for (const auto& l : c.lines) bought[key(c.customer, l.sku, l.price_pence)] += l.quantity;
      continue;
    }
    ++returns;
    ++returns_by_persona[g.PersonaOf(c.customer)];
    ASSERT_LE(c.lines.size(), 3u);
    for (const auto& l : c.lines) {
      ASSERT_LT(l.quantity, 0);
      ASSERT_LT(l.price_pence, 1 << 20);
      auto it = bought.find(key(c.customer, l.sku, l.price_pence));
      ASSERT_NE(it, bought.end()) << c.invoice << " returns " << l.sku << " never bought";
      ASSERT_GE(it->second, -l.quantity) << c.invoice;
    }
  }
  EXPECT_EQ(returns, g.result.stats.return_checkouts);
  // Returns 1–14 days after purchase: those of the last days fall past the horizon (~9% here).
  const int bargain = g.Persona("bargain_hunter");
  const double ratio =
      returns_by_persona[bargain] / static_cast<double>(purchases_by_persona[bargain]);
  EXPECT_GT(ratio, 0.15 * 0.80);
  EXPECT_LT(ratio, 0.15 * 1.02);
}

TEST(GeneratorTest, PopularityFollowsZipfRank) {
  const Generated& g = Stream(DriftKind::kNone);
  std::map<std::string, int64_t> orders;
  for (const auto& c : g.checkouts) {
    if (c.is_return) continue;
    for (const auto& l : c.lines) ++orders[l.sku];
  }
  int64_t top = 0;
  std::string top_sku;
  for (const auto& [sku, n] : orders) {
    if (n > top) top = n, top_sku = sku;
  }
  EXPECT_EQ(top_sku, "SKU00001");
  EXPECT_GT(orders["SKU00001"], orders["SKU00010"]);
  EXPECT_GT(orders["SKU00010"], orders["SKU00100"]);
  EXPECT_GT(orders["SKU00100"], orders["SKU01000"]);
  // Rank 100 vs rank 1000 is far from basket saturation: close to the Zipf ratio 10^0.9 ≈ 7.9.
  EXPECT_NEAR(static_cast<double>(orders["SKU00100"]) / orders["SKU01000"], std::pow(10, 0.9), 1.6);
}

TEST(GeneratorTest, MalformedRateBreaksThatShareOfPurchasesForTheDlq) {
  GeneratorOptions o = BaseOptions();
  o.customers = 3000;
  o.days = 42;
  o.malformed_rate = 0.1;
  auto g = RunGenerator(o);
  const std::string path = TempPath("malformed.csv");
  std::ofstream(path, std::ios::binary) << g->csv;
  auto reader = CsvCheckoutReader::Open(path);
  ASSERT_TRUE(reader.ok());
  v1::Checkout c;
  std::map<DlqReason, int64_t> reasons;
  int64_t purchases = 0;
  while (*reader->Next(&c)) {
    const DlqReason r = ValidateCheckout(c);
    ++reasons[r];
    if (c.invoice_no()[0] != 'C')
      ++purchases;
    else
      EXPECT_EQ(r, DlqReason::kOk) << "returns are never malformed";
  }
  EXPECT_EQ(reader->stats().rows_skipped, 0);
  const int64_t bad = purchases - (reasons[DlqReason::kOk] - g->result.stats.return_checkouts);
  EXPECT_EQ(bad, g->result.stats.malformed_checkouts);
  EXPECT_NEAR(bad / static_cast<double>(purchases), 0.1, 0.015);
  for (DlqReason r : {DlqReason::kZeroQuantity, DlqReason::kNegativePrice, DlqReason::kEmptySku}) {
    EXPECT_NEAR(reasons[r] / static_cast<double>(bad), 1 / 3.0, 0.07) << DlqReasonName(r);
  }
  EXPECT_EQ(reasons[DlqReason::kZeroQuantity], g->result.stats.malformed_zero_quantity);
  EXPECT_EQ(reasons[DlqReason::kNegativePrice], g->result.stats.malformed_negative_price);
  EXPECT_EQ(reasons[DlqReason::kEmptySku], g->result.stats.malformed_empty_sku);
  std::remove(path.c_str());
}

TEST(GeneratorTest, RejectsBadOptionsWithOneLineReasons) {
  auto reason = [](auto change) {
    GeneratorOptions o;
    change(o);
    StringSink sink;
    auto r = Generate(o, &sink);
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(sink.data().empty()) << "nothing is written for bad options";
    return r.ok() ? std::string() : r.status().message();
  };
  EXPECT_EQ(reason([](auto& o) { o.customers = 0; }),
            "--customers must be in [1, 10000000] (got 0)");
  EXPECT_EQ(reason([](auto& o) { o.days = -2; }), "--days must be in [1, 36500] (got -2)");
  EXPECT_EQ(reason([](auto& o) {
              o.drift.kind = DriftKind::kSpend;
              o.drift.at_day = 91;
            }),
            "--drift-at must be within [0, days] = [0, 90] (got 91)");
  EXPECT_NE(reason([](auto& o) {
              o.drift.kind = DriftKind::kSpend;
              o.drift.persona = "wizard";
            }).find("--drift-persona 'wizard' is not a persona"),
            std::string::npos);
  EXPECT_NE(reason([](auto& o) {
              o.drift.kind = DriftKind::kFrequency;
              o.drift.persona = "one_off";
            }).find("needs a recurring persona"),
            std::string::npos);
  EXPECT_NE(reason([](auto& o) { o.malformed_rate = 1.5; }).find("--malformed-rate"),
            std::string::npos);
  DriftKind kind;
  EXPECT_FALSE(ParseDriftKind("sideways", &kind));
  EXPECT_TRUE(ParseDriftKind("new-persona", &kind));
  EXPECT_EQ(kind, DriftKind::kNewPersona);

  GeneratorOptions o;
  o.customers = 10;
  auto r = GenerateToFile(o, "/nonexistent-dir/out.csv");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_EQ(r.status().message(),
            "cannot open '/nonexistent-dir/out.csv' for writing: No such file or directory");
}

}  // namespace
}  // namespace segstream::ingest
