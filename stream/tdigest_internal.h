// Internals of stream/tdigest.h: the scale function, the radix sort of pending inserts and the
// greedy merge pass. Include stream/tdigest.h, not this file.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace segstream::stream::tdigest_internal {

struct Centroid {
  double mean = 0;
  double weight = 0;
  // Every point in the centroid has the value `mean` exactly (a single point, or a run of equal
  // values). A pure centroid is answered exactly and never interpolated through.
  bool pure = false;
};

// Scale function (Dunning & Ertl 2019, §2.1). Its derivative sets the largest centroid size
// h(q) = 1 / k'(q):
//   h(q) = min(kMiddle, kTail * min(q, 1-q)) / delta.
// The tails grow in proportion to the distance to the edge, like K2's q(1-q) near the edges, but
// with a much smaller constant, so the extreme tails are weight-1 singletons and q = 0.001 sits in
// centroids a few hundred ppm wide; the middle is capped at a constant width instead of K2's
// 0.25/Z, which is what keeps the median accurate. The tail centroid count grows like
// (2 delta / kTail) ln n.
//
// Centroids are cut on a fixed grid: cell j holds the ranks whose quantile q has floor(k(q)) = j.
// k depends on q only (not on n), so digests built on equal-sized slices cut at the same
// quantiles and the merge of their centroids regroups whole cells; and the public cells are
// unions of `working_factor` working cells. (Dunning's greedy rule k(q1) - k(q0) <= 1 cuts at
// positions that depend on history, and merged slices then straddle cells: a 2 % rank bias at
// q = 0.001 in the merge of 16 digests, measured.)
class Scale {
 public:
  // Width of a middle centroid times delta, and tail width relative to q times delta.
  static constexpr double kMiddle = 2.5;
  static constexpr double kTail = 40;

  explicit Scale(double delta)
      : slope_(delta / kMiddle),
        tail_(delta / kTail),
        edge_(kMiddle / kTail),
        middle_k_(slope_ * (1 - 2 * edge_)) {}

  // Cell of the rank `mid` (0 < mid < total).
  double Cell(double mid, double total) const {
    double q = mid / total;
    if (q < edge_) return std::floor(tail_ * std::log(q / edge_));
    double rest_q = (total - mid) / total;  // exact near the right edge, where q rounds to 1
    if (rest_q < edge_) return std::floor(middle_k_ - tail_ * std::log(rest_q / edge_));
    return std::floor(slope_ * (q - edge_));
  }

  // Cumulative weight where cell `cell` ends.
  double CellEnd(double cell, double total) const {
    double k = cell + 1;
    if (k <= 0) return total * edge_ * std::exp(k / tail_);
    if (k <= middle_k_) return total * (edge_ + k / slope_);
    return total - total * edge_ * std::exp(-(k - middle_k_) / tail_);
  }

  double CellWidth(double cell, double total) const {
    return CellEnd(cell, total) - CellEnd(cell - 1, total);
  }

 private:
  double slope_;
  double tail_;
  double edge_;
  double middle_k_;
};

// Order-preserving map of doubles onto unsigned integers: flip the sign bit of positives and every
// bit of negatives, so integer order is numeric order (-0.0 sorts just before +0.0).
inline uint64_t ToKey(double x) {
  uint64_t bits = std::bit_cast<uint64_t>(x);
  uint64_t mask = static_cast<uint64_t>(static_cast<int64_t>(bits) >> 63) | (uint64_t{1} << 63);
  return bits ^ mask;
}

inline double FromKey(uint64_t key) {
  uint64_t mask = static_cast<uint64_t>(static_cast<int64_t>(~key) >> 63) | (uint64_t{1} << 63);
  return std::bit_cast<double>(key ^ mask);
}

