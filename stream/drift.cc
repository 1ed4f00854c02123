#include "stream/drift.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "stream/windows.h"

namespace segstream::stream {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double SquaredDistance(const FeatureVector& a, const FeatureVector& b) {
  double d2 = 0;
  for (int j = 0; j < kFeatureCount; ++j) d2 += (a[j] - b[j]) * (a[j] - b[j]);
  return d2;
}

void Require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(std::string("DriftMonitor: ") + what);
}

void CheckThresholds(const DriftThresholds& t, const char* what) {
  Require(std::isfinite(t.warn) && std::isfinite(t.alert) && t.warn > 0 && t.alert >= t.warn, what);
}

DriftLevel Worse(DriftLevel a, DriftLevel b) {
  return static_cast<int>(a) >= static_cast<int>(b) ? a : b;
}

}  // namespace

const char* DriftKindName(DriftKind kind) {
  switch (kind) {
    case DriftKind::kCentroidShift:
      return "CENTROID_SHIFT";
    case DriftKind::kCostRatio:
      return "COST_RATIO";
    case DriftKind::kSharePsi:
      return "SHARE_PSI";
  }
  return "DRIFT_KIND_UNSPECIFIED";
}

const char* DriftLevelName(DriftLevel level) {
  switch (level) {
    case DriftLevel::kOk:
      return "ok";
    case DriftLevel::kWarn:
      return "warn";
    case DriftLevel::kAlert:
      return "alert";
  }
  return "ok";
}

double RmsRadius(const SegmentStats& stats) {
  if (stats.count <= 0) return 0;
  return std::sqrt(stats.Cost() / static_cast<double>(stats.count));
}

FeatureVector ClipForDrift(const FeatureVector& x, const FeatureVector& centroid,
                           double max_distance) {
  if (!(max_distance > 0) || !std::isfinite(max_distance)) return x;
  const double d = std::sqrt(SquaredDistance(x, centroid));
  if (!(d > max_distance)) return x;
  FeatureVector clipped;
  const double f = max_distance / d;
  for (int j = 0; j < kFeatureCount; ++j) clipped[j] = centroid[j] + (x[j] - centroid[j]) * f;
  return clipped;
}

double CentroidShift(const SegmentStats& reference, const SegmentStats& recent, double min_radius) {
  if (reference.count <= 0 || recent.count <= 0) return kNaN;
  const double radius = RmsRadius(reference);
  return std::sqrt(SquaredDistance(recent.Mean(), reference.Mean())) / std::max(radius, min_radius);
}

double MeanSquaredDistance(const SegmentStats& stats, const FeatureVector& centroid) {
  if (stats.count <= 0) return kNaN;
  // Σ|x − c|² = Σ|x − mean|² + n|mean − c|² (König–Huygens): exact from the sufficient statistics,
  // and better conditioned than Σ|x|² − 2c·Σx + n|c|².
  return stats.Cost() / static_cast<double>(stats.count) + SquaredDistance(stats.Mean(), centroid);
}

double CostRatio(const SegmentStats& reference, const SegmentStats& recent,
                 const FeatureVector& centroid, double min_radius) {
  if (reference.count <= 0 || recent.count <= 0) return kNaN;
  return MeanSquaredDistance(recent, centroid) /
         std::max(MeanSquaredDistance(reference, centroid), min_radius * min_radius);
}

std::vector<double> PsiContributions(std::span<const int64_t> reference_counts,
                                     std::span<const int64_t> recent_counts, double epsilon) {
  if (reference_counts.size() != recent_counts.size()) {
    throw std::invalid_argument("PsiContributions: spans of different sizes");
  }
  int64_t reference_total = 0;
  int64_t recent_total = 0;
  for (int64_t c : reference_counts) reference_total += c;
  for (int64_t c : recent_counts) recent_total += c;
  std::vector<double> terms(reference_counts.size(), kNaN);
  if (reference_total <= 0 || recent_total <= 0) return terms;
  for (size_t i = 0; i < terms.size(); ++i) {
    const double f = std::max(
        static_cast<double>(reference_counts[i]) / static_cast<double>(reference_total), epsilon);
    const double r = std::max(
        static_cast<double>(recent_counts[i]) / static_cast<double>(recent_total), epsilon);
    terms[i] = (r - f) * std::log(r / f);
  }
  return terms;
}

