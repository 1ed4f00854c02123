#include "stream/drift_panes.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace segstream::stream {

namespace {

constexpr double kMicros = 1e6;
// Log-space values of real features are tens at most (log1p of 10^12 is 27.6); the clamp only
// keeps a corrupt input from overflowing the integer encoding.
constexpr double kMaxLogUnits = 1e6;

}  // namespace

FeatureVector ModelToLogSpace(const FeatureTransform& transform, const FeatureVector& model_units) {
  FeatureVector y{};
  for (int j = 0; j < kFeatureCount; ++j) {
    y[j] = model_units[j] * transform.scale[j] + transform.center[j];
  }
  return y;
}

FeatureVector LogSpaceToModel(const FeatureTransform& transform, const FeatureVector& log_space) {
  FeatureVector x{};
  for (int j = 0; j < kFeatureCount; ++j) {
    x[j] = (log_space[j] - transform.center[j]) / transform.scale[j];
  }
  return x;
}

FeatureVector BehaviourVector(const CheckoutSummary& checkout, int64_t previous_sale_ms) {
  constexpr double kDayMs = 86'400'000;
  const double gap_days =
      std::max<double>(0, static_cast<double>(checkout.event_time_ms - previous_sale_ms) / kDayMs);
  const double value = std::max<double>(0, static_cast<double>(checkout.sales_micros) / kMicros);
  const double units = std::max<double>(0, static_cast<double>(checkout.units));
  return {std::log1p(gap_days),
          std::log1p(static_cast<double>(std::max<int64_t>(checkout.distinct_sale_skus, 0))),
          std::log1p(units),
          std::log1p(value),
          std::log1p(units > 0 ? value / units : 0),
          0};
}

DriftPaneStats BuildDriftPane(std::span<const DriftPurchase> purchases, const SegmentModel& model) {
  DriftPaneStats pane;
  pane.per_segment.resize(static_cast<size_t>(model.k));
  for (const DriftPurchase& p : purchases) {
    const SegmentAssignment a =
        AssignSegment(model, LogSpaceToModel(model.transform, p.lifetime), -1, 0);
    if (a.segment < 0) continue;
    pane.per_segment[a.segment].Add(QuantizeVector(p.behaviour));
  }
  return pane;
}

bool KeepForDrift(std::string_view customer_id, int64_t event_time_ms, double rate) {
  if (rate >= 1) return true;
  if (!(rate > 0)) return false;
  // FNV-1a 64 over the id and the time: fixed and portable, unlike std::hash.
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  for (unsigned char c : customer_id) mix(c);
  for (int i = 0; i < 8; ++i) mix(static_cast<unsigned char>(uint64_t(event_time_ms) >> (8 * i)));
  return static_cast<double>(h >> 11) * 0x1p-53 < rate;
}

std::string EncodeDriftPurchase(const DriftPurchase& purchase) {
  std::string out;
  for (const FeatureVector* v : {&purchase.lifetime, &purchase.behaviour}) {
    for (double x : *v) {
      if (!out.empty()) out += ' ';
      const double y = std::isfinite(x) ? std::clamp(x, -kMaxLogUnits, kMaxLogUnits) : 0.0;
      out += std::to_string(std::llround(y * kMicros));
    }
  }
  return out;
}

Result<DriftPurchase> DecodeDriftPurchase(std::string_view text) {
  DriftPurchase purchase;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 2 * kFeatureCount; ++i) {
    if (i > 0) {
      if (p == end || *p != ' ') return Status::Corruption("drift purchase: want 12 integers");
      ++p;
    }
    int64_t v = 0;
    auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc() || next == p) return Status::Corruption("drift purchase: not an integer");
    FeatureVector& out = i < kFeatureCount ? purchase.lifetime : purchase.behaviour;
    out[i % kFeatureCount] = static_cast<double>(v) / kMicros;
    p = next;
  }
  if (p != end) return Status::Corruption("drift purchase: trailing characters");
  return purchase;
}

}  // namespace segstream::stream
