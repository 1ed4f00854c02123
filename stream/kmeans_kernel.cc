#include "stream/kmeans_kernel.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>

#include "stream/kmeans.h"

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
// L int32 lanes, for the cluster indices.
template <int L>
struct IntsOf {
  typedef int type __attribute__((vector_size(L * sizeof(int))));
};
constexpr int kStackDims = 64;

// 0, 1, 2, ... as doubles: a centroid's index is broadcast from memory like its other values.
struct IndexTable {
  double v[kMaxK];
  constexpr IndexTable() : v() {
    for (int i = 0; i < kMaxK; ++i) v[i] = i;
  }
};
constexpr IndexTable kIndexTable;
constexpr const double* kIndex = kIndexTable.v;

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

// In-place transpose of an L × L block held as L row vectors: log2(L) butterfly stages, each
// swapping one bit of the row index with the same bit of the column index (rows i and i + h,
// h = 2^b, exchange the half-blocks of width h). GCC lowers the constant two-source shuffles to
// unpck / vpermt2pd / vperm2f128, so a block costs L·log2(L) shuffles instead of L² lane inserts.
template <int L>
struct Transposer;
template <>
struct Transposer<2> {
  typedef long Mask __attribute__((vector_size(16)));
  static inline __attribute__((always_inline)) void Run(Vec<2>* r) {
    const Vec<2> a = r[0], b = r[1];
    r[0] = __builtin_shuffle(a, b, Mask{0, 2});
    r[1] = __builtin_shuffle(a, b, Mask{1, 3});
  }
};
template <>
struct Transposer<4> {
  typedef long Mask __attribute__((vector_size(32)));
  static inline __attribute__((always_inline)) void Run(Vec<4>* r) {
    for (int i : {0, 2}) {
      const Vec<4> a = r[i], b = r[i + 1];
      r[i] = __builtin_shuffle(a, b, Mask{0, 4, 2, 6});
      r[i + 1] = __builtin_shuffle(a, b, Mask{1, 5, 3, 7});
    }
    for (int i : {0, 1}) {
      const Vec<4> a = r[i], b = r[i + 2];
      r[i] = __builtin_shuffle(a, b, Mask{0, 1, 4, 5});
      r[i + 2] = __builtin_shuffle(a, b, Mask{2, 3, 6, 7});
    }
  }
};
template <>
struct Transposer<8> {
  typedef long Mask __attribute__((vector_size(64)));
  static inline __attribute__((always_inline)) void Run(Vec<8>* r) {
    for (int i : {0, 2, 4, 6}) {
      const Vec<8> a = r[i], b = r[i + 1];
      r[i] = __builtin_shuffle(a, b, Mask{0, 8, 2, 10, 4, 12, 6, 14});
      r[i + 1] = __builtin_shuffle(a, b, Mask{1, 9, 3, 11, 5, 13, 7, 15});
    }
    for (int i : {0, 1, 4, 5}) {
      const Vec<8> a = r[i], b = r[i + 2];
      r[i] = __builtin_shuffle(a, b, Mask{0, 1, 8, 9, 4, 5, 12, 13});
      r[i + 2] = __builtin_shuffle(a, b, Mask{2, 3, 10, 11, 6, 7, 14, 15});
    }
    for (int i : {0, 1, 2, 3}) {
      const Vec<8> a = r[i], b = r[i + 4];
      r[i] = __builtin_shuffle(a, b, Mask{0, 1, 2, 3, 8, 9, 10, 11});
      r[i + 4] = __builtin_shuffle(a, b, Mask{4, 5, 6, 7, 12, 13, 14, 15});
    }
  }
};

// Doubles a group of L points reads past its last point when D > 0: rows are loaded L columns at a
// time, so the last row reads up to the next multiple of L.
template <int L, int D>
constexpr size_t kOverread = D > 0 ? size_t((D + L - 1) / L * L - D) : 0;

