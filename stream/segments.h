// Customer segments (DESIGN §3, §4): per-customer RFM/basket features, the transform into model
// units, exact per-segment sufficient statistics, the global model (k-means++ init, Lloyd-style
// refresh from merged statistics), assignment with hysteresis and labels. Pure: no I/O, time is
// passed in (event time, ms).
//
// How the pipeline uses it. Stage 1 keeps a CustomerState per customer (same partition as the
// customer's checkouts) and, per partition, SegmentStats of its customers' CURRENT vectors: when a
// customer's vector or segment changes, its old quantized vector is removed from the old segment
// and the new one added to the new segment. The sums are integers (vectors quantized to 1e-6 model
// units), so the global statistics Σ_p stats are exact and independent of the partitioning and of
// the order of updates. A refresh sets each centroid to its members' mean (one Lloyd step over the
// whole population, computed from statistics instead of points); the re-scoring sweeps that follow
// a refresh are the assignment step. Together they converge to a Lloyd fixed point of the current
// population, which is what makes 1 and 6 partitions agree (DESIGN §3 determinism). The
// point-stream kernel of stream/kmeans.h (decayed Sculley statistics) suits a stream of points;
// customers are not a stream of points but a population whose vectors move, so the pipeline keeps
// exact statistics of current members instead and borrows the kernel's k-means++ initialisation.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stream/status.h"

namespace segstream::stream {

inline constexpr int kFeatureCount = 6;
using FeatureVector = std::array<double, kFeatureCount>;

// Feature order everywhere (model vectors, /v1/segments `features`, export columns).
enum FeatureIndex : int {
  kRecencyDays = 0,        // (as-of time − last sale) in days, ≥ 0
  kFrequency = 1,          // distinct checkouts with at least one sale line
  kMonetary = 2,           // net revenue: sales − returns, currency units (may be negative)
  kMeanBasketValue = 3,    // sales revenue / frequency
  kMeanDistinctItems = 4,  // distinct skus with a sale line per sale checkout
  kReturnRate = 5,         // returned units / (sold units + returned units), in [0, 1]
};
// "recency_days", "frequency", "monetary", "mean_basket_value", "mean_distinct_items",
// "return_rate".
const std::array<std::string_view, kFeatureCount>& FeatureNames();

// One checkout of a known customer, as stage 1 sees it (computed from the proto in ingest/).
struct CheckoutSummary {
  int64_t event_time_ms = 0;
  int64_t sales_micros = 0;    // Σ quantity × unit price over sale lines (quantity > 0)
  int64_t returns_micros = 0;  // Σ −quantity × unit price over return lines (≥ 0)
  int64_t units = 0;           // Σ quantity over sale lines
  int64_t returned_units = 0;  // Σ −quantity over return lines
  int64_t distinct_sale_skus = 0;
};

// Running totals of one customer (exact integers) and its segment state.
struct CustomerState {
  int64_t first_sale_ms = 0;  // event time of the first checkout with a sale line (0: none yet)
  int64_t last_sale_ms = 0;   // newest such event time
  int64_t sale_checkouts = 0;
  int64_t sales_micros = 0;
  int64_t returns_micros = 0;
  int64_t units = 0;
  int64_t returned_units = 0;
  int64_t distinct_items = 0;  // Σ distinct_sale_skus over sale checkouts

  // Segment state: -1 = not assigned yet. `quantized` is the model vector the customer is
  // counted with in its segment's statistics (QuantizeVector of the scaled vector).
  int32_t segment = -1;
  double distance = 0;  // Euclidean distance to the segment's centroid when assigned
  std::array<int64_t, kFeatureCount> quantized{};
  int64_t model_version = 0;  // model the assignment was made with
  int64_t as_of_ms = 0;       // recency reference the vector was computed at

  bool has_sale() const { return sale_checkouts > 0; }
};

// Folds one checkout into the totals. A checkout with no sale line only adds its returns.
void ApplyCheckout(const CheckoutSummary& checkout, CustomerState* customer);

// The features in original units at `as_of_ms` (recency clamps at 0). Requires has_sale().
FeatureVector RawFeatures(const CustomerState& customer, int64_t as_of_ms);

// Space-separated decimal integers (plus the distance), versioned: readable with redis-cli.
// Decode validates field count and ranges, never trusts the input.
std::string EncodeCustomer(const CustomerState& customer);
Result<CustomerState> DecodeCustomer(std::string_view text);

// Model units: per feature, optionally a signed log1p (sign(x)·log(1 + |x|)) for the skewed
// features (recency, frequency, monetary, basket value, distinct items), then robust scaling
// (x − median) / scale, from t-digests over the initialisation sample: scale = the IQR, but at
// least half the 5%–95% range and at least a small per-feature floor (0.1 log units; 0.25 for the
// return rate), so zero-inflated features (most customers return nothing) and constant ones do
// not blow up.
struct FeatureTransform {
  std::array<bool, kFeatureCount> log1p{};
  FeatureVector center{};
  FeatureVector scale{};  // > 0

