#include "ingest/generator_random.h"

#include <cassert>

namespace segstream::ingest {

AliasTable::AliasTable(const std::vector<double>& weights) {
  const size_t n = weights.size();
  assert(n > 0 && n <= UINT32_MAX);
  double sum = 0;
  for (double w : weights) sum += w;
  assert(sum > 0);
  prob_.assign(n, 0.0);
  alias_.assign(n, 0);
  // Vose: scale to mean 1, then pair each under-full column with an over-full donor.
  std::vector<double> scaled(n);
  std::vector<uint32_t> small, large;
  small.reserve(n);
  large.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    scaled[i] = weights[i] * static_cast<double>(n) / sum;
    (scaled[i] < 1 ? small : large).push_back(static_cast<uint32_t>(i));
  }
  while (!small.empty() && !large.empty()) {
    const uint32_t s = small.back();
    small.pop_back();
    const uint32_t l = large.back();
    prob_[s] = scaled[s];
    alias_[s] = l;
    scaled[l] = (scaled[l] + scaled[s]) - 1;
    if (scaled[l] < 1) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // What is left is 1 up to rounding; making it exactly 1 is Vose's fix for numerical drift.
  for (uint32_t i : large) prob_[i] = 1, alias_[i] = i;
  for (uint32_t i : small) prob_[i] = 1, alias_[i] = i;
}

std::vector<double> ZipfWeights(int64_t n, double exponent) {
  std::vector<double> w(static_cast<size_t>(n));
  for (int64_t r = 1; r <= n; ++r) w[static_cast<size_t>(r - 1)] = std::pow(double(r), -exponent);
  return w;
}

}  // namespace segstream::ingest
