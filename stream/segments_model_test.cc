// stream/segments.h, second half: quantized statistics, the feature transform, the model (init on
// seeded synthetic customers, refresh, assignment with hysteresis) and labels. Expected values are
// computed here directly (sorted samples, two-pass means and costs), never by the code under test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "stream/segments.h"

namespace segstream::stream {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
using Quantized = std::array<int64_t, kFeatureCount>;

double U01(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1.0p-53; }
double Normal(std::mt19937_64& rng) {
  const double u1 = std::max(U01(rng), 1e-300);
  return std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * U01(rng));
}

// Random quantized vectors up to ±`range` model units.
std::vector<Quantized> RandomQuantized(size_t n, double range, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Quantized> out(n);
  for (Quantized& q : out) {
    for (int64_t& v : q) v = std::llround((2 * U01(rng) - 1) * range * 1e6);
  }
  return out;
}

void ExpectSameStats(const SegmentStats& a, const SegmentStats& b) {
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(a.sum, b.sum);
  EXPECT_EQ(a.sum_squares, b.sum_squares);
}

// ---- Quantization and statistics --------------------------------------------------------------

TEST(SegmentStats, QuantizeRoundsToMillionthsAndClamps) {
  const Quantized q = QuantizeVector({0.1234564, -2.4e-7, -3.0000004, 5000, -1e7, kNaN});
  EXPECT_EQ(q, (Quantized{123456, 0, -3000000, 1'000'000'000, -1'000'000'000, 0}));
  const FeatureVector x = DequantizeVector({123456, -1, 0, 7'000'000, 1'000'000'000, -250'000});
  EXPECT_EQ(x, (FeatureVector{0.123456, -0.000001, 0, 7, 1000, -0.25}));
}

TEST(SegmentStats, AddThenRemoveIsExactlyZero) {
  const std::vector<Quantized> qs = RandomQuantized(2000, 1000, 7);  // up to the clamp
  SegmentStats s;
  for (const Quantized& q : qs) s.Add(q);
  EXPECT_EQ(s.count, 2000);
  // Remove in another order, interleaved with add/remove pairs of other vectors.
  std::vector<size_t> order(qs.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(3));
  const std::vector<Quantized> extra = RandomQuantized(50, 3, 8);
  for (size_t i = 0; i < order.size(); ++i) {
    s.Remove(qs[order[i]]);
    const Quantized& e = extra[i % extra.size()];
    s.Add(e);
    s.Remove(e);
  }
  ExpectSameStats(s, SegmentStats{});
}

TEST(SegmentStats, SumsAreExactAndSumSquaresIsMillionthsOfNorm) {
  const std::vector<Quantized> qs = RandomQuantized(500, 20, 11);
  SegmentStats s;
  for (const Quantized& q : qs) s.Add(q);
  Quantized sum{};
  long double norm2 = 0;  // Σ|x|², model units
  for (const Quantized& q : qs) {
    for (int j = 0; j < kFeatureCount; ++j) {
      sum[j] += q[j];
      const long double x = q[j] / 1e6L;
      norm2 += x * x;
    }
  }
  EXPECT_EQ(s.sum, sum);
  // Each member's |x|² is rounded to a millionth: at most 0.5 off per member.
  EXPECT_LE(std::fabs(static_cast<double>(s.sum_squares - norm2 * 1e6L)), 0.5 * qs.size());
}

TEST(SegmentStats, MergeOfPartitionsEqualsUnionInAnyOrder) {
  const std::vector<Quantized> qs = RandomQuantized(3000, 50, 21);
  SegmentStats all;
  for (const Quantized& q : qs) all.Add(q);
  std::mt19937_64 rng(5);
  for (int partitions : {1, 2, 6, 13}) {
    std::vector<SegmentStats> parts(static_cast<size_t>(partitions));
    for (const Quantized& q : qs) parts[rng() % size_t(partitions)].Add(q);
    std::vector<size_t> order(parts.size());
    std::iota(order.begin(), order.end(), 0);
    for (int trial = 0; trial < 3; ++trial) {
      std::shuffle(order.begin(), order.end(), rng);
      SegmentStats merged;
      for (size_t p : order) merged.Merge(parts[p]);
      ExpectSameStats(merged, all);
    }
  }
}