// Sorts values[0, n) ascending in place; `scratch` holds 2n keys. LSD radix sort of
// order-preserving keys with kDigitBits-bit digits, on the kPasses * kDigitBits bits below the
// highest bit that varies across the buffer; digits equal in every key are skipped. Keys that tie
// on those bits (a few pairs per buffer for continuous data, equal values for discrete data) are
// finished with std::sort per tie group, so the result is exactly sorted whatever the input, and
// the worst case is one std::sort of the buffer. (Measured on 32 k buffers: 3 passes of 10 bits
// beat 4 of 8 and 3 of 11.)
template <int kDigitBits = 10, int kPasses = 3>
void SortValues(double* values, size_t n, uint64_t* scratch) {
  constexpr int kBuckets = 1 << kDigitBits;
  constexpr uint64_t kMask = kBuckets - 1;
  if (n < 2) return;
  if (n < 256) {
    std::sort(values, values + n, [](double a, double b) { return ToKey(a) < ToKey(b); });
    return;
  }
  uint64_t all_and = ~uint64_t{0}, all_or = 0;
  for (size_t i = 0; i < n; ++i) {
    uint64_t key = ToKey(values[i]);
    all_and &= key;
    all_or |= key;
  }
  const uint64_t varying = all_and ^ all_or;
  if (varying == 0) return;  // all equal
  const int low_bit = std::max(0, 64 - std::countl_zero(varying) - kPasses * kDigitBits);
  // Keys and the counts of every digit in one pass (a fixed number of digits, so the loop
  // unrolls; constant digits are dropped afterwards). Two interleaved count tables: with a nearly
  // constant digit (the exponent of most data) one table would make every increment wait for the
  // previous one.
  uint64_t* src = scratch;
  uint64_t* dst = scratch + n;
  auto counts = std::make_unique<uint32_t[]>(kPasses * 2 * kBuckets);  // zeroed
  static_assert(kPasses * kDigitBits <= 64, "every digit shift stays below 64");
  auto digit = [low_bit](uint64_t key, int p) {
    return (key >> (low_bit + p * kDigitBits)) & kMask;
  };
  for (size_t i = 0; i + 1 < n; i += 2) {
    uint64_t a = ToKey(values[i]), b = ToKey(values[i + 1]);
    src[i] = a;
    src[i + 1] = b;
    for (int p = 0; p < kPasses; ++p) {
      ++counts[(2 * p) * kBuckets + digit(a, p)];
      ++counts[(2 * p + 1) * kBuckets + digit(b, p)];
    }
  }
  if (n % 2) {
    src[n - 1] = ToKey(values[n - 1]);
    for (int p = 0; p < kPasses; ++p) ++counts[2 * p * kBuckets + digit(src[n - 1], p)];
  }
  int shifts[kPasses];
  int tables[kPasses];
  int passes = 0;
  for (int p = 0; p < kPasses; ++p) {
    int shift = low_bit + p * kDigitBits;
    if (((varying >> shift) & kMask) != 0) {
      tables[passes] = p;
      shifts[passes++] = shift;
    }
  }
  for (int p = 0; p < passes; ++p) {
    uint32_t offsets[kBuckets];
    uint32_t sum = 0;
    for (int b = 0; b < kBuckets; ++b) {
      offsets[b] = sum;
      sum += counts[2 * tables[p] * kBuckets + b] + counts[(2 * tables[p] + 1) * kBuckets + b];
    }
    const int shift = shifts[p];
    for (size_t i = 0; i < n; ++i) {
      uint64_t k = src[i];
      dst[offsets[(k >> shift) & kMask]++] = k;
    }
    std::swap(src, dst);
  }
  // Finish tie groups on the bits below the window.
  size_t i = 0;
  while (i + 1 < n) {
    if ((src[i] >> low_bit) != (src[i + 1] >> low_bit)) {
      values[i] = FromKey(src[i]);
      ++i;
      continue;
    }
    size_t j = i + 1;
    bool sorted = true;
    while (j < n && (src[j] >> low_bit) == (src[i] >> low_bit)) {
      sorted &= src[j - 1] <= src[j];
      ++j;
    }
    if (!sorted) std::sort(src + i, src + j);
    for (; i < j; ++i) values[i] = FromKey(src[i]);
  }
  if (i < n) values[i] = FromKey(src[i]);
}

