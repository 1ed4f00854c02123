#include "stream/kmeans_kernel.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>

namespace segstream::stream::detail {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Points per step in NearestBatch: the native vector width of the machine (8 doubles with
// AVX-512, 4 with AVX2, 2 with SSE2). GCC lowers generic vectors wider than the hardware with
// selects done lane by lane, so each level gets its own width.
template <int L>
struct VecOf;
template <>
struct VecOf<8> {
  typedef double type __attribute__((vector_size(64)));
};
template <>
struct VecOf<4> {
  typedef double type __attribute__((vector_size(32)));
};
template <>
struct VecOf<2> {
  typedef double type __attribute__((vector_size(16)));
};
template <int L>
using Vec = typename VecOf<L>::type;
constexpr int kStackDims = 64;

// Compiled for AVX-512, AVX2 and baseline x86-64, chosen at load time (GCC function
// multiversioning). FMA contraction is off so that every clone rounds the same way: machines with
// different vector units assign the same points to the same centroids. Not under ThreadSanitizer:
// the clones' ifunc resolvers run during relocation, before TSan's runtime exists, and its
// instrumentation of them crashes the process at load.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define SEGSTREAM_KMEANS_CLONES                                                \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), \
                 optimize("fp-contract=off")))
#else
#define SEGSTREAM_KMEANS_CLONES __attribute__((optimize("fp-contract=off")))
#endif

// Points run across the vector lanes (transposed on the fly) and centroids in the scalar loop, so
// no horizontal reduction is needed per point and a strict `<` keeps the lowest index on ties in
// every lane. Distances are |c-o|² - 2 (x-o)·(c-o) + |x-o|²: the origin o near the data keeps the
// cancellation in that expansion small. D > 0 fixes the dimension at compile time (full unroll);
// D == 0 takes it at run time. `group` holds L points, row-major. Returns false if a
// distance is not finite (a NaN or infinite coordinate, or one so large its square overflows).
template <int L, int D>
inline __attribute__((always_inline)) bool NearestGroup(const double* group, int dim_rt,
                                                        const double* origin, const double* neg2c,
                                                        const double* norms, int k, size_t m,
                                                        int* cluster, double* d2_out, Vec<L>* xt) {
  using Lanes = Vec<L>;
  const int dim = D > 0 ? D : dim_rt;
  Lanes xx = {};
  for (int j = 0; j < dim; ++j) {
    Lanes v;
    for (int l = 0; l < L; ++l) v[l] = group[l * dim + j];
    v -= origin[j];
    xt[j] = v;
    xx += v * v;
  }
  Lanes best = {};
  best += kInf;
  Lanes best_c = {};
  for (int c = 0; c < k; ++c) {
    if (norms[c] == kInf) continue;
    const double* row = neg2c + size_t(c) * dim;
    Lanes acc = {};
    acc += norms[c];
    for (int j = 0; j < dim; ++j) acc += row[j] * xt[j];
    const auto better = acc < best;
    best = better ? acc : best;
    best_c = better ? Lanes{} + double(c) : best_c;
  }
  const Lanes d2 = best + xx;
  bool ok = true;
  for (size_t l = 0; l < m; ++l) {
    ok &= std::isfinite(d2[l]);
    cluster[l] = int(best_c[l]);
    d2_out[l] = d2[l] > 0 ? d2[l] : 0.0;  // rounding can dip just below zero
  }
  return ok;
}

template <int L, int D>
inline __attribute__((always_inline)) bool NearestBody(const double* points, size_t n, int dim_rt,
                                                       const double* origin, const double* neg2c,
                                                       const double* norms, int k, int* cluster,
                                                       double* d2, Vec<L>* xt, double* tail) {
  const int dim = D > 0 ? D : dim_rt;
  bool ok = true;
  size_t i0 = 0;
  for (; i0 + L <= n; i0 += L) {
    ok &= NearestGroup<L, D>(points + i0 * dim, dim, origin, neg2c, norms, k, L, cluster + i0,
                             d2 + i0, xt);
  }
  if (i0 < n) {
    // Last partial group: padded with copies of its first point.
    const size_t m = n - i0;
    for (int l = 0; l < L; ++l) {
      std::memcpy(tail + size_t(l) * dim, points + (i0 + (size_t(l) < m ? l : 0)) * dim,
                  sizeof(double) * dim);
    }
    ok &= NearestGroup<L, D>(tail, dim, origin, neg2c, norms, k, m, cluster + i0, d2 + i0, xt);
  }
  return ok;
}

