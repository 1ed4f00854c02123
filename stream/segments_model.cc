// The global segment model of stream/segments.h: k-means++ initialisation on a sample, refresh
// from merged exact statistics, assignment with hysteresis, and RFM labels.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "stream/kmeans_init.h"
#include "stream/segments.h"

namespace segstream::stream {

namespace {

constexpr int kMaxK = 64;
constexpr int kInitMaxIterations = 100;
// A refresh whose centroids all moved by less than this (and whose as_of did not move) changes
// nothing, so the version, and with it every worker's re-scoring sweep, stays put.
constexpr double kMoveEpsilon = 1e-9;

bool AllFinite(const FeatureVector& v) {
  return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

double Distance2(const FeatureVector& a, const FeatureVector& b) {
  return detail::Dist2(a.data(), b.data(), kFeatureCount);
}

std::vector<FeatureVector> OriginalCentroids(const SegmentModel& m) {
  std::vector<FeatureVector> out;
  out.reserve(m.centroids.size());
  for (int c = 0; c < int(m.centroids.size()); ++c) out.push_back(m.CentroidOriginal(c));
  return out;
}

// ---- Labels -----------------------------------------------------------------------------------

// Median of the centroids' values of one feature (mean of the middle two for even k): the labels
// compare segments with each other, not with absolute thresholds, so they work for any currency
// and any shop.
double CentroidMedian(std::span<const FeatureVector> c, int feature) {
  std::vector<double> v;
  v.reserve(c.size());
  for (const FeatureVector& x : c) {
    if (!std::isnan(x[feature])) v.push_back(x[feature]);  // NaN would break the sort's order
  }
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// One named label: which centroids it fits, and which of those claims it (highest score; ties:
// lowest id).
struct LabelRule {
  const char* name;
  bool (*fits)(const FeatureVector& x, const FeatureVector& median);
  double (*score)(const FeatureVector& x);
};

// Claim order matters: Lapsed is "the longest recency" whatever else; Champions is taken before
// Big spenders so that a recent, frequent, high-spend segment is never called by its basket size
// alone; At risk before New/Loyal so a valuable lapsing segment is flagged.
constexpr LabelRule kRules[] = {
    {"Lapsed",
     [](const FeatureVector& x, const FeatureVector& m) {
       return x[kRecencyDays] > m[kRecencyDays];
     },
     [](const FeatureVector& x) { return x[kRecencyDays]; }},
    {"Champions",
     [](const FeatureVector& x, const FeatureVector& m) {
       return x[kRecencyDays] <= m[kRecencyDays] && x[kFrequency] >= m[kFrequency] &&
              x[kMonetary] >= m[kMonetary];
     },
     [](const FeatureVector& x) { return x[kFrequency] * x[kMonetary]; }},
    {"Big spenders",
     [](const FeatureVector& x, const FeatureVector& m) {
       return x[kMeanBasketValue] > m[kMeanBasketValue];
     },
     [](const FeatureVector& x) { return x[kMeanBasketValue]; }},
    {"At risk",
     [](const FeatureVector& x, const FeatureVector& m) {
       return x[kRecencyDays] > m[kRecencyDays] && x[kMonetary] >= m[kMonetary];
     },
     [](const FeatureVector& x) { return x[kMonetary]; }},
    {"New",
     [](const FeatureVector& x, const FeatureVector& m) {
       return x[kRecencyDays] <= m[kRecencyDays] && x[kFrequency] <= m[kFrequency];
     },
     [](const FeatureVector& x) { return -x[kFrequency] - 1e-6 * x[kRecencyDays]; }},
    {"Loyal",
     [](const FeatureVector& x, const FeatureVector& m) { return x[kFrequency] >= m[kFrequency]; },
     [](const FeatureVector& x) { return x[kFrequency]; }},
};
constexpr const char* kFallbackLabel = "Occasional";
// A segment keeps its previous label while its score is within this fraction of the best
// candidate's: near-ties do not flip labels between model versions, clear overtakes do.
constexpr double kKeepMargin = 0.1;

}  // namespace

// Greedy, in rule order: each named label goes to the best-scoring unlabelled centroid that fits
// it; one leftover becomes "Occasional", the rest "Segment <id>".
//
// Stability with `previous` (same k, as in the last model): when a rule's turn comes, the
// centroid that had its label keeps it if it is still unlabelled, still fits, and scores within
// kKeepMargin of the best unlabelled candidate (hysteresis, as for customers). So a refresh that
// nudges the centroids leaves the labels alone even where two segments are nearly tied, while a
// label moves when its segment stops matching it or is clearly overtaken. Rule order still
// decides between labels: a centroid keeping "Loyal" never blocks it from "Champions".
std::vector<std::string> LabelSegments(std::span<const FeatureVector> centroids_original,
                                       std::span<const std::string> previous) {
  const size_t k = centroids_original.size();
  FeatureVector median{};
  if (k > 0) {
    for (int j = 0; j < kFeatureCount; ++j) median[j] = CentroidMedian(centroids_original, j);
  }
  const bool use_previous = previous.size() == k;
  std::vector<std::string> labels(k);
  for (const LabelRule& rule : kRules) {
    int best = -1, holder = -1;
    double best_score = 0;
    for (size_t i = 0; i < k; ++i) {
      if (!labels[i].empty() || !rule.fits(centroids_original[i], median)) continue;
      const double s = rule.score(centroids_original[i]);
      if (best < 0 || s > best_score) {
        best = int(i);
        best_score = s;
      }
      if (use_previous && holder < 0 && previous[i] == rule.name) holder = int(i);
    }
    if (best < 0) continue;
    if (holder >= 0 && rule.score(centroids_original[size_t(holder)]) >=
                           best_score - kKeepMargin * std::fabs(best_score)) {
      best = holder;
    }
    labels[size_t(best)] = rule.name;
  }
  bool fallback_used = false;
  for (size_t i = 0; i < k; ++i) {
    if (!labels[i].empty()) continue;
    labels[i] = fallback_used ? "Segment " + std::to_string(i) : kFallbackLabel;
    fallback_used = true;
  }
  return labels;
}

Result<SegmentModel> InitModel(std::span<const FeatureVector> raw_sample, int64_t as_of_ms,
                               const SegmentModelOptions& options) {
  if (options.k < 1 || options.k > kMaxK)
    return Status::InvalidArgument("InitModel: k not in 1..64");
  // Non-finite vectors cannot come from RawFeatures; dropping them keeps one bad input from
  // blocking the model forever.
  std::vector<FeatureVector> sample;
  sample.reserve(raw_sample.size());
  for (const FeatureVector& v : raw_sample) {
    if (AllFinite(v)) sample.push_back(v);
  }
  if (sample.empty()) return Status::InvalidArgument("InitModel: empty sample");

  SegmentModel m;
  m.k = options.k;
  m.version = 1;
  m.as_of_ms = as_of_ms;
  m.transform = FeatureTransform::Fit(sample);
  const size_t n = sample.size();
  std::vector<double> points;
  points.reserve(n * kFeatureCount);
  for (const FeatureVector& v : sample) {
    const FeatureVector x = m.transform.Apply(v);
    points.insert(points.end(), x.begin(), x.end());
  }
  const detail::InitResult init = detail::KMeansPlusPlusLloyd(points.data(), n, kFeatureCount, m.k,
                                                              std::max(1, options.init_restarts),
                                                              kInitMaxIterations, options.seed);
  for (int c = 0; c < init.centers_found; ++c) {
    FeatureVector x{};
    std::copy_n(init.centers.begin() + size_t(c) * kFeatureCount, kFeatureCount, x.begin());
    m.centroids.push_back(x);
  }
  // Fewer distinct points than k: the farthest point from the centres so far (ties: first in the
  // sample), which is a duplicate of one once every distinct point is a centre.
  auto point = [&](size_t i) {
    FeatureVector x{};
    std::copy_n(points.begin() + i * kFeatureCount, kFeatureCount, x.begin());
    return x;
  };
  while (int(m.centroids.size()) < m.k) {
    size_t far = 0;
    double far_d2 = -1;
    for (size_t i = 0; i < n; ++i) {
      double d2 = std::numeric_limits<double>::infinity();
      for (const FeatureVector& c : m.centroids) d2 = std::min(d2, Distance2(point(i), c));
      if (d2 > far_d2) {
        far_d2 = d2;
        far = i;
      }
    }
    m.centroids.push_back(point(far));
  }
  // Sizes and inertia from the nearest-centroid labels (ties: lowest id, as AssignSegment), which
  // are Lloyd's final labels when k-means found all k centres.
  m.sizes.assign(size_t(m.k), 0);
  m.inertia = 0;
  for (size_t i = 0; i < n; ++i) {
    const SegmentAssignment a = AssignSegment(m, point(i), -1, 0);
    m.sizes[size_t(a.segment)] += 1;
    m.inertia += a.distance * a.distance;
  }
  m.labels = LabelSegments(OriginalCentroids(m), {});
  return m;
}

Result<SegmentModel> RefreshModel(const SegmentModel& model, std::span<const SegmentStats> merged,
                                  int64_t as_of_ms) {
  if (model.k < 1 || model.k > kMaxK || model.centroids.size() != size_t(model.k)) {
    return Status::InvalidArgument("RefreshModel: model has no valid centroids");
  }
  if (merged.size() != size_t(model.k)) {
    return Status::InvalidArgument("RefreshModel: statistics size differs from k");
  }
  SegmentModel next = model;
  bool changed = as_of_ms != model.as_of_ms;
  next.inertia = 0;
  next.sizes.assign(size_t(model.k), 0);
  for (int c = 0; c < model.k; ++c) {
    const SegmentStats& s = merged[size_t(c)];
    if (s.count < 0) return Status::InvalidArgument("RefreshModel: negative member count");
    if (s.count > 0) {
      next.centroids[size_t(c)] = s.Mean();
      next.sizes[size_t(c)] = s.count;
      next.inertia += s.Cost();
    }
    changed = changed || std::sqrt(Distance2(next.centroids[size_t(c)],
                                             model.centroids[size_t(c)])) > kMoveEpsilon;
  }
  if (!changed) return model;
  next.as_of_ms = as_of_ms;
  next.version = model.version + 1;
  next.labels = LabelSegments(OriginalCentroids(next), model.labels);
  return next;
}

SegmentAssignment AssignSegment(const SegmentModel& model, const FeatureVector& scaled,
                                int32_t current, double hysteresis) {
  SegmentAssignment out;
  const int k = int(model.centroids.size());
  if (k == 0 || !AllFinite(scaled)) {
    // No model, or a vector no finite transform produces: keep what the customer had.
    out.segment = current >= 0 && current < k ? current : -1;
    return out;
  }
  int best = 0;
  double best_d2 = std::numeric_limits<double>::infinity();
  for (int c = 0; c < k; ++c) {
    const double d2 = Distance2(scaled, model.centroids[size_t(c)]);
    if (d2 < best_d2) {
      best_d2 = d2;
      best = c;
    }
  }
  out.segment = best;
  out.distance = std::sqrt(best_d2);
  if (current < 0 || current >= k || current == best) return out;
  // Move only if the nearest is clearly closer, so a customer on a boundary does not flap between
  // two segments (and emit a SegmentChange each time) as its vector jitters.
  const double current_distance = std::sqrt(Distance2(scaled, model.centroids[size_t(current)]));
  if (out.distance < (1 - std::max(0.0, hysteresis)) * current_distance) return out;
  out.segment = current;
  out.distance = current_distance;
  return out;
}

}  // namespace segstream::stream
