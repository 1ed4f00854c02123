// Shared by the generator's tests (generator_test.cc, generator_drift_test.cc): a CSV parser
// written for the tests (not the generator's code), the cached streams they inspect and small
// statistics over them.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/generator.h"

namespace segstream::ingest::generator_test {

inline constexpr char kHeader[] =
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country";
inline constexpr int kDays = 84;      // twelve whole weeks from Monday 2023-01-02
inline constexpr int kDriftDay = 42;  // 2023-02-13
inline constexpr char kDriftDate[] = "2023-02-13";
inline constexpr int64_t kStartEpochSecond =
    1672617600;  // 2023-01-02 00:00:00 UTC (Python datetime)

inline std::string TempPath(const std::string& name) {
  return testing::TempDir() + "generator_test_" + std::to_string(::getpid()) + "_" + name;
}

struct TLine {
  std::string sku;
  int64_t quantity;
  int64_t price_pence;
};
struct TCheckout {
  std::string invoice;
  bool is_return;
  std::string date;  // as written
  int64_t epoch_second;
  int64_t day;       // days since the start
  int64_t customer;  // -1 when anonymous
  std::vector<TLine> lines;
};

inline int64_t ParseDigits(std::string_view s) {
  int64_t v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

inline int64_t EpochSecond(const std::string& date) {
  using namespace std::chrono;
  const year_month_day ymd{year(static_cast<int>(ParseDigits(date.substr(0, 4)))),
                           month(static_cast<unsigned>(ParseDigits(date.substr(5, 2)))),
                           day(static_cast<unsigned>(ParseDigits(date.substr(8, 2))))};
  return sys_days(ymd).time_since_epoch().count() * 86400 + ParseDigits(date.substr(11, 2)) * 3600 +
         ParseDigits(date.substr(14, 2)) * 60 + ParseDigits(date.substr(17, 2));
}

// Splits the CSV into rows and groups consecutive rows with one InvoiceNo into checkouts. Fails
// the test on any row that does not have the expected shape.
inline std::vector<TCheckout> ParseStream(std::string_view csv) {
  std::vector<TCheckout> out;
  size_t eol = csv.find('\n');
  EXPECT_EQ(csv.substr(0, eol), kHeader);
  std::string_view f[8];
  for (size_t pos = eol + 1; pos < csv.size(); pos = eol + 1) {
    eol = csv.find('\n', pos);
    if (eol == std::string_view::npos) eol = csv.size();
    const std::string_view row = csv.substr(pos, eol - pos);
    size_t n = 0, from = 0;
    for (size_t i = 0; i <= row.size(); ++i) {
      if (i == row.size() || row[i] == ',') {
        if (n < 8) f[n] = row.substr(from, i - from);
        ++n;
        from = i + 1;
      }
    }
    EXPECT_EQ(n, 8u) << row;
    if (n != 8) continue;
    EXPECT_EQ(row.find('"'), std::string_view::npos) << row;
    const std::string_view price = f[5];
    const bool negative = !price.empty() && price[0] == '-';
    const size_t dot = price.find('.');
    EXPECT_EQ(dot, price.size() - 3) << row;
    int64_t pence = ParseDigits(price.substr(negative, dot - negative)) * 100 +
                    ParseDigits(price.substr(dot + 1));
    if (negative) pence = -pence;
    const int64_t qty = f[3][0] == '-' ? -ParseDigits(f[3].substr(1)) : ParseDigits(f[3]);
    const int64_t customer = f[6].empty() ? -1 : ParseDigits(f[6]);
    if (out.empty() || out.back().invoice != f[0]) {
      TCheckout c;
      c.invoice = f[0];
      c.is_return = f[0][0] == 'C';
      c.date = f[4];
      c.epoch_second = EpochSecond(c.date);
      c.day = (c.epoch_second - kStartEpochSecond) / 86400;
      c.customer = customer;
      out.push_back(std::move(c));
    } else {
      EXPECT_EQ(out.back().date, f[4]) << "rows of one invoice share the date";
      EXPECT_EQ(out.back().customer, customer);
    }
    out.back().lines.push_back({std::string(f[1]), qty, pence});
  }
  return out;
}

inline GeneratorOptions BaseOptions(DriftKind kind = DriftKind::kNone) {
  GeneratorOptions o;
  o.customers = 6000;
  o.days = kDays;
  o.seed = 7;
  o.drift.kind = kind;
  o.drift.at_day = kDriftDay;
  return o;
}

struct Generated {
  GeneratorOptions options;
  GenerateResult result;
  std::string csv;
  std::vector<TCheckout> checkouts;

  int Persona(const std::string& name) const {
    for (size_t i = 0; i < options.personas.size(); ++i) {
      if (options.personas[i].name == name) return static_cast<int>(i);
    }
    ADD_FAILURE() << "no persona " << name;
    return -1;
  }
  int PersonaOf(int64_t customer) const {
    return result.truth.persona[static_cast<size_t>(customer - options.first_customer_id)];
  }
};

inline std::unique_ptr<Generated> RunGenerator(const GeneratorOptions& options) {
  auto g = std::make_unique<Generated>();
  g->options = options;
  StringSink sink;
  auto result = Generate(options, &sink);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  if (!result.ok()) return g;
  g->result = std::move(*result);
  g->csv = std::move(sink.data());
  g->checkouts = ParseStream(g->csv);
  return g;
}

// One stream per drift kind (seed 7), generated once for the whole binary.
inline const Generated& Stream(DriftKind kind) {
  static std::map<DriftKind, std::unique_ptr<Generated>> cache;
  auto& slot = cache[kind];
  if (!slot) slot = RunGenerator(BaseOptions(kind));
  return *slot;
}

// Identified purchases of one persona (by persona before the drift) in [from_day, to_day).
struct PersonaStats {
  int64_t purchases = 0, lines = 0, units = 0;
  double basket_value = 0, unit_price = 0;
  std::set<int64_t> customers;
};
inline PersonaStats Collect(const Generated& g, int persona, int64_t from_day, int64_t to_day,
                            const std::function<bool(int64_t)>& keep = nullptr) {
  PersonaStats s;
  for (const auto& c : g.checkouts) {
    if (c.is_return || c.customer < 0 || c.day < from_day || c.day >= to_day) continue;
    if (g.PersonaOf(c.customer) != persona || (keep && !keep(c.customer))) continue;
    ++s.purchases;
    s.customers.insert(c.customer);
    for (const auto& l : c.lines) {
      ++s.lines;
      s.units += l.quantity;
      s.basket_value += static_cast<double>(l.quantity * l.price_pence);
      s.unit_price += static_cast<double>(l.price_pence);
    }
  }
  return s;
}
inline double MeanBasket(const PersonaStats& s) { return s.basket_value / s.purchases; }
inline double MeanPrice(const PersonaStats& s) { return s.unit_price / s.lines; }

// The prefix of `g` before the drift date equals the stationary stream's prefix.
inline void ExpectSamePrefixAsStationary(const Generated& g) {
  const std::string& base = Stream(DriftKind::kNone).csv;
  auto prefix = [](const std::string& csv) {
    // First row whose InvoiceDate is on or after the drift date: rows are date-ordered.
    size_t pos = csv.find('\n') + 1;
    while (pos < csv.size()) {
      size_t field = pos;
      for (int i = 0; i < 4; ++i) field = csv.find(',', field) + 1;
      if (csv.compare(field, 10, kDriftDate) >= 0) break;
      pos = csv.find('\n', pos) + 1;
    }
    return csv.substr(0, pos);
  };
  const std::string a = prefix(g.csv), b = prefix(base);
  EXPECT_GT(a.size(), base.size() / 3);
  EXPECT_TRUE(a == b) << DriftKindName(g.result.truth.drift.kind);
}

// Share of each persona among customers who bought in the 28 days before / after the drift.
inline std::vector<double> ActiveShares(const Generated& g, int64_t from_day, int64_t to_day) {
  std::vector<std::set<int64_t>> active(g.options.personas.size());
  size_t total = 0;
  for (const auto& c : g.checkouts) {
    if (c.is_return || c.customer < 0 || c.day < from_day || c.day >= to_day) continue;
    total += active[g.PersonaOf(c.customer)].insert(c.customer).second;
  }
  std::vector<double> shares;
  for (const auto& s : active) shares.push_back(s.size() / static_cast<double>(total));
  return shares;
}

}  // namespace segstream::ingest::generator_test
