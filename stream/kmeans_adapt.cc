// Adaptive forgetting for StreamingKMeans (DESIGN §4): per-centroid change detection with
// restarts, and far-point candidates that take a slot freed by merging the cheapest pair.
#include <algorithm>
#include <cmath>
#include <limits>

#include "stream/kmeans.h"
#include "stream/kmeans_init.h"

namespace segstream::stream {

namespace {

using detail::Dist2;

constexpr double kInf = std::numeric_limits<double>::infinity();
// Statistics left after subtracting a part this small (relative) are rounding residue.
constexpr double kResidue = 1e-9;

// Upper `z` quantile of chi-squared with `d` degrees of freedom, Wilson & Hilferty (1931):
// (X/d)^(1/3) is close to normal with mean 1 - 2/(9d) and variance 2/(9d).
double ChiSquaredQuantile(int d, double z) {
  const double v = 2.0 / (9.0 * d);
  const double t = 1 - v + z * std::sqrt(v);
  return t > 0 ? d * t * t * t : 0.0;
}

}  // namespace

void StreamingKMeans::Block::Reset() {
  n = w = cost = 0;
  std::fill(sum.begin(), sum.end(), 0.0);
  std::fill(dev.begin(), dev.end(), 0.0);
  std::fill(dev2.begin(), dev2.end(), 0.0);
}

void StreamingKMeans::Candidate::Reset() {
  used = false;
  n = w = scatter = base = 0;
  std::fill(mean.begin(), mean.end(), 0.0);
  std::fill(contrib_w.begin(), contrib_w.end(), 0.0);
  std::fill(contrib_sum.begin(), contrib_sum.end(), 0.0);
  std::fill(contrib_cost.begin(), contrib_cost.end(), 0.0);
}

void StreamingKMeans::ResetAdaptiveState() {
  for (Block& b : blocks_) b.Reset();
  ClearCandidates();
}

void StreamingKMeans::ClearCandidates() {
  for (Candidate& cand : candidates_) {
    if (cand.used) cand.Reset();
  }
}

// A far point has already been added to centroid c's statistics (so the statistics always hold
// every observed point); the candidate also records it, to move it out again on promotion.
void StreamingKMeans::AddFar(int c, const double* x, double w, double d2) {
  ++events_.far_points;
  Candidate* join = nullptr;
  double join_d2 = d2;  // join only a candidate nearer than the point's own centroid
  for (Candidate& cand : candidates_) {
    if (!cand.used) continue;
    const double e = Dist2(x, cand.mean.data(), dim_);
    if (e < join_d2) {
      join_d2 = e;
      join = &cand;
    }
  }
  if (join == nullptr) {
    // Seed a new candidate in a free slot, else replace the weakest.
    for (Candidate& cand : candidates_) {
      if (!cand.used) {
        join = &cand;
        break;
      }
      if (join == nullptr || cand.gain() < join->gain()) join = &cand;
    }
    join->Reset();
    join->used = true;
  }
  Candidate& cand = *join;
  // Weighted incremental mean and scatter (West 1979).
  const double new_w = cand.w + w;
  for (int j = 0; j < dim_; ++j) {
    const double delta = x[j] - cand.mean[j];
    cand.mean[j] += (w / new_w) * delta;
    cand.scatter += w * delta * (x[j] - cand.mean[j]);
  }
  cand.w = new_w;
  cand.n += 1;
  cand.base += w * d2;
  cand.contrib_w[c] += w;
  cand.contrib_cost[c] += w * d2;
  double* cs = cand.contrib_sum.data() + size_t(c) * dim_;
  for (int j = 0; j < dim_; ++j) cs[j] += w * x[j];
}

// A block is complete after change_block near members. Its mean is compared with the centroid
// in units of the block's own per-coordinate spread (a diagonal Hotelling test): the squared
// departure must pass both the chi-squared significance bound and the minimum effect size.
void StreamingKMeans::TestChanges() {
  const double min_effect = options_.change_min_shift * options_.change_min_shift;
  const double chi2 = ChiSquaredQuantile(dim_, options_.change_z);
  for (int c = 0; c < k_; ++c) {
    Block& b = blocks_[c];
    if (b.n < options_.change_block) continue;
    bool changed = false;
    if (norms_[c] != kInf && b.w > 0) {
      const double* cen = centroids_.data() + size_t(c) * dim_;
      double vmax = 0;
      for (int j = 0; j < dim_; ++j) {
        const double mean_dev = b.dev[j] / b.w;
        vmax = std::max(vmax, b.dev2[j] / b.w - mean_dev * mean_dev);
      }
      double m2 = 0;
      for (int j = 0; j < dim_; ++j) {
        const double mean_dev = b.dev[j] / b.w;
        const double var = std::max(b.dev2[j] / b.w - mean_dev * mean_dev, 0.0);
        // Rounding floor: a constant coordinate whose mean matches to ~1e-9 is not a change.
        const double floor = 1e-18 * (vmax + cen[j] * cen[j]) + 1e-300;
        const double departure = b.sum[j] / b.w - cen[j];
        m2 += departure * departure / (var + floor);
      }
      changed = m2 > std::max(min_effect, chi2 / b.n);
    }
    if (changed) {
      Restart(c);
    } else {
      b.Reset();
    }
  }
}

// The centroid restarts from its last block. Far points it received that candidates recorded, and
// that lie nearer the block than the old centroid, move with it (they are the same newcomers, a
// cluster arriving where the centroid was); its other recorded far points stay with their
// candidates only. The rest of its history either joins the nearest centroid that is the same
// cluster (|Δ|² within same_cluster_factor × the two mean spreads: a cluster that had been split),
// or is forgotten (the cluster moved).
// Candidates survive a restart. Clearing them here lost a new cluster's first far points into the
// restarted centroid's history, where they widened its spread, passed the same-cluster test and
// blurred the neighbour it joined (grouped arrival with 5 k points per cluster: up to 3.3× Lloyd's
// inertia).
void StreamingKMeans::Restart(int c) {
  Block& b = blocks_[c];
  double* s = stats_.sum_.data() + size_t(c) * dim_;
  const double* old_centroid = centroids_.data() + size_t(c) * dim_;
  std::vector<double> fresh_mean(dim_), fresh_sum(b.sum), old_sum(dim_);
  for (int j = 0; j < dim_; ++j) fresh_mean[j] = b.sum[j] / b.w;
  // The restarted cost is the block's scatter about its own mean (Σw(x-c)² - |Σw(x-c)|²/Σw).
  double fresh_cost = 0;
  for (int j = 0; j < dim_; ++j) fresh_cost += b.dev2[j] - b.dev[j] * b.dev[j] / b.w;
  fresh_cost = std::max(fresh_cost, 0.0);
  double fresh_w = b.w;
  double moved_cost = 0;  // their cost as recorded (distance to the old centroid)
  // The other recorded far points leave the history: newcomers elsewhere, kept by their candidate
  // alone (a promotion brings them back), so they neither skew the same-cluster test below nor
  // follow the history into a neighbour.
  double detached_w = 0;
  double detached_cost = 0;
  std::vector<double> detached_sum(dim_, 0.0);
  std::vector<double> part_mean(dim_);
  for (Candidate& cand : candidates_) {
    const double pw = cand.used ? cand.contrib_w[c] : 0.0;
    if (!(pw > 0)) continue;
    double* ps = cand.contrib_sum.data() + size_t(c) * dim_;
    for (int j = 0; j < dim_; ++j) part_mean[j] = ps[j] / pw;
    const double to_fresh = Dist2(part_mean.data(), fresh_mean.data(), dim_);
    if (to_fresh < Dist2(part_mean.data(), old_centroid, dim_)) {
      fresh_w += pw;
      for (int j = 0; j < dim_; ++j) fresh_sum[j] += ps[j];
      // Spread about the fresh mean: the block's mean spread plus the offset of the group.
      fresh_cost += pw * (to_fresh + fresh_cost / fresh_w);
      moved_cost += cand.contrib_cost[c];
      continue;
    }
    detached_w += pw;
    detached_cost += cand.contrib_cost[c];
    for (int j = 0; j < dim_; ++j) {
      detached_sum[j] += ps[j];
      ps[j] = 0;
    }
    cand.contrib_w[c] = 0;
    cand.contrib_cost[c] = 0;
  }
  const double old_w = stats_.count_[c] - fresh_w - detached_w;
  const double old_cost = std::max(stats_.cost_[c] - b.cost - moved_cost - detached_cost, 0.0);
  for (int j = 0; j < dim_; ++j) old_sum[j] = s[j] - fresh_sum[j] - detached_sum[j];
  const double floor = stats_.active_floor();
  if (old_w > kResidue * stats_.count_[c]) {
    std::vector<double> old_mean(dim_);
    for (int j = 0; j < dim_; ++j) old_mean[j] = old_sum[j] / old_w;
    const double old_spread = old_cost / old_w;
    int near = -1;
    double near_d2 = kInf;
    for (int j = 0; j < k_; ++j) {
      if (j == c || norms_[j] == kInf) continue;
      const double d = Dist2(old_mean.data(), centroids_.data() + size_t(j) * dim_, dim_);
      if (d < near_d2) {
        near_d2 = d;
        near = j;
      }
    }
    if (near >= 0) {
      const double near_w = stats_.count_[near];
      const double near_spread = std::max(stats_.cost_[near], 0.0) / near_w;
      if (near_d2 <= options_.same_cluster_factor * (old_spread + near_spread)) {
        const double ward = old_w * near_w / (old_w + near_w) * near_d2;
        stats_.count_[near] += old_w;
        stats_.cost_[near] += old_cost + ward;
        double* ns = stats_.sum_.data() + size_t(near) * dim_;
        for (int j = 0; j < dim_; ++j) ns[j] += old_sum[j];
        ++events_.history_merged;
        RefreshCentroid(near, floor);
      }
    }
  }
  stats_.count_[c] = fresh_w;
  stats_.cost_[c] = fresh_cost;
  for (int j = 0; j < dim_; ++j) s[j] = fresh_sum[j];
  ++stats_.epoch_[c];
  ++events_.restarts;
  b.Reset();
  RefreshCentroid(c, stats_.active_floor());
}

// Local search swap (Kanungo et al. 2004): the best candidate becomes a centroid when its gain
// (the far points' cost now minus their scatter about the candidate) exceeds the cost of the
// cheapest way to free a slot: an empty slot is free, else merging the pair with the smallest
// Ward (1963) cost n_a n_b / (n_a + n_b) |c_a - c_b|², computed as if the candidate's points had
// already been moved out.
void StreamingKMeans::MaybePromote() {
  Candidate* best = nullptr;
  for (Candidate& cand : candidates_) {
    if (!cand.used || cand.n < options_.candidate_min_points || !(cand.gain() > 0)) continue;
    if (best == nullptr || cand.gain() > best->gain()) best = &cand;
  }
  if (best == nullptr) return;
  const Candidate& cand = *best;

  // Statistics with the candidate's points taken out.
  std::vector<double> count(k_);
  std::vector<double> mean(size_t(k_) * dim_);
  std::vector<char> live(k_, 0);
  int free_slot = -1;
  for (int c = 0; c < k_; ++c) {
    count[c] = stats_.count_[c] - cand.contrib_w[c];
    live[c] = norms_[c] != kInf && count[c] > kResidue * stats_.count_[c];
    if (!live[c]) {
      if (free_slot < 0) free_slot = c;
      continue;
    }
    for (int j = 0; j < dim_; ++j) {
      const size_t at = size_t(c) * dim_ + j;
      mean[at] = (stats_.sum_[at] - cand.contrib_sum[at]) / count[c];
    }
  }
  int keep = -1;
  int drop = free_slot;
  double merge_cost = 0;
  if (free_slot < 0) {
    merge_cost = kInf;
    for (int a = 0; a < k_; ++a) {
      for (int b = a + 1; b < k_; ++b) {
        const double w = count[a] * count[b] / (count[a] + count[b]);
        const double ward =
            w * Dist2(mean.data() + size_t(a) * dim_, mean.data() + size_t(b) * dim_, dim_);
        if (ward < merge_cost) {
          merge_cost = ward;
          // The heavier keeps its index, so segment ids move as little as possible.
          keep = count[a] >= count[b] ? a : b;
          drop = count[a] >= count[b] ? b : a;
        }
      }
    }
  }
  if (!(cand.gain() > options_.promote_ratio * merge_cost)) return;

  for (int c = 0; c < k_; ++c) {
    if (cand.contrib_w[c] == 0) continue;
    const double before = stats_.count_[c];
    stats_.count_[c] -= cand.contrib_w[c];
    stats_.cost_[c] = std::max(stats_.cost_[c] - cand.contrib_cost[c], 0.0);
    for (int j = 0; j < dim_; ++j) {
      const size_t at = size_t(c) * dim_ + j;
      stats_.sum_[at] -= cand.contrib_sum[at];
    }
    if (stats_.count_[c] <= kResidue * before) stats_.Clear(c);
  }
  if (keep >= 0) {
    stats_.count_[keep] += stats_.count_[drop];
    stats_.cost_[keep] += stats_.cost_[drop] + merge_cost;
    for (int j = 0; j < dim_; ++j) {
      stats_.sum_[size_t(keep) * dim_ + j] += stats_.sum_[size_t(drop) * dim_ + j];
    }
    ++events_.pair_merges;
  }
  stats_.Clear(drop);
  stats_.count_[drop] = cand.w;
  stats_.cost_[drop] = std::max(cand.scatter, 0.0);
  for (int j = 0; j < dim_; ++j) stats_.sum_[size_t(drop) * dim_ + j] = cand.w * cand.mean[j];
  ++stats_.epoch_[drop];
  ++events_.promotions;
  for (int c : {keep, drop}) {
    if (c >= 0) blocks_[c].Reset();
  }
  ClearCandidates();
  RefreshCentroids();
}

}  // namespace segstream::stream