// Merge pass compressor: takes items in ascending order, equal pure values already collapsed
// into one item, and puts each item in the centroid of the scale cell that holds its middle rank
// (Dunning & Ertl 2019, Algorithm 1, with grid cuts; see Scale). Two additions: a run of equal
// values that fills at least `run_fraction` of its cell is kept as its own pure centroid, so a
// quantile that falls in it is answered exactly; and infinite values never mix with anything.
class Compressor {
 public:
  Compressor(const Scale& scale, double total, double run_fraction, std::vector<Centroid>* out)
      : scale_(scale), total_(total), run_fraction_(run_fraction), out_(out) {}

  // `share` is the weight that stands for the run's share of the data when testing whether it
  // is big (see MergePass); it defaults to `weight`.
  void Push(double value, double weight, bool pure, double share = 0) {
    double mid = done_ + weight / 2;
    const bool big_run = pure && weight >= 2 && IsBigRun(std::max(weight, share), mid);
    if (open_ && !locked_ && mid < cell_end_ && std::isfinite(value) && !big_run) {
      sum_ += static_cast<long double>(value) * weight;
      weight_ += weight;
      pure_ = false;
      done_ += weight;
      return;
    }
    if (open_) Close();
    Open(value, weight, pure, mid, big_run);
  }

  // How many more unit-weight finite points the open centroid can take: the i-th one (from 0)
  // has middle rank done_ + i + 0.5, which must stay below the cell end.
  size_t UnitRoom() const {
    if (!open_ || locked_) return 0;
    double room = std::ceil(cell_end_ - done_ - 0.5);
    return room >= 1 ? static_cast<size_t>(std::min(room, 1e18)) : 0;
  }

  // Adds `count` (<= UnitRoom()) finite unit points summing to `sum` to the open centroid.
  void AddUnits(size_t count, long double sum) {
    if (count == 0) return;
    sum_ += sum;
    weight_ += static_cast<double>(count);
    done_ += static_cast<double>(count);
    pure_ = false;
  }

  void Finish() {
    if (open_) Close();
  }

 private:
  bool IsBigRun(double weight, double mid) const {
    return weight >= run_fraction_ * scale_.CellWidth(scale_.Cell(mid, total_), total_);
  }

  void Open(double value, double weight, bool pure, double mid, bool big_run) {
    open_ = true;
    value_ = value;
    sum_ = static_cast<long double>(value) * weight;
    weight_ = weight;
    pure_ = pure;
    locked_ = big_run || !std::isfinite(value);
    cell_end_ = scale_.CellEnd(scale_.Cell(std::min(mid, total_), total_), total_);
    done_ += weight;
  }

  void Close() {
    double mean = pure_ ? value_ : static_cast<double>(sum_ / weight_);
    out_->push_back({mean, weight_, pure_});
  }

  const Scale& scale_;
  double total_;
  double run_fraction_;
  std::vector<Centroid>* out_;
  bool open_ = false;
  bool locked_ = false;
  bool pure_ = false;
  double value_ = 0;
  long double sum_ = 0;  // 64-bit mantissa and a range that cannot overflow from doubles
  double weight_ = 0;
  double done_ = 0;      // weight of every item pushed so far
  double cell_end_ = 0;  // cumulative weight where the open centroid's cell ends
};

