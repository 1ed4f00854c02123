// Streaming k-means against an independent batch Lloyd written here, on Gaussian blobs generated
// from a seed (σ = 1). Sizes are smaller than the 1 M-point targets to keep the binary
// fast; bench/kmeans_bench.cc checks those at full size.
#include "stream/kmeans.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "stream/kmeans_testdata.h"

namespace segstream::stream {
namespace {

using kmeans_testdata::AdjustedRandIndex;
using kmeans_testdata::Blobs;
using kmeans_testdata::Dist2;
using kmeans_testdata::GroupByLabel;
using kmeans_testdata::Inertia;
using kmeans_testdata::MakeBlobs;
using kmeans_testdata::Normal;
using kmeans_testdata::U01;
using kmeans_testdata::WorstCentreError;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Independent reference: plain k-means++ (one trial per centre) + Lloyd, best of `inits`.
double LloydBest(const std::vector<double>& pts, int dim, int k, int inits, uint64_t seed) {
  const size_t n = pts.size() / dim;
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ULL);
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < inits; ++r) {
    std::vector<double> cen;
    std::vector<double> d2(n, std::numeric_limits<double>::infinity());
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
    std::vector<int> labels(n, -1);
    for (int it = 0; it < 100; ++it) {
      std::vector<int> next;
      Inertia(pts, dim, cen, &next);
      if (next == labels) break;
      labels = next;
      std::vector<double> sum(size_t(k) * dim, 0.0), count(k, 0.0);
      for (size_t i = 0; i < n; ++i) {
        count[labels[i]] += 1;
        for (int j = 0; j < dim; ++j) sum[size_t(labels[i]) * dim + j] += pts[i * dim + j];
      }
      for (int c = 0; c < k; ++c) {
        if (count[c] == 0) continue;
        for (int j = 0; j < dim; ++j)
          cen[size_t(c) * dim + j] = sum[size_t(c) * dim + j] / count[c];
      }
    }
    best = std::min(best, Inertia(pts, dim, cen));
  }
  return best;
}

// One pass in mini-batches of `batch`, time = index of the batch's first point.
void Stream(StreamingKMeans& model, const std::vector<double>& pts, int dim, size_t batch = 256,
            size_t time_offset = 0) {
  const size_t n = pts.size() / dim;
  for (size_t i = 0; i < n; i += batch) {
    const size_t e = std::min(n, i + batch);
    ASSERT_TRUE(model.ObserveBatch({&pts[i * dim], (e - i) * dim}, double(i + time_offset)).ok());
  }
  model.Initialize();
}

KMeansOptions Options(int k, int dim, uint64_t seed = 1) {
  KMeansOptions o;
  o.k = k;
  o.dim = dim;
  o.seed = seed;
  return o;
}

// Lloyd from the true centres: on well-separated blobs it reaches the optimum that best-of-10
// k-means++ finds, at the cost of one run.
double LloydFromTruth(const Blobs& b) {
  std::vector<double> cen = b.centers;
  std::vector<int> labels;
  for (int it = 0; it < 100; ++it) {
    std::vector<int> next;
    Inertia(b.points, b.dim, cen, &next);
    if (next == labels) break;
    labels = next;
    std::vector<double> sum(cen.size(), 0.0), count(b.k, 0.0);
    for (size_t i = 0; i < b.n(); ++i) {
      count[labels[i]] += 1;
      for (int j = 0; j < b.dim; ++j) sum[size_t(labels[i]) * b.dim + j] += b.points[i * b.dim + j];
    }
    for (int c = 0; c < b.k; ++c) {
      for (int j = 0; j < b.dim; ++j) {
        if (count[c] > 0) cen[size_t(c) * b.dim + j] = sum[size_t(c) * b.dim + j] / count[c];
      }
    }
  }
  return Inertia(b.points, b.dim, cen);
}

class KMeansQuality : public ::testing::TestWithParam<uint64_t> {};

TEST_P(KMeansQuality, OnePassMatchesBestOfTenLloyd) {
  Blobs b = MakeBlobs(8, 6, 40000, GetParam());
  const double lloyd = LloydBest(b.points, 6, 8, 10, GetParam());
  StreamingKMeans model(Options(8, 6, GetParam()));
  Stream(model, b.points, 6);
  std::vector<int> labels;
  const double inertia = Inertia(b.points, 6, model.Centroids(), &labels);
  EXPECT_LE(inertia, 1.001 * lloyd);
  EXPECT_GE(AdjustedRandIndex(labels, b.labels), 0.999);
}

