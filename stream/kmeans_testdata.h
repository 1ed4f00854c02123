// Test support for the k-means unit tests (stream/kmeans_test.cc) and benchmark
// (bench/kmeans_bench.cc), not part of the library: seeded Gaussian blobs and the scoring
// helpers both use, written independently of the code under test.
//
// The random draws are built from std::mt19937_64 bits (whose output the standard fixes) and
// Box-Muller, never from implementation-defined std:: distributions, so a seed gives the same data
// with every standard library.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <utility>
#include <vector>

namespace segstream::stream::kmeans_testdata {

inline double U01(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1.0p-53; }

// Standard normal (Box-Muller, one draw of the pair).
inline double Normal(std::mt19937_64& rng) {
  const double u1 = std::max(U01(rng), 1e-300);
  const double u2 = U01(rng);
  return std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
}

inline double Dist2(const double* a, const double* b, int dim) {
  double s = 0;
  for (int j = 0; j < dim; ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
  return s;
}

struct Blobs {
  int k = 0;
  int dim = 0;
  std::vector<double> centers;  // k × dim
  std::vector<double> points;   // n × dim
  std::vector<int> labels;      // true cluster per point
  size_t n() const { return labels.size(); }
};

// k centres uniform in [-10, 10]^dim, at least `min_sep` apart (σ units); n unit-variance points
// around them, labels uniform at random.
inline Blobs MakeBlobs(int k, int dim, size_t n, uint64_t seed, double min_sep = 8) {
  Blobs b;
  b.k = k;
  b.dim = dim;
  std::mt19937_64 rng(seed);
  while (b.centers.size() < size_t(k) * dim) {
    std::vector<double> c(dim);
    for (double& v : c) v = (2 * U01(rng) - 1) * 10;
    bool ok = true;
    for (size_t i = 0; i < b.centers.size() / dim; ++i) {
      ok = ok && Dist2(c.data(), b.centers.data() + i * dim, dim) >= min_sep * min_sep;
    }
    if (ok) b.centers.insert(b.centers.end(), c.begin(), c.end());
  }
  b.points.reserve(n * dim);
  b.labels.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const int l = int(rng() % k);
    b.labels.push_back(l);
    for (int j = 0; j < dim; ++j) b.points.push_back(b.centers[size_t(l) * dim + j] + Normal(rng));
  }
  return b;
}

// Reorders the points so they arrive grouped by cluster: all of cluster 0, then cluster 1, ...
// (stable within a cluster).
inline void GroupByLabel(Blobs& b) {
  std::vector<size_t> idx(b.n());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(),
                   [&](size_t x, size_t y) { return b.labels[x] < b.labels[y]; });
  std::vector<double> points(b.points.size());
  std::vector<int> labels(b.n());
  for (size_t i = 0; i < idx.size(); ++i) {
    labels[i] = b.labels[idx[i]];
    std::memcpy(&points[i * b.dim], &b.points[idx[i] * b.dim], sizeof(double) * b.dim);
  }
  b.points.swap(points);
  b.labels.swap(labels);
}

// Σ over points of the squared distance to the nearest non-NaN centroid (row-major, NaN rows are
// inactive); fills the nearest index per point when `labels` is given.
inline double Inertia(const std::vector<double>& pts, int dim, const std::vector<double>& centroids,
                      std::vector<int>* labels = nullptr) {
  const size_t n = pts.size() / dim;
  const int k = int(centroids.size() / dim);
  double total = 0;
  if (labels) labels->assign(n, -1);
  for (size_t i = 0; i < n; ++i) {
    double best = std::numeric_limits<double>::infinity();
    for (int c = 0; c < k; ++c) {
      if (std::isnan(centroids[size_t(c) * dim])) continue;
      const double d = Dist2(&pts[i * dim], &centroids[size_t(c) * dim], dim);
      if (d < best) {
        best = d;
        if (labels) (*labels)[i] = c;
      }
    }
    total += best;
  }
  return total;
}

// Hubert & Arabie (1985) adjusted Rand index of two labellings.
inline double AdjustedRandIndex(const std::vector<int>& a, const std::vector<int>& b) {
  std::map<std::pair<int, int>, double> joint;
  std::map<int, double> ra, rb;
  for (size_t i = 0; i < a.size(); ++i) {
    joint[{a[i], b[i]}] += 1;
    ra[a[i]] += 1;
    rb[b[i]] += 1;
  }
  auto pairs = [](double x) { return x * (x - 1) / 2; };
  double sj = 0, sa = 0, sb = 0;
  for (auto& [key, v] : joint) sj += pairs(v);
  for (auto& [key, v] : ra) sa += pairs(v);
  for (auto& [key, v] : rb) sb += pairs(v);
  const double expected = sa * sb / pairs(double(a.size()));
  return (sj - expected) / ((sa + sb) / 2 - expected);
}

// Largest distance from a true centre to its nearest (non-NaN) model centroid.
inline double WorstCentreError(const std::vector<double>& centers, const std::vector<double>& model,
                               int dim) {
  double worst = 0;
  for (size_t c = 0; c < centers.size() / dim; ++c) {
    double best = std::numeric_limits<double>::infinity();
    for (size_t m = 0; m < model.size() / dim; ++m) {
      if (std::isnan(model[m * dim])) continue;
      best = std::min(best, Dist2(&centers[c * dim], &model[m * dim], dim));
    }
    worst = std::max(worst, std::sqrt(best));
  }
  return worst;
}

}  // namespace segstream::stream::kmeans_testdata