// Feeds `points` (ascending, unit weight, with a NaN sentinel at points[n_points]) and
// `centroids` (ascending by mean, pure before impure among equal means) to `out` in one merged
// ascending pass, collapsing equal pure values into runs. A run's share of the data is judged by
// its share of the batch it came in (points count `points_share` each), not of the total: a value
// that recurs at a steady rate arrives as small runs in every batch, and would otherwise be
// averaged away before it ever looks big.
inline void MergePass(const double* points, size_t n_points, double points_share,
                      const std::vector<Centroid>& centroids, Compressor& out) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  size_t i = 0;
  size_t j = 0;
  const size_t n_centroids = centroids.size();
  while (i < n_points || j < n_centroids) {
    double bound = j < n_centroids ? centroids[j].mean : kInf;
    // Whether the next item is a point (ties go to the centroid, which collapses equal points).
    auto point_next = [&] { return i < n_points && (j >= n_centroids || points[i] < bound); };
    while (point_next()) {
      // Hot loop: points that fit the open centroid, are not part of a run and are finite.
      const size_t stop = i + std::min(out.UnitRoom(), n_points - i);
      const size_t start = i;
      // (-inf points come first, before anything can take them; +inf ones are never < bound.)
      long double sum = 0;
      while (i < stop && points[i] < bound && points[i + 1] != points[i]) sum += points[i++];
      out.AddUnits(i - start, sum);
      if (!point_next()) break;
      const double x = points[i];
      if (points[i + 1] == x || !(x > -kInf && x < kInf)) {  // a run, or an infinite value
        double w = 0;
        while (points[i] == x) ++w, ++i;
        double share = w * points_share;
        while (j < n_centroids && centroids[j].pure && centroids[j].mean == x) {
          share += centroids[j].weight;
          w += centroids[j++].weight;
        }
        out.Push(x, w, true, share);
        bound = j < n_centroids ? centroids[j].mean : kInf;
      } else {  // the open centroid is full: this point opens the next one
        ++i;
        out.Push(x, 1, true);
      }
    }
    if (j >= n_centroids) continue;
    const Centroid& c = centroids[j++];
    if (!c.pure) {
      out.Push(c.mean, c.weight, false);
      continue;
    }
    double w = c.weight;
    while (j < n_centroids && centroids[j].pure && centroids[j].mean == c.mean) {
      w += centroids[j++].weight;
    }
    double share = w;
    while (i < n_points && points[i] == c.mean) ++w, ++i, share += points_share;
    out.Push(c.mean, w, true, share);
  }
  out.Finish();
}

