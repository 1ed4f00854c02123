// stream/drift_panes.h: log space maps back onto any transform's units, a day's pane assigns and
// counts like a direct nearest-centroid computation in this test, the sampling is deterministic,
// and the codec round-trips and rejects bad text.
#include "stream/drift_panes.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace segstream::stream {
namespace {

FeatureTransform SomeTransform() {
  FeatureTransform t;
  t.log1p = {true, true, true, true, true, false};
  t.center = {0.5, 1.2, 6.0, 5.5, 2.0, 0.01};
  t.scale = {1.1, 0.7, 1.9, 0.9, 0.5, 0.25};
  return t;
}

TEST(DriftPanes, LogSpaceUndoesOnlyTheScaling) {
  const FeatureTransform t = SomeTransform();
  const FeatureVector raw = {12, 3, 450.25, 150.0, 8, 0.1};
  const FeatureVector y = ModelToLogSpace(t, t.Apply(raw));
  for (int j = 0; j < 5; ++j) EXPECT_NEAR(y[j], std::log1p(raw[j]), 1e-12) << j;
  EXPECT_NEAR(y[5], raw[5], 1e-12);
  EXPECT_NEAR(ModelToLogSpace(t, t.Apply({0, 1, -99.0, 10, 1, 0}))[2], -std::log1p(99.0), 1e-12);
  // And back, into another transform's units.
  FeatureTransform other = t;
  other.center[2] = 7.0;
  other.scale[2] = 2.5;
  EXPECT_NEAR(LogSpaceToModel(other, y)[2], (std::log1p(450.25) - 7.0) / 2.5, 1e-12);
}

TEST(DriftPanes, PaneCountsBehaviourInTheSegmentOfTheLifetimeVector) {
  SegmentModel model;
  model.version = 1;
  model.k = 2;
  model.transform = SomeTransform();
  model.centroids = {FeatureVector{}, FeatureVector{2, 2, 2, 2, 2, 2}};
  model.sizes = {0, 0};
  std::mt19937_64 rng(5);
  std::normal_distribution<double> z(0, 0.6);
  std::vector<DriftPurchase> purchases;
  SegmentStats expected[2];
  for (int i = 0; i < 400; ++i) {
    FeatureVector x{};
    const double base = i % 3 == 0 ? 2.0 : 0.0;
    for (double& v : x) v = base + z(rng);
    FeatureVector behaviour{};
    for (double& v : behaviour) v = 3 + z(rng);
    purchases.push_back({ModelToLogSpace(model.transform, x), behaviour});
    double d0 = 0, d1 = 0;
    for (int j = 0; j < kFeatureCount; ++j) {
      d0 += x[j] * x[j];
      d1 += (x[j] - 2) * (x[j] - 2);
    }
    expected[d1 < d0 ? 1 : 0].Add(QuantizeVector(behaviour));
  }
  const DriftPaneStats pane = BuildDriftPane(purchases, model);
  ASSERT_EQ(pane.per_segment.size(), 2u);
  for (int s = 0; s < 2; ++s) {
    EXPECT_EQ(pane.per_segment[s].count, expected[s].count) << s;
    EXPECT_EQ(pane.per_segment[s].sum, expected[s].sum) << s;
    EXPECT_EQ(pane.per_segment[s].sum_squares, expected[s].sum_squares) << s;
  }
}

TEST(DriftPanes, BehaviourOfACheckout) {
  CheckoutSummary c;
  c.event_time_ms = 10 * 86'400'000LL + 43'200'000;  // day 10.5
  c.units = 12;
  c.sales_micros = 30'000'000;  // 30.00
  c.distinct_sale_skus = 4;
  const FeatureVector b = BehaviourVector(c, 3 * 86'400'000LL);
  EXPECT_NEAR(b[0], std::log1p(7.5), 1e-12);
  EXPECT_NEAR(b[1], std::log1p(4.0), 1e-12);
  EXPECT_NEAR(b[2], std::log1p(12.0), 1e-12);
  EXPECT_NEAR(b[3], std::log1p(30.0), 1e-12);
  EXPECT_NEAR(b[4], std::log1p(2.5), 1e-12);
  EXPECT_EQ(b[5], 0);
  EXPECT_EQ(BehaviourVector(c, c.event_time_ms + 5)[0], 0);  // out of order: gap 0
}

TEST(DriftPanes, SamplingIsDeterministicAndNearTheRate) {
  int kept = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string id = std::to_string(10000 + i);
    const bool keep = KeepForDrift(id, 1'700'000'000'000 + i * 1000, 0.25);
    EXPECT_EQ(keep, KeepForDrift(id, 1'700'000'000'000 + i * 1000, 0.25));
    kept += keep;
  }
  EXPECT_NEAR(kept / 20000.0, 0.25, 0.015);  // binomial sd 0.003
  EXPECT_TRUE(KeepForDrift("x", 1, 1.0));
  EXPECT_FALSE(KeepForDrift("x", 1, 0.0));
}

TEST(DriftPanes, CodecRoundTripsAndRejectsBadText) {
  const DriftPurchase p = {{2.302585, -1.5, 0, 7.25, 1e-6, 0.333333}, {1, 2, 3, 4, 5, 0}};
  const std::string text = EncodeDriftPurchase(p);
  EXPECT_EQ(text, "2302585 -1500000 0 7250000 1 333333 1000000 2000000 3000000 4000000 5000000 0");
  auto back = DecodeDriftPurchase(text);
  ASSERT_TRUE(back.ok());
  for (int j = 0; j < kFeatureCount; ++j) {
    EXPECT_DOUBLE_EQ(back->lifetime[j], p.lifetime[j]);
    EXPECT_DOUBLE_EQ(back->behaviour[j], p.behaviour[j]);
  }
  for (const char* bad : {"", "1 2 3 4 5 6", "1 2 3 4 5 6 7 8 9 10 11 12 13",
                          "1 2 x 4 5 6 7 8 9 10 11 12", "1  2 3 4 5 6 7 8 9 10 11 12"}) {
    EXPECT_EQ(DecodeDriftPurchase(bad).status().code(), StatusCode::kCorruption) << bad;
  }
}

}  // namespace
}  // namespace segstream::stream
