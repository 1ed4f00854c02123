// Segment drift monitors (DESIGN §4 "Drift", issue 9): per segment, a RECENT window of event-time
// day panes against the REFERENCE window just before it —
//   centroid shift = |mean_recent − mean_reference| / rms_radius_reference,
//                    rms_radius_reference = sqrt(Cost_reference / count_reference);
//   cost ratio     = msd(recent, c) / msd(reference, c), msd(S, c) = mean squared distance of
//                    S's members to the model centroid c (the current one, for both windows);
//   share PSI      = Σ_i (r_i − f_i) ln(r_i / f_i) over all segments, r_i and f_i the segment's
//                    share of the recent and reference purchases —
// with hysteresis, cooldown and warm-up, so a stationary stream raises nothing. Share PSI alone
// misses a centroid that moves while shares stay put, hence all three.
// Pure: no I/O, no clock; event time is a parameter. Not thread-safe (one owner).
//
// How the pipeline feeds it. Per event-time day pane and per segment, SegmentStats
// (stream/segments.h) of the quantized model vectors of the customers who purchased that day, as
// assigned (a customer buying on 3 days counts 3 times: shares are shares of purchases). The sums
// are exact integers, so partitions can be summed in any order; AddPane merges. No per-member
// distances are needed: msd(S, c) = Cost(S)/n + |mean(S) − c|² follows from the statistics, for
// whatever centroid is current at evaluation. Measuring both windows against the same current
// centroid keeps one yardstick across a model refresh (distances kept from assignment time would
// compare the reference against an old centroid and the recent window against a new one, and a
// model that follows the drift would hide it). Each vector goes in through ClipForDrift (see
// DriftOptions::clip_radii). Segment ids must keep their meaning across model versions (refreshes
// do); a model re-initialised from scratch, or another k, needs a new monitor. Levels and
// cooldowns live in memory only: a monitor rebuilt from stored panes after a restart may re-send
// an alert that is still on.
//
//   DriftMonitor monitor(model.k, DriftOptions{});
//   monitor.AddPane(day_start_ms, pane_stats);            // as panes fill (deltas merge)
//   for (const DriftSignal& s : monitor.Evaluate(watermark_ms, model.centroids)) publish(s);
//   monitor.report();                                     // the /v1/drift table
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "stream/segments.h"

namespace segstream::stream {

// Numbered as segstream.v1.DriftKind, so static_cast maps one onto the other.
enum class DriftKind : int { kCentroidShift = 1, kCostRatio = 2, kSharePsi = 3 };
enum class DriftLevel : int { kOk = 0, kWarn = 1, kAlert = 2 };
const char* DriftKindName(DriftKind kind);     // "CENTROID_SHIFT", "COST_RATIO", "SHARE_PSI"
const char* DriftLevelName(DriftLevel level);  // "ok", "warn", "alert"

struct DriftThresholds {
  double warn = 0;
  double alert = 0;  // ≥ warn
};

struct DriftOptions {
  static constexpr int64_t kDayMs = 86'400'000;

  // Pane width: the pipeline's drift panes are event-time days.
  int64_t pane_ms = kDayMs;
  // Recent window: the last 7 closed days. Whole weeks, so weekly seasonality (weekend shoppers
  // are another mix of segments) cancels between the windows.
  int64_t recent_ms = 7 * kDayMs;
  // Reference window: the 28 days (4 whole weeks) before the recent window — 4× the recent
  // sample, so the reference adds little noise to the comparison, and short enough to follow
  // slow seasonal change. Panes older than recent + reference are dropped.
  int64_t reference_ms = 28 * kDayMs;
  // No alert before this much event time after the first pane: at 14 days both windows hold a
  // full week (the reference fills up to 28 days afterwards).
  int64_t warmup_ms = 14 * kDayMs;
  // After an alert of one kind on one segment, the next alert of that kind on that segment waits
  // this long in event time (an alert still on when the cooldown ends is sent then).
  int64_t cooldown_ms = 3 * kDayMs;
  // Hysteresis: a warn or alert clears only when the value falls below clear_fraction × warn.
  double clear_fraction = 0.8;