// The quantile curve V(r), r in [0, n], that Quantile evaluates and Cdf inverts. Knots: a pure
// centroid covering ranks [c, c+w] is flat at its value; an impure one is a knot at its centre
// c + w/2; the exact min and max are flat over the first and last unit of rank when the end
// centroids are impure (Dunning & Ertl 2019, §2.9). Between knots V is Steffen's monotone cubic
// (J. Steffen 1990, "A simple method for monotonic interpolation in one dimension"): it never
// overshoots, so V stays between the two knots and flat runs stay flat, and unlike straight
// lines it follows the curvature of skewed distributions (the chord of a convex quantile
// function lies above it: hundreds of ppm of rank at the median of lognormal(0, 2)). An impure
// knot's value is also corrected from the centroid's mean to the curve's value at its centre:
// the mean of a convex stretch exceeds its middle value by w^2 V''/24.
class QuantileCurve {
 public:
  void Build(const std::vector<Centroid>& centroids, double min, double max, double total) {
    rank_.clear();
    value_.clear();
    std::vector<double> half_width;  // > 0 for an impure centre knot
    auto knot = [&](double r, double v, double hw) {
      rank_.push_back(r);
      value_.push_back(v);
      half_width.push_back(hw);
    };
    double before = 0;
    for (size_t i = 0; i < centroids.size(); ++i) {
      const Centroid& c = centroids[i];
      if (c.pure) {
        knot(before, c.mean, 0);
        knot(before + c.weight, c.mean, 0);
      } else {
        double unit = std::min(1.0, c.weight / 2);
        if (i == 0) {
          knot(0, min, 0);
          knot(unit, min, 0);
        }
        knot(before + c.weight / 2, c.mean, c.weight / 2);
        if (i + 1 == centroids.size()) {
          knot(total - unit, max, 0);
          knot(total, max, 0);
        }
      }
      before += c.weight;
    }
    const size_t n = rank_.size();
    // Mean-to-centre correction, with V'' from the parabola through the neighbouring knots.
    std::vector<double> corrected = value_;
    for (size_t i = 1; i + 1 < n; ++i) {
      if (half_width[i] == 0) continue;
      double h0 = rank_[i] - rank_[i - 1], h1 = rank_[i + 1] - rank_[i];
      if (!(h0 > 0 && h1 > 0) || !std::isfinite(value_[i - 1] + value_[i + 1])) continue;
      double s0 = (value_[i] - value_[i - 1]) / h0, s1 = (value_[i + 1] - value_[i]) / h1;
      double second = 2 * (s1 - s0) / (h0 + h1);
      double w = 2 * half_width[i];
      // A centroid far wider than its neighbours' spacing (tiny compression) makes the parabola
      // meaningless: the correction is capped at half the gap to either neighbour.
      double cap = 0.5 * std::min(value_[i] - value_[i - 1], value_[i + 1] - value_[i]);
      corrected[i] = value_[i] - std::clamp(w * w * second / 24, -cap, cap);
    }
    value_ = std::move(corrected);
    slope_.assign(n, 0);
    auto secant = [&](size_t i) {  // of segment i..i+1; NaN for a jump or an infinite end
      double h = rank_[i + 1] - rank_[i];
      double dv = value_[i + 1] - value_[i];
      if (!(h > 0) || !std::isfinite(dv)) return std::numeric_limits<double>::quiet_NaN();
      return dv / h;
    };
    for (size_t i = 0; i < n; ++i) {
      double s0 = i > 0 ? secant(i - 1) : std::numeric_limits<double>::quiet_NaN();
      double s1 = i + 1 < n ? secant(i) : std::numeric_limits<double>::quiet_NaN();
      if (std::isnan(s0) && std::isnan(s1)) continue;
      if (std::isnan(s0) || std::isnan(s1)) {
        slope_[i] = 0;  // next to a jump or an end: a flat start never overshoots
        continue;
      }
      if (s0 <= 0 || s1 <= 0) continue;
      double h0 = rank_[i] - rank_[i - 1], h1 = rank_[i + 1] - rank_[i];
      double p = (s0 * h1 + s1 * h0) / (h0 + h1);
      slope_[i] = 2 * std::min({s0, s1, p / 2});
    }
  }

  // Value at rank r in [0, total].
  double ValueAt(double r) const {
    auto it = std::lower_bound(rank_.begin(), rank_.end(), r);
    if (it == rank_.begin()) return value_.front();
    if (it == rank_.end()) return value_.back();
    size_t k = it - rank_.begin();
    double r0 = rank_[k - 1], r1 = rank_[k];
    double v0 = value_[k - 1], v1 = value_[k];
    if (r >= r1 || v0 == v1) return v1;
    // Infinite ends: the ranks between hold finite values, answered with the finite neighbour.
    if (std::isinf(v1)) return v0;
    if (std::isinf(v0)) return v1;
    return std::clamp(Eval(k, (r - r0) / (r1 - r0)), v0, v1);
  }

  // sup{r : V(r) < x} and sup{r : V(r) <= x}, for min <= x <= max.
  std::pair<double, double> RankRange(double x, double total) const {
    size_t kl = std::lower_bound(value_.begin(), value_.end(), x) - value_.begin();
    size_t kh = std::upper_bound(value_.begin() + kl, value_.end(), x) - value_.begin();
    double lo = kl == 0 ? 0 : RankInSegment(kl, x);
    if (kh == kl) return {lo, lo};  // x is no knot's value: one crossing
    double hi = kh == value_.size() ? total : RankInSegment(kh, x);
    return {lo, hi};
  }

