// Synthetic retail stream in the input CSV schema (DESIGN §2), for `segstream generate`: customer
// personas, Zipf item popularity, weekly seasonality, anonymous checkouts, returns, and injected
// drift with a ground-truth sidecar, so segment and drift tests can check against what was put in.
//
// Model (all times in event time, UTC):
// - Catalogue: `items` SKUs named SKU00001.. by popularity rank; rank r is drawn with probability
//   r^-s / H(items, s) (Zipf, s = zipf_exponent). Descriptions and base prices are fixed functions
//   of the rank (the same catalogue for every seed).
// - Customers: `customers` people, each drawing a persona independently with probability
//   share / Σ shares, and a home country (United Kingdom 82%, then 10 European/other countries).
//   A recurring persona buys as a gamma renewal process (shape gap_shape, mean mean_gap_days) in
//   *operational time*, started in its stationary state (first purchase after U × Gamma(k + 1, θ),
//   the equilibrium forward-recurrence time), so the expected number of purchases in a window is
//   its length / mean gap from day 0. A one-off persona (mean_gap_days 0) buys once, at a uniform
//   time in the horizon.
// - Seasonality: operational time runs with the store's intensity — closed 21:00–08:00 UTC, a
//   midday peak, and Saturday/Sunday at weekend_factor × a weekday — normalised so that one
//   operational week is one calendar week. So every persona keeps its mean rate per week while
//   checkouts fall in opening hours, busier at weekends.
// - Basket: 1 + Poisson(mean_items - 1) distinct SKUs (Zipf draws, repeats redrawn), each with
//   1 + Geometric units (mean mean_quantity) at base price × price_level, rounded to the penny.
// - Returns: after a purchase, with probability return_rate, a separate invoice "C<number>" by the
//   same customer 1..return_window_days later returns 1–3 of its lines (70/20/10%), each a uniform
//   1..bought units at the price paid, as negative quantities.
// - Anonymous checkouts (empty CustomerID): a walk-in Poisson process whose rate makes them
//   anonymous_share of all purchase checkouts (returns excluded), in expectation, before and after
//   the drift; walk-ins never return, and draw a country per checkout.
// - Malformed checkouts (malformed_rate, default 0): that share of purchase checkouts gets one line
//   broken so the worker dead-letters it (DESIGN §2): a third each zero_quantity (Quantity 0),
//   negative_price (UnitPrice < 0) and empty_sku (StockCode empty). A malformed purchase schedules
//   no return. Every row still parses: the CSV reader skips nothing.
//
// Output: header, then rows in non-decreasing InvoiceDate (`YYYY-MM-DD HH:MM:SS`), the rows of one
// invoice consecutive, invoice numbers increasing from first_invoice_no in output order.
//
// Determinism: the stream is a pure function of the options. Random numbers come from xoshiro256**
// streams keyed by (seed, customer, purchase number) (`generator_random.h`), never from <random>,
// so the same options give a byte-identical file on a given platform. Because the keys do not
// depend on the drift, a drifted stream is identical to the stationary one with the same seed up
// to the drift instant (new-persona customers and crossing gaps only change what comes after).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stream/status.h"