// All of cluster 0, then all of cluster 1, ... The init sample sees only cluster 0, so every
// later cluster needs a slot freed by merging pieces of cluster 0. 25 k points per cluster.
TEST_P(KMeansQuality, GroupedArrivalStaysWithinOnePercent) {
  Blobs b = MakeBlobs(8, 6, 200000, GetParam() + 50);
  GroupByLabel(b);
  StreamingKMeans grouped(Options(8, 6, GetParam()));
  Stream(grouped, b.points, 6);
  EXPECT_LE(Inertia(b.points, 6, grouped.Centroids()), 1.01 * LloydFromTruth(b));
  EXPECT_GE(grouped.events().promotions + grouped.events().restarts, 7u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, KMeansQuality, ::testing::Values(1, 2));

// Grouped arrival with only 5 k points per cluster, so a new cluster arrives while the pieces of
// cluster 0 still move: their change tests may restart one of them just as the first far points
// of the next cluster wait in a candidate. Those far points must not be lost into (and blur) a
// piece of cluster 0. Seeds 3 and 15 ended at 1.037× and 1.019× before that was fixed; 16 seeds
// keep this under a second.
TEST(KMeansGrouped, FiveThousandPointsPerClusterStayWithinOnePercent) {
  for (uint64_t seed = 1; seed <= 16; ++seed) {
    Blobs b = MakeBlobs(8, 6, 40000, seed + 50);
    GroupByLabel(b);
    StreamingKMeans grouped(Options(8, 6, seed));
    Stream(grouped, b.points, 6);
    EXPECT_LE(Inertia(b.points, 6, grouped.Centroids()), 1.01 * LloydFromTruth(b))
        << "seed " << seed;
    EXPECT_GE(grouped.events().promotions + grouped.events().restarts, 7u) << "seed " << seed;
  }
}

TEST(KMeansDrift, StationaryStreamHoldsTrueCentres) {
  for (uint64_t seed : {3, 4}) {
    Blobs b = MakeBlobs(8, 6, 100000, seed);
    StreamingKMeans model(Options(8, 6, seed));
    Stream(model, b.points, 6);
    EXPECT_LE(WorstCentreError(b.centers, model.Centroids(), 6), 0.05) << "seed " << seed;
    EXPECT_EQ(model.events().restarts, 0u);
    EXPECT_EQ(model.events().promotions, 0u);
  }
}

TEST(KMeansDrift, RecoversFromTwoCentresMovingTwoSigma) {
  for (uint64_t seed : {5, 6}) {
    Blobs before = MakeBlobs(8, 6, 100000, seed);
    // Move centres 0 and 1 by 2σ along a random unit direction each, then draw 50 k more points.
    std::mt19937_64 rng(seed + 100);
    Blobs after = before;
    for (int c : {0, 1}) {
      std::vector<double> dir(6);
      double norm = 0;
      for (double& v : dir) {
        v = Normal(rng);
        norm += v * v;
      }
      for (int j = 0; j < 6; ++j) after.centers[c * 6 + j] += 2 * dir[j] / std::sqrt(norm);
    }
    after.points.clear();
    after.labels.clear();
    for (int i = 0; i < 50000; ++i) {
      const int l = int(rng() % 8);
      after.labels.push_back(l);
      for (int j = 0; j < 6; ++j) after.points.push_back(after.centers[l * 6 + j] + Normal(rng));
    }
    StreamingKMeans model(Options(8, 6, seed));
    Stream(model, before.points, 6);
    Stream(model, after.points, 6, 256, before.n());
    EXPECT_LE(WorstCentreError(after.centers, model.Centroids(), 6), 0.1) << "seed " << seed;
    EXPECT_GE(model.events().restarts, 2u);
  }
}

// A fixed half-life is Spark's forgetting: forward-decayed weights, checked against the weighted
// mean computed here.
TEST(KMeansDecay, EventTimeHalfLifeWeightsPointsByAge) {
  KMeansOptions o = Options(1, 1);
  o.half_life = 10;
  o.adaptive = false;
  o.init_sample_size = 1;
  StreamingKMeans model(o);
  double num = 0, den = 0;
  for (int t = 0; t <= 40; t += 5) {
    const double x = t;  // the value drifts with time
    ASSERT_TRUE(model.Observe({&x, 1}, 1000.0 + t).ok());
    const double w = std::exp2((t - 40) / 10.0);
    num += w * x;
    den += w;
  }
  EXPECT_NEAR(model.Centroids()[0], num / den, 1e-12);
  EXPECT_NEAR(model.stats().DecayedCount(0, 1040.0), den, 1e-12);
}

TEST(KMeansDecay, PointCountClockDecaysPerBatch) {
  KMeansOptions o = Options(1, 1);
  o.half_life = 4;
  o.clock = DecayClock::kPointCount;
  o.adaptive = false;
  o.init_sample_size = 4;
  StreamingKMeans model(o);
  const std::vector<double> zeros(4, 0.0), ones(4, 1.0);
  ASSERT_TRUE(model.ObserveBatch(zeros, 0).ok());  // clock 0
  ASSERT_TRUE(model.ObserveBatch(ones, 0).ok());   // clock 4: weight 2 each
  EXPECT_NEAR(model.Centroids()[0], 8.0 / 12.0, 1e-12);
}

// "The same model": every partition observes its share of a round's points against the same
// snapshot (Sculley's mini-batch: assignments use the model as it was when the round started),
// hands back its delta, and the snapshot for the next round is the merge of all deltas into it.
// A single stream that observes each round's points as one mini-batch must end with the same
// statistics. Adaptive decisions are local to a partition, so the check also asserts that none
// was taken on this stationary stream.
class KMeansMerge : public ::testing::TestWithParam<int> {};

TEST_P(KMeansMerge, PartitionDeltasEqualOneStream) {
  const int parts = GetParam();
  const int dim = 6, k = 8;
  Blobs b = MakeBlobs(k, dim, 60000, 11);
  KMeansOptions o = Options(k, dim, 11);
  o.half_life = 20000;  // event-time decay, so forward-decay alignment is exercised too
  StreamingKMeans single(o);
  StreamingKMeans seeder(o);
  const size_t init = size_t(o.init_sample_size);
  ASSERT_TRUE(single.ObserveBatch({b.points.data(), init * dim}, 0).ok());
  ASSERT_TRUE(seeder.ObserveBatch({b.points.data(), init * dim}, 0).ok());
  KMeansStats global = seeder.TakeDelta();
  std::vector<StreamingKMeans> workers(parts, StreamingKMeans(o));
  const size_t round = 3000;
  for (size_t start = init; start < b.n(); start += round) {
    const size_t end = std::min(b.n(), start + round);
    const double time = double(start);
    ASSERT_TRUE(single.ObserveBatch({&b.points[start * dim], (end - start) * dim}, time).ok());
    KMeansStats next = global;
    for (int p = 0; p < parts; ++p) {
      ASSERT_TRUE(workers[p].Load(global).ok());
      std::vector<double> share;
      for (size_t i = start; i < end; ++i) {
        if (int(i % parts) == p)
          share.insert(share.end(), &b.points[i * dim], &b.points[i * dim] + dim);
      }
      ASSERT_TRUE(workers[p].ObserveBatch(share, time).ok());
      ASSERT_TRUE(next.Merge(workers[p].TakeDelta()).ok());
    }
    global = next;
  }
  const KMeansStats& s = single.stats();
  ASSERT_EQ(single.events().restarts + single.events().promotions, 0u);
  for (const auto& w : workers) ASSERT_EQ(w.events().restarts + w.events().promotions, 0u);
  const double end_time = double(b.n());
  for (int c = 0; c < k; ++c) {
    EXPECT_NEAR(global.DecayedCount(c, end_time), s.DecayedCount(c, end_time),
                1e-9 * s.DecayedCount(c, end_time))
        << c;
    EXPECT_EQ(global.epoch(c), s.epoch(c));
  }
  const std::vector<double> a = single.Centroids();
  const std::vector<double> g = global.Centroids();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(g[i], a[i], 1e-9 * (1 + std::abs(a[i]))) << i;
}

INSTANTIATE_TEST_SUITE_P(Partitions, KMeansMerge, ::testing::Values(1, 2, 6));

// One centroid holding `count` copies of x, its epoch bumped `epoch_bumps` times (patched in the
// byte format: the epoch is the u32 right after the 28-byte header).
KMeansStats OneCentroid(double count, double x, uint32_t epoch_bumps) {
  KMeansOptions o = Options(1, 1);
  o.adaptive = false;
  o.init_sample_size = 1;
  StreamingKMeans filled(o);
  EXPECT_TRUE(filled.ObserveBatch(std::vector<double>(size_t(count), x), 0).ok());
  std::string bytes = filled.TakeDelta().Encode();
  std::memcpy(&bytes[28], &epoch_bumps, 4);
  return KMeansStats::Decode(bytes).value();
}

TEST(KMeansStats, MergeSumsSameEpochAndNewerEpochSupersedes) {
  KMeansStats a = OneCentroid(3, 1.0, 0);
  KMeansStats b = OneCentroid(1, 5.0, 0);
  KMeansStats c = OneCentroid(2, 10.0, 1);
  KMeansStats ab = a;
  ASSERT_TRUE(ab.Merge(b).ok());
  EXPECT_DOUBLE_EQ(ab.count(0), 4);
  EXPECT_DOUBLE_EQ(ab.Centroids()[0], 2.0);
  // Any order gives the same result: c's newer epoch drops a and b.
  KMeansStats x = a, y = c, z = b;
  ASSERT_TRUE(x.Merge(c).ok());
  ASSERT_TRUE(x.Merge(b).ok());
  ASSERT_TRUE(y.Merge(b).ok());
  ASSERT_TRUE(y.Merge(a).ok());
  ASSERT_TRUE(z.Merge(a).ok());
  ASSERT_TRUE(z.Merge(c).ok());
  for (const KMeansStats* s : {&x, &y, &z}) {
    EXPECT_EQ(s->epoch(0), 1u);
    EXPECT_DOUBLE_EQ(s->count(0), 2);
    EXPECT_DOUBLE_EQ(s->Centroids()[0], 10.0);
  }
  EXPECT_FALSE(a.Merge(KMeansStats(2, 1, 0)).ok());
  EXPECT_FALSE(a.Merge(KMeansStats(1, 1, 5)).ok());
}

TEST(KMeansStats, EncodeDecodeRoundTripAndRejectsBadBytes) {
  Blobs b = MakeBlobs(4, 3, 5000, 21);
  KMeansOptions o = Options(4, 3);
  o.half_life = 100;
  StreamingKMeans model(o);
  Stream(model, b.points, 3);
  const std::string bytes = model.stats().Encode();
  EXPECT_EQ(bytes.size(), 28u + 4u * (4 + 16 + 8 * 3));
  Result<KMeansStats> back = KMeansStats::Decode(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->Encode(), bytes);
  EXPECT_EQ(back->Centroids(), model.Centroids());

  EXPECT_EQ(KMeansStats::Decode(bytes.substr(0, 10)).status().code(), StatusCode::kCorruption);
  EXPECT_FALSE(KMeansStats::Decode(bytes.substr(0, bytes.size() - 1)).ok());
  EXPECT_FALSE(KMeansStats::Decode(bytes + "x").ok());
  std::string bad = bytes;
  bad[0] = 'X';
  EXPECT_FALSE(KMeansStats::Decode(bad).ok());
  bad = bytes;
  const uint32_t huge_k = 1u << 30;
  std::memcpy(&bad[4], &huge_k, 4);
  EXPECT_FALSE(KMeansStats::Decode(bad).ok());
  bad = bytes;
  std::memcpy(&bad[28 + 4], &kNaN, 8);  // first centroid's count
  EXPECT_FALSE(KMeansStats::Decode(bad).ok());
}

TEST(KMeansDegenerate, FewerPointsThanCentroids) {
  StreamingKMeans model(Options(6, 2));
  const std::vector<double> pts = {0, 0, 10, 0, 0, 10};
  ASSERT_TRUE(model.ObserveBatch(pts, 0).ok());
  EXPECT_FALSE(model.initialized());
  EXPECT_EQ(model.Assign(std::vector<double>{1, 1}).value().cluster, -1);
  model.Initialize();
  ASSERT_TRUE(model.initialized());
  EXPECT_EQ(model.stats().active_count(), 3);
  const Assignment a = model.Assign(std::vector<double>{9, 1}).value();
  ASSERT_GE(a.cluster, 0);
  EXPECT_DOUBLE_EQ(model.Centroids()[a.cluster * 2], 10.0);
  EXPECT_DOUBLE_EQ(a.distance2, 2.0);
}

TEST(KMeansDegenerate, DuplicatePointsThenNewCluster) {
  KMeansOptions o = Options(4, 2);
  o.init_sample_size = 100;
  StreamingKMeans model(o);
  std::vector<double> dup;
  for (int i = 0; i < 500; ++i) dup.insert(dup.end(), {1.0, 1.0, 5.0, 5.0});
  Stream(model, dup, 2);
  EXPECT_EQ(model.stats().active_count(), 2);
  // A new, separate group of points takes one of the empty slots.
  std::mt19937_64 rng(3);
  std::vector<double> far;
  for (int i = 0; i < 400; ++i) far.insert(far.end(), {40 + Normal(rng), -40 + Normal(rng)});
  Stream(model, far, 2, 64, 1000);
  EXPECT_GE(model.stats().active_count(), 3);  // k-means may also split the new group
  const Assignment a = model.Assign(std::vector<double>{40, -40}).value();
  EXPECT_LT(a.distance2, 1.0);
  EXPECT_EQ(model.Assign(std::vector<double>{1, 1}).value().distance2, 0.0);
}

TEST(KMeansDegenerate, OneDimension) {
  std::mt19937_64 rng(9);
  std::vector<double> pts;
  for (int i = 0; i < 20000; ++i) pts.push_back((i % 2 ? 20.0 : -20.0) + Normal(rng));
  StreamingKMeans model(Options(2, 1));
  Stream(model, pts, 1);
  std::vector<double> c = model.Centroids();
  std::sort(c.begin(), c.end());
  EXPECT_NEAR(c[0], -20.0, 0.05);
  EXPECT_NEAR(c[1], 20.0, 0.05);
}

TEST(KMeansDegenerate, RejectsNonFiniteInputAndWrongShapes) {
  StreamingKMeans model(Options(2, 2));
  EXPECT_EQ(model.Observe(std::vector<double>{1, kNaN}, 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(model.Observe(std::vector<double>{1, 2}, kNaN).code(), StatusCode::kInvalidArgument);
  Blobs b = MakeBlobs(2, 2, 3000, 5);
  Stream(model, b.points, 2);
  const KMeansStats before = model.stats();
  std::vector<double> batch(b.points.begin(), b.points.begin() + 200);
  batch[101] = std::numeric_limits<double>::infinity();
  const Status s = model.ObserveBatch(batch, 0);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("point 50 coordinate 1"), std::string::npos) << s.message();
  EXPECT_EQ(model.stats().Encode(), before.Encode()) << "a rejected batch changes nothing";
  EXPECT_FALSE(model.Assign(std::vector<double>{kNaN, 0}).ok());
  EXPECT_THROW((void)model.Observe(std::vector<double>{1, 2, 3}, 0), std::invalid_argument);
  EXPECT_THROW((void)model.ObserveBatch(std::vector<double>{1, 2, 3}, 0), std::invalid_argument);
  EXPECT_THROW((void)model.Assign(std::vector<double>{1}), std::invalid_argument);
  EXPECT_THROW(StreamingKMeans(Options(0, 2)), std::invalid_argument);
  EXPECT_THROW(StreamingKMeans(Options(2, 0)), std::invalid_argument);
  StreamingKMeans other(Options(3, 2));
  EXPECT_EQ(other.Load(model.stats()).code(), StatusCode::kInvalidArgument);
}

TEST(KMeansAssign, HysteresisKeepsCurrentUnlessClearlyCloser) {
  KMeansOptions o = Options(2, 1);
  o.init_sample_size = 2;
  o.hysteresis = 0.1;
  StreamingKMeans model(o);
  ASSERT_TRUE(model.ObserveBatch(std::vector<double>{0.0, 10.0}, 0).ok());
  const int left = model.Assign(std::vector<double>{0.0}).value().cluster;
  const int right = 1 - left;
  // 5.2 is nearer the right centroid (4.8 vs 5.2) but not 10% nearer: stays left.
  Assignment a = model.AssignWithHysteresis(std::vector<double>{5.2}, left).value();
  EXPECT_EQ(a.cluster, left);
  EXPECT_NEAR(a.distance2, 5.2 * 5.2, 1e-12);
  // 6 is 4 from the right and 6 from the left: a third nearer, so it moves.
  EXPECT_EQ(model.AssignWithHysteresis(std::vector<double>{6.0}, left).value().cluster, right);
  EXPECT_EQ(model.AssignWithHysteresis(std::vector<double>{5.2}, -1).value().cluster, right);
}

TEST(KMeansPartition, LoadKeepsPendingDeltaAndIsDeterministic) {
  Blobs b = MakeBlobs(3, 2, 4000, 8);
  StreamingKMeans a(Options(3, 2, 7)), c(Options(3, 2, 7));
  Stream(a, b.points, 2);
  Stream(c, b.points, 2);
  EXPECT_EQ(a.stats().Encode(), c.stats().Encode()) << "same input and seed, same model";
  // Delta after Load(global) + more points = exactly the new points' statistics.
  KMeansStats global = a.TakeDelta();
  const std::vector<double> more(b.points.begin(), b.points.begin() + 200);
  ASSERT_TRUE(a.ObserveBatch(more, 1e6).ok());
  ASSERT_TRUE(a.Load(global).ok());  // pending delta survives the reload
  const KMeansStats delta = a.TakeDelta();
  double total = 0;
  for (int k = 0; k < 3; ++k) total += delta.count(k);
  EXPECT_NEAR(total, 100.0, 1e-9);
}

}  // namespace
}  // namespace segstream::stream
