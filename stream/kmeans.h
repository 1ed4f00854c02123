// Streaming mini-batch k-means for customer segments (DESIGN §4).
//
// Initialisation: the first `init_sample_size` points are buffered and clustered with greedy
// k-means++ (Arthur & Vassilvitskii 2007) followed by Lloyd, best of `init_restarts` runs, all
// deterministic from `seed`. After that every point is assigned and folded into per-centroid
// sufficient statistics (Sculley 2010, "Web-scale k-means clustering", with its per-centre learning
// rate 1/count written as running sums): a decayed count, a weighted sum vector and a cost. The
// centroid is sum / count, so statistics kept by many partitions merge exactly: the global model
// is built from Σ_p stats.
//
// Forgetting. A fixed half-life cannot both hold a stationary model within 0.05σ and recover from a
// 2σ jump within 50 k points (DESIGN §4), so the default is no time decay plus adaptive forgetting:
//  - change detection: per centroid, the next `change_block` near members form a block; if the
//    block mean departs from the centroid beyond noise (diagonal Mahalanobis distance, both a
//    significance and a minimum-effect test) the centroid restarts from the block alone. Its old
//    history joins the nearest other centroid if that one is the same cluster, else it is dropped.
//  - new clusters: points far from their centroid feed a few candidate centroids; when a
//    candidate's k-means gain exceeds the cost of merging the cheapest pair of centroids (Ward's
//    criterion), the pair is merged (exactly, by adding statistics) and the freed slot takes the
//    candidate. Paused clusters keep their statistics, so grouped arrival is not forgotten.
// Forward decay (Cormode et al. 2009, "Forward decay: a practical time decay model for streaming
// systems") gives the optional half-life: a point observed at time t has weight 2^((t - L) / h)
// for a landmark L, so decayed statistics still merge by plain addition.
//
// Errors: a wrongly sized point or batch, or a bad options struct, is a programmer error and throws
// std::invalid_argument. Data errors (NaN or infinite coordinates or times, undecodable bytes,
// statistics that do not fit together) come back as Status / Result values and leave the model
// unchanged.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stream/status.h"

namespace segstream::stream {

// What the optional half-life counts.
enum class DecayClock {
  kEventTime,   // the `time` passed to Observe / ObserveBatch (e.g. event time in ms)
  kPointCount,  // points observed by this model before the batch (Spark StreamingKMeans "points");
                // a partition-local count, so use kEventTime when statistics are merged
};

struct KMeansOptions {
  int k = 6;                      // centroids (segments); 1..kMaxK
  int dim = 0;                    // coordinates per point; must be set, 1..kMaxDim
  uint64_t seed = 1;              // every random choice (k-means++ restarts) derives from it
  int init_sample_size = 1024;    // points buffered for the initialisation (≥ 1)
  int init_restarts = 10;         // k-means++ + Lloyd runs on the sample; lowest cost wins
  int init_max_iterations = 100;  // Lloyd iterations per run (stops earlier once stable)
  double half_life = 0;           // forward-decay half-life in clock units; 0 = no time decay
  DecayClock clock = DecayClock::kEventTime;  // what `half_life` counts
  bool adaptive = true;           // change detection and far-point new clusters (see above)
  int change_block = 256;         // near members per centroid in one change test
  double change_min_shift = 0.5;  // smallest departure acted on, in per-coordinate std devs
  double change_z = 6.0;          // significance of the change test, as a one-sided normal
                                  // quantile (6 ≈ 1e-9 false alarms per test)
  double far_factor = 9.0;        // a point is far when d² > far_factor × its centroid's mean d²
  int far_candidates = 4;         // candidate new clusters tracked at once
  int candidate_min_points = 16;  // far points a candidate needs before it can take a slot
  double promote_ratio = 1.0;     // promote when candidate gain > ratio × cheapest pair merge
  double same_cluster_factor = 1.0;  // a restarted centroid's history joins a neighbour when
                                     // |Δcentroid|² ≤ factor × (r_old² + r_neighbour²)
  double hysteresis = 0.05;          // AssignWithHysteresis: the new centroid must be this
                                     // fraction closer (in distance) than the current one

  // Empty when the options are usable, else a sentence naming the bad field.
  std::string Validate() const;
};

inline constexpr int kMaxK = 1024;
inline constexpr int kMaxDim = 1024;

// Per-centroid sufficient statistics. In forward-decayed units relative to `landmark()`: count =
// Σ w, sum = Σ w·x, cost = Σ w·d² where d² is the point's squared distance to the centroid it was
// assigned to, at assignment time (a monitor, e.g. for drift cost ratios; not used for centroids).
// Each centroid carries an epoch: a restart bumps it, and Merge keeps, per centroid, the sum of
// the statistics with the highest epoch (older-epoch contributions are superseded). That rule is
// commutative and associative, so partitions' deltas merge in any order.
// A delta (StreamingKMeans::TakeDelta) may hold negative counts; a full model never does.
class KMeansStats {
 public:
  KMeansStats() = default;
  KMeansStats(int k, int dim, double half_life);  // all centroids empty, epoch 0, landmark 0

