// Customer features, the feature transform and the exact per-segment statistics of
// stream/segments.h. The codecs are in segments_codec.cc, the model (init, refresh, assignment,
// labels) in segments_model.cc.
#include "stream/segments.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

#include "stream/tdigest.h"

namespace segstream::stream {

namespace {

constexpr double kMsPerDay = 86'400'000.0;
constexpr double kMicros = 1e6;
// Quantized components are clamped to ±1e3 model units (±1e9 quanta). A robust-scaled feature
// that far out is an outlier whatever its value; the clamp keeps Σ q_j² of one member below
// 6e18 (fits uint64) and Σ sum_squares exact in int64 for ~1.5 M members even all at the clamp
// (typical members are within a few units, i.e. ~1e-5 of that budget).
constexpr double kMaxModelUnits = 1e3;
constexpr int64_t kMaxQuantized = 1'000'000'000;
// An IQR this small is a constant feature for scaling purposes.
constexpr double kMinScale = 1e-12;

double SignedLog1p(double x) { return std::copysign(std::log1p(std::fabs(x)), x); }
double SignedExpm1(double y) { return std::copysign(std::expm1(std::fabs(y)), y); }

// One member's |x|² in millionths of a model unit², from its quantized vector only, so that
// Remove subtracts exactly what Add added. q_j² is in quanta² = 1e-12 units², so the millionths
// are Σ q_j² / 1e6, rounded half up in integers.
int64_t SquaredNormMillionths(const std::array<int64_t, kFeatureCount>& q) {
  uint64_t s = 0;
  for (int64_t v : q) {
    const uint64_t a =
        static_cast<uint64_t>(std::abs(std::clamp(v, -kMaxQuantized, kMaxQuantized)));
    s += a * a;
  }
  return static_cast<int64_t>((s + 500'000) / 1'000'000);
}

}  // namespace

const std::array<std::string_view, kFeatureCount>& FeatureNames() {
  static constexpr std::array<std::string_view, kFeatureCount> kNames = {
      "recency_days",      "frequency",           "monetary",
      "mean_basket_value", "mean_distinct_items", "return_rate"};
  return kNames;
}

// ---- Customer features ------------------------------------------------------------------------

void ApplyCheckout(const CheckoutSummary& checkout, CustomerState* customer) {
  CustomerState& c = *customer;
  // Returns count whether or not the checkout also sold something (DESIGN §3: a return line is
  // any line with quantity < 0).
  c.returns_micros += checkout.returns_micros;
  c.returned_units += checkout.returned_units;
  const bool has_sale_line = checkout.units > 0 || checkout.distinct_sale_skus > 0;
  if (!has_sale_line) return;
  // Checkouts may arrive out of event-time order (late events): keep min / max, not first / last
  // seen.
  if (c.sale_checkouts == 0) {
    c.first_sale_ms = checkout.event_time_ms;
    c.last_sale_ms = checkout.event_time_ms;
  } else {
    c.first_sale_ms = std::min(c.first_sale_ms, checkout.event_time_ms);
    c.last_sale_ms = std::max(c.last_sale_ms, checkout.event_time_ms);
  }
  c.sale_checkouts += 1;
  c.sales_micros += checkout.sales_micros;
  c.units += checkout.units;
  c.distinct_items += checkout.distinct_sale_skus;
}

FeatureVector RawFeatures(const CustomerState& c, int64_t as_of_ms) {
  FeatureVector f{};
  const double frequency = static_cast<double>(c.sale_checkouts);
  f[kRecencyDays] =
      static_cast<double>(std::max<int64_t>(0, as_of_ms - c.last_sale_ms)) / kMsPerDay;
  f[kFrequency] = frequency;
  f[kMonetary] = static_cast<double>(c.sales_micros - c.returns_micros) / kMicros;
  // Guarded although has_sale() is required, so a caller's mistake gives zeros, not NaN.
  f[kMeanBasketValue] =
      frequency > 0 ? static_cast<double>(c.sales_micros) / kMicros / frequency : 0;
  f[kMeanDistinctItems] = frequency > 0 ? static_cast<double>(c.distinct_items) / frequency : 0;
  const int64_t all_units = c.units + c.returned_units;
  f[kReturnRate] =
      all_units > 0 ? static_cast<double>(c.returned_units) / static_cast<double>(all_units) : 0;
  return f;
}

// ---- FeatureTransform -------------------------------------------------------------------------

FeatureVector FeatureTransform::Apply(const FeatureVector& raw) const {
  FeatureVector out{};
  for (int j = 0; j < kFeatureCount; ++j) {
    const double v = log1p[j] ? SignedLog1p(raw[j]) : raw[j];
    out[j] = (v - center[j]) / scale[j];
  }
  return out;
}

FeatureVector FeatureTransform::Invert(const FeatureVector& scaled) const {
  FeatureVector out{};
  for (int j = 0; j < kFeatureCount; ++j) {
    const double v = scaled[j] * scale[j] + center[j];
    out[j] = log1p[j] ? SignedExpm1(v) : v;
  }
  return out;
}

FeatureTransform FeatureTransform::Fit(std::span<const FeatureVector> raw_sample) {
  FeatureTransform t;
  // Recency, counts and money are heavy-tailed (a few wholesale customers spend 1000× the
  // median); the return rate is a bounded fraction and stays linear.
  t.log1p = {true, true, true, true, true, false};
  for (int j = 0; j < kFeatureCount; ++j) {
    TDigest digest;
    for (const FeatureVector& raw : raw_sample) {
      const double v = t.log1p[j] ? SignedLog1p(raw[j]) : raw[j];
      if (std::isfinite(v)) digest.Add(v);
    }
    t.center[j] = 0;
    t.scale[j] = 1;
    if (digest.Count() == 0) continue;
    const double q25 = digest.Quantile(0.25), q50 = digest.Quantile(0.5),
                 q75 = digest.Quantile(0.75);
    if (std::isfinite(q50)) t.center[j] = q50;
    const double iqr = q75 - q25;
    if (std::isfinite(iqr) && iqr > kMinScale) t.scale[j] = iqr;
  }
  return t;
}

std::string FeatureTransform::Describe() const {
  std::string logs, params;
  for (int j = 0; j < kFeatureCount; ++j) {
    if (log1p[j]) {
      if (!logs.empty()) logs += ", ";
      logs += FeatureNames()[j];
    }
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s%.*s (median %.6g, IQR %.6g)", j ? ", " : "",
                  static_cast<int>(FeatureNames()[j].size()), FeatureNames()[j].data(), center[j],
                  scale[j]);
    params += buf;
  }
  std::string out;
  if (!logs.empty()) out = "signed log1p sign(x)*log(1+|x|) on " + logs + "; then ";
  out += "(x - median) / IQR per feature: " + params;
  return out;
}

// ---- Quantized vectors and segment statistics -------------------------------------------------

std::array<int64_t, kFeatureCount> QuantizeVector(const FeatureVector& scaled) {
  std::array<int64_t, kFeatureCount> q{};
  for (int j = 0; j < kFeatureCount; ++j) {
    const double x = scaled[j];
    if (std::isnan(x)) continue;  // 0: never reached with a finite transform
    q[j] = std::llround(std::clamp(x, -kMaxModelUnits, kMaxModelUnits) * kMicros);
  }
  return q;
}

FeatureVector DequantizeVector(const std::array<int64_t, kFeatureCount>& quantized) {
  FeatureVector x{};
  for (int j = 0; j < kFeatureCount; ++j) x[j] = static_cast<double>(quantized[j]) / kMicros;
  return x;
}

void SegmentStats::Add(const std::array<int64_t, kFeatureCount>& q) {
  count += 1;
  for (int j = 0; j < kFeatureCount; ++j) sum[j] += q[j];
  sum_squares += SquaredNormMillionths(q);
}

void SegmentStats::Remove(const std::array<int64_t, kFeatureCount>& q) {
  count -= 1;
  for (int j = 0; j < kFeatureCount; ++j) sum[j] -= q[j];
  sum_squares -= SquaredNormMillionths(q);
}

void SegmentStats::Merge(const SegmentStats& other) {
  count += other.count;
  for (int j = 0; j < kFeatureCount; ++j) sum[j] += other.sum[j];
  sum_squares += other.sum_squares;
}

double SegmentStats::Cost() const {
  if (count <= 0) return 0;
  // Σ|x − mean|² = Σ|x|² − |Σx|² / n. Long double softens the cancellation for tight segments far
  // from the origin; the result is still only as good as the per-member rounding of sum_squares
  // (≤ 0.5e-6 units² each), hence the clamp at 0.
  long double sum_sq = static_cast<long double>(sum_squares) / 1e6L;
  long double norm_sum = 0;
  for (int64_t s : sum) {
    const long double v = static_cast<long double>(s) / 1e6L;
    norm_sum += v * v;
  }
  const long double cost = sum_sq - norm_sum / static_cast<long double>(count);
  return cost > 0 ? static_cast<double>(cost) : 0.0;
}

FeatureVector SegmentStats::Mean() const {
  FeatureVector m{};
  if (count <= 0) return m;
  for (int j = 0; j < kFeatureCount; ++j) {
    m[j] = static_cast<double>(sum[j]) / static_cast<double>(count) / kMicros;
  }
  return m;
}

}  // namespace segstream::stream