TEST(SegmentStats, CostAndMeanMatchDirectComputation) {
  std::mt19937_64 rng(9);
  SegmentStats s;
  std::vector<FeatureVector> xs;
  for (int i = 0; i < 4000; ++i) {
    FeatureVector x{};
    for (int j = 0; j < kFeatureCount; ++j) x[j] = 30 + j + 0.7 * Normal(rng);  // far from 0
    const Quantized q = QuantizeVector(x);
    s.Add(q);
    xs.push_back(DequantizeVector(q));
  }
  FeatureVector mean{};
  for (const FeatureVector& x : xs) {
    for (int j = 0; j < kFeatureCount; ++j) mean[j] += x[j] / xs.size();
  }
  double cost = 0;
  for (const FeatureVector& x : xs) {
    for (int j = 0; j < kFeatureCount; ++j) cost += (x[j] - mean[j]) * (x[j] - mean[j]);
  }
  const FeatureVector m = s.Mean();
  for (int j = 0; j < kFeatureCount; ++j) EXPECT_NEAR(m[j], mean[j], 1e-12);
  // ~6 × 4000 × 0.49 ≈ 11760; the rounding of sum_squares allows 0.5e-6 per member.
  EXPECT_NEAR(s.Cost(), cost, 1e-6 * xs.size() + 1e-9 * cost);
  EXPECT_EQ(SegmentStats{}.Cost(), 0);
  SegmentStats one;
  one.Add(QuantizeVector({1.5, -2, 3, 0, 0, 0}));
  EXPECT_NEAR(one.Cost(), 0, 1e-6);
  EXPECT_EQ(one.Mean(), (FeatureVector{1.5, -2, 3, 0, 0, 0}));
}

// ---- Feature transform ------------------------------------------------------------------------

// Linear interpolation between order statistics at (n − 1) q, the textbook sample quantile.
double SampleQuantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const size_t lo = size_t(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - double(lo)) * (v[hi] - v[lo]);
}

TEST(FeatureTransform, FitMatchesSortedSampleQuantiles) {
  std::vector<FeatureVector> sample;
  for (int i = 0; i <= 1000; ++i) {
    sample.push_back(
        {double(i), double(1 + i % 7), (i - 300) * 2.5, std::exp(i / 100.0), 3, i / 1000.0});
  }
  const FeatureTransform t = FeatureTransform::Fit(sample);
  EXPECT_EQ(t.log1p, (std::array<bool, kFeatureCount>{true, true, true, true, true, false}));
  for (int j = 0; j < kFeatureCount; ++j) {
    std::vector<double> v;
    for (const FeatureVector& x : sample) {
      v.push_back(t.log1p[j] ? std::copysign(std::log1p(std::fabs(x[j])), x[j]) : x[j]);
    }
    const double median = SampleQuantile(v, 0.5);
    const double iqr = SampleQuantile(v, 0.75) - SampleQuantile(v, 0.25);
    if (iqr == 0) {
      EXPECT_EQ(t.scale[j], 1) << FeatureNames()[j];
      EXPECT_DOUBLE_EQ(t.center[j], median) << FeatureNames()[j];
      continue;
    }
    // t-digest ranks (q·n) and order statistics ((n − 1)·q) differ by < 1 rank of 1001.
    EXPECT_NEAR(t.center[j], median, 0.01 * iqr) << FeatureNames()[j];
    EXPECT_NEAR(t.scale[j], iqr, 0.01 * iqr) << FeatureNames()[j];
  }
  // Discrete frequency 1..7, 143 of each: quartiles and median are exact values.
  EXPECT_NEAR(t.center[kFrequency], std::log(5.0), 1e-12);
  EXPECT_NEAR(t.scale[kFrequency], std::log(7.0) - std::log(3.0), 1e-12);
  EXPECT_NEAR(t.center[kMeanDistinctItems], std::log(4.0), 1e-12);
  EXPECT_EQ(t.scale[kMeanDistinctItems], 1);  // constant feature: IQR 0 falls back to 1
}

TEST(FeatureTransform, EmptySampleIsIdentityScaling) {
  const FeatureTransform t = FeatureTransform::Fit({});
  EXPECT_EQ(t.center, FeatureVector{});
  EXPECT_EQ(t.scale, (FeatureVector{1, 1, 1, 1, 1, 1}));
}

