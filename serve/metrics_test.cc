#include "serve/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

namespace segstream::serve {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsFormatTest, ValuesUseShortestRoundTripAndPrometheusSpecials) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(2203), "2203");
  EXPECT_EQ(FormatMetricValue(-3.5), "-3.5");
  EXPECT_EQ(FormatMetricValue(0.1), "0.1");
  EXPECT_EQ(FormatMetricValue(0.00025), "0.00025");
  EXPECT_EQ(FormatMetricValue(0.00005), "0.00005");
  EXPECT_EQ(FormatMetricValue(1.5e-9), "1.5e-09");
  EXPECT_EQ(FormatMetricValue(1e21), "1e+21");
  EXPECT_EQ(FormatMetricValue(700000), "700000");
  EXPECT_EQ(FormatMetricValue(1323430140000.0), "1323430140000");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatMetricValue(std::nan("")), "NaN");
}

TEST(MetricsFormatTest, EscapesLabelValuesAndHelp) {
  // Text format 0.0.4: label values escape backslash, double quote and line feed; HELP escapes
  // backslash and line feed only.
  EXPECT_EQ(EscapeLabelValue(R"(a\b"c)"
                             "\nd"),
            R"(a\\b\"c\nd)");
  EXPECT_EQ(EscapeLabelValue("plain ünïcode"), "plain ünïcode");
  EXPECT_EQ(EscapeHelp("x\\y \"q\"\nz"), "x\\\\y \"q\"\\nz");
}

TEST(MetricsRegistryTest, RendersCountersAndGaugesWithLabels) {
  MetricsRegistry registry;
  auto& requests = registry.AddCounter("http_requests_total", "Requests.", {"code"});
  auto& temp = registry.AddGauge("temperature", "Now.");
  requests.WithLabels({"200"}).Increment();
  requests.WithLabels({"200"}).Increment(2);
  requests.WithLabels({"404"}).Increment();
  temp.Get().Set(-1.5);
  EXPECT_EQ(registry.Render(),
            "# HELP http_requests_total Requests.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{code=\"200\"} 3\n"
            "http_requests_total{code=\"404\"} 1\n"
            "# HELP temperature Now.\n"
            "# TYPE temperature gauge\n"
            "temperature -1.5\n");
}

TEST(MetricsRegistryTest, EscapesLabelValuesInSeries) {
  MetricsRegistry registry;
  auto& family = registry.AddGauge("g", "Help with \\ and\nnewline.", {"a", "b"});
  family.WithLabels({"q\"uote", "back\\slash\nnl"}).Set(1);
  EXPECT_EQ(registry.Render(),
            "# HELP g Help with \\\\ and\\nnewline.\n"
            "# TYPE g gauge\n"
            "g{a=\"q\\\"uote\",b=\"back\\\\slash\\nnl\"} 1\n");
}

TEST(MetricsRegistryTest, FamiliesWithoutSeriesAreNotRendered) {
  MetricsRegistry registry;
  registry.AddCounter("unused_total", "Never touched.", {"x"});
  registry.AddGauge("used", "Touched.").Get().Set(7);
  const std::string text = registry.Render();
  EXPECT_THAT(text, Not(HasSubstr("unused_total")));
  EXPECT_THAT(text, HasSubstr("used 7\n"));
}

TEST(MetricsRegistryTest, CounterNeverDecreasesByIncrement) {
  MetricsRegistry registry;
  auto& c = registry.AddCounter("c_total", "C.").Get();
  c.Increment(5);
  c.Increment(-2);
  c.Increment(std::nan(""));
  EXPECT_EQ(c.value(), 5);
  c.SetTotal(42);  // mirrored from a total kept elsewhere
  EXPECT_EQ(c.value(), 42);
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulativeAndInclusive) {
  MetricsRegistry registry;
  auto& h = registry.AddHistogram("rtt_seconds", "RTT.", {"op"}, {0.1, 0.5, 1}).WithLabels({"get"});
  // 0.1 lies on a bound: `le` is "less than or equal", so it counts in the 0.1 bucket.
  for (double v : {0.05, 0.1, 0.2, 0.5, 0.7, 3.0}) h.Observe(v);
  h.Observe(std::nan(""));  // ignored
  // Expected by hand: <=0.1: {0.05, 0.1} = 2; <=0.5: +{0.2, 0.5} = 4; <=1: +{0.7} = 5; +Inf: 6.
  // Sum = 0.05 + 0.1 + 0.2 + 0.5 + 0.7 + 3.0 = 4.55.
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE rtt_seconds histogram\n"
                              "rtt_seconds_bucket{op=\"get\",le=\"0.1\"} 2\n"
                              "rtt_seconds_bucket{op=\"get\",le=\"0.5\"} 4\n"
                              "rtt_seconds_bucket{op=\"get\",le=\"1\"} 5\n"
                              "rtt_seconds_bucket{op=\"get\",le=\"+Inf\"} 6\n"
                              "rtt_seconds_sum{op=\"get\"} "));
  EXPECT_THAT(text, HasSubstr("rtt_seconds_count{op=\"get\"} 6\n"));
  EXPECT_NEAR(h.Collect().sum, 4.55, 1e-12);
}