namespace segstream::ingest {

// How one kind of customer shops.
struct PersonaParams {
  std::string name;
  double share = 0;          // weight in the initial population (0: only via new-persona drift)
  double mean_gap_days = 0;  // mean days between purchases (operational time); 0 = buys once
  double gap_shape = 1;      // gamma shape of the gap: 1 Poisson, > 1 regular, < 1 bursty
  double mean_items = 1;     // mean distinct items per basket, ≥ 1
  double mean_quantity = 1;  // mean units per line, ≥ 1
  double price_level = 1;    // multiplier on the catalogue price
  double return_rate = 0;    // probability that a purchase is followed by a return invoice
};

// The default personas; `share` sums to 1 over the first six. Per persona: share, mean gap days
// (gamma shape), mean items, mean units per line, price level, return rate:
//   champion        0.08   4 (2.0)  18   6   1.0  0.04   frequent, large baskets
//   loyal           0.20  10 (1.5)  10   4   1.0  0.05   steady regulars
//   big_spender     0.06  21 (1.5)  25  24   1.3  0.08   rare, wholesale-size, premium lines
//   bargain_hunter  0.16   7 (1.0)   5   3   0.6  0.15   frequent small cheap baskets, returns a
//   lot occasional      0.30  45 (0.8)   4   2   1.0  0.06   a few bursty visits a quarter one_off
//   0.20   once      3   2   1.1  0.10   new customers who buy once reseller        0.00   3 (3.0)
//   3  48   0.7  0.02   absent at start; default new-persona drift
std::vector<PersonaParams> DefaultPersonas();
// The basket behaviour of anonymous walk-ins: 4 items, 2 units per line, price level 1, no returns.
PersonaParams WalkInPersona();

enum class DriftKind {
  kNone,
  // From the drift instant, persona P's unit prices are × factor (mean basket value × factor);
  // nobody changes persona, so segment shares stay the same while P's centroid moves.
  kSpend,
  // Persona P's purchase rate is × factor (operational time of P runs factor × faster; a gap that
  // straddles the instant is rescaled after it, so the change is immediate).
  kFrequency,
  // factor × customers new customers of persona P (new ids after the initial ones) start buying at
  // the drift instant, already in their stationary state.
  kNewPersona,
  // Each customer of persona P switches, with probability factor, to persona `target` (rate,
  // basket, prices, returns) at the drift instant: P's share falls, target's rises.
  kShares,
};

// "none", "spend", "frequency", "new-persona", "shares".
const char* DriftKindName(DriftKind kind);
// Parses the names above; false for anything else.
bool ParseDriftKind(std::string_view text, DriftKind* out);

struct DriftSpec {
  DriftKind kind = DriftKind::kNone;
  int64_t at_day = 0;   // drift instant: 00:00 UTC of start day + at_day, in [0, days]
  std::string persona;  // affected persona; "" = the kind's default (see ResolveDrift)
  double factor = 0;    // 0 = the kind's default
  std::string target;   // kShares only: persona switched to; "" = default
};

// Fills an empty persona / zero factor / empty target with the kind's default:
//   spend        loyal, × 2 unit prices
//   frequency    loyal, × 2 purchase rate
//   new-persona  reseller, 0.2 × customers new customers
//   shares       loyal → bargain_hunter, each with probability 0.5
DriftSpec ResolveDrift(DriftSpec drift);

struct GenerateProgress {
  int64_t checkouts = 0;
  int64_t lines = 0;
  int64_t bytes = 0;
  double day = 0;  // event time reached, days since the start
};

struct GeneratorOptions {
  int64_t customers = 10'000;     // initial customers (ids first_customer_id..), > 0
  int64_t days = 90;              // horizon in days, > 0
  uint64_t seed = 1;              // names the stream
  int64_t start_day = 19'359;     // first day, days since 1970-01-01 (default 2023-01-02, a Monday)
  int64_t items = 4'000;          // catalogue size (Online Retail has ~4,000 SKUs), 1..10,000,000
  double zipf_exponent = 0.9;     // item popularity ∝ rank^-s, s ≥ 0
  double anonymous_share = 0.10;  // expected share of purchase checkouts without CustomerID, [0, 1)
  double weekend_factor = 1.5;    // Saturday/Sunday checkout rate relative to a weekday, > 0
  double return_window_days = 14;  // returns come 1..this many days after the purchase, ≥ 1
  double malformed_rate = 0;       // share of purchase checkouts with one DLQ-breaking line, [0, 1]
  std::vector<PersonaParams> personas = DefaultPersonas();  // at most 250, some share > 0
  PersonaParams walk_in = WalkInPersona();                  // anonymous checkouts' baskets
  DriftSpec drift;                                          // default: none
  int64_t first_customer_id = 10'000;                       // CustomerID of customer index 0
  int64_t first_invoice_no = 500'000;                       // InvoiceNo of the first checkout
  // zlib level for .gz output (GenerateToFile), 1..9. Default 1: deflate is the bottleneck, and
  // level 6 runs ~4x slower (under the 1 M lines/s target) for files ~23% smaller.
  int gzip_level = 1;
  int64_t progress_every = 1 << 16;                          // checkouts between on_progress calls
  std::function<void(const GenerateProgress&)> on_progress;  // optional
};

struct GenerateStats {
  int64_t checkouts = 0;            // invoice runs written (purchases + returns)
  int64_t purchase_checkouts = 0;   // identified and anonymous purchases
  int64_t return_checkouts = 0;     // "C" invoices
  int64_t anonymous_checkouts = 0;  // purchases without CustomerID
  int64_t malformed_checkouts = 0;  // purchases with one DLQ-breaking line
  int64_t malformed_zero_quantity = 0;
  int64_t malformed_negative_price = 0;
  int64_t malformed_empty_sku = 0;
  int64_t lines = 0;                  // data rows, header excluded
  int64_t bytes = 0;                  // uncompressed bytes, header included
  int64_t first_ms = 0, last_ms = 0;  // InvoiceDate of the first and last row
};

// What was injected, for the truth sidecar and tests.
struct GenerateTruth {
  DriftSpec drift;       // resolved (defaults filled); kind kNone if no drift
  int64_t drift_ms = 0;  // the drift instant, ms since the epoch
  // Persona index (into options.personas) of customer index i, CustomerID first_customer_id + i;
  // new-persona customers follow the initial ones.
  std::vector<uint8_t> persona;
  int64_t new_customers = 0;  // kNewPersona: how many of the trailing customers are new
  // kShares: (customer index, persona index after the drift instant) of every switched customer.
  std::vector<std::pair<uint32_t, uint8_t>> switched;
};

struct GenerateResult {
  GenerateStats stats;
  GenerateTruth truth;
};

// Where the CSV bytes go. Write may be called many times; Close flushes and reports late errors.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual Status Write(std::string_view bytes) = 0;
  virtual Status Close() = 0;
};

