// Latency percentiles shared by the benchmarks (`bench e2e --latency`, `bench http`).
#pragma once

#include <vector>

namespace segstream::app {

// Nearest rank: the smallest sample with at least q of the samples at or below it (0 when empty).
// `sorted` ascending.
double NearestRankPercentile(const std::vector<double>& sorted, double q);

struct LatencyStats {
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0, mean_ms = 0;
  // Sorts `samples_ms` and sets every figure from it (all 0 when empty).
  void SetFrom(std::vector<double>* samples_ms);
};

}  // namespace segstream::app