TEST(FeatureTransform, ApplyByHandAndInvertRoundTrip) {
  FeatureTransform t;
  t.log1p = {true, true, true, true, true, false};
  t.center = {1, 0, 0, std::log(11.0), 0, 0.5};
  t.scale = {2, 1, 0.5, 1, 4, 0.25};
  const double e = std::exp(1.0);
  const FeatureVector y = t.Apply({e - 1, 0, -(e * e - 1), 10, e * e * e * e - 1, 0.25});
  const FeatureVector expect = {0, 0, -4, 0, 1, -1};
  for (int j = 0; j < kFeatureCount; ++j) EXPECT_NEAR(y[j], expect[j], 1e-12) << j;
  for (const FeatureVector& raw : std::vector<FeatureVector>{
           {0, 1, 0, 0, 0, 0}, {365.25, 120, -5432.1, 999.5, 37, 1}, {0.5, 2, 1e7, 1e-3, 1, 0.3}}) {
    const FeatureVector back = t.Invert(t.Apply(raw));
    for (int j = 0; j < kFeatureCount; ++j) {
      EXPECT_NEAR(back[j], raw[j], 1e-12 * std::max(1.0, std::fabs(raw[j]))) << j;
    }
  }
}

TEST(FeatureTransform, DescribeIsOneLineNamingEveryFeature) {
  FeatureTransform t = FeatureTransform::Fit({});
  const std::string d = t.Describe();
  EXPECT_EQ(d.find('\n'), std::string::npos);
  EXPECT_NE(d.find("log1p"), std::string::npos);
  EXPECT_NE(d.find("IQR"), std::string::npos);
  for (std::string_view name : FeatureNames()) EXPECT_NE(d.find(name), std::string::npos) << name;
}

// ---- Model ------------------------------------------------------------------------------------

// Four customer types far apart in log space, small multiplicative noise.
struct Customers {
  std::vector<FeatureVector> raw;
  std::vector<int> type;
};
Customers MakeCustomers(int per_type, uint64_t seed) {
  const FeatureVector kTypes[] = {
      {3, 40, 20000, 500, 20, 0.01},  // recent, frequent, high spend
      {300, 2, 60, 30, 3, 0},         // long gone
      {5, 1, 25, 25, 2, 0},           // new
      {40, 5, 25000, 5000, 50, 0.1},  // wholesale baskets
  };
  std::mt19937_64 rng(seed);
  Customers c;
  for (int i = 0; i < 4 * per_type; ++i) {
    const int t = int(rng() % 4);
    FeatureVector x{};
    for (int j = 0; j < kReturnRate; ++j) {
      x[j] = std::expm1(std::log1p(kTypes[t][j]) + 0.05 * Normal(rng));
    }
    x[kReturnRate] = std::clamp(kTypes[t][kReturnRate] + 0.002 * Normal(rng), 0.0, 1.0);
    c.raw.push_back(x);
    c.type.push_back(t);
  }
  return c;
}

TEST(SegmentModel, InitRecoversWellSeparatedCustomerTypes) {
  const Customers c = MakeCustomers(100, 17);
  const SegmentModelOptions options{.k = 4, .seed = 3, .init_restarts = 5};
  auto r = InitModel(c.raw, 777, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const SegmentModel& m = *r;
  EXPECT_EQ(m.version, 1);
  EXPECT_EQ(m.k, 4);
  EXPECT_EQ(m.as_of_ms, 777);
  ASSERT_EQ(m.centroids.size(), 4u);
  ASSERT_EQ(m.labels.size(), 4u);
  EXPECT_EQ(std::set<std::string>(m.labels.begin(), m.labels.end()).size(), 4u);
  // Every type maps to one segment, and different types to different segments.
  std::map<int, std::set<int>> segments_of_type;
  std::vector<int64_t> sizes(4);
  double inertia = 0;
  for (size_t i = 0; i < c.raw.size(); ++i) {
    const FeatureVector x = m.transform.Apply(c.raw[i]);
    int best = 0;
    double best_d2 = std::numeric_limits<double>::infinity();
    for (int s = 0; s < 4; ++s) {
      double d2 = 0;
      for (int j = 0; j < kFeatureCount; ++j) d2 += std::pow(x[j] - m.centroids[s][j], 2);
      if (d2 < best_d2) {
        best_d2 = d2;
        best = s;
      }
    }
    segments_of_type[c.type[i]].insert(best);
    sizes[size_t(best)] += 1;
    inertia += best_d2;
    EXPECT_EQ(AssignSegment(m, x, -1, 0.05).segment, best);
  }
  std::set<int> used;
  for (const auto& [type, segs] : segments_of_type) {
    EXPECT_EQ(segs.size(), 1u) << "type " << type;
    used.insert(*segs.begin());
  }
  EXPECT_EQ(used.size(), 4u);
  EXPECT_EQ(m.sizes, sizes);
  EXPECT_NEAR(m.inertia, inertia, 1e-9 * inertia);
  // The recent, frequent, high-spend type is "Champions" and the long-gone one "Lapsed".
  const int champions = *segments_of_type[0].begin(), lapsed = *segments_of_type[1].begin();
  EXPECT_EQ(m.labels[size_t(champions)], "Champions");
  EXPECT_EQ(m.labels[size_t(lapsed)], "Lapsed");
  // Deterministic from the seed: the same encoding bit for bit.
  auto again = InitModel(c.raw, 777, options);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->Encode(), m.Encode());
}

