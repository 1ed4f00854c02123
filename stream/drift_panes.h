// What the pipeline stores for the drift monitors (stream/drift.h) and how it becomes their panes.
//
// Stage 1 stores, per repeat purchase (a customer's second sale checkout onward) and event-time
// day, two vectors:
//   - the customer's model vector as scored, in LOG SPACE — the model transform before its robust
//     scaling (signed log1p where FeatureTransform applies it, identity elsewhere). It says which
//     segment the purchase belongs to;
//   - the purchase's BEHAVIOUR: log1p of the days since the customer's previous sale, the distinct
//     items, the units, the basket value and the mean unit price of this checkout. It is what the
//     monitors measure.
// The lease holder turns a day's purchases into a pane with the CURRENT model: each lifetime
// vector is mapped into its units and assigned to its nearest centroid, and the behaviour vector
// is counted in that segment's SegmentStats.
//
// Why behaviour, not the model vector: the model's features are lifetime aggregates (frequency
// and monetary since the first sale, running means), which move for a stationary population as it
// ages and answer a change of behaviour only as slowly as the running means do. Measured on
// generated streams: model vectors raised CENTROID_SHIFT/COST_RATIO false alerts on the most
// active segment of a stationary stream and missed "persona pays 2× prices" for 50 days; a
// purchase's behaviour is stationary when the behaviour is and moves the day it changes.
// Why re-assign at evaluation: the lease holder re-fits the model as the population grows, and
// per-segment sums kept as purchases were scored would mix assignments by different models (a
// boundary that moves reads as drift). Log space never changes (the log1p flags are fixed per
// feature), so a stored vector maps exactly into any later transform's units. First purchases are
// left out: they have no gap, and their share falls as a fixed population ages (PSI would see it);
// a new kind of customer shows from its second purchase on.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stream/drift.h"
#include "stream/segments.h"
#include "stream/status.h"

namespace segstream::stream {

// Model units → log space: y = x ⊙ scale + center (the inverse of the transform's scaling only).
FeatureVector ModelToLogSpace(const FeatureTransform& transform, const FeatureVector& model_units);
// Log space → model units: (y − center) / scale.
FeatureVector LogSpaceToModel(const FeatureTransform& transform, const FeatureVector& log_space);

// The behaviour dimensions, in order (the sixth is unused and always 0).
inline constexpr std::array<const char*, 5> kBehaviourNames = {
    "gap_days", "distinct_items", "units", "basket_value", "unit_price"};

struct DriftPurchase {
  FeatureVector lifetime{};   // the customer's scored model vector, log space
  FeatureVector behaviour{};  // BehaviourVector
  bool operator==(const DriftPurchase&) const = default;
};

// A sale checkout's behaviour (log1p of each dimension of kBehaviourNames); previous_sale_ms is
// the customer's newest sale before this one (the gap clamps at 0).
FeatureVector BehaviourVector(const CheckoutSummary& checkout, int64_t previous_sale_ms);

// One day's pane: every purchase assigned by its lifetime vector to the model's nearest centroid
// (no hysteresis: the same rule for every window) and its behaviour vector counted there.
// model.ready(). The monitors then run without centroids (DriftMonitor::Evaluate).
DriftPaneStats BuildDriftPane(std::span<const DriftPurchase> purchases, const SegmentModel& model);

// Deterministic sampling of purchases for drift (a hash of customer and event time, so every
// partitioning keeps the same ones): true for about `rate` of them; rate ≥ 1 keeps all.
bool KeepForDrift(std::string_view customer_id, int64_t event_time_ms, double rate);

// Text codec of one stored purchase: twelve integers, 1e-6 units, lifetime then behaviour
// ("2302585 ..."). Decode checks the field count and integers; kCorruption otherwise.
std::string EncodeDriftPurchase(const DriftPurchase& purchase);
Result<DriftPurchase> DecodeDriftPurchase(std::string_view text);

}  // namespace segstream::stream