  FeatureVector Apply(const FeatureVector& raw) const;
  FeatureVector Invert(const FeatureVector& scaled) const;
  // Fits log1p flags (fixed per feature, as above), medians and scales. Empty sample: identity
  // scaling (center 0, scale 1).
  static FeatureTransform Fit(std::span<const FeatureVector> raw_sample);
  // A one-line human description, e.g. "signed log1p on recency_days, …; then (x - median) / IQR".
  std::string Describe() const;
};

// Vectors are counted in integer millionths of a model unit so sums are exact.
inline constexpr double kQuantum = 1e-6;
std::array<int64_t, kFeatureCount> QuantizeVector(const FeatureVector& scaled);
FeatureVector DequantizeVector(const std::array<int64_t, kFeatureCount>& quantized);

// Per-segment sums over the members' quantized vectors. sum_squares is Σ |q|² in units of
// kQuantum² / 1e6 (i.e. Σ |x|² in millionths) — enough for inertia, exact in int64 for millions of
// customers with |x| ≲ 1e3.
struct SegmentStats {
  int64_t count = 0;
  std::array<int64_t, kFeatureCount> sum{};
  int64_t sum_squares = 0;

  void Add(const std::array<int64_t, kFeatureCount>& q);
  void Remove(const std::array<int64_t, kFeatureCount>& q);
  void Merge(const SegmentStats& other);
  // Σ |x − mean|² over the members, model units (0 when empty).
  double Cost() const;
  FeatureVector Mean() const;  // requires count > 0
};
// k entries, one line each; Decode checks the count against k.
std::string EncodeStats(std::span<const SegmentStats> stats);
Result<std::vector<SegmentStats>> DecodeStats(std::string_view text, int k);

struct SegmentModelOptions {
  int k = 6;               // segments, 1..64
  uint64_t seed = 1;       // k-means++ restarts derive from it
  int init_restarts = 10;  // k-means++ + Lloyd runs on the initialisation sample, best kept
  // A customer moves only if the new centroid is this fraction closer. Measured on Online Retail
  // (6 partitions, converged model): 0.05 leaves 3.4% of customers outside their nearest segment,
  // 0.01 leaves 0.7%; 0.005 keeps that under 0.5% and still damps boundary flapping.
  double hysteresis = 0.005;
};

struct SegmentModel {
  int64_t version = 0;  // 0 = no model yet; each refresh that changes anything adds 1
  int k = 0;
  int64_t as_of_ms = 0;  // recency reference (the global watermark when the model was made)
  FeatureTransform transform;
  std::vector<FeatureVector> centroids;  // k, model units
  std::vector<std::string> labels;       // k, distinct
  std::vector<int64_t> sizes;            // members counted when the model was made
  double inertia = 0;                    // Σ cost over segments, model units

  bool ready() const { return version > 0; }
  FeatureVector CentroidOriginal(int segment) const { return transform.Invert(centroids[segment]); }
  // Text, versioned; Decode validates everything (k, counts, finiteness, label count).
  std::string Encode() const;
  static Result<SegmentModel> Decode(std::string_view text);
};

// The first model: fits the transform on the sample, k-means++ + Lloyd (best of restarts) in
// model units, labels. version 1. Fewer distinct points than k: the remaining centroids copy the
// farthest points so every segment id exists. Empty sample: InvalidArgument.
Result<SegmentModel> InitModel(std::span<const FeatureVector> raw_sample, int64_t as_of_ms,
                               const SegmentModelOptions& options);

// The next model from the merged statistics of every partition: centroid = mean of its current
// members (an empty segment keeps its centroid), sizes, inertia, labels (stable, see
// LabelSegments), as_of = `as_of_ms`. version + 1 if anything changed (a centroid moved by more
// than 1e-9 model units, or as_of moved), else the model comes back unchanged. Statistics of the
// wrong size: InvalidArgument.
Result<SegmentModel> RefreshModel(const SegmentModel& model, std::span<const SegmentStats> merged,
                                  int64_t as_of_ms);

struct SegmentAssignment {
  int32_t segment = -1;
  double distance = 0;  // Euclidean, model units
};
// Nearest centroid (ties: lowest id), keeping `current` unless the nearest is closer than
// (1 − hysteresis) × the distance to `current`. current = -1: plain nearest.
SegmentAssignment AssignSegment(const SegmentModel& model, const FeatureVector& scaled,
                                int32_t current, double hysteresis);

// Distinct labels from centroids in original units: "Champions" (recent, frequent, high spend),
// "Loyal", "New" (recent, one or two checkouts), "Big spenders" (highest basket value),
// "At risk" (lapsing but valuable), "Lapsed" (longest recency), "Returners" (return rate ≥ 25%
// and over twice the median centroid's), then "Occasional", "Segment N".
// `previous` (same k, may be empty) keeps a segment's label while it still fits, so labels are
// stable across model versions.
std::vector<std::string> LabelSegments(std::span<const FeatureVector> centroids_original,
                                       std::span<const std::string> previous);

}  // namespace segstream::stream