  int k() const { return k_; }
  int dim() const { return dim_; }
  double half_life() const { return half_life_; }
  double landmark() const { return landmark_; }
  uint32_t epoch(int c) const { return epoch_[c]; }
  double count(int c) const { return count_[c]; }
  double cost(int c) const { return cost_[c]; }
  std::span<const double> sum(int c) const { return {sum_.data() + c * dim_, size_t(dim_)}; }

  // A centroid is active when its count is positive and not negligible against the total
  // (> 1e-9 of it): forgotten or cancelled statistics must not produce a centroid.
  bool active(int c) const;
  int active_count() const;
  // Row-major k × dim: sum / count for active centroids, NaN rows for the others.
  std::vector<double> Centroids() const;
  // The count decayed to `time` (equals count() without a half-life).
  double DecayedCount(int c, double time) const;

  // Adds `other` (same k, dim and half-life, else InvalidArgument), aligning landmarks first.
  Status Merge(const KMeansStats& other);

  // Compact little-endian bytes: magic "SKM1", k, dim, half-life, landmark, then per centroid
  // epoch, count, cost, sum. Decode checks sizes, bounds (k ≤ kMaxK, dim ≤ kMaxDim), exact
  // length and that every number is finite; it never trusts the input.
  std::string Encode() const;
  static Result<KMeansStats> Decode(std::string_view bytes);

 private:
  friend class StreamingKMeans;
  // Multiplies every weight by 2^(-(new_landmark - landmark) / half_life).
  void Rebase(double new_landmark);
  void Clear(int c);
  double total_count() const;
  double active_floor() const;  // counts at or below this are inactive

  int k_ = 0;
  int dim_ = 0;
  double half_life_ = 0;
  double landmark_ = 0;
  std::vector<uint32_t> epoch_;
  std::vector<double> count_;
  std::vector<double> cost_;
  std::vector<double> sum_;  // k × dim, row-major
};

struct Assignment {
  int cluster = -1;      // -1 when the model has no active centroid yet
  double distance2 = 0;  // squared Euclidean distance to that centroid (0 when cluster is -1)
};

// What adaptive forgetting did (for tests, logs and metrics).
struct KMeansEvents {
  uint64_t restarts = 0;        // centroids restarted by change detection
  uint64_t history_merged = 0;  // of those, old history handed to a same-cluster neighbour
  uint64_t promotions = 0;      // candidates that took a slot
  uint64_t pair_merges = 0;     // of those, slots freed by merging the cheapest pair
  uint64_t far_points = 0;      // points that were far from their centroid
};

class StreamingKMeans {
 public:
  // Throws std::invalid_argument if options.Validate() is not empty.
  explicit StreamingKMeans(const KMeansOptions& options);

  const KMeansOptions& options() const { return options_; }
  bool initialized() const { return initialized_; }

  // One point (dim coordinates) at `time`: a mini-batch of one.
  Status Observe(std::span<const double> point, double time);
  // Sculley's mini-batch: every point (row-major, n × dim) is assigned against the model as it is
  // on entry, then all statistics are updated, then forgetting decisions are taken. Before
  // initialisation the points are buffered (initialising once init_sample_size are held). One
  // time for the whole batch. Non-finite values: InvalidArgument, nothing is changed.
  Status ObserveBatch(std::span<const double> points, double time);
  // Initialises from whatever is buffered, even fewer than k points (k > n: fewer active
  // centroids, the rest filled later by far points). No-op when initialised or nothing is held.
  void Initialize();

  // Nearest active centroid (ties: lowest index). Non-finite coordinates: InvalidArgument.
  Result<Assignment> Assign(std::span<const double> point) const;
  // Keeps `current` unless the nearest centroid is closer than (1 - margin) × the distance to
  // `current`; a `current` that is not an active centroid gives the plain assignment.
  Result<Assignment> AssignWithHysteresis(std::span<const double> point, int current) const;
  Result<Assignment> AssignWithHysteresis(std::span<const double> point, int current,
                                          double margin) const;

  // Row-major k × dim, NaN rows for inactive centroids.
  std::vector<double> Centroids() const { return stats_.Centroids(); }
  bool active(int c) const { return stats_.active(c); }
  // The model's full statistics (the global model plus this instance's pending delta).
  const KMeansStats& stats() const { return stats_; }
  const KMeansEvents& events() const { return events_; }