  // A segment is judged (centroid shift, cost ratio) only with ≥ min_members purchases in each
  // window. With n recent and m reference members of a Gaussian segment in d = 6 dimensions the
  // stationary shift is ≈ sqrt(χ²_6 / 6 · (1/n + 1/m)): typically 0.2 radii at n = 30, m = 120,
  // and reaching the 0.5 warn needs χ²_6 ≥ 36 (p ≈ 3e-6); the cost ratio's relative noise is
  // ≈ sqrt(2 / (6n)) ≈ 0.1, so 1.5 is ~5 and 2.0 ~10 of its standard deviations away.
  int64_t min_members = 30;
  // PSI is judged only with ≥ psi_min_total purchases in each window. Under no drift PSI ≈
  // χ²_{k−1} · (1/N_r + 1/N_f): at k = 6 and N_r = 200, N_f = 800 its mean is 0.03 and the 0.25
  // alert needs χ²_5 ≥ 40 (p ≈ 1e-7). The noise floor grows as 1/N, so smaller samples say
  // nothing.
  int64_t psi_min_total = 200;
  // Shares below this are taken as this in PSI, so an empty segment gives a large but finite term
  // (0.0001, the substitute common in credit-scoring practice).
  double psi_epsilon = 1e-4;
  // Radii below this (model units, i.e. 1/1000 of an IQR) are taken as this, so a degenerate
  // reference (all members identical) gives a finite shift and cost ratio.
  double min_radius = 1e-3;

  // Robustness, applied by the caller when it builds panes (ClipForDrift): each member's vector is
  // pulled toward its assigned centroid to at most clip_radii × the segment's RMS radius. The
  // monitors are means of sufficient statistics, so without it a few outlying customers move them:
  // with 1% of purchases at 5σ, the stationary test streams raise 5 false COST_RATIO alerts over
  // 8 seeds × 180 days, none with the clip (drift_test.cc). For Gaussian members the clip never
  // acts (P(χ²_6 > 9 · 6) ≈ 1e-9), and the test drifts of 2 radii and doubled spread are caught
  // as fast with it as without. 0 disables.
  double clip_radii = 3.0;

  // In reference radii. 1 radius = the members' mean moved by their own RMS spread: a typical
  // member is then as far from the old centre as a member used to be from it, and for segments a
  // few radii apart assignments start to change. Warn at half of that.
  DriftThresholds centroid_shift{.warn = 0.5, .alert = 1.0};
  // Ratio of mean squared distances: 2.0 = the segment's k-means cost per member doubled (RMS
  // spread × 1.41, or a centroid shift of 1 radius); 1.5 warns. Only increases are alerts: a
  // segment that tightens fits its centroid better.
  DriftThresholds cost_ratio{.warn = 1.5, .alert = 2.0};
  // The standard PSI bands of credit scoring (Siddiqi 2006; Yurdakul 2018): < 0.1 stable,
  // 0.1–0.25 some shift, > 0.25 significant shift.
  DriftThresholds share_psi{.warn = 0.1, .alert = 0.25};
};

// One pane: per segment (k entries), the purchases of that day.
struct DriftPaneStats {
  std::vector<SegmentStats> per_segment;
};

// An alert (maps onto segstream.v1.DriftAlert; the pipeline adds model_version and label).
struct DriftSignal {
  int32_t segment = -1;  // SHARE_PSI: the segment with the largest PSI contribution
  DriftKind kind = DriftKind::kCentroidShift;
  double value = 0;
  double threshold = 0;       // the alert threshold crossed
  int64_t event_time_ms = 0;  // the now_ms of the Evaluate that raised it
  bool operator==(const DriftSignal&) const = default;
};

// One row of the segment table. Values are NaN when not judged (too few members).
struct SegmentDrift {
  int32_t segment = -1;
  int64_t recent_count = 0;
  int64_t reference_count = 0;
  double centroid_shift = 0;  // reference radii
  double cost_ratio = 0;      // recent msd / reference msd
  double recent_share = 0;    // of all recent purchases, in [0, 1]
  double reference_share = 0;
  double psi_contribution = 0;  // (r − f) ln(r / f) ≥ 0, NaN when PSI is not judged
  DriftLevel centroid_level = DriftLevel::kOk;
  DriftLevel cost_level = DriftLevel::kOk;
  DriftLevel level = DriftLevel::kOk;  // the worse of the two (PSI is global, see DriftReport)
};

// The monitors' current values: the /v1/drift view.
struct DriftReport {
  int64_t evaluated_at_ms = 0;  // now_ms of the last Evaluate (0: never)
  // Windows as [start, end) pane starts: reference [reference_start, recent_start),
  // recent [recent_start, recent_end).
  int64_t reference_start_ms = 0;
  int64_t recent_start_ms = 0;
  int64_t recent_end_ms = 0;
  bool warming_up = true;  // before warm-up ends nothing changes level and nothing is sent
  int64_t recent_total = 0;
  int64_t reference_total = 0;
  double psi = 0;  // NaN when not judged
  DriftLevel psi_level = DriftLevel::kOk;
  int32_t psi_top_segment = -1;        // largest contribution (-1 when PSI is not judged)
  std::vector<SegmentDrift> segments;  // k rows, by segment id
};

// ---- The formulas, for any two window aggregates. ----

// sqrt(Cost / count): the RMS distance of the members to their mean (0 when empty).
double RmsRadius(const SegmentStats& stats);

// |mean(recent) − mean(reference)| / max(sqrt(Cost(reference)/n), min_radius). NaN if a window is
// empty.
double CentroidShift(const SegmentStats& reference, const SegmentStats& recent, double min_radius);
// Mean squared distance of the members to `centroid`: Cost/n + |mean − centroid|². NaN if empty.
double MeanSquaredDistance(const SegmentStats& stats, const FeatureVector& centroid);
// msd(recent) / max(msd(reference), min_radius²). NaN if a window is empty.
double CostRatio(const SegmentStats& reference, const SegmentStats& recent,
                 const FeatureVector& centroid, double min_radius);
// Per-segment PSI terms (r_i − f_i) ln(r_i / f_i), shares = count / window total, each share
// floored at epsilon. Both spans of equal size; an empty window gives all NaN.
std::vector<double> PsiContributions(std::span<const int64_t> reference_counts,
                                     std::span<const int64_t> recent_counts, double epsilon);

// `x` moved along the line to `centroid` so that its distance is at most max_distance (Huber-style
// winsorizing of the displacement). max_distance ≤ 0 or not finite: `x` unchanged. Pipeline:
//   pane.per_segment[s].Add(QuantizeVector(ClipForDrift(
//       x, model.centroids[s], options.clip_radii * RmsRadius(current_member_stats[s]))));
FeatureVector ClipForDrift(const FeatureVector& x, const FeatureVector& centroid,
                           double max_distance);

// The hysteresis step: ≥ alert → alert; ≥ warn → at least warn; a current warn or alert holds
// while value ≥ clear_fraction × warn, and falls to ok below that. NaN keeps `current`.
DriftLevel NextDriftLevel(DriftLevel current, double value, const DriftThresholds& thresholds,
                          double clear_fraction);

// ---- The monitor: panes, windows, levels, signals. ----
class DriftMonitor {
 public:
  // k segments, 1..64. Bad options or k: std::invalid_argument (a programmer error).
  explicit DriftMonitor(int k, DriftOptions options = {});

