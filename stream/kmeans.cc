// StreamingKMeans core: buffering and initialisation, the vectorised assignment kernel, Sculley
// mini-batch updates in sufficient-statistics form, forward decay, and the partition protocol
// (Load / TakeDelta). Adaptive forgetting is in kmeans_adapt.cc.
#include "stream/kmeans.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>

#include "stream/kmeans_init.h"
#include "stream/kmeans_kernel.h"

namespace segstream::stream {

namespace {

using detail::Dist2;

constexpr double kInf = std::numeric_limits<double>::infinity();
// Forward-decay weights are rebased once they pass 2^64; sums of 2^64-scaled weights stay far
// from overflow for any realistic stream.
constexpr double kRebaseExponent = 64;

Status NonFinite(std::span<const double> v, int dim) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) {
      return Status::InvalidArgument("k-means: point " + std::to_string(i / dim) + " coordinate " +
                                     std::to_string(i % dim) + " is " +
                                     (std::isnan(v[i]) ? "NaN" : "infinite"));
    }
  }
  return Status::InvalidArgument(
      "k-means: coordinates too large (squared distances overflow); scale the features");
}

// The centroid sum·inv into its three layouts (row-major, accumulator row, -2·(c - o)); returns
// |c - o|². Separate with restrict pointers so the loop has no aliasing checks.
double CentroidRows(const double* __restrict sum, double inv, const double* __restrict origin,
                    int dim, double* __restrict row, double* __restrict acc_row,
                    double* __restrict neg2c) {
  double norm = 0;
  for (int j = 0; j < dim; ++j) {
    const double x = sum[j] * inv;
    row[j] = x;
    acc_row[j] = x;
    const double rel = x - origin[j];
    neg2c[j] = -2.0 * rel;
    norm += rel * rel;
  }
  return norm;
}

// Folds one centroid's batch accumulators (weight w per point, bw in all) into its sum and, when
// b_sum is set, its change-detection block. Σ w·x = w·Σ (x - c) + bw·c.
void FoldBatch(double w, double bw, const double* __restrict cen, int dim,
               const double* __restrict dev, const double* __restrict dev2, double* __restrict sum,
               double* __restrict b_sum, double* __restrict b_dev, double* __restrict b_dev2) {
  for (int j = 0; j < dim; ++j) {
    const double add = w * dev[j] + bw * cen[j];
    sum[j] += add;
    if (b_sum != nullptr) {
      b_sum[j] += add;
      b_dev[j] += w * dev[j];
      b_dev2[j] += w * dev2[j];
    }
  }
}

}  // namespace

StreamingKMeans::StreamingKMeans(const KMeansOptions& options) : options_(options) {
  if (std::string err = options.Validate(); !err.empty()) {
    throw std::invalid_argument("k-means options: " + err);
  }
  k_ = options.k;
  dim_ = options.dim;
  stats_ = KMeansStats(k_, dim_, options.half_life);
  base_ = stats_;
  origin_.assign(dim_, 0.0);
  neg2c_.assign(size_t(k_) * dim_, 0.0);
  norms_.assign(k_, kInf);
  centroids_.assign(size_t(k_) * dim_, 0.0);
  far_threshold_.assign(k_, kInf);
  acc_stride_ = detail::AccStride(dim_);
  acc_centroid_.assign(size_t(k_ + 1) * acc_stride_, 0.0);
  for (int c = 0; c <= k_; ++c) acc_centroid_[size_t(c) * acc_stride_ + dim_] = -1.0;
  acc_keep_.assign(acc_stride_, 0);
  std::fill_n(acc_keep_.begin(), dim_, ~uint64_t{0});
  batch_dev_.assign(size_t(k_ + 1) * acc_stride_, 0.0);
  batch_dev2_.assign(size_t(k_ + 1) * acc_stride_, 0.0);
  touched_.assign(k_, 0);
  no_far_.assign(k_, kInf);
  blocks_.resize(k_);
  for (Block& b : blocks_) {
    b.sum.assign(dim_, 0.0);
    b.dev.assign(dim_, 0.0);
    b.dev2.assign(dim_, 0.0);
  }
  candidates_.resize(options.far_candidates);
  for (Candidate& cand : candidates_) {
    cand.mean.assign(dim_, 0.0);
    cand.contrib_w.assign(k_, 0.0);
    cand.contrib_sum.assign(size_t(k_) * dim_, 0.0);
    cand.contrib_cost.assign(k_, 0.0);
  }
}

Status StreamingKMeans::Observe(std::span<const double> point, double time) {
  if (point.size() != size_t(dim_)) {
    throw std::invalid_argument("k-means: point has " + std::to_string(point.size()) +
                                " coordinates, the model has dim " + std::to_string(dim_));
  }
  return ObserveBatch(point, time);
}

