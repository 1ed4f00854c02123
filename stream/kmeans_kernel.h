// The per-point loops of StreamingKMeans (internal to stream/kmeans*): vectorised, compiled for
// several x86-64 levels and picked at load time.
#pragma once

#include <cstddef>

namespace segstream::stream::detail {

// Nearest centroid and its squared distance for each of n points (row-major, dim coordinates).
// Returns false if a distance is not finite: a NaN or infinite coordinate, or coordinates so
// large that their squares overflow.
// Centroids are given relative to `origin` (a point near the data) as neg2c = -2·(c - o), k × dim
// row-major, and norms = |c - o|², +inf for inactive slots (never chosen). Ties: lowest index.
// Results are bit-identical whatever vector unit runs them.
bool NearestBatch(const double* points, size_t n, int dim, const double* origin,
                  const double* neg2c, const double* norms, int k, int* cluster, double* d2);

// Per-centroid accumulators for one mini-batch (k entries, or k × dim for dev / dev2).
struct BatchSums {
  double* w;     // Σ w
  double* n;     // points
  double* cost;  // Σ w·d²
  double* dev;   // Σ w·(x - c)
  double* dev2;  // Σ w·(x - c)²
};

// Adds every point whose d² is at most far_threshold[cluster] to `sums` (deviations from the
// row-major `centroids`) and writes the indices of the other (far) points to `far` in input
// order, returning how many there are.
size_t AccumulateNear(const double* points, size_t n, int dim, const int* cluster, const double* d2,
                      const double* far_threshold, const double* centroids, double w,
                      BatchSums sums, size_t* far);

// True when all n values are finite.
bool AllFinite(const double* values, size_t n);

}  // namespace segstream::stream::detail