DriftLevel NextDriftLevel(DriftLevel current, double value, const DriftThresholds& thresholds,
                          double clear_fraction) {
  if (std::isnan(value)) return current;
  if (value >= thresholds.alert) return DriftLevel::kAlert;
  const bool holds = current != DriftLevel::kOk && value >= clear_fraction * thresholds.warn;
  if (holds) return current;
  if (value >= thresholds.warn) return DriftLevel::kWarn;
  return DriftLevel::kOk;
}

DriftMonitor::DriftMonitor(int k, DriftOptions options) : k_(k), options_(options) {
  Require(k >= 1 && k <= 64, "k must be in 1..64");
  const DriftOptions& o = options_;
  Require(o.pane_ms > 0, "pane_ms must be > 0");
  Require(o.recent_ms > 0 && o.recent_ms % o.pane_ms == 0,
          "recent_ms must be a positive multiple of pane_ms");
  Require(o.reference_ms > 0 && o.reference_ms % o.pane_ms == 0,
          "reference_ms must be a positive multiple of pane_ms");
  Require(o.warmup_ms >= 0 && o.cooldown_ms >= 0, "warmup_ms and cooldown_ms must be >= 0");
  Require(o.clear_fraction > 0 && o.clear_fraction <= 1, "clear_fraction must be in (0, 1]");
  Require(o.min_members >= 1 && o.psi_min_total >= 1, "minimum counts must be >= 1");
  Require(o.psi_epsilon > 0 && o.psi_epsilon < 1, "psi_epsilon must be in (0, 1)");
  Require(o.min_radius > 0 && std::isfinite(o.min_radius), "min_radius must be > 0");
  Require(o.clip_radii >= 0 && std::isfinite(o.clip_radii), "clip_radii must be >= 0");
  CheckThresholds(o.centroid_shift, "centroid_shift thresholds need 0 < warn <= alert");
  CheckThresholds(o.cost_ratio, "cost_ratio thresholds need 0 < warn <= alert");
  CheckThresholds(o.share_psi, "share_psi thresholds need 0 < warn <= alert");
  centroid_tracks_.resize(k);
  cost_tracks_.resize(k);
  report_.psi = kNaN;
  report_.segments.resize(k);
  for (int s = 0; s < k; ++s) report_.segments[s].segment = s;
}

bool DriftMonitor::AddPane(int64_t day_start_ms, const DriftPaneStats& stats) {
  if (stats.per_segment.size() != static_cast<size_t>(k_)) return false;
  const int64_t pane = PaneStart(day_start_ms, options_.pane_ms);
  const int64_t span = options_.recent_ms + options_.reference_ms;
  if (evaluated_ && pane < window_end_ms_ - span) return false;
  if (!panes_.empty() && pane < newest_pane_ms_ - 2 * span) return false;
  auto [it, inserted] = panes_.try_emplace(pane);
  if (inserted) it->second.resize(k_);
  for (int s = 0; s < k_; ++s) it->second[s].Merge(stats.per_segment[s]);
  if (!have_first_pane_ || pane < first_pane_ms_) first_pane_ms_ = pane;
  if (!have_first_pane_ || pane > newest_pane_ms_) newest_pane_ms_ = pane;
  have_first_pane_ = true;
  DropOldPanes();
  return true;
}

void DriftMonitor::DropOldPanes() {
  const int64_t span = options_.recent_ms + options_.reference_ms;
  int64_t cutoff = newest_pane_ms_ - 2 * span;
  if (evaluated_) cutoff = std::max(cutoff, window_end_ms_ - span);
  panes_.erase(panes_.begin(), panes_.lower_bound(cutoff));
}

void DriftMonitor::Step(Track* track, double value, const DriftThresholds& thresholds,
                        int32_t segment, DriftKind kind, int64_t now_ms,
                        std::vector<DriftSignal>* out) {
  track->level = NextDriftLevel(track->level, value, thresholds, options_.clear_fraction);
  if (track->level != DriftLevel::kAlert) {
    track->sent = false;
    return;
  }
  if (track->sent || std::isnan(value)) return;
  if (track->ever_sent && now_ms - track->last_sent_ms < options_.cooldown_ms) return;
  out->push_back({.segment = segment,
                  .kind = kind,
                  .value = value,
                  .threshold = thresholds.alert,
                  .event_time_ms = now_ms});
  track->sent = true;
  track->ever_sent = true;
  track->last_sent_ms = now_ms;
}

