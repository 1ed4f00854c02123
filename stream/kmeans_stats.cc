// KMeansOptions validation and the mergeable, serializable KMeansStats.
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "stream/kmeans.h"

namespace segstream::stream {

namespace {

constexpr char kMagic[4] = {'S', 'K', 'M', '1'};
constexpr size_t kHeaderBytes = 4 + 4 + 4 + 8 + 8;  // magic, k, dim, half-life, landmark

// Below this share of the total count a centroid is treated as empty: statistics that were
// subtracted out or decayed away leave rounding residue, which must not become a centroid.
constexpr double kActiveShare = 1e-9;

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutF64(std::string& out, double v) {
  const auto bits = std::bit_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
}
uint32_t GetU32(const unsigned char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{p[i]} << (8 * i);
  return v;
}
double GetF64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{p[i]} << (8 * i);
  return std::bit_cast<double>(v);
}

}  // namespace

std::string KMeansOptions::Validate() const {
  if (k < 1 || k > kMaxK) return "k must be in 1.." + std::to_string(kMaxK);
  if (dim < 1 || dim > kMaxDim) return "dim must be in 1.." + std::to_string(kMaxDim);
  if (init_sample_size < 1) return "init_sample_size must be >= 1";
  if (init_restarts < 1) return "init_restarts must be >= 1";
  if (init_max_iterations < 1) return "init_max_iterations must be >= 1";
  if (!(half_life >= 0) || !std::isfinite(half_life)) return "half_life must be finite and >= 0";
  if (change_block < 2) return "change_block must be >= 2";
  if (!(change_min_shift >= 0) || !std::isfinite(change_min_shift)) {
    return "change_min_shift must be finite and >= 0";
  }
  if (!std::isfinite(change_z)) return "change_z must be finite";
  if (!(far_factor > 1) || !std::isfinite(far_factor)) return "far_factor must be finite and > 1";
  if (far_candidates < 1 || far_candidates > 64) return "far_candidates must be in 1..64";
  if (candidate_min_points < 1) return "candidate_min_points must be >= 1";
  if (!(promote_ratio >= 0) || !std::isfinite(promote_ratio)) {
    return "promote_ratio must be finite and >= 0";
  }
  if (!(same_cluster_factor >= 0) || !std::isfinite(same_cluster_factor)) {
    return "same_cluster_factor must be finite and >= 0";
  }
  if (!(hysteresis >= 0 && hysteresis < 1)) return "hysteresis must be in [0, 1)";
  return {};
}

KMeansStats::KMeansStats(int k, int dim, double half_life)
    : k_(k),
      dim_(dim),
      half_life_(half_life),
      epoch_(k, 0),
      count_(k, 0.0),
      cost_(k, 0.0),
      sum_(size_t(k) * dim, 0.0) {}

double KMeansStats::total_count() const {
  double total = 0;
  for (double c : count_) total += c > 0 ? c : 0;
  return total;
}

double KMeansStats::active_floor() const { return kActiveShare * total_count(); }

bool KMeansStats::active(int c) const { return count_[c] > 0 && count_[c] > active_floor(); }

int KMeansStats::active_count() const {
  const double floor = active_floor();
  int n = 0;
  for (double c : count_) n += (c > 0 && c > floor) ? 1 : 0;
  return n;
}

std::vector<double> KMeansStats::Centroids() const {
  std::vector<double> out(size_t(k_) * dim_, std::numeric_limits<double>::quiet_NaN());
  const double floor = active_floor();
  for (int c = 0; c < k_; ++c) {
    if (!(count_[c] > 0 && count_[c] > floor)) continue;
    for (int j = 0; j < dim_; ++j)
      out[size_t(c) * dim_ + j] = sum_[size_t(c) * dim_ + j] / count_[c];
  }
  return out;
}

double KMeansStats::DecayedCount(int c, double time) const {
  if (half_life_ == 0) return count_[c];
  return count_[c] * std::exp2((landmark_ - time) / half_life_);
}

void KMeansStats::Rebase(double new_landmark) {
  if (half_life_ == 0 || new_landmark == landmark_) {
    landmark_ = new_landmark;
    return;
  }
  const double f = std::exp2((landmark_ - new_landmark) / half_life_);
  for (double& v : count_) v *= f;
  for (double& v : cost_) v *= f;
  for (double& v : sum_) v *= f;
  landmark_ = new_landmark;
}

