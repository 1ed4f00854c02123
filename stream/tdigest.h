// t-digest: a mergeable, serializable quantile sketch (Dunning & Ertl 2019, "Computing extremely
// accurate quantiles using t-digests", the merging variant). Header-only, standard library only.
//
// What differs from the paper's MergingDigest, and why (DESIGN §4 targets; measured figures in
// bench/README.md):
//  - Scale (tdigest_internal.h, Scale): tail centroids at most 0.4 q wide (100/δ), so the extreme
//    tails are singletons, and middle ones capped at 2.5 % (100/δ) instead of K2's ~17 %; cut on
//    a fixed grid in k, the same for every n, so digests of equal slices merge cell by cell.
//  - Two levels (as MergingDigest's "private" compression): inserts merge into a working set
//    `working_factor` times finer; queries, Serialize and Merge see it compressed to
//    `compression`, each public centroid a union of whole working ones.
//  - Quantile curve: Steffen's monotone cubic through the centroids, their means corrected to
//    the curve's value at their centre, rather than straight lines between means.
//  - Inserts are buffered and sorted by an LSD radix sort on order-preserving integer keys, then
//    merged in one linear pass: several times cheaper per value than std::sort.
//  - Discrete data: equal values are collapsed into one "pure" centroid per merge pass; a run
//    that fills 1/64 of its cell (more if the centroid budget, 1.3 δ, needs it) stays its own
//    centroid, and a quantile whose rank falls in a pure centroid returns its value exactly; the
//    curve is flat across it, never interpolating through it. Runs smaller than that are averaged
//    with their neighbours like any values.
//
// Values: finite doubles and ±inf. NaN throws std::invalid_argument. An infinite value is kept in
// its own centroid (never averaged with finite ones); Min/Max/Quantile can then return ±inf, and
// ranks between the last finite centroid and an infinite one are answered with the finite value.
// Empty digest: Quantile, Cdf, Min, Max and TrimmedMean return NaN; Count is 0.
//
// Not thread-safe, not even for concurrent const calls: queries flush pending inserts and cache
// the compressed centroids in mutable state. Copyable value type.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stream/status.h"
#include "stream/tdigest_internal.h"

namespace segstream::stream {

struct TDigestOptions {
  // δ, in [1, 1e4]. At δ = 100: ~100 centroids for n = 10 M continuous values, growing by ~12 per
  // tenfold n (the tails' log); discrete data may use up to 1.3 δ to keep repeated values exact.
  double compression = 100;
  // Unit-weight inserts held before one sort + merge pass. Larger is faster and more accurate;
  // the buffer costs 8 bytes per slot plus 16 bytes of scratch during a flush.
  size_t buffer_size = 32768;
  // Resolution of the working centroid set relative to `compression` (>= 1).
  double working_factor = 8;
};

class TDigest {
 public:
  using Centroid = tdigest_internal::Centroid;

  explicit TDigest(double compression = 100)
      : TDigest(TDigestOptions{.compression = compression}) {}
  explicit TDigest(const TDigestOptions& options) : options_(options) {
    if (!(options.compression >= 1 && options.compression <= 1e4)) {
      throw std::invalid_argument("TDigest: compression must be in [1, 1e4]");
    }
    if (!(options.working_factor >= 1 && options.working_factor <= 64)) {
      throw std::invalid_argument("TDigest: working_factor must be in [1, 64]");
    }
    options_.buffer_size = std::clamp<size_t>(options.buffer_size, 1, size_t{1} << 24);
  }

  // Adds `x` with `weight` (> 0 and finite; need not be an integer). Throws std::invalid_argument
  // for a NaN value or a bad weight.
  void Add(double x, double weight = 1) {
    if (std::isnan(x)) throw std::invalid_argument("TDigest::Add: NaN value");
    if (weight != 1) return AddWeighted(x, weight);
    points_.push_back(x);
    if (points_.size() >= options_.buffer_size) Flush();
  }

  // Adds every digest point of `other` (its compressed centroids, as Serialize would carry).
  void Merge(const TDigest& other) {
    other.Compress();
    if (other.count_ == 0) return;
    for (const Centroid& c : other.public_) items_.push_back(c);
    pending_weight_ += other.count_;
    pending_min_ = std::min(pending_min_, other.min_);
    pending_max_ = std::max(pending_max_, other.max_);
    if (items_.size() >= options_.buffer_size) Flush();
  }