// Points run across the vector lanes and centroids in the scalar loop, so no horizontal reduction
// is needed per point and a strict `<` keeps the lowest index on ties in every lane. Distances are
// |c-o|² - 2 (x-o)·(c-o) + |x-o|²: the origin o near the data keeps the cancellation in that
// expansion small. D > 0 fixes the dimension at compile time (full unroll, rows transposed by
// blocks; `group` must be readable kOverread<L, D> doubles past its L points); D == 0 takes it at
// run time. `group` holds L points, row-major; the first m results are written. Adds the lanes'
// raw d² times zero to `bad` (NaN in a lane whose distance is not finite: a NaN or infinite
// coordinate, or one so large its square overflows) and one per far lane to `n_far`.
template <int L, int D>
inline __attribute__((always_inline)) void NearestGroup(const AssignView& v, const double* group,
                                                        size_t m, int* cluster, int* slot,
                                                        double* d2_out, Vec<L>* xt, Vec<L>& bad,
                                                        Vec<L>& n_far) {
  using Lanes = Vec<L>;
  using Ints = typename IntsOf<L>::type;
  const int dim = D > 0 ? D : v.dim;
  if constexpr (D > 0) {
    for (int j0 = 0; j0 < D; j0 += L) {
      Lanes rows[L];
      for (int l = 0; l < L; ++l) std::memcpy(&rows[l], group + l * D + j0, sizeof(Lanes));
      Transposer<L>::Run(rows);
      for (int j = j0; j < D && j < j0 + L; ++j) xt[j] = rows[j - j0];
    }
  } else {
    for (int j = 0; j < dim; ++j) {
      for (int l = 0; l < L; ++l) xt[j][l] = group[l * dim + j];
    }
  }
  Lanes xx = {};
  for (int j = 0; j < dim; ++j) {
    xt[j] -= v.origin[j];
    xx += xt[j] * xt[j];
  }
  // Broadcasts are written x - 0, which is x for every x (0 + x is not, for x = -0), so GCC emits
  // a plain broadcast instead of an add. Inactive slots have norm +inf, so they never win: no
  // branch needed.
  Lanes best = kInf - Lanes{};
  Lanes best_c = {};
  Lanes best_far = {};
  for (int c = 0; c < v.k; ++c) {
    const double* row = v.neg2c + size_t(c) * dim;
    // Two interleaved partial sums halve the add chain's latency, at the same number of adds.
    Lanes acc = v.norms[c] - Lanes{};
    if (dim > 1) {
      Lanes odd = row[1] * xt[1];
      for (int j = 0; j < dim; j += 2) acc += row[j] * xt[j];
      for (int j = 3; j < dim; j += 2) odd += row[j] * xt[j];
      acc += odd;
    } else {
      acc += row[0] * xt[0];
    }
    const auto better = acc < best;
    best = better ? acc : best;
    best_c = better ? kIndex[c] - Lanes{} : best_c;
    best_far = better ? v.far_threshold[c] - Lanes{} : best_far;
  }
  const Lanes raw = best + xx;
  const auto far = raw > best_far;
  const Lanes d2 = raw > 0 ? raw : Lanes{};  // rounding can dip just below zero
  const Ints ci = __builtin_convertvector(best_c, Ints);
  const Ints si = __builtin_convertvector(far ? Lanes{} + double(v.k) : best_c, Ints);
  if (m == size_t(L)) {
    std::memcpy(cluster, &ci, sizeof(ci));
    std::memcpy(slot, &si, sizeof(si));
    std::memcpy(d2_out, &d2, sizeof(d2));
    n_far += far ? Lanes{} + 1.0 : Lanes{};
  } else {
    for (size_t l = 0; l < m; ++l) {
      cluster[l] = ci[l];
      slot[l] = si[l];
      d2_out[l] = d2[l];
      n_far[l] += si[l] == v.k ? 1.0 : 0.0;
    }
  }
  bad += raw * 0.0;
}

template <int L, int D>
inline __attribute__((always_inline)) bool NearestBody(const AssignView& v, const double* points,
                                                       size_t n, int* cluster, int* slot,
                                                       double* d2, size_t* n_far, Vec<L>* xt,
                                                       double* tail) {
  const int dim = D > 0 ? D : v.dim;
  Vec<L> bad = {};
  Vec<L> far = {};
  size_t i0 = 0;
  // Full groups while the block loads stay inside the input.
  for (; (i0 + L) * dim + kOverread<L, D> <= n * dim; i0 += L) {
    NearestGroup<L, D>(v, points + i0 * dim, L, cluster + i0, slot + i0, d2 + i0, xt, bad, far);
  }
  for (; i0 < n; i0 += L) {
    // The rest, padded with copies of its first point.
    const size_t m = std::min(n - i0, size_t(L));
    for (int l = 0; l < L; ++l) {
      std::memcpy(tail + size_t(l) * dim, points + (i0 + (size_t(l) < m ? l : 0)) * dim,
                  sizeof(double) * dim);
    }
    NearestGroup<L, D>(v, tail, m, cluster + i0, slot + i0, d2 + i0, xt, bad, far);
  }
  bool ok = true;
  double total_far = 0;
  for (int l = 0; l < L; ++l) {
    ok &= bad[l] == 0;
    total_far += far[l];
  }
  *n_far = size_t(total_far);
  return ok;
}

template <int L>
inline __attribute__((always_inline)) bool NearestDispatch(const AssignView& v,
                                                           const double* points, size_t n,
                                                           int* cluster, int* slot, double* d2,
                                                           size_t* n_far) {
  const int dim = v.dim;
  Vec<L> stack_xt[kStackDims];
  double stack_tail[kStackDims * L + L];  // + the block loads' overread
  std::unique_ptr<Vec<L>[]> heap_xt;
  std::unique_ptr<double[]> heap_tail;
  Vec<L>* xt = stack_xt;
  double* tail = stack_tail;
  if (dim > kStackDims) {
    heap_xt.reset(new Vec<L>[dim]);
    heap_tail.reset(new double[size_t(dim) * L + L]());
    xt = heap_xt.get();
    tail = heap_tail.get();
  }
  std::fill_n(tail + size_t(dim) * L, L, 0.0);  // what the block loads read past the padded group
#define SEGSTREAM_NEAREST(D) \
  case D:                    \
    return NearestBody<L, D>(v, points, n, cluster, slot, d2, n_far, xt, tail)
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
      return NearestBody<L, 0>(v, points, n, cluster, slot, d2, n_far, xt, tail);
  }