Status StreamingKMeans::ObserveBatch(std::span<const double> points, double time) {
  if (points.size() % size_t(dim_) != 0) {
    throw std::invalid_argument("k-means: batch of " + std::to_string(points.size()) +
                                " values is not a multiple of dim " + std::to_string(dim_));
  }
  if (!std::isfinite(time)) return Status::InvalidArgument("k-means: time is not finite");
  const size_t n = points.size() / dim_;
  if (n == 0) return Status::Ok();
  // Once initialised, the assignment kernel checks finiteness before anything changes.
  if (!initialized_ && !detail::AllFinite(points.data(), points.size())) {
    return NonFinite(points, dim_);
  }
  const double clock = options_.clock == DecayClock::kPointCount ? points_seen_ : time;
  points_seen_ += double(n);
  size_t done = 0;
  if (!initialized_) {
    const size_t room = size_t(options_.init_sample_size) - buffer_times_.size();
    done = std::min(room, n);
    buffer_.insert(buffer_.end(), points.data(), points.data() + done * dim_);
    buffer_times_.insert(buffer_times_.end(), done, clock);
    if (buffer_times_.size() >= size_t(options_.init_sample_size)) InitializeFromBuffer();
  }
  if (done < n && !ProcessBatch(points.data() + done * dim_, n - done, clock)) {
    points_seen_ -= double(n);
    return NonFinite(points, dim_);
  }
  return Status::Ok();
}

void StreamingKMeans::Initialize() {
  if (!initialized_ && !buffer_times_.empty()) InitializeFromBuffer();
}

void StreamingKMeans::InitializeFromBuffer() {
  const size_t n = buffer_times_.size();
  const detail::InitResult init =
      detail::KMeansPlusPlusLloyd(buffer_.data(), n, dim_, k_, options_.init_restarts,
                                  options_.init_max_iterations, options_.seed);
  for (int c = 0; c < k_; ++c) stats_.Clear(c);
  for (size_t i = 0; i < n; ++i) {
    const double w = WeightAt(buffer_times_[i]);
    const int c = init.labels[i];
    const double* x = buffer_.data() + i * dim_;
    stats_.count_[c] += w;
    stats_.cost_[c] += w * Dist2(x, init.centers.data() + size_t(c) * dim_, dim_);
    double* s = stats_.sum_.data() + size_t(c) * dim_;
    for (int j = 0; j < dim_; ++j) s[j] += w * x[j];
  }
  for (int j = 0; j < dim_; ++j) {
    double mean = 0;
    for (size_t i = 0; i < n; ++i) mean += buffer_[i * dim_ + j];
    origin_[j] = mean / double(n);
  }
  buffer_.clear();
  buffer_.shrink_to_fit();
  buffer_times_.clear();
  buffer_times_.shrink_to_fit();
  initialized_ = true;
  RefreshCentroids();
  ResetAdaptiveState();
}

void StreamingKMeans::SetOriginToMean() {
  double total = 0;
  std::fill(origin_.begin(), origin_.end(), 0.0);
  const double floor = stats_.active_floor();
  for (int c = 0; c < k_; ++c) {
    if (!(stats_.count_[c] > 0 && stats_.count_[c] > floor)) continue;
    total += stats_.count_[c];
    for (int j = 0; j < dim_; ++j) origin_[j] += stats_.sum_[size_t(c) * dim_ + j];
  }
  for (double& v : origin_) v /= total;
}

double StreamingKMeans::WeightAt(double clock) {
  if (options_.half_life == 0) return 1.0;
  double e = (clock - stats_.landmark_) / options_.half_life;
  if (e > kRebaseExponent) {
    RebaseAll(clock);
    e = 0;
  }
  return std::exp2(e);
}

void StreamingKMeans::RebaseAll(double new_landmark) {
  const double f = std::exp2((stats_.landmark_ - new_landmark) / options_.half_life);
  stats_.Rebase(new_landmark);
  base_.Rebase(new_landmark);
  for (Block& b : blocks_) {
    b.w *= f;
    b.cost *= f;
    for (int j = 0; j < dim_; ++j) {
      b.sum[j] *= f;
      b.dev[j] *= f;
      b.dev2[j] *= f;
    }
  }
  for (Candidate& cand : candidates_) {
    cand.w *= f;
    cand.scatter *= f;
    cand.base *= f;
    for (double& v : cand.contrib_w) v *= f;
    for (double& v : cand.contrib_sum) v *= f;
    for (double& v : cand.contrib_cost) v *= f;
  }
}

void StreamingKMeans::RefreshCentroids() {
  const double floor = stats_.active_floor();
  has_empty_ = false;
  for (int c = 0; c < k_; ++c) has_empty_ |= !(stats_.count_[c] > 0 && stats_.count_[c] > floor);
  for (int c = 0; c < k_; ++c) RefreshCentroid(c, floor);
}