void KMeansStats::Clear(int c) {
  count_[c] = 0;
  cost_[c] = 0;
  std::fill_n(sum_.begin() + size_t(c) * dim_, dim_, 0.0);
}

Status KMeansStats::Merge(const KMeansStats& other) {
  if (other.k_ != k_ || other.dim_ != dim_) {
    return Status::InvalidArgument(
        "k-means stats shapes differ: k=" + std::to_string(k_) + " dim=" + std::to_string(dim_) +
        " vs k=" + std::to_string(other.k_) + " dim=" + std::to_string(other.dim_));
  }
  if (other.half_life_ != half_life_) {
    return Status::InvalidArgument("k-means stats half-lives differ");
  }
  const KMeansStats* src = &other;
  KMeansStats aligned;
  if (half_life_ != 0 && other.landmark_ != landmark_) {
    // Align on the later landmark: scaling down never overflows.
    if (other.landmark_ > landmark_) {
      Rebase(other.landmark_);
    } else {
      aligned = other;
      aligned.Rebase(landmark_);
      src = &aligned;
    }
  }
  for (int c = 0; c < k_; ++c) {
    if (src->epoch_[c] < epoch_[c]) continue;
    if (src->epoch_[c] > epoch_[c]) {
      epoch_[c] = src->epoch_[c];
      Clear(c);
    }
    count_[c] += src->count_[c];
    cost_[c] += src->cost_[c];
    for (int j = 0; j < dim_; ++j) sum_[size_t(c) * dim_ + j] += src->sum_[size_t(c) * dim_ + j];
  }
  return Status::Ok();
}

std::string KMeansStats::Encode() const {
  std::string out;
  out.reserve(kHeaderBytes + size_t(k_) * (4 + 16 + 8 * size_t(dim_)));
  out.append(kMagic, 4);
  PutU32(out, uint32_t(k_));
  PutU32(out, uint32_t(dim_));
  PutF64(out, half_life_);
  PutF64(out, landmark_);
  for (int c = 0; c < k_; ++c) {
    PutU32(out, epoch_[c]);
    PutF64(out, count_[c]);
    PutF64(out, cost_[c]);
    for (int j = 0; j < dim_; ++j) PutF64(out, sum_[size_t(c) * dim_ + j]);
  }
  return out;
}

Result<KMeansStats> KMeansStats::Decode(std::string_view bytes) {
  if (bytes.size() < kHeaderBytes) {
    return Status::Corruption("k-means stats: " + std::to_string(bytes.size()) +
                              " bytes is shorter than the header");
  }
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (std::memcmp(p, kMagic, 4) != 0) return Status::Corruption("k-means stats: bad magic");
  const uint32_t k = GetU32(p + 4);
  const uint32_t dim = GetU32(p + 8);
  if (k < 1 || k > uint32_t(kMaxK) || dim < 1 || dim > uint32_t(kMaxDim)) {
    return Status::Corruption("k-means stats: k=" + std::to_string(k) +
                              " dim=" + std::to_string(dim) + " out of bounds");
  }
  const size_t per_centroid = 4 + 16 + 8 * size_t(dim);
  const size_t expected = kHeaderBytes + size_t(k) * per_centroid;
  if (bytes.size() != expected) {
    return Status::Corruption("k-means stats: " + std::to_string(bytes.size()) +
                              " bytes, expected " + std::to_string(expected));
  }
  const double half_life = GetF64(p + 12);
  const double landmark = GetF64(p + 20);
  if (!std::isfinite(half_life) || half_life < 0 || !std::isfinite(landmark)) {
    return Status::Corruption("k-means stats: bad half-life or landmark");
  }
  KMeansStats s(int(k), int(dim), half_life);
  s.landmark_ = landmark;
  const unsigned char* q = p + kHeaderBytes;
  for (uint32_t c = 0; c < k; ++c) {
    s.epoch_[c] = GetU32(q);
    s.count_[c] = GetF64(q + 4);
    s.cost_[c] = GetF64(q + 12);
    q += 20;
    bool finite = std::isfinite(s.count_[c]) && std::isfinite(s.cost_[c]);
    for (uint32_t j = 0; j < dim; ++j, q += 8) {
      const double v = GetF64(q);
      finite = finite && std::isfinite(v);
      s.sum_[size_t(c) * dim + j] = v;
    }
    if (!finite) {
      return Status::Corruption("k-means stats: non-finite value in centroid " + std::to_string(c));
    }
  }
  return s;
}

}  // namespace segstream::stream