 private:
  // Hermite cubic on segment k-1..k at t in [0, 1].
  double Eval(size_t k, double t) const {
    double h = rank_[k] - rank_[k - 1];
    double v0 = value_[k - 1], v1 = value_[k];
    double m0 = slope_[k - 1] * h, m1 = slope_[k] * h;
    double t2 = t * t, t3 = t2 * t;
    return (2 * t3 - 3 * t2 + 1) * v0 + (t3 - 2 * t2 + t) * m0 + (3 * t2 - 2 * t3) * v1 +
           (t3 - t2) * m1;
  }

  // d/dt of Eval.
  double EvalSlope(size_t k, double t) const {
    double h = rank_[k] - rank_[k - 1];
    double v0 = value_[k - 1], v1 = value_[k];
    double m0 = slope_[k - 1] * h, m1 = slope_[k] * h;
    double t2 = t * t;
    return (6 * t2 - 6 * t) * (v0 - v1) + (3 * t2 - 4 * t + 1) * m0 + (3 * t2 - 2 * t) * m1;
  }

  // Rank where segment k-1..k crosses x (value_[k-1] <= x <= value_[k]).
  double RankInSegment(size_t k, double x) const {
    double r0 = rank_[k - 1], r1 = rank_[k];
    double v0 = value_[k - 1], v1 = value_[k];
    if (x == v1) return r1;
    if (x == v0) return r0;
    if (std::isinf(v0)) return r0;  // the finite values in between are answered as v1
    if (std::isinf(v1)) return r1;  // ... as v0
    // The segment is monotone: Newton's method from the linear guess, kept inside a bracket that
    // shrinks with every step (bisection when a step leaves it).
    double lo = 0, hi = 1;
    double t = (x - v0) / (v1 - v0);
    for (int it = 0; it < 50; ++it) {
      double f = Eval(k, t) - x;
      if (f == 0) break;
      (f < 0 ? lo : hi) = t;
      double slope = EvalSlope(k, t);
      double next = slope > 0 ? t - f / slope : lo - 1;
      if (!(next > lo && next < hi)) next = (lo + hi) / 2;
      if (std::abs(next - t) <= 1e-15) break;
      t = next;
    }
    return r0 + t * (r1 - r0);
  }

  std::vector<double> rank_;
  std::vector<double> value_;
  std::vector<double> slope_;  // dV/dr at each knot
};

constexpr uint8_t kFormatVersion = 1;
constexpr double kMaxVarintWeight = 9007199254740992.0 / 2;  // 2^52: (w << 1) fits in 53 bits

struct Writer {
  std::string bytes;
  void Bytes(const char* p, size_t n) { bytes.append(p, n); }
  void Byte(uint8_t b) { bytes.push_back(static_cast<char>(b)); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      Byte(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    Byte(static_cast<uint8_t>(v));
  }
  void F64(double d) {
    uint64_t u = std::bit_cast<uint64_t>(d);
    for (int i = 0; i < 8; ++i) Byte(static_cast<uint8_t>(u >> (8 * i)));
  }
};

// Reads never past the end: a short read sets !ok() and yields zeros.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool ok() const { return ok_; }
  size_t remaining() const { return bytes_.size() - pos_; }
  void Skip(size_t n) {
    if (n > remaining()) ok_ = false;
    pos_ = ok_ ? pos_ + n : bytes_.size();
  }
  uint8_t Byte() {
    if (remaining() < 1) {
      ok_ = false;
      return 0;
    }
    return static_cast<uint8_t>(bytes_[pos_++]);
  }
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = Byte();
      if (!ok_) return false;
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    ok_ = false;  // more than 10 bytes
    return false;
  }
  bool F64(double* d) {
    if (remaining() < 8) {
      ok_ = false;
      return false;
    }
    uint64_t u = 0;
    for (int i = 0; i < 8; ++i)
      u |= static_cast<uint64_t>(static_cast<uint8_t>(bytes_[pos_ + i])) << (8 * i);
    pos_ += 8;
    *d = std::bit_cast<double>(u);
    return true;
  }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace segstream::stream::tdigest_internal