template <int L>
inline __attribute__((always_inline)) bool NearestDispatch(const double* points, size_t n, int dim,
                                                           const double* origin,
                                                           const double* neg2c, const double* norms,
                                                           int k, int* cluster, double* d2) {
  Vec<L> stack_xt[kStackDims];
  double stack_tail[kStackDims * L];
  std::unique_ptr<Vec<L>[]> heap_xt;
  std::unique_ptr<double[]> heap_tail;
  Vec<L>* xt = stack_xt;
  double* tail = stack_tail;
  if (dim > kStackDims) {
    heap_xt.reset(new Vec<L>[dim]);
    heap_tail.reset(new double[size_t(dim) * L]);
    xt = heap_xt.get();
    tail = heap_tail.get();
  }
#define SEGSTREAM_NEAREST(D) \
  case D:                    \
    return NearestBody<L, D>(points, n, dim, origin, neg2c, norms, k, cluster, d2, xt, tail)
  switch (dim) {
    SEGSTREAM_NEAREST(1);
    SEGSTREAM_NEAREST(2);
    SEGSTREAM_NEAREST(3);
    SEGSTREAM_NEAREST(4);
    SEGSTREAM_NEAREST(5);
    SEGSTREAM_NEAREST(6);
    SEGSTREAM_NEAREST(7);
    SEGSTREAM_NEAREST(8);
    SEGSTREAM_NEAREST(16);
    default:
      return NearestBody<L, 0>(points, n, dim, origin, neg2c, norms, k, cluster, d2, xt, tail);
  }
#undef SEGSTREAM_NEAREST
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SEGSTREAM_KMEANS_DISPATCH 1
__attribute__((target("arch=x86-64-v4"), optimize("fp-contract=off"))) bool NearestV4(
    const double* points, size_t n, int dim, const double* origin, const double* neg2c,
    const double* norms, int k, int* cluster, double* d2) {
  return NearestDispatch<8>(points, n, dim, origin, neg2c, norms, k, cluster, d2);
}
__attribute__((target("arch=x86-64-v3"), optimize("fp-contract=off"))) bool NearestV3(
    const double* points, size_t n, int dim, const double* origin, const double* neg2c,
    const double* norms, int k, int* cluster, double* d2) {
  return NearestDispatch<4>(points, n, dim, origin, neg2c, norms, k, cluster, d2);
}
#endif
__attribute__((optimize("fp-contract=off"))) bool NearestBaseline(const double* points, size_t n,
                                                                  int dim, const double* origin,
                                                                  const double* neg2c,
                                                                  const double* norms, int k,
                                                                  int* cluster, double* d2) {
  return NearestDispatch<2>(points, n, dim, origin, neg2c, norms, k, cluster, d2);
}

template <int L, bool kUnitWeight>
inline __attribute__((always_inline)) void AccumulateStep(const double* x, const double* cen,
                                                          double w, double* dev, double* dev2) {
  Vec<L> xv, cv, dv, d2v;
  std::memcpy(&xv, x, sizeof(xv));
  std::memcpy(&cv, cen, sizeof(cv));
  std::memcpy(&dv, dev, sizeof(dv));
  std::memcpy(&d2v, dev2, sizeof(d2v));
  const Vec<L> t = xv - cv;
  if constexpr (kUnitWeight) {
    dv += t;
    d2v += t * t;
  } else {
    dv += w * t;
    d2v += w * (t * t);
  }
  std::memcpy(dev, &dv, sizeof(dv));
  std::memcpy(dev2, &d2v, sizeof(d2v));
}

// One pass over the batch, in input order.
template <int D, bool kUnitWeight>
inline __attribute__((always_inline)) size_t AccumulateBody(
    const double* __restrict points, size_t n, int dim_rt, const int* __restrict cluster,
    const double* __restrict d2, const double* __restrict far_threshold,
    const double* __restrict centroids, double w, BatchSums sums, size_t* __restrict far) {
  const int dim = D > 0 ? D : dim_rt;
  size_t n_far = 0;
  for (size_t i = 0; i < n; ++i) {
    const int c = cluster[i];
    if (d2[i] > far_threshold[c]) {
      far[n_far++] = i;
      continue;
    }
    const double* __restrict x = points + i * dim;
    const double* __restrict cen = centroids + size_t(c) * dim;
    double* __restrict dev = sums.dev + size_t(c) * dim;
    double* __restrict dev2 = sums.dev2 + size_t(c) * dim;
    sums.n[c] += 1;
    sums.w[c] += kUnitWeight ? 1.0 : w;
    sums.cost[c] += kUnitWeight ? d2[i] : w * d2[i];
    // Explicit 4- and 2-wide steps: GCC does not vectorise this short loop on its own.
    int j = 0;
    for (; j + 4 <= dim; j += 4)
      AccumulateStep<4, kUnitWeight>(x + j, cen + j, w, dev + j, dev2 + j);
    for (; j + 2 <= dim; j += 2)
      AccumulateStep<2, kUnitWeight>(x + j, cen + j, w, dev + j, dev2 + j);
    for (; j < dim; ++j) {
      const double t = x[j] - cen[j];
      dev[j] += kUnitWeight ? t : w * t;
      dev2[j] += kUnitWeight ? t * t : w * (t * t);
    }
  }
  return n_far;
}

template <int D>
inline __attribute__((always_inline)) size_t AccumulateDim(const double* points, size_t n, int dim,
                                                           const int* cluster, const double* d2,
                                                           const double* far_threshold,
                                                           const double* centroids, double w,
                                                           BatchSums sums, size_t* far) {
  if (w == 1.0) {
    return AccumulateBody<D, true>(points, n, dim, cluster, d2, far_threshold, centroids, w, sums,
                                   far);
  }
  return AccumulateBody<D, false>(points, n, dim, cluster, d2, far_threshold, centroids, w, sums,
                                  far);
}

}  // namespace

