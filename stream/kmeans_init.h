// Batch k-means for the buffered initialisation sample (internal to stream/kmeans*).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace segstream::stream::detail {

// Squared Euclidean distance of two `dim`-vectors (the scalar reference; hot loops live in
// kmeans_kernel.h).
inline double Dist2(const double* a, const double* b, int dim) {
  double s = 0;
  for (int j = 0; j < dim; ++j) {
    const double t = a[j] - b[j];
    s += t * t;
  }
  return s;
}

struct InitResult {
  int centers_found = 0;        // < k when the sample has fewer than k distinct points
  std::vector<double> centers;  // centers_found × dim, row-major
  std::vector<int> labels;      // per sample point, in [0, centers_found)
  double cost = 0;              // Σ squared distance to the labelled centre
};

// Best (lowest cost) of `restarts` runs of greedy k-means++ seeding (Arthur & Vassilvitskii 2007;
// 2 + ⌊ln k⌋ trials per centre, as in scikit-learn) followed by Lloyd until the labels are stable
// or `max_iterations`. Deterministic from `seed`: std::mt19937_64 output is fixed by the standard
// and the uniform draws are built from its bits, not from implementation-defined distributions.
InitResult KMeansPlusPlusLloyd(const double* points, size_t n, int dim, int k, int restarts,
                               int max_iterations, uint64_t seed);

}  // namespace segstream::stream::detail