  // Partitioned use (DESIGN §5): every partition Loads the same global statistics, observes its
  // points, and hands back TakeDelta(); the global model is the Merge of all deltas into it.
  // The delta holds, per centroid, what changed since the last Load/TakeDelta: added statistics
  // at the same epoch, or the whole new statistics under a bumped epoch after a restart.
  KMeansStats TakeDelta();
  // Replaces the model with `global` plus this instance's pending delta, so nothing observed is
  // lost. Buffered points (if still initialising) are then observed as one batch. Resets the
  // change detectors and candidates. InvalidArgument if k, dim or half-life differ.
  Status Load(const KMeansStats& global);

 private:
  // Change detection: the current block of near members of one centroid (kmeans_adapt.cc).
  struct Block {
    double n = 0;              // points (unweighted)
    double w = 0;              // Σ w
    double cost = 0;           // Σ w·d²
    std::vector<double> sum;   // Σ w·x
    std::vector<double> dev;   // Σ w·(x - centroid at assignment)
    std::vector<double> dev2;  // Σ w·(x - centroid at assignment)²
    void Reset();
  };
  // A would-be centroid fed by far points; it remembers which centroid each far point was added
  // to (contrib_*), so promotion can move exactly those statistics out again.
  struct Candidate {
    bool used = false;
    double n = 0;                      // points (unweighted)
    double w = 0;                      // Σ w
    std::vector<double> mean;          // weighted mean (West 1979 incremental update)
    double scatter = 0;                // Σ w·|x - mean|²
    double base = 0;                   // Σ w·d² to the centroids the points were assigned to
    std::vector<double> contrib_w;     // per centroid: Σ w
    std::vector<double> contrib_sum;   // per centroid: Σ w·x (k × dim)
    std::vector<double> contrib_cost;  // per centroid: Σ w·d²
    double gain() const { return base - scatter; }
    void Reset();
  };

  void InitializeFromBuffer();
  bool ProcessBatch(const double* points, size_t n, double time);  // false: non-finite input
  double WeightAt(double time);
  void RebaseAll(double new_landmark);
  void RefreshCentroids();
  void RefreshCentroid(int c, double active_floor);
  Assignment Nearest(const double* x) const;
  void SetOriginToMean();

  // Adaptive forgetting (kmeans_adapt.cc).
  void ResetAdaptiveState();
  void AddNear(int c, const double* x, double w, double d2);
  void AddFar(int c, const double* x, double w, double d2);
  void TestChanges();
  void Restart(int c);
  void MaybePromote();
  void ClearCandidates();

  KMeansOptions options_;
  int k_;
  int dim_;

  bool initialized_ = false;
  std::vector<double> buffer_;        // initialisation sample, row-major
  std::vector<double> buffer_times_;  // one time per buffered point

  KMeansStats stats_;  // global + pending delta
  KMeansStats base_;   // global as of the last Load/TakeDelta (delta = stats_ ⊖ base_)
  double points_seen_ = 0;

  // Assignment view, rebuilt from stats_: row-major centroids, and relative to an origin near
  // the data (the sample or model mean, for well-conditioned distances) -2·(c - o) and |c - o|²
  // (+inf for inactive slots).
  std::vector<double> origin_;
  std::vector<double> centroids_;
  std::vector<double> neg2c_;
  std::vector<double> norms_;
  std::vector<double> far_threshold_;  // per centroid, in d² units
  bool has_empty_ = false;             // some slot is inactive (as of the last full refresh)

  std::vector<Block> blocks_;
  std::vector<Candidate> candidates_;
  KMeansEvents events_;

  // Scratch for ObserveBatch: per point, and per centroid sums of the near points' deviations
  // from the snapshot centroid (folded into stats_ and blocks_ at the end of the batch).
  std::vector<int> scratch_cluster_;
  std::vector<int> scratch_slot_;  // accumulator row: the centroid, or k for a far point
  std::vector<double> scratch_d2_;
  std::vector<double> no_far_;  // +inf thresholds: without adaptive forgetting nothing is far
  std::vector<char> touched_;
  int acc_stride_ = 0;                // detail::AccStride(dim)
  std::vector<double> acc_centroid_;  // (k + 1) × acc_stride_: centroid, -1, zeros
  std::vector<uint64_t> acc_keep_;    // acc_stride_ masks: all ones for the dim coordinates
  std::vector<double> batch_dev_;     // (k + 1) × acc_stride_: Σ (x - c), point count
  std::vector<double> batch_dev2_;    // (k + 1) × acc_stride_: Σ (x - c)²
};

}  // namespace segstream::stream