#undef SEGSTREAM_NEAREST
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SEGSTREAM_KMEANS_DISPATCH 1
__attribute__((target("arch=x86-64-v4"), optimize("fp-contract=off"))) bool NearestV4(
    const AssignView& v, const double* points, size_t n, int* cluster, int* slot, double* d2,
    size_t* n_far) {
  return NearestDispatch<8>(v, points, n, cluster, slot, d2, n_far);
}
__attribute__((target("arch=x86-64-v3"), optimize("fp-contract=off"))) bool NearestV3(
    const AssignView& v, const double* points, size_t n, int* cluster, int* slot, double* d2,
    size_t* n_far) {
  return NearestDispatch<4>(v, points, n, cluster, slot, d2, n_far);
}
#endif
__attribute__((optimize("fp-contract=off"))) bool NearestBaseline(const AssignView& v,
                                                                  const double* points, size_t n,
                                                                  int* cluster, int* slot,
                                                                  double* d2, size_t* n_far) {
  return NearestDispatch<2>(v, points, n, cluster, slot, d2, n_far);
}

// One pass over the batch, in input order, without a branch per point. Rows are whole 8-double
// vectors (one AVX-512 register, two AVX2 ones): x is read 8 doubles at a time and the lanes past
// its coordinates masked to zero, so lane dim of x - c is 0 - (-1) = 1 and dev counts the points
// for free. The masking is a bitwise and, not a partial copy through memory (whose
// store-forwarding stall cost more than all the arithmetic) nor a select (which GCC lowers lane by
// lane on narrower units). Points whose 8-double reads would pass the end of the input take the
// scalar loop.
template <int D>
inline __attribute__((always_inline)) void AccumulateBody(const double* __restrict points, size_t n,
                                                          int dim_rt, const int* __restrict slot,
                                                          const double* __restrict centroids,
                                                          const uint64_t* __restrict keep,
                                                          double* __restrict dev,
                                                          double* __restrict dev2) {
  using V8 = Vec<8>;
  typedef uint64_t M8 __attribute__((vector_size(64)));
  const int dim = D > 0 ? D : dim_rt;
  const int stride = AccStride(dim);
  const size_t padded = size_t(dim + 7) / 8 * 8;  // doubles read per point
  size_t i = 0;
  for (; i * dim + padded <= n * size_t(dim); ++i) {
    const size_t row = size_t(slot[i]) * stride;
    const double* x = points + i * dim;
    for (int j = 0; j < stride; j += 8) {
      V8 xv = {};
      if (j < dim) {
        std::memcpy(&xv, x + j, sizeof(xv));
        if (j + 8 > dim) {
          // A mask GCC cannot see through: with a constant one it loads the kept lanes one by one.
          M8 mask;
          std::memcpy(&mask, keep + j, sizeof(mask));
          xv = V8(M8(xv) & mask);
        }
      }
      V8 cv, dv, d2v;
      std::memcpy(&cv, centroids + row + j, sizeof(cv));
      std::memcpy(&dv, dev + row + j, sizeof(dv));
      std::memcpy(&d2v, dev2 + row + j, sizeof(d2v));
      const V8 t = xv - cv;
      dv += t;
      d2v += t * t;
      std::memcpy(dev + row + j, &dv, sizeof(dv));
      std::memcpy(dev2 + row + j, &d2v, sizeof(d2v));
    }
  }
  for (; i < n; ++i) {
    const size_t row = size_t(slot[i]) * stride;
    const double* x = points + i * dim;
    for (int j = 0; j < stride; ++j) {
      const double t = (j < dim ? x[j] : 0.0) - centroids[row + j];
      dev[row + j] += t;
      dev2[row + j] += t * t;
    }
  }
}

}  // namespace

bool NearestBatch(const AssignView& model, const double* points, size_t n, int* cluster, int* slot,
                  double* d2, size_t* n_far) {
#ifdef SEGSTREAM_KMEANS_DISPATCH
  if (__builtin_cpu_supports("x86-64-v4")) {
    return NearestV4(model, points, n, cluster, slot, d2, n_far);
  }
  if (__builtin_cpu_supports("x86-64-v3")) {
    return NearestV3(model, points, n, cluster, slot, d2, n_far);
  }
#endif
  return NearestBaseline(model, points, n, cluster, slot, d2, n_far);
}

SEGSTREAM_KMEANS_CLONES
void AccumulateNear(const double* points, size_t n, int dim, const int* slot,
                    const double* centroids, const uint64_t* keep, double* dev, double* dev2) {
#define SEGSTREAM_ACCUMULATE(D) \
  case D:                       \
    return AccumulateBody<D>(points, n, dim, slot, centroids, keep, dev, dev2)
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
      return AccumulateBody<0>(points, n, dim, slot, centroids, keep, dev, dev2);
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
