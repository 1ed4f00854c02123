// Streaming k-means: assign + update per point against a naive online loop (Sculley's per-point
// update over array-of-structs centroids) in the same run, and the 1 M-point quality
// targets as counters (BM_Quality: inertia ratio vs best-of-10 Lloyd, ARI, grouped arrival,
// stationary and drift errors in σ). Run speed only with --benchmark_filter=Speed. The speed
// variants split the time: BM_SpeedAssignKernel is the assignment kernel alone,
// BM_SpeedStreamingNoAdapt drops the adaptive-forgetting bookkeeping.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "stream/kmeans.h"
#include "stream/kmeans_kernel.h"
#include "stream/kmeans_testdata.h"

namespace {

using segstream::stream::KMeansOptions;
using segstream::stream::StreamingKMeans;
using segstream::stream::kmeans_testdata::AdjustedRandIndex;
using segstream::stream::kmeans_testdata::Blobs;
using segstream::stream::kmeans_testdata::Dist2;
using segstream::stream::kmeans_testdata::GroupByLabel;
using segstream::stream::kmeans_testdata::Inertia;
using segstream::stream::kmeans_testdata::MakeBlobs;
using segstream::stream::kmeans_testdata::Normal;
using segstream::stream::kmeans_testdata::U01;
using segstream::stream::kmeans_testdata::WorstCentreError;

// Speed: assign + update, points cycled from a 64 k-point sample, mini-batches of 256.
void RunStreaming(benchmark::State& state, bool adaptive) {
  const int dim = int(state.range(0)), k = int(state.range(1));
  const Blobs b = MakeBlobs(k, dim, 1 << 16, 42);
  KMeansOptions o;
  o.k = k;
  o.dim = dim;
  o.adaptive = adaptive;
  StreamingKMeans model(o);
  (void)model.ObserveBatch(b.points, 0);
  constexpr size_t kBatch = 256;
  size_t at = 0;
  double t = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(model.ObserveBatch({&b.points[at * dim], kBatch * dim}, t += kBatch));
    at = (at + kBatch) % (b.labels.size() - kBatch);
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * kBatch);
}

void BM_SpeedStreaming(benchmark::State& state) { RunStreaming(state, true); }

// The same without adaptive forgetting (no far test, change blocks or candidates): the
// difference to BM_SpeedStreaming is what that bookkeeping costs on a stationary stream.
void BM_SpeedStreamingNoAdapt(benchmark::State& state) { RunStreaming(state, false); }

// The assignment kernel alone (nearest centroid, d², far test) on the same batches, against the
// true centres: the rest of BM_SpeedStreaming is the statistics update and per-batch work.
void BM_SpeedAssignKernel(benchmark::State& state) {
  const int dim = int(state.range(0)), k = int(state.range(1));
  const Blobs b = MakeBlobs(k, dim, 1 << 16, 42);
  const std::vector<double> origin(dim, 0.0), far(k, 1e9);
  std::vector<double> neg2c(b.centers.size()), norms(k, 0.0);
  for (size_t i = 0; i < neg2c.size(); ++i) {
    neg2c[i] = -2 * b.centers[i];
    norms[i / dim] += b.centers[i] * b.centers[i];
  }
  const segstream::stream::detail::AssignView view{
      k, dim, origin.data(), neg2c.data(), norms.data(), far.data()};
  constexpr size_t kBatch = 256;
  std::vector<int> cluster(kBatch), slot(kBatch);
  std::vector<double> d2(kBatch);
  size_t at = 0, n_far = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(segstream::stream::detail::NearestBatch(
        view, &b.points[at * dim], kBatch, cluster.data(), slot.data(), d2.data(), &n_far));
    benchmark::DoNotOptimize(cluster.data());
    at = (at + kBatch) % (b.labels.size() - kBatch);
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * kBatch);
}

// Baseline: the textbook per-point loop (nearest centroid by full squared distance, then
// c += (x - c) / count), centroids as an array of structs.
void BM_SpeedNaive(benchmark::State& state) {
  const int dim = int(state.range(0)), k = int(state.range(1));
  const Blobs b = MakeBlobs(k, dim, 1 << 16, 42);
  std::vector<double> c(b.centers);
  std::vector<double> count(k, 1.0);
  constexpr size_t kBatch = 256;
  size_t at = 0;
  for (auto _ : state) {
    for (size_t i = at; i < at + kBatch; ++i) {
      const double* x = &b.points[i * dim];
      int best = 0;
      double best_d2 = std::numeric_limits<double>::infinity();
      for (int m = 0; m < k; ++m) {
        const double d2 = Dist2(x, &c[size_t(m) * dim], dim);
        if (d2 < best_d2) {
          best_d2 = d2;
          best = m;
        }
      }
      count[best] += 1;
      const double eta = 1.0 / count[best];
      for (int j = 0; j < dim; ++j)
        c[size_t(best) * dim + j] += eta * (x[j] - c[size_t(best) * dim + j]);
    }
    benchmark::DoNotOptimize(c.data());
    at = (at + kBatch) % (b.labels.size() - kBatch);
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * kBatch);
}