TEST(SegmentModel, InitWithFewerDistinctPointsThanK) {
  std::vector<FeatureVector> sample;
  const FeatureVector distinct[] = {
      {1, 1, 10, 10, 1, 0}, {30, 4, 200, 50, 3, 0.2}, {200, 2, 40, 20, 2, 0}};
  for (int i = 0; i < 30; ++i) sample.push_back(distinct[i % 3]);
  auto r = InitModel(sample, 5, {.k = 5, .seed = 1, .init_restarts = 3});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->k, 5);
  ASSERT_EQ(r->centroids.size(), 5u);
  EXPECT_EQ(r->labels.size(), 5u);
  EXPECT_EQ(std::set<std::string>(r->labels.begin(), r->labels.end()).size(), 5u);
  EXPECT_EQ(std::accumulate(r->sizes.begin(), r->sizes.end(), int64_t{0}), 30);
  EXPECT_NEAR(r->inertia, 0, 1e-20);
  // Every distinct point is a centroid (up to the rounding of a mean of equal values).
  for (const FeatureVector& p : distinct) {
    const FeatureVector x = r->transform.Apply(p);
    double nearest = std::numeric_limits<double>::infinity();
    for (const FeatureVector& c : r->centroids) {
      double d2 = 0;
      for (int j = 0; j < kFeatureCount; ++j) d2 += (x[j] - c[j]) * (x[j] - c[j]);
      nearest = std::min(nearest, d2);
    }
    EXPECT_LT(nearest, 1e-24);
  }
  auto single = InitModel(std::vector<FeatureVector>{distinct[0]}, 5, {.k = 6});
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->centroids.size(), 6u);
  EXPECT_EQ(std::set<std::string>(single->labels.begin(), single->labels.end()).size(), 6u);
}

