// The per-point loops of StreamingKMeans (internal to stream/kmeans*; bench/kmeans_bench.cc also
// times the assignment alone): vectorised, compiled for several x86-64 levels and picked at load
// time.
#pragma once

#include <cstddef>
#include <cstdint>

namespace segstream::stream::detail {

// The model as the assignment kernel reads it. Centroids are given relative to `origin` (a point
// near the data): neg2c = -2·(c - o), k × dim row-major, and norms = |c - o|², +inf for inactive
// slots (never chosen). A point is far when its d² exceeds far_threshold[its centroid] (+inf:
// never).
struct AssignView {
  int k = 0;
  int dim = 0;
  const double* origin = nullptr;
  const double* neg2c = nullptr;
  const double* norms = nullptr;
  const double* far_threshold = nullptr;
};

// For each of n points (row-major): the nearest centroid (ties: lowest index), its squared
// distance, and the accumulator row it goes to (`slot`: the centroid, or k when the point is far);
// *n_far counts the far points. Returns false if a distance is not finite: a NaN or infinite
// coordinate, or coordinates so large that their squares overflow. Results are bit-identical
// whatever vector unit runs them.
bool NearestBatch(const AssignView& model, const double* points, size_t n, int* cluster, int* slot,
                  double* d2, size_t* n_far);

// Row stride, in doubles, of the per-centroid accumulators of one mini-batch: dim coordinates, a
// lane that counts points, then zeros up to whole 8-double vectors.
constexpr int AccStride(int dim) { return (dim + 1 + 7) / 8 * 8; }

// Adds each point to the accumulator row `slot[i]` of dev and dev2 ((k + 1) × AccStride(dim), row
// k taking the far points): dev += x - c, dev2 += (x - c)² per coordinate, and dev's lane dim
// counts the points. `centroids` has the same layout, with -1 in lane dim and zeros past it;
// `keep` holds AccStride(dim) bit masks, all ones for j < dim and zero after. Unweighted: the
// caller scales by the batch's weight.
void AccumulateNear(const double* points, size_t n, int dim, const int* slot,
                    const double* centroids, const uint64_t* keep, double* dev, double* dev2);

// True when all n values are finite.
bool AllFinite(const double* values, size_t n);

}  // namespace segstream::stream::detail