  // Merges `stats` into the pane holding day_start_ms (floored to the pane). Returns false, and
  // ignores it, when per_segment.size() != k or the pane can no longer enter a window: older than
  // recent + reference before the window end of the last Evaluate. Memory stays bounded without
  // Evaluate too: panes more than 2 × (recent + reference) behind the newest one are dropped.
  bool AddPane(int64_t day_start_ms, const DriftPaneStats& stats);
  // Forgets every pane, keeping levels, cooldowns and the warm-up start: for a caller that
  // re-adds all its panes in new units (stream/drift_panes.h) before the next Evaluate.
  void ClearPanes() { panes_.clear(); }

  // Re-computes every monitor at event time now_ms (normally the watermark) over CLOSED panes
  // only: recent = the panes in [D − recent, D), reference = [D − recent − reference, D − recent)
  // with D = the start of the pane holding now_ms. Updates levels (unless warming up) and returns
  // the alerts raised: a (segment, kind) entering alert, or still in alert when its cooldown ends
  // and not yet sent for this episode. Calling it twice with the same now_ms returns nothing new.
  // centroids: the model's k current centroids, model units; or none, when the panes hold
  // vectors of another space than the model's (stream/drift_panes.h): the cost ratio is then
  // measured around each segment's reference-window mean. Another count: std::invalid_argument.
  std::vector<DriftSignal> Evaluate(int64_t now_ms, std::span<const FeatureVector> centroids);

  const DriftReport& report() const { return report_; }
  const DriftOptions& options() const { return options_; }
  int k() const { return k_; }
  size_t pane_count() const { return panes_.size(); }

 private:
  // One (segment, kind) — or the global PSI — alert state machine.
  struct Track {
    DriftLevel level = DriftLevel::kOk;
    bool sent = false;  // this alert episode has been signalled
    bool ever_sent = false;
    int64_t last_sent_ms = 0;
  };
  void Step(Track* track, double value, const DriftThresholds& thresholds, int32_t segment,
            DriftKind kind, int64_t now_ms, std::vector<DriftSignal>* out);
  void DropOldPanes();

  int k_;
  DriftOptions options_;
  std::map<int64_t, std::vector<SegmentStats>> panes_;  // pane start → k stats
  bool have_first_pane_ = false;
  int64_t first_pane_ms_ = 0;  // oldest pane ever added (warm-up reference)
  int64_t newest_pane_ms_ = 0;
  bool evaluated_ = false;
  int64_t window_end_ms_ = 0;  // D of the last Evaluate
  std::vector<Track> centroid_tracks_;
  std::vector<Track> cost_tracks_;
  Track psi_track_;
  DriftReport report_;
};

}  // namespace segstream::stream