bool NearestBatch(const double* points, size_t n, int dim, const double* origin,
                  const double* neg2c, const double* norms, int k, int* cluster, double* d2) {
#ifdef SEGSTREAM_KMEANS_DISPATCH
  if (__builtin_cpu_supports("x86-64-v4")) {
    return NearestV4(points, n, dim, origin, neg2c, norms, k, cluster, d2);
  }
  if (__builtin_cpu_supports("x86-64-v3")) {
    return NearestV3(points, n, dim, origin, neg2c, norms, k, cluster, d2);
  }
#endif
  return NearestBaseline(points, n, dim, origin, neg2c, norms, k, cluster, d2);
}

SEGSTREAM_KMEANS_CLONES
size_t AccumulateNear(const double* points, size_t n, int dim, const int* cluster, const double* d2,
                      const double* far_threshold, const double* centroids, double w,
                      BatchSums sums, size_t* far) {
#define SEGSTREAM_ACCUMULATE(D) \
  case D:                       \
    return AccumulateDim<D>(points, n, dim, cluster, d2, far_threshold, centroids, w, sums, far)
  switch (dim) {
    SEGSTREAM_ACCUMULATE(1);
    SEGSTREAM_ACCUMULATE(2);
    SEGSTREAM_ACCUMULATE(3);
    SEGSTREAM_ACCUMULATE(4);
    SEGSTREAM_ACCUMULATE(5);
    SEGSTREAM_ACCUMULATE(6);
    SEGSTREAM_ACCUMULATE(7);
    SEGSTREAM_ACCUMULATE(8);
    SEGSTREAM_ACCUMULATE(16);
    default:
      return AccumulateDim<0>(points, n, dim, cluster, d2, far_threshold, centroids, w, sums, far);
  }
#undef SEGSTREAM_ACCUMULATE
}

// Tests the exponent bits (all ones for NaN and ±inf) with integer operations, which vectorise.
SEGSTREAM_KMEANS_CLONES
bool AllFinite(const double* values, size_t n) {
  constexpr uint64_t kExponent = 0x7ff0000000000000ULL;
  uint64_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint64_t bits;
    std::memcpy(&bits, values + i, sizeof(bits));
    bad |= uint64_t((bits & kExponent) == kExponent);
  }
  return bad == 0;
}

}  // namespace segstream::stream::detail