BENCHMARK(BM_SpeedStreaming)->Args({6, 8})->Args({16, 32});
BENCHMARK(BM_SpeedStreamingNoAdapt)->Args({6, 8})->Args({16, 32});
BENCHMARK(BM_SpeedAssignKernel)->Args({6, 8})->Args({16, 32});
BENCHMARK(BM_SpeedNaive)->Args({6, 8})->Args({16, 32});

// ---- Quality at 1 M points (d = 6, k = 8), one seed per run ----

// Best of `inits` k-means++ + Lloyd (independent of the code under test).
double LloydBest(const std::vector<double>& pts, int dim, int k, int inits, uint64_t seed) {
  const size_t n = pts.size() / dim;
  std::mt19937_64 rng(seed ^ 0x5bd1e995);
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < inits; ++r) {
    std::vector<double> cen, d2(n, std::numeric_limits<double>::infinity());
    size_t pick = std::min(n - 1, size_t(U01(rng) * double(n)));
    cen.insert(cen.end(), &pts[pick * dim], &pts[pick * dim] + dim);
    for (int c = 1; c < k; ++c) {
      double total = 0;
      for (size_t i = 0; i < n; ++i) {
        d2[i] = std::min(d2[i], Dist2(&pts[i * dim], &cen[size_t(c - 1) * dim], dim));
        total += d2[i];
      }
      double u = U01(rng) * total;
      pick = 0;
      while (pick + 1 < n && (u -= d2[pick]) > 0) ++pick;
      cen.insert(cen.end(), &pts[pick * dim], &pts[pick * dim] + dim);
    }
    std::vector<int> labels;
    for (int it = 0; it < 100; ++it) {
      std::vector<int> next;
      Inertia(pts, dim, cen, &next);
      if (next == labels) break;
      labels.swap(next);
      std::vector<double> sum(cen.size(), 0.0), count(k, 0.0);
      for (size_t i = 0; i < n; ++i) {
        count[labels[i]] += 1;
        for (int j = 0; j < dim; ++j) sum[size_t(labels[i]) * dim + j] += pts[i * dim + j];
      }
      for (int c = 0; c < k; ++c) {
        for (int j = 0; j < dim && count[c] > 0; ++j)
          cen[size_t(c) * dim + j] = sum[size_t(c) * dim + j] / count[c];
      }
    }
    best = std::min(best, Inertia(pts, dim, cen));
  }
  return best;
}

StreamingKMeans Run(const std::vector<double>& pts, int dim, int k, uint64_t seed,
                    size_t time_offset = 0, StreamingKMeans* resume = nullptr) {
  KMeansOptions o;
  o.k = k;
  o.dim = dim;
  o.seed = seed;
  StreamingKMeans model = resume ? *resume : StreamingKMeans(o);
  const size_t n = pts.size() / dim;
  for (size_t i = 0; i < n; i += 256) {
    const size_t e = std::min(n, i + 256);
    (void)model.ObserveBatch({&pts[i * dim], (e - i) * dim}, double(time_offset + i));
  }
  model.Initialize();
  return model;
}

void BM_Quality(benchmark::State& state) {
  const uint64_t seed = uint64_t(state.range(0));
  const int dim = 6, k = 8;
  for (auto _ : state) {
    Blobs b = MakeBlobs(k, dim, 1000000, seed);
    const double lloyd = LloydBest(b.points, dim, k, 10, seed);
    StreamingKMeans model = Run(b.points, dim, k, seed);
    std::vector<int> labels;
    const double ratio = Inertia(b.points, dim, model.Centroids(), &labels) / lloyd;
    state.counters["inertia_ratio"] = ratio;
    state.counters["inertia_excess_ppm"] = (ratio - 1) * 1e6;  // the ratio prints with 3 digits
    state.counters["ari"] = AdjustedRandIndex(labels, b.labels);
    state.counters["stationary_err_sigma"] = WorstCentreError(b.centers, model.Centroids(), dim);

    // Drift: two centres move by 2σ, then 50 k more points.
    std::mt19937_64 rng(seed + 1000);
    Blobs moved = b;
    for (int c : {0, 1}) {
      std::vector<double> dir(dim);
      double norm = 0;
      for (double& v : dir) {
        v = Normal(rng);
        norm += v * v;
      }
      for (int j = 0; j < dim; ++j) moved.centers[c * dim + j] += 2 * dir[j] / std::sqrt(norm);
    }
    std::vector<double> after;
    for (int i = 0; i < 50000; ++i) {
      const int l = int(rng() % k);
      for (int j = 0; j < dim; ++j) after.push_back(moved.centers[l * dim + j] + Normal(rng));
    }
    StreamingKMeans drifted = Run(after, dim, k, seed, b.labels.size(), &model);
    state.counters["drift_err_sigma"] = WorstCentreError(moved.centers, drifted.Centroids(), dim);

    // Grouped arrival: all of cluster 0, then cluster 1, ...
    Blobs grouped = b;
    GroupByLabel(grouped);
    StreamingKMeans g = Run(grouped.points, dim, k, seed);
    const double grouped_ratio = Inertia(grouped.points, dim, g.Centroids()) / lloyd;
    state.counters["grouped_ratio"] = grouped_ratio;
    state.counters["grouped_excess_ppm"] = (grouped_ratio - 1) * 1e6;
  }
}

BENCHMARK(BM_Quality)->DenseRange(1, 5)->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace
