// Input of the C++ fault tests: a synthetic checkout stream (retail-like, every validation rule)
// and its expected counts, computed here from the generated lines with DESIGN §3's semantics. It
// shares no code with segstream's validation, item-sales split or stages, so it can judge them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace segstream::tests {

// One record for `checkouts`, with what the worker must make of it.
struct InputRecord {
  std::optional<std::string> key;    // nullopt: null key
  std::optional<std::string> value;  // nullopt: null value
  std::string expected_reason;       // DLQ reason header, "" for a valid checkout
  // Lines of a valid checkout: (sku, quantity, unit price in micros).
  struct Line {
    std::string sku;
    int64_t quantity;
    int64_t price_micros;
  };
  std::vector<Line> lines;
  // Where the producer's delivery report put it.
  int32_t partition = -1;
  int64_t offset = -1;
};

struct ItemTruth {
  int64_t orders = 0, units = 0, returned_units = 0, revenue_micros = 0;
  bool operator==(const ItemTruth&) const = default;
};

struct Truth {
  std::map<std::string, ItemTruth> items;
  int64_t processed = 0;
  int64_t dlq = 0;
  std::map<std::string, int64_t> dlq_reasons;
};

// DESIGN §3 semantics, applied directly to the generated lines.
Truth ComputeTruth(const std::vector<InputRecord>& records);

// Generates retail-like checkouts: skewed sku popularity, case-variant skus, returns, repeated
// skus within a basket, anonymous customers, a fifth of them as JSON (snake_case or
// lowerCamelCase, int64 as string or number). Every `invalid_every`-th (0: none) breaks exactly
// one validation rule, cycling through all of them.
class CheckoutGenerator {
 public:
  explicit CheckoutGenerator(uint64_t seed) : rng_(seed) {}
  InputRecord Valid();
  // A checkout breaking `rule` (a DLQ reason name other than the byte-level ones).
  InputRecord Breaking(const std::string& rule);
  std::vector<InputRecord> Stream(int count, int invalid_every);
  std::mt19937_64& rng() { return rng_; }

  static const std::vector<std::string>& CheckoutRules();

 private:
  struct Draft;
  Draft NewDraft();
  InputRecord Encode(const Draft& d, bool json);
  std::mt19937_64 rng_;
  int64_t next_invoice_ = 0;
};

}  // namespace segstream::tests