void StreamingKMeans::RefreshCentroid(int c, double floor) {
  const double count = stats_.count_[c];
  if (!(count > 0 && count > floor)) {
    norms_[c] = kInf;
    far_threshold_[c] = kInf;
    return;
  }
  const double inv = 1.0 / count;
  norms_[c] = CentroidRows(stats_.sum_.data() + size_t(c) * dim_, inv, origin_.data(), dim_,
                           centroids_.data() + size_t(c) * dim_,
                           acc_centroid_.data() + size_t(c) * acc_stride_,
                           neg2c_.data() + size_t(c) * dim_);
  // While a slot is empty, anything beyond a centroid's mean spread may seed it (re-seeding dead
  // centroids in the highest-cost regions); otherwise only far outliers feed candidates. The
  // spread leaves out the far points candidates hold: a new cluster arriving next to this
  // centroid must not widen its reach until its own points count as near.
  const double factor = has_empty_ ? 1.0 : options_.far_factor;
  double pending_w = 0;
  double pending_cost = 0;
  for (const Candidate& cand : candidates_) {
    if (!cand.used) continue;
    pending_w += cand.contrib_w[c];
    pending_cost += cand.contrib_cost[c];
  }
  double spread = std::max(stats_.cost_[c], 0.0) * inv;
  if (count - pending_w > 1e-9 * count) {
    spread = std::max(stats_.cost_[c] - pending_cost, 0.0) / (count - pending_w);
  }
  far_threshold_[c] = factor * spread;
}

Assignment StreamingKMeans::Nearest(const double* x) const {
  int c = 0;
  int slot = 0;
  double d2 = 0;
  size_t n_far = 0;
  const detail::AssignView view{
      k_, dim_, origin_.data(), neg2c_.data(), norms_.data(), no_far_.data()};
  detail::NearestBatch(view, x, 1, &c, &slot, &d2, &n_far);
  if (norms_[c] == kInf) return {};
  return {c, d2};
}

// Sculley's mini-batch step in sufficient-statistics form. The per-point work only accumulates
// deviations from the (fixed) snapshot centroid; Σ w·x = Σ w·(x - c) + (Σ w)·c is folded into the
// statistics once per batch and centroid.
bool StreamingKMeans::ProcessBatch(const double* points, size_t n, double clock) {
  if (stats_.active_count() == 0) {
    if (!detail::AllFinite(points, n * dim_)) return false;
    // Loaded an empty model: this batch becomes the initialisation sample.
    buffer_.insert(buffer_.end(), points, points + n * dim_);
    buffer_times_.insert(buffer_times_.end(), n, clock);
    InitializeFromBuffer();
    return true;
  }
  scratch_cluster_.resize(n);
  scratch_slot_.resize(n);
  scratch_d2_.resize(n);
  const bool adaptive = options_.adaptive;
  const detail::AssignView view{k_,
                                dim_,
                                origin_.data(),
                                neg2c_.data(),
                                norms_.data(),
                                adaptive ? far_threshold_.data() : no_far_.data()};
  size_t n_far = 0;
  if (!detail::NearestBatch(view, points, n, scratch_cluster_.data(), scratch_slot_.data(),
                            scratch_d2_.data(), &n_far)) {
    return false;
  }
  const double w = WeightAt(clock);
  const int dim = dim_;
  const int stride = acc_stride_;
  detail::AccumulateNear(points, n, dim, scratch_slot_.data(), acc_centroid_.data(),
                         acc_keep_.data(), batch_dev_.data(), batch_dev2_.data());
  for (size_t i = 0; i < n && n_far > 0; ++i) {
    if (scratch_slot_[i] != k_) continue;
    --n_far;
    const int c = scratch_cluster_[i];
    const double* x = points + i * dim;
    stats_.count_[c] += w;
    stats_.cost_[c] += w * scratch_d2_[i];
    double* s = stats_.sum_.data() + size_t(c) * dim;
    for (int j = 0; j < dim; ++j) s[j] += w * x[j];
    touched_[c] = 1;
    AddFar(c, x, w, scratch_d2_[i]);
  }
  const double floor = stats_.active_floor();
  for (int c = 0; c < k_; ++c) {
    double* dev = batch_dev_.data() + size_t(c) * stride;
    double* dev2 = batch_dev2_.data() + size_t(c) * stride;
    const double bn = dev[dim];
    if (!touched_[c] && bn == 0) continue;
    touched_[c] = 0;
    if (bn != 0) {
      // Σ w·x = w·Σ (x - c) + (Σ w)·c, folded once per batch and centroid.
      const double bw = w * bn;
      const double* cen = centroids_.data() + size_t(c) * dim;
      double* s = stats_.sum_.data() + size_t(c) * dim;
      double cost = 0;
      for (int j = 0; j < dim; ++j) cost += dev2[j];
      cost *= w;
      stats_.count_[c] += bw;
      stats_.cost_[c] += cost;
      Block* b = adaptive ? &blocks_[c] : nullptr;
      if (b != nullptr) {
        b->n += bn;
        b->w += bw;
        b->cost += cost;
      }
      FoldBatch(w, bw, cen, dim, dev, dev2, s, b ? b->sum.data() : nullptr,
                b ? b->dev.data() : nullptr, b ? b->dev2.data() : nullptr);
    }
    RefreshCentroid(c, floor);
  }
  // One clear for all rows, spare row k (the far points) included.
  std::fill(batch_dev_.begin(), batch_dev_.end(), 0.0);
  std::fill(batch_dev2_.begin(), batch_dev2_.end(), 0.0);
  if (adaptive) {
    TestChanges();
    MaybePromote();
  }
  return true;
}

