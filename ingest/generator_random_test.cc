// The generator's PRNG, samplers and weekly clock. Expected values are published reference outputs,
// a separate Python implementation (noted where used) or closed-form moments.
#include "ingest/generator_random.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ingest/generator.h"

namespace segstream::ingest {
namespace {

TEST(GeneratorRandomTest, SplitMix64MatchesReference) {
  // Vigna's splitmix64.c from state 0: first output 0xe220a8397b1dcdaf.
  uint64_t state = 0;
  EXPECT_EQ(SplitMix64(&state), 0xe220a8397b1dcdafULL);
}

TEST(GeneratorRandomTest, Xoshiro256MatchesIndependentImplementation) {
  // From a Python transcription of xoshiro256** 1.0 seeded with four SplitMix64 outputs of seed 1.
  Xoshiro256 rng(1);
  EXPECT_EQ(rng.Next(), 0xb3f2af6d0fc710c5ULL);
  EXPECT_EQ(rng.Next(), 0x853b559647364ceaULL);
  EXPECT_EQ(rng.Next(), 0x92f89756082a4514ULL);
  Xoshiro256 zero(0);
  EXPECT_EQ(zero.Next(), 0x99ec5f36cb75f2b4ULL);
}

struct Moments {
  double mean = 0, var = 0;
};
template <typename F>
Moments Measure(int n, F draw) {
  double sum = 0, sum2 = 0;
  for (int i = 0; i < n; ++i) {
    const double x = draw();
    sum += x;
    sum2 += x * x;
  }
  Moments m;
  m.mean = sum / n;
  m.var = sum2 / n - m.mean * m.mean;
  return m;
}

TEST(GeneratorRandomTest, UniformAndBelowStayInRange) {
  Xoshiro256 rng(3);
  int buckets[10] = {};
  for (int i = 0; i < 100'000; ++i) {
    const double u = rng.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    const uint64_t b = rng.Below(10);
    ASSERT_LT(b, 10u);
    ++buckets[b];
  }
  // 10,000 expected per bucket, sd ≈ 95.
  for (int count : buckets) EXPECT_NEAR(count, 10'000, 500);
}

TEST(GeneratorRandomTest, SamplersHaveTheirMoments) {
  Xoshiro256 rng(11);
  constexpr int kN = 200'000;
  auto e = Measure(kN, [&] { return SampleExponential(rng); });
  EXPECT_NEAR(e.mean, 1.0, 0.015);
  EXPECT_NEAR(e.var, 1.0, 0.05);
  auto n = Measure(kN, [&] { return SampleNormal(rng); });
  EXPECT_NEAR(n.mean, 0.0, 0.015);
  EXPECT_NEAR(n.var, 1.0, 0.03);
  // Gamma(k, θ): mean kθ, variance kθ².
  auto g = Measure(kN, [&] { return SampleGamma(rng, 2.0, 3.0); });
  EXPECT_NEAR(g.mean, 6.0, 0.08);
  EXPECT_NEAR(g.var, 18.0, 0.8);
  auto g_small = Measure(kN, [&] { return SampleGamma(rng, 0.5, 2.0); });
  EXPECT_NEAR(g_small.mean, 1.0, 0.02);
  EXPECT_NEAR(g_small.var, 2.0, 0.15);
  // Poisson: mean = variance = λ; 75 goes through the chunked path.
  auto p = Measure(kN, [&] { return static_cast<double>(SamplePoisson(rng, 4.2)); });
  EXPECT_NEAR(p.mean, 4.2, 0.03);
  EXPECT_NEAR(p.var, 4.2, 0.12);
  auto p_big = Measure(kN / 4, [&] { return static_cast<double>(SamplePoisson(rng, 75)); });
  EXPECT_NEAR(p_big.mean, 75, 0.25);
  EXPECT_NEAR(p_big.var, 75, 3);
  // Geometric on {1, 2, ...} with p = 1/6: mean 6, variance (1 - p) / p² = 30.
  auto geo = Measure(kN, [&] { return static_cast<double>(SampleGeometric(rng, 6)); });
  EXPECT_NEAR(geo.mean, 6, 0.06);
  EXPECT_NEAR(geo.var, 30, 1.2);
  EXPECT_EQ(SampleGeometric(rng, 1), 1);
}

TEST(GeneratorRandomTest, AliasTableDrawsItsWeights) {
  AliasTable table({1, 2, 3, 4, 0});
  Xoshiro256 rng(5);
  int counts[5] = {};
  constexpr int kN = 400'000;
  for (int i = 0; i < kN; ++i) ++counts[table.Sample(rng)];
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(counts[i] / double(kN), (i + 1) / 10.0, 0.004) << i;
  EXPECT_EQ(counts[4], 0);
}

TEST(GeneratorRandomTest, ZipfTopItemShareMatchesTheory) {
  constexpr int kItems = 1000;
  constexpr int kDraws = 1'000'000;
  for (double s : {0.9, 1.2}) {
    double harmonic = 0;  // generalised harmonic number H(1000, s), summed here independently
    for (int r = 1; r <= kItems; ++r) harmonic += 1 / std::pow(r, s);
    AliasTable zipf(ZipfWeights(kItems, s));
    Xoshiro256 rng(17);
    std::vector<int> counts(kItems);
    for (int i = 0; i < kDraws; ++i) ++counts[zipf.Sample(rng)];
    for (int rank : {1, 2, 10, 100}) {
      const double expected = 1 / std::pow(rank, s) / harmonic;
      const double sd = std::sqrt(expected * (1 - expected) / kDraws);
      EXPECT_NEAR(counts[rank - 1] / double(kDraws), expected, 5 * sd)
          << "s=" << s << " rank=" << rank;
    }
  }
}

TEST(GeneratorRandomTest, WeeklyClockKeepsTheWeekAndShiftsToWeekends) {
  const WeeklyClock clock(1.5);
  double sum = 0;
  double weekday = 0, weekend = 0;
  for (int h = 0; h < WeeklyClock::kHoursPerWeek; ++h) {
    sum += clock.Intensity(h);
    (h / 24 >= 5 ? weekend : weekday) += clock.Intensity(h);
    if (h % 24 < 8 || h % 24 >= 21) {
      EXPECT_EQ(clock.Intensity(h), 0) << "closed hour " << h;
    }
  }
  EXPECT_NEAR(sum / WeeklyClock::kHoursPerWeek, 1.0, 1e-12);
  EXPECT_NEAR((weekend / 2) / (weekday / 5), 1.5, 1e-12);
  // One operational week is one calendar week, in any week.
  EXPECT_NEAR(clock.ToOp(7 * 86400.0), 7 * 86400.0, 1e-6);
  EXPECT_NEAR(clock.ToOp(30 * 7 * 86400.0), 30 * 7 * 86400.0, 1e-4);
  // Open-hour times round-trip; closed hours take no operational time.
  for (double t : {8 * 3600.0 + 1, 12 * 3600.0 + 1234.5, 5 * 86400 + 20 * 3600 + 3599.0,
                   9 * 7 * 86400 + 3 * 86400 + 15 * 3600.0}) {
    EXPECT_NEAR(clock.ToWall(clock.ToOp(t)), t, 1e-5) << t;
  }
  EXPECT_DOUBLE_EQ(clock.ToOp(21 * 3600.0), clock.ToOp(86400 + 8 * 3600.0));
  EXPECT_LT(clock.ToOp(8 * 3600.0 + 10), clock.ToOp(8 * 3600.0 + 20));
}

}  // namespace
}  // namespace segstream::ingest
