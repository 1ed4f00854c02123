#include "app/latency_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace segstream::app {

double NearestRankPercentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

void LatencyStats::SetFrom(std::vector<double>* samples_ms) {
  std::vector<double>& s = *samples_ms;
  std::sort(s.begin(), s.end());
  p50_ms = NearestRankPercentile(s, 0.50);
  p90_ms = NearestRankPercentile(s, 0.90);
  p99_ms = NearestRankPercentile(s, 0.99);
  max_ms = s.empty() ? 0 : s.back();
  mean_ms =
      s.empty() ? 0 : std::accumulate(s.begin(), s.end(), 0.0) / static_cast<double>(s.size());
}

}  // namespace segstream::app