// Opens `path` for writing, gzip (zlib, `level`) when it ends in ".gz", plain otherwise.
// Errors: IoError naming the path and the OS reason.
Result<std::unique_ptr<ByteSink>> OpenFileSink(const std::string& path, int gzip_level);

// Keeps everything in memory (tests, benchmarks).
class StringSink : public ByteSink {
 public:
  Status Write(std::string_view bytes) override {
    data_.append(bytes);
    return {};
  }
  Status Close() override { return {}; }
  const std::string& data() const { return data_; }
  std::string& data() { return data_; }

 private:
  std::string data_;
};

// InvalidArgument with a one-line reason naming the CLI flag (e.g. "--customers must be > 0").
Status ValidateGeneratorOptions(const GeneratorOptions& options);

// Validates, then writes the header and every row to `sink` (not closed).
Result<GenerateResult> Generate(const GeneratorOptions& options, ByteSink* sink);

// Validates, opens `path` (gzip if it ends in .gz), generates, closes.
Result<GenerateResult> GenerateToFile(const GeneratorOptions& options, const std::string& path);

// The ground-truth sidecar: options, personas with their parameters and customer counts, the
// resolved drift, every customer's persona and the stats. Format in generator_io.cc.
Status WriteTruthJson(const std::string& path, const GeneratorOptions& options,
                      const GenerateResult& result);

// Maps calendar time to operational time (see the model above). Times are seconds since a
// Monday 00:00 UTC; both maps are increasing, ToWall(ToOp(t)) == t in opening hours.
class WeeklyClock {
 public:
  static constexpr int kHoursPerWeek = 168;
  explicit WeeklyClock(double weekend_factor);
  double ToOp(double wall_seconds) const;
  double ToWall(double op_seconds) const;
  // Relative checkout rate in hour h of the week (0 = Monday 00:00–01:00); mean 1 over a week.
  double Intensity(int hour_of_week) const { return rate_[hour_of_week]; }

 private:
  double rate_[kHoursPerWeek];
  double cum_[kHoursPerWeek + 1];  // operational seconds at the start of each hour
};

// The fixed catalogue: SKU and description of popularity rank r (1-based), and its base price in
// micros (a whole number of pence).
std::string CatalogueSku(int64_t rank);
std::string CatalogueDescription(int64_t rank);
int64_t CatalogueBasePriceMicros(int64_t rank);

// "YYYY-MM-DD" of a day number (days since 1970-01-01, ≥ 0 and ≤ 9999-12-31).
std::string FormatDate(int64_t day);

}  // namespace segstream::ingest