  // Value at quantile q in [0, 1] (throws std::invalid_argument otherwise); NaN if empty.
  double Quantile(double q) const {
    if (!(q >= 0 && q <= 1)) throw std::invalid_argument("TDigest::Quantile: q not in [0, 1]");
    Compress();
    if (count_ == 0) return std::numeric_limits<double>::quiet_NaN();
    return curve_.ValueAt(q * count_);
  }

  // Mid-rank cumulative fraction, as RedisBloom TDIGEST.CDF: (#{< x} + #{== x} / 2) / n.
  // NaN if empty; throws std::invalid_argument for NaN x.
  double Cdf(double x) const {
    if (std::isnan(x)) throw std::invalid_argument("TDigest::Cdf: NaN");
    Compress();
    if (count_ == 0) return std::numeric_limits<double>::quiet_NaN();
    if (x < min_) return 0;
    if (x > max_) return 1;
    auto [lo, hi] = curve_.RankRange(x, count_);
    return (lo + hi) / 2 / count_;
  }

  double Count() const { return count_ + static_cast<double>(points_.size()) + pending_weight_; }
  double Min() const {
    Flush();
    return count_ == 0 ? std::numeric_limits<double>::quiet_NaN() : min_;
  }
  double Max() const {
    Flush();
    return count_ == 0 ? std::numeric_limits<double>::quiet_NaN() : max_;
  }

  // Mean of the values whose rank lies in [lo n, hi n]. Whole centroids count with their exact
  // means; of a centroid cut by lo or hi, the part inside is weighed in proportion and valued by
  // the quantile curve over that part, shifted so the whole centroid would average to its mean.
  // Requires 0 <= lo < hi <= 1 (else std::invalid_argument); NaN if empty.
  double TrimmedMean(double lo, double hi) const {
    if (!(lo >= 0 && lo < hi && hi <= 1)) {
      throw std::invalid_argument("TDigest::TrimmedMean: need 0 <= lo < hi <= 1");
    }
    Compress();
    if (count_ == 0) return std::numeric_limits<double>::quiet_NaN();
    double r_lo = lo * count_, r_hi = hi * count_, before = 0, sum = 0, weight = 0;
    for (const Centroid& c : public_) {
      double a = std::max(before, r_lo), b = std::min(before + c.weight, r_hi);
      if (b > a) {
        double mean = c.mean;
        if (!c.pure && b - a < c.weight) {
          mean += CurveAverage(a, b) - CurveAverage(before, before + c.weight);
        }
        sum += mean * (b - a);
        weight += b - a;
      }
      before += c.weight;
    }
    return weight > 0 ? sum / weight : Quantile((lo + hi) / 2);
  }

  // Centroids after compression to `compression` (what Serialize writes).
  size_t CentroidCount() const {
    Compress();
    return public_.size();
  }
  const std::vector<Centroid>& Centroids() const {
    Compress();
    return public_;
  }
  double compression() const { return options_.compression; }

  // Flushes pending inserts and compresses; queries do this on demand.
  void Compress() const;

  std::string Serialize() const;
  // Bounded and validating: every count is checked against the bytes present before anything is
  // allocated; a malformed blob gives kCorruption, never a crash.
  static Result<TDigest> Deserialize(std::string_view bytes);

 private:
  void AddWeighted(double x, double weight) {
    if (!(weight > 0 && std::isfinite(weight))) {
      throw std::invalid_argument("TDigest::Add: weight must be finite and > 0");
    }
    items_.push_back({x, weight, true});
    pending_weight_ += weight;
    pending_min_ = std::min(pending_min_, x);
    pending_max_ = std::max(pending_max_, x);
    if (items_.size() >= options_.buffer_size) Flush();
  }

  void Flush() const;
  void BuildKnots() const;

  // Mean of the quantile curve over ranks [a, b] (Simpson's rule, 16 intervals).
  double CurveAverage(double a, double b) const {
    constexpr int kIntervals = 16;
    double h = (b - a) / kIntervals, sum = 0;
    for (int i = 0; i <= kIntervals; ++i) {
      double weight = i == 0 || i == kIntervals ? 1 : i % 2 ? 4 : 2;
      sum += weight * curve_.ValueAt(a + i * h);
    }
    return sum / (3 * kIntervals);
  }

  // A run of equal values filling 1/8 of a working cell (1/64 of a public one at the default
  // working_factor) stays a pure working centroid.
  static constexpr double kWorkingRunFraction = 1.0 / 8;
  // Public centroids allowed, per unit of compression, before runs are merged more eagerly.
  static constexpr double kRunBudget = 1.3;