Result<Assignment> StreamingKMeans::Assign(std::span<const double> point) const {
  if (point.size() != size_t(dim_)) {
    throw std::invalid_argument("k-means: point has " + std::to_string(point.size()) +
                                " coordinates, the model has dim " + std::to_string(dim_));
  }
  if (!detail::AllFinite(point.data(), point.size())) return NonFinite(point, dim_);
  if (!initialized_) return Assignment{};
  return Nearest(point.data());
}

Result<Assignment> StreamingKMeans::AssignWithHysteresis(std::span<const double> point,
                                                         int current) const {
  return AssignWithHysteresis(point, current, options_.hysteresis);
}

Result<Assignment> StreamingKMeans::AssignWithHysteresis(std::span<const double> point, int current,
                                                         double margin) const {
  Result<Assignment> nearest = Assign(point);
  if (!nearest.ok() || nearest->cluster < 0 || nearest->cluster == current) return nearest;
  if (current < 0 || current >= k_ || norms_[current] == kInf) return nearest;
  const double d2 = Dist2(point.data(), centroids_.data() + size_t(current) * dim_, dim_);
  // Compare squared distances: closer by a factor (1 - margin) in distance.
  const double keep = (1 - margin) * (1 - margin);
  if (nearest->distance2 < keep * d2) return nearest;
  return Assignment{current, d2};
}

KMeansStats StreamingKMeans::TakeDelta() {
  KMeansStats delta(k_, dim_, options_.half_life);
  if (base_.landmark_ != stats_.landmark_) base_.Rebase(stats_.landmark_);
  delta.landmark_ = stats_.landmark_;
  for (int c = 0; c < k_; ++c) {
    delta.epoch_[c] = stats_.epoch_[c];
    const bool same = stats_.epoch_[c] == base_.epoch_[c];
    delta.count_[c] = stats_.count_[c] - (same ? base_.count_[c] : 0.0);
    delta.cost_[c] = stats_.cost_[c] - (same ? base_.cost_[c] : 0.0);
    for (int j = 0; j < dim_; ++j) {
      const size_t at = size_t(c) * dim_ + j;
      delta.sum_[at] = stats_.sum_[at] - (same ? base_.sum_[at] : 0.0);
    }
  }
  base_ = stats_;
  return delta;
}

Status StreamingKMeans::Load(const KMeansStats& global) {
  if (global.k() != k_ || global.dim() != dim_ || global.half_life() != options_.half_life) {
    return Status::InvalidArgument("k-means: loaded statistics (k=" + std::to_string(global.k()) +
                                   ", dim=" + std::to_string(global.dim()) +
                                   ") do not fit this model (k=" + std::to_string(k_) +
                                   ", dim=" + std::to_string(dim_) + ") or its half-life");
  }
  KMeansStats pending = TakeDelta();
  stats_ = global;
  (void)stats_.Merge(pending);  // same shape, cannot fail
  base_ = global;
  if (base_.landmark_ != stats_.landmark_) base_.Rebase(stats_.landmark_);
  initialized_ = stats_.active_count() > 0;
  if (initialized_) SetOriginToMean();
  RefreshCentroids();
  ResetAdaptiveState();
  if (initialized_ && !buffer_times_.empty()) {
    std::vector<double> points;
    std::vector<double> times;
    points.swap(buffer_);
    times.swap(buffer_times_);
    // Replay the sample in runs of equal time, each a mini-batch.
    for (size_t i = 0; i < times.size();) {
      size_t j = i;
      while (j < times.size() && times[j] == times[i]) ++j;
      ProcessBatch(points.data() + i * dim_, j - i, times[i]);  // checked when buffered
      i = j;
    }
  }
  return Status::Ok();
}

}  // namespace segstream::stream
