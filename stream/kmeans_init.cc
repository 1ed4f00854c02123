#include "stream/kmeans_init.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace segstream::stream::detail {

namespace {

double Uniform01(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1.0p-53; }

// Greedy k-means++: returns the chosen centres (fewer than k if every point already coincides
// with a centre, i.e. the sample has fewer than k distinct points).
std::vector<double> Seed(const double* points, size_t n, int dim, int k, std::mt19937_64& rng) {
  std::vector<double> centers;
  centers.reserve(size_t(k) * dim);
  const size_t first = std::min(n - 1, size_t(Uniform01(rng) * double(n)));
  centers.insert(centers.end(), points + first * dim, points + (first + 1) * dim);
  std::vector<double> d2(n), prefix(n), trial_d2(n), best_d2(n);
  for (size_t i = 0; i < n; ++i) d2[i] = Dist2(points + i * dim, points + first * dim, dim);
  const int trials = 2 + int(std::log(double(k)));
  for (int c = 1; c < k; ++c) {
    double total = 0;
    for (size_t i = 0; i < n; ++i) prefix[i] = (total += d2[i]);
    if (!(total > 0)) break;
    double best_potential = std::numeric_limits<double>::infinity();
    size_t best = 0;
    for (int t = 0; t < trials; ++t) {
      const double r = Uniform01(rng) * total;
      // First point whose cumulative D² exceeds r: never one with D² = 0.
      size_t pick = size_t(std::upper_bound(prefix.begin(), prefix.end(), r) - prefix.begin());
      pick = std::min(pick, n - 1);
      while (d2[pick] == 0 && pick > 0) --pick;  // r rounded onto a flat stretch: step back
      double potential = 0;
      for (size_t i = 0; i < n; ++i) {
        trial_d2[i] = std::min(d2[i], Dist2(points + i * dim, points + pick * dim, dim));
        potential += trial_d2[i];
      }
      if (potential < best_potential) {
        best_potential = potential;
        best = pick;
        best_d2.swap(trial_d2);
      }
    }
    if (d2[best] == 0) break;
    centers.insert(centers.end(), points + best * dim, points + (best + 1) * dim);
    d2.swap(best_d2);
  }
  return centers;
}

// Lloyd's iterations from `centers`; fills labels and returns the cost.
double Lloyd(const double* points, size_t n, int dim, std::vector<double>& centers,
             std::vector<int>& labels, int max_iterations) {
  const int k = int(centers.size() / dim);
  labels.assign(n, -1);
  std::vector<double> d2(n), sums(centers.size());
  std::vector<double> counts(k);
  double cost = 0;
  // Ends on an assignment pass, so labels and cost always refer to the returned centres.
  for (int it = 0;; ++it) {
    bool changed = false;
    cost = 0;
    for (size_t i = 0; i < n; ++i) {
      int best = 0;
      double best_d2 = std::numeric_limits<double>::infinity();
      for (int c = 0; c < k; ++c) {
        const double d = Dist2(points + i * dim, centers.data() + size_t(c) * dim, dim);
        if (d < best_d2) {
          best_d2 = d;
          best = c;
        }
      }
      changed = changed || labels[i] != best;
      labels[i] = best;
      d2[i] = best_d2;
      cost += best_d2;
    }
    if (!changed || it == max_iterations) break;
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(counts.begin(), counts.end(), 0.0);
    for (size_t i = 0; i < n; ++i) {
      counts[labels[i]] += 1;
      for (int j = 0; j < dim; ++j) sums[size_t(labels[i]) * dim + j] += points[i * dim + j];
    }
    for (int c = 0; c < k; ++c) {
      if (counts[c] > 0) {
        for (int j = 0; j < dim; ++j)
          centers[size_t(c) * dim + j] = sums[size_t(c) * dim + j] / counts[c];
        continue;
      }
      // Empty cluster: move it onto the point worst served by its centre.
      size_t worst = size_t(std::max_element(d2.begin(), d2.end()) - d2.begin());
      if (d2[worst] == 0) continue;
      std::copy_n(points + worst * dim, dim, centers.begin() + size_t(c) * dim);
      d2[worst] = 0;
    }
  }
  return cost;
}

}  // namespace

InitResult KMeansPlusPlusLloyd(const double* points, size_t n, int dim, int k, int restarts,
                               int max_iterations, uint64_t seed) {
  InitResult best;
  if (n == 0) return best;
  best.cost = std::numeric_limits<double>::infinity();
  std::mt19937_64 rng(seed);
  for (int r = 0; r < restarts; ++r) {
    std::vector<double> centers = Seed(points, n, dim, k, rng);
    std::vector<int> labels;
    const double cost = Lloyd(points, n, dim, centers, labels, max_iterations);
    if (cost < best.cost) {
      best.cost = cost;
      best.centers = std::move(centers);
      best.labels = std::move(labels);
      best.centers_found = int(best.centers.size() / dim);
    }
  }
  return best;
}

}  // namespace segstream::stream::detail