std::vector<DriftSignal> DriftMonitor::Evaluate(int64_t now_ms,
                                                std::span<const FeatureVector> centroids) {
  Require(centroids.empty() || centroids.size() == static_cast<size_t>(k_),
          "Evaluate needs k centroids or none");
  const DriftOptions& o = options_;
  DriftReport& r = report_;
  r.evaluated_at_ms = now_ms;
  r.recent_end_ms = PaneStart(now_ms, o.pane_ms);
  r.recent_start_ms = r.recent_end_ms - o.recent_ms;
  r.reference_start_ms = r.recent_start_ms - o.reference_ms;
  r.warming_up = !have_first_pane_ || now_ms < first_pane_ms_ + o.warmup_ms;

  std::vector<SegmentStats> recent(k_);
  std::vector<SegmentStats> reference(k_);
  for (auto it = panes_.lower_bound(r.reference_start_ms);
       it != panes_.end() && it->first < r.recent_end_ms; ++it) {
    auto& window = it->first < r.recent_start_ms ? reference : recent;
    for (int s = 0; s < k_; ++s) window[s].Merge(it->second[s]);
  }

  std::vector<int64_t> recent_counts(k_);
  std::vector<int64_t> reference_counts(k_);
  r.recent_total = 0;
  r.reference_total = 0;
  for (int s = 0; s < k_; ++s) {
    recent_counts[s] = recent[s].count;
    reference_counts[s] = reference[s].count;
    r.recent_total += recent[s].count;
    r.reference_total += reference[s].count;
  }
  const bool psi_judged = r.recent_total >= o.psi_min_total && r.reference_total >= o.psi_min_total;
  std::vector<double> terms(k_, kNaN);
  if (psi_judged) terms = PsiContributions(reference_counts, recent_counts, o.psi_epsilon);
  r.psi = psi_judged ? 0 : kNaN;
  r.psi_top_segment = -1;
  for (int s = 0; s < k_; ++s) {
    if (!psi_judged) break;
    r.psi += terms[s];
    if (r.psi_top_segment < 0 || terms[s] > terms[r.psi_top_segment]) r.psi_top_segment = s;
  }

  std::vector<DriftSignal> signals;
  for (int s = 0; s < k_; ++s) {
    SegmentDrift& row = r.segments[s];
    row.recent_count = recent[s].count;
    row.reference_count = reference[s].count;
    row.recent_share = r.recent_total > 0 ? static_cast<double>(recent[s].count) /
                                                static_cast<double>(r.recent_total)
                                          : 0;
    row.reference_share = r.reference_total > 0 ? static_cast<double>(reference[s].count) /
                                                      static_cast<double>(r.reference_total)
                                                : 0;
    row.psi_contribution = terms[s];
    const bool judged = recent[s].count >= o.min_members && reference[s].count >= o.min_members;
    row.centroid_shift = judged ? CentroidShift(reference[s], recent[s], o.min_radius) : kNaN;
    const FeatureVector centre = !centroids.empty()       ? centroids[s]
                                 : reference[s].count > 0 ? reference[s].Mean()
                                                          : FeatureVector{};
    row.cost_ratio = judged ? CostRatio(reference[s], recent[s], centre, o.min_radius) : kNaN;
    if (!r.warming_up) {
      Step(&centroid_tracks_[s], row.centroid_shift, o.centroid_shift, s, DriftKind::kCentroidShift,
           now_ms, &signals);
      Step(&cost_tracks_[s], row.cost_ratio, o.cost_ratio, s, DriftKind::kCostRatio, now_ms,
           &signals);
    }
    row.centroid_level = centroid_tracks_[s].level;
    row.cost_level = cost_tracks_[s].level;
    row.level = Worse(row.centroid_level, row.cost_level);
  }
  if (!r.warming_up) {
    Step(&psi_track_, r.psi, o.share_psi, r.psi_top_segment, DriftKind::kSharePsi, now_ms,
         &signals);
  }
  r.psi_level = psi_track_.level;

  window_end_ms_ = evaluated_ ? std::max(window_end_ms_, r.recent_end_ms) : r.recent_end_ms;
  evaluated_ = true;
  DropOldPanes();
  return signals;
}

}  // namespace segstream::stream