TEST(MetricsRegistryTest, HistogramMirrorsCumulativeCountsKeptElsewhere) {
  MetricsRegistry registry;
  auto& h = registry.AddHistogram("c", "C.", {}, {1, 2}).Get();
  h.SetCumulative({3, 5}, 6, 7.25);
  h.SetCumulative({4, 3}, 9, 1);  // decreasing: ignored
  h.SetCumulative({1}, 9, 1);     // wrong arity: ignored
  h.SetCumulative({1, 2}, 1, 1);  // count below the last bucket: ignored
  EXPECT_EQ(registry.Render(),
            "# HELP c C.\n"
            "# TYPE c histogram\n"
            "c_bucket{le=\"1\"} 3\n"
            "c_bucket{le=\"2\"} 5\n"
            "c_bucket{le=\"+Inf\"} 6\n"
            "c_sum 7.25\n"
            "c_count 6\n");
}

TEST(MetricsRegistryTest, HistogramWithoutLabels) {
  MetricsRegistry registry;
  auto& h = registry.AddHistogram("d", "D.", {}, {1, 2}).Get();
  h.Observe(1.5);
  EXPECT_EQ(registry.Render(),
            "# HELP d D.\n"
            "# TYPE d histogram\n"
            "d_bucket{le=\"1\"} 0\n"
            "d_bucket{le=\"2\"} 1\n"
            "d_bucket{le=\"+Inf\"} 1\n"
            "d_sum 1.5\n"
            "d_count 1\n");
}

TEST(MetricsRegistryTest, RejectsMalformedRegistrations) {
  MetricsRegistry registry;
  registry.AddCounter("ok_total", "Ok.", {"code"});
  EXPECT_THROW(registry.AddCounter("ok_total", "Again."), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("9starts_with_digit", "X."), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("has-dash", "X."), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("", "X."), std::invalid_argument);
  EXPECT_NO_THROW(registry.AddGauge("colon:ok", "X."));
  EXPECT_THROW(registry.AddGauge("g1", "X.", {"a:b"}), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("g2", "X.", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("g3", "X.", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("h1", "X.", {"le"}, {1}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("h2", "X.", {}, {1, 1}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("h3", "X.", {}, {2, 1}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("h4", "X.", {}, {1, std::numeric_limits<double>::infinity()}),
               std::invalid_argument);
}

TEST(MetricsRegistryTest, WrongLabelArityThrows) {
  MetricsRegistry registry;
  auto& family = registry.AddCounter("c_total", "C.", {"a", "b"});
  EXPECT_THROW(family.WithLabels({"x"}), std::invalid_argument);
  EXPECT_THROW(family.Get(), std::invalid_argument);
  EXPECT_NO_THROW(family.WithLabels({"x", "y"}));
}

TEST(MetricsRegistryTest, ConcurrentUpdatesAndScrapesLoseNothing) {
  MetricsRegistry registry;
  auto& counters = registry.AddCounter("c_total", "C.", {"t"});
  auto& hist = registry.AddHistogram("h", "H.", {}, {0.5}).Get();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Two label sets shared by all threads, so children are created concurrently too.
        counters.WithLabels({std::to_string(i % 2)}).Increment();
        hist.Observe(t % 2 == 0 ? 0.25 : 1.0);
      }
    });
  }
  std::thread scraper([&] {
    for (int i = 0; i < 50; ++i) (void)registry.Render();
  });
  for (auto& th : threads) th.join();
  scraper.join();
  EXPECT_EQ(counters.WithLabels({"0"}).value(), kThreads * kPerThread / 2);
  EXPECT_EQ(counters.WithLabels({"1"}).value(), kThreads * kPerThread / 2);
  const auto data = hist.Collect();
  EXPECT_EQ(data.count, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(data.cumulative[0], uint64_t{kThreads / 2} * kPerThread);  // the 0.25 observations
  // 0.25 and 1.0 are exact in binary, so the sum is exact too.
  EXPECT_EQ(data.sum, (kThreads / 2) * kPerThread * 0.25 + (kThreads / 2) * kPerThread * 1.0);
}

}  // namespace
}  // namespace segstream::serve