  TDigestOptions options_;
  // All state below may change in const queries, which flush and compress on demand.
  mutable std::vector<double> points_;   // pending unit-weight values
  mutable std::vector<Centroid> items_;  // pending weighted values and merged centroids
  mutable double pending_weight_ = 0;
  mutable double pending_min_ = std::numeric_limits<double>::infinity();
  mutable double pending_max_ = -std::numeric_limits<double>::infinity();
  mutable std::vector<Centroid> working_;  // finer centroid set that inserts merge into
  mutable double count_ = 0;               // weight in working_
  mutable double min_ = std::numeric_limits<double>::infinity();
  mutable double max_ = -std::numeric_limits<double>::infinity();
  mutable bool public_valid_ = true;
  mutable std::vector<Centroid> public_;  // working_ compressed to `compression`
  mutable tdigest_internal::QuantileCurve curve_;
};

inline void TDigest::Flush() const {
  if (points_.empty() && items_.empty()) return;
  const size_t n = points_.size();
  if (n > 0) {
    // Allocated per flush rather than kept: idle digests then hold no sort scratch (measured:
    // no difference in insert cost; the allocator reuses the block).
    auto scratch = std::make_unique_for_overwrite<uint64_t[]>(2 * n);
    tdigest_internal::SortValues(points_.data(), n, scratch.get());
    min_ = std::min(min_, points_.front());
    max_ = std::max(max_, points_.back());
  }
  points_.reserve(n + 1);  // exactly: a full buffer then keeps 8 bytes per slot, not 16
  points_.push_back(std::numeric_limits<double>::quiet_NaN());  // MergePass's sentinel
  std::vector<Centroid> merged;
  const std::vector<Centroid>* sources = &working_;
  if (!items_.empty()) {
    auto by_mean = [](const Centroid& a, const Centroid& b) {
      return a.mean < b.mean || (a.mean == b.mean && a.pure && !b.pure);
    };
    std::sort(items_.begin(), items_.end(), by_mean);
    merged.resize(items_.size() + working_.size());
    std::merge(working_.begin(), working_.end(), items_.begin(), items_.end(), merged.begin(),
               by_mean);
    sources = &merged;
    min_ = std::min(min_, pending_min_);
    max_ = std::max(max_, pending_max_);
  }
  double total = count_ + static_cast<double>(n) + pending_weight_;
  std::vector<Centroid> out;
  out.reserve(working_.size() + 16);
  tdigest_internal::Scale scale(options_.compression * options_.working_factor);
  tdigest_internal::Compressor compressor(scale, total, kWorkingRunFraction, &out);
  tdigest_internal::MergePass(points_.data(), n, n > 0 ? total / static_cast<double>(n) : 1,
                              *sources, compressor);
  working_.swap(out);
  count_ = total;
  points_.clear();
  items_.clear();
  pending_weight_ = 0;
  pending_min_ = std::numeric_limits<double>::infinity();
  pending_max_ = -std::numeric_limits<double>::infinity();
  public_valid_ = false;
}

inline void TDigest::Compress() const {
  Flush();
  if (public_valid_) return;
  // Runs of equal values are kept apart down to 1/64 of a cell while the count fits the budget:
  // binary search for the smallest run fraction, on a grid of 16 steps from 1/64 to 1/2.
  tdigest_internal::Scale scale(options_.compression);
  const double budget = std::ceil(kRunBudget * options_.compression);
  const double sentinel = std::numeric_limits<double>::quiet_NaN();
  auto compress = [&](int step) {
    public_.clear();
    tdigest_internal::Compressor compressor(scale, count_, std::exp2(step / 3.0 - 6), &public_);
    tdigest_internal::MergePass(&sentinel, 0, 1, working_, compressor);
    return public_.size() <= budget;
  };
  int lo = 0, hi = 15;
  if (!compress(lo)) {
    while (hi - lo > 1) {
      int mid = (lo + hi) / 2;
      (compress(mid) ? hi : lo) = mid;
    }
    compress(hi);
  }
  BuildKnots();
  public_valid_ = true;
}

inline void TDigest::BuildKnots() const { curve_.Build(public_, min_, max_, count_); }

// Layout (little-endian): "TD", version 1, flags (bit 0: weights stored as f64), varint centroid
// count k, f64 compression, then if k > 0: f64 min, f64 max, and per centroid f64 mean followed by
// either varint (weight << 1 | pure) for integral weights or f64 weight and a pure byte.
inline std::string TDigest::Serialize() const {
  Compress();
  bool integral = std::all_of(public_.begin(), public_.end(), [](const Centroid& c) {
    return c.weight == std::floor(c.weight) && c.weight <= tdigest_internal::kMaxVarintWeight;
  });
  tdigest_internal::Writer out;
  out.Bytes("TD", 2);
  out.Byte(tdigest_internal::kFormatVersion);
  out.Byte(integral ? 0 : 1);
  out.Varint(public_.size());
  out.F64(options_.compression);
  if (public_.empty()) return std::move(out.bytes);
  out.F64(min_);
  out.F64(max_);
  for (const Centroid& c : public_) {
    out.F64(c.mean);
    if (integral) {
      out.Varint((static_cast<uint64_t>(c.weight) << 1) | (c.pure ? 1 : 0));
    } else {
      out.F64(c.weight);
      out.Byte(c.pure ? 1 : 0);
    }
  }
  return std::move(out.bytes);
}

inline Result<TDigest> TDigest::Deserialize(std::string_view bytes) {
  using tdigest_internal::Reader;
  auto bad = [](const std::string& why) { return Status::Corruption("t-digest blob: " + why); };
  Reader in(bytes);
  if (bytes.size() < 4 || bytes.substr(0, 2) != "TD") return bad("bad magic");
  in.Skip(2);
  uint8_t version = in.Byte(), flags = in.Byte();
  if (version != tdigest_internal::kFormatVersion) {
    return bad("unsupported version " + std::to_string(version));
  }
  if (flags > 1) return bad("unknown flags");
  const bool f64_weights = flags & 1;
  uint64_t k = 0;
  double compression = 0;
  if (!in.Varint(&k) || !in.F64(&compression)) return bad("truncated header");
  if (!(compression >= 1 && compression <= 1e4)) return bad("compression out of [1, 1e4]");
  TDigest digest(compression);
  if (k == 0)
    return in.remaining() == 0 ? Result<TDigest>(std::move(digest)) : bad("trailing bytes");
  const size_t min_centroid_bytes = f64_weights ? 17 : 9;
  double min = 0, max = 0;
  if (!in.F64(&min) || !in.F64(&max)) return bad("truncated header");
  if (k > in.remaining() / min_centroid_bytes) {
    return bad("declares " + std::to_string(k) + " centroids but only " +
               std::to_string(in.remaining()) + " bytes follow");
  }
  if (std::isnan(min) || std::isnan(max) || min > max) return bad("bad min/max");
  std::vector<Centroid> centroids;
  centroids.reserve(k);
  double total = 0;
  for (uint64_t i = 0; i < k; ++i) {
    Centroid c;
    if (!in.F64(&c.mean)) return bad("truncated centroid");
    if (f64_weights) {
      uint8_t pure = 0;
      if (!in.F64(&c.weight) || !(pure = in.Byte(), in.ok()) || pure > 1) {
        return bad("bad centroid weight");
      }
      c.pure = pure;
    } else {
      uint64_t packed = 0;
      if (!in.Varint(&packed) || (packed >> 1) > tdigest_internal::kMaxVarintWeight) {
        return bad("bad centroid weight");
      }
      c.weight = static_cast<double>(packed >> 1);
      c.pure = packed & 1;
    }
    if (!(c.weight > 0 && std::isfinite(c.weight))) return bad("centroid weight not positive");
    if (std::isnan(c.mean) || c.mean < min || c.mean > max)
      return bad("centroid mean out of range");
    if (!centroids.empty() && c.mean < centroids.back().mean) return bad("centroids not sorted");
    if (std::isinf(c.mean) && !c.pure) return bad("infinite mean in a mixed centroid");
    total += c.weight;
    centroids.push_back(c);
  }
  if (in.remaining() != 0) return bad("trailing bytes");
  if (!std::isfinite(total)) return bad("total weight overflows");
  if ((centroids.front().pure && centroids.front().mean != min) ||
      (centroids.back().pure && centroids.back().mean != max)) {
    return bad("min/max disagree with the end centroids");
  }
  digest.working_ = centroids;
  digest.public_ = std::move(centroids);
  digest.count_ = total;
  digest.min_ = min;
  digest.max_ = max;
  digest.BuildKnots();
  digest.public_valid_ = true;
  return digest;
}

}  // namespace segstream::stream