TEST(SegmentModel, InitRejectsBadInput) {
  EXPECT_EQ(InitModel({}, 0, {}).status().code(), StatusCode::kInvalidArgument);
  const std::vector<FeatureVector> nan_only = {{kNaN, 1, 1, 1, 1, 0}};
  EXPECT_EQ(InitModel(nan_only, 0, {}).status().code(), StatusCode::kInvalidArgument);
  const std::vector<FeatureVector> one = {{1, 1, 1, 1, 1, 0}};
  EXPECT_EQ(InitModel(one, 0, {.k = 0}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(InitModel(one, 0, {.k = 65}).status().code(), StatusCode::kInvalidArgument);
}

// A model with the identity transform, centroids on the first axis at 0, 10 and 100.
SegmentModel AxisModel() {
  SegmentModel m;
  m.version = 4;
  m.k = 3;
  m.as_of_ms = 1000;
  m.transform = FeatureTransform::Fit({});
  m.transform.log1p = {};
  m.centroids = {{0, 0, 0, 0, 0, 0}, {10, 0, 0, 0, 0, 0}, {100, 0, 0, 0, 0, 0}};
  m.labels = {"Champions", "Loyal", "Lapsed"};
  m.sizes = {0, 0, 0};
  return m;
}

TEST(SegmentModel, RefreshSetsCentroidsToMemberMeans) {
  const SegmentModel m = AxisModel();
  const std::vector<FeatureVector> members0 = {{1, 2, 0, 0, 0, 0}, {2, -1, 0, 0, 0, 0.5}};
  const std::vector<FeatureVector> members1 = {
      {9, 0, 1, 0, 0, 0}, {12, 0, -1, 0, 0, 0}, {11.5, 3, 0, 0, 0, 0}};
  std::vector<SegmentStats> stats(3);
  for (const auto& x : members0) stats[0].Add(QuantizeVector(x));
  for (const auto& x : members1) stats[1].Add(QuantizeVector(x));
  auto r = RefreshModel(m, stats, 2000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->version, 5);
  EXPECT_EQ(r->as_of_ms, 2000);
  const FeatureVector mean0 = {1.5, 0.5, 0, 0, 0, 0.25};
  const FeatureVector mean1 = {32.5 / 3, 1, 0, 0, 0, 0};
  for (int j = 0; j < kFeatureCount; ++j) {
    EXPECT_NEAR(r->centroids[0][j], mean0[j], 1e-12);
    EXPECT_NEAR(r->centroids[1][j], mean1[j], 1e-12);
  }
  EXPECT_EQ(r->centroids[2], m.centroids[2]);  // empty segment keeps its centroid
  EXPECT_EQ(r->sizes, (std::vector<int64_t>{2, 3, 0}));
  // Σ squared distances to the means, by hand: segment 0: 0.25+2.25+0.0625 twice = 5.125;
  // segment 1: Σ (x − 32.5/3)² + Σ (y − 1)² + Σ z² = 4.6667 + 6 + 2.
  const double cost1 = std::pow(9 - 32.5 / 3, 2) + std::pow(12 - 32.5 / 3, 2) +
                       std::pow(11.5 - 32.5 / 3, 2) + 1 + 1 + 4 + 2;
  EXPECT_NEAR(r->inertia, 5.125 + cost1, 1e-5);
  EXPECT_EQ(r->labels.size(), 3u);
  EXPECT_EQ(std::set<std::string>(r->labels.begin(), r->labels.end()).size(), 3u);

  // Same statistics, same as_of: nothing moves, the model comes back unchanged.
  auto same = RefreshModel(*r, stats, 2000);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->version, 5);
  EXPECT_EQ(same->Encode(), r->Encode());
  // Only as_of moves: a new version.
  auto later = RefreshModel(*r, stats, 3000);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->version, 6);
  EXPECT_EQ(later->centroids, r->centroids);
  // All segments empty and same as_of: unchanged.
  auto empty = RefreshModel(m, std::vector<SegmentStats>(3), 1000);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->Encode(), m.Encode());
  // A negative member count (statistics removed from where they were never added).
  std::vector<SegmentStats> negative(3);
  negative[1].Remove(QuantizeVector(members1[0]));
  EXPECT_EQ(RefreshModel(m, negative, 1000).status().code(), StatusCode::kInvalidArgument);
  // Wrong number of statistics.
  EXPECT_EQ(RefreshModel(m, std::vector<SegmentStats>(2), 1000).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(SegmentModel, AssignNearestWithHysteresis) {
  const SegmentModel m = AxisModel();
  auto at = [](double x, double y = 0) { return FeatureVector{x, y, 0, 0, 0, 0}; };
  // Plain nearest, Euclidean distance.
  SegmentAssignment a = AssignSegment(m, at(3, 4), -1, 0.05);
  EXPECT_EQ(a.segment, 0);
  EXPECT_DOUBLE_EQ(a.distance, 5);
  EXPECT_EQ(AssignSegment(m, at(5), -1, 0.05).segment, 0);  // tie: lowest id
  EXPECT_EQ(AssignSegment(m, at(60), -1, 0.05).segment, 2);
  // In segment 0 at 5.2: 10 is 4.8 away, < 0.95 × 5.2 = 4.94: moves.
  a = AssignSegment(m, at(5.2), 0, 0.05);
  EXPECT_EQ(a.segment, 1);
  EXPECT_NEAR(a.distance, 4.8, 1e-12);
  // At 5.1: 4.9 is not < 0.95 × 5.1 = 4.845: stays, with its distance to segment 0.
  a = AssignSegment(m, at(5.1), 0, 0.05);
  EXPECT_EQ(a.segment, 0);
  EXPECT_NEAR(a.distance, 5.1, 1e-12);
  // Without hysteresis it moves; from the other side it stays in 1.
  EXPECT_EQ(AssignSegment(m, at(5.1), 0, 0).segment, 1);
  EXPECT_EQ(AssignSegment(m, at(4.9), 1, 0.05).segment, 1);
  // Already in the nearest segment.
  a = AssignSegment(m, at(9), 1, 0.05);
  EXPECT_EQ(a.segment, 1);
  EXPECT_NEAR(a.distance, 1, 1e-12);
  // A current id the model does not have: plain nearest.
  EXPECT_EQ(AssignSegment(m, at(9), 7, 0.05).segment, 1);
  // A non-finite vector keeps the current segment.
  EXPECT_EQ(AssignSegment(m, at(kNaN), 2, 0.05).segment, 2);
  EXPECT_EQ(AssignSegment(m, at(kNaN), -1, 0.05).segment, -1);
}

// ---- Labels -----------------------------------------------------------------------------------

// R (days), F, M, basket, distinct items, return rate: one obvious centroid per label.
std::vector<FeatureVector> RfmCentroids() {
  return {
      {5, 20, 5000, 250, 10, 0.01},    // recent, frequent, high spend
      {300, 1, 100, 100, 3, 0.0},      // longest recency
      {10, 1, 50, 50, 2, 0.0},         // recent, one checkout
      {30, 3, 20000, 7000, 40, 0.05},  // huge baskets
      {150, 8, 2000, 250, 8, 0.02},    // lapsing but valuable
      {40, 6, 1200, 200, 6, 0.01},     // frequent, middling
  };
}

TEST(SegmentLabels, ObviousRfmCentroids) {
  const std::vector<std::string> labels = LabelSegments(RfmCentroids(), {});
  EXPECT_EQ(labels, (std::vector<std::string>{"Champions", "Lapsed", "New", "Big spenders",
                                              "At risk", "Loyal"}));
}

TEST(SegmentLabels, StableUnderSmallMovesAndPreviousLabels) {
  std::vector<FeatureVector> c = RfmCentroids();
  const std::vector<std::string> first = LabelSegments(c, {});
  // Every centroid moves by a few percent: the same labels.
  std::mt19937_64 rng(2);
  for (FeatureVector& x : c) {
    for (double& v : x) v *= 1 + 0.03 * (2 * U01(rng) - 1);
  }
  EXPECT_EQ(LabelSegments(c, first), first);
  // A previous label clearly overtaken moves: segment 4 (150 days) called "Lapsed" and segment 1
  // (300 days) "At risk" come back as the fresh labels.
  std::vector<std::string> prev = first;
  std::swap(prev[1], prev[4]);
  EXPECT_EQ(LabelSegments(c, prev), first);
  // A previous label that no longer fits is replaced: segment 0 called "Lapsed" although it is the
  // most recent.
  prev = first;
  prev[0] = "Lapsed";
  prev[1] = "Champions";
  EXPECT_EQ(LabelSegments(c, prev), first);
  // Previous of the wrong size is ignored.
  EXPECT_EQ(LabelSegments(c, std::vector<std::string>{"Lapsed"}), first);
}

TEST(SegmentLabels, NearTieKeepsPreviousLabels) {
  std::vector<FeatureVector> c = RfmCentroids();
  c[5] = {8, 19, 5000, 240, 9, 0.01};  // F·M 95000 vs segment 0's 100000: both fit Champions
  const std::vector<std::string> fresh = LabelSegments(c, {});
  EXPECT_EQ(fresh[0], "Champions");
  EXPECT_EQ(fresh[5], "Loyal");
  std::vector<std::string> prev = fresh;
  std::swap(prev[0], prev[5]);
  // Within 10 % of the best: the previous labels stay.
  EXPECT_EQ(LabelSegments(c, prev), prev);
  // Segment 5 falls to half of segment 0's F·M: Champions goes back to segment 0.
  c[5][kMonetary] = 2600;
  const std::vector<std::string> after = LabelSegments(c, prev);
  EXPECT_EQ(after[0], "Champions");
  EXPECT_NE(after[5], "Champions");
}

TEST(SegmentLabels, AlwaysKDistinctNonEmptyLabels) {
  std::mt19937_64 rng(13);
  for (int k = 1; k <= 64; ++k) {
    for (int trial = 0; trial < 5; ++trial) {
      std::vector<FeatureVector> c(static_cast<size_t>(k));
      for (FeatureVector& x : c) {
        for (double& v : x) v = trial == 4 ? 1.0 : std::floor(U01(rng) * 4);  // ties, duplicates
      }
      std::vector<std::string> prev;
      if (trial % 2) prev = LabelSegments(c, {});
      std::shuffle(prev.begin(), prev.end(), rng);
      if (trial == 3) c[0][kRecencyDays] = c[size_t(k) - 1][kMonetary] = kNaN;  // no crash
      const std::vector<std::string> labels = LabelSegments(c, prev);
      ASSERT_EQ(labels.size(), size_t(k));
      EXPECT_EQ(std::set<std::string>(labels.begin(), labels.end()).size(), size_t(k)) << k;
      for (const std::string& l : labels) EXPECT_FALSE(l.empty());
    }
  }
}

}  // namespace
}  // namespace segstream::stream
