#include "ingest/drift_evaluator.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "segstream.pb.h"
#include "storage/keys.h"
#include "storage/segment_reader.h"
#include "stream/drift_panes.h"

namespace segstream::ingest {

namespace {

// NaN (a monitor not judged: too few members) is JSON null.
nlohmann::json Number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

const std::string& Label(const stream::SegmentModel& model, int32_t segment) {
  static const std::string kNone;
  return segment >= 0 && segment < static_cast<int32_t>(model.labels.size()) ? model.labels[segment]
                                                                             : kNone;
}

}  // namespace

DriftEvaluator::DriftEvaluator(DriftEvaluatorOptions options, storage::RedisConnection* redis,
                               Producer* producer)
    : options_(std::move(options)), redis_(redis), producer_(producer) {}

void DriftEvaluator::Reset() {
  monitor_.reset();
  evaluated_day_ = 0;
  sent_through_ms_ = -1;
}

Result<std::pair<int64_t, int64_t>> DriftEvaluator::StoredProgress() {
  auto reply = redis_->Command({"GET", storage::DriftReportKey()});
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) return Status::Corruption("drift report: " + reply->str);
  if (reply->is_nil() || reply->str.empty()) return std::pair<int64_t, int64_t>{0, 0};
  const nlohmann::json report = nlohmann::json::parse(reply->str, nullptr, false);
  if (report.is_discarded() || !report.is_object() ||
      !report.value("evaluated_through_ms", nlohmann::json()).is_number_integer() ||
      !report.value("first_day_ms", nlohmann::json()).is_number_integer()) {
    return Status::Corruption("drift report: not the evaluator's JSON");
  }
  return std::pair<int64_t, int64_t>{report["evaluated_through_ms"].get<int64_t>(),
                                     report["first_day_ms"].get<int64_t>()};
}

Status DriftEvaluator::Run(const stream::SegmentModel& model,
                           const std::vector<int32_t>& partitions, int64_t watermark_ms) {
  if (!model.ready()) return Status::Ok();
  if (!monitor_ || monitor_->k() != model.k) {
    monitor_.emplace(model.k, options_.monitors);
    evaluated_day_ = 0;
  }
  if (sent_through_ms_ < 0) {
    auto stored = StoredProgress();
    if (!stored.ok()) return stored.status();
    sent_through_ms_ = stored->first;
    first_day_ms_ = stored->second;
  }
  const int64_t pane = options_.monitors.pane_ms;
  const int64_t target = watermark_ms - ((watermark_ms % pane) + pane) % pane;
  if (evaluated_day_ > 0 && evaluated_day_ + pane > target) return Status::Ok();  // same day
  auto days = storage::SegmentReader(redis_).ReadDriftPurchases(partitions);
  if (!days.ok()) return days.status();
  if (days->empty()) return Status::Ok();
  if (first_day_ms_ <= 0) first_day_ms_ = days->begin()->first;
  const int64_t first_used = first_day_ms_ + options_.cold_start_days * pane;
  auto used = days->lower_bound(first_used);
  if (used == days->end()) return Status::Ok();
  const int64_t next = evaluated_day_ > 0 ? evaluated_day_ + pane : used->first + pane;
  if (next > target) return Status::Ok();

  // Every day's purchases assigned and measured with the current model, then each day boundary
  // in turn.
  monitor_->ClearPanes();
  for (; used != days->end(); ++used) {
    monitor_->AddPane(used->first, stream::BuildDriftPane(used->second, model));
  }
  std::vector<stream::DriftSignal> alerts;
  for (int64_t day = next; day <= target; day += pane) {
    for (const stream::DriftSignal& s : monitor_->Evaluate(day, {})) {
      if (s.event_time_ms > sent_through_ms_) alerts.push_back(s);
    }
    evaluated_day_ = day;
    if (spdlog::should_log(spdlog::level::debug)) {
      const stream::DriftReport& r = monitor_->report();
      std::string row;
      for (const auto& seg : r.segments) {
        row += fmt::format(" {}:{:.2f}/{:.2f}/{}", seg.segment, seg.centroid_shift, seg.cost_ratio,
                           seg.recent_count);
      }
      spdlog::debug("drift day {}: psi {:.3f}{}", day, r.psi, row);
    }
  }
  // On failure start over from the stored report: the days since are evaluated again and their
  // alerts sent then (the monitor already counts them as sent).
  Status published = Publish(model, alerts);
  if (published.ok()) published = WriteReport(model);
  if (!published.ok()) {
    Reset();
    return published;
  }
  sent_through_ms_ = std::max(sent_through_ms_, evaluated_day_);
  return Status::Ok();
}

Status DriftEvaluator::Publish(const stream::SegmentModel& model,
                               const std::vector<stream::DriftSignal>& alerts) {
  if (alerts.empty()) return Status::Ok();
  std::vector<std::vector<std::string>> commands;
  v1::DriftAlert alert;
  for (const stream::DriftSignal& s : alerts) {
    alert.Clear();
    alert.set_segment(s.segment);
    alert.set_kind(static_cast<v1::DriftKind>(s.kind));
    alert.set_value(s.value);
    alert.set_threshold(s.threshold);
    alert.set_event_time_ms(s.event_time_ms);
    alert.set_model_version(model.version);
    alert.set_label(Label(model, s.segment));
    alert.SerializeToString(&buffer_);
    const std::string key = std::to_string(s.segment);
    if (Status st = producer_->Produce(storage::kSegmentDriftTopic, key, buffer_); !st.ok()) {
      return st;
    }
    spdlog::warn("segment drift: {} on segment {} ({}) = {:.3f} (alert at {}) at event time {}",
                 stream::DriftKindName(s.kind), s.segment, alert.label(), s.value, s.threshold,
                 s.event_time_ms);
    const nlohmann::json json = {{"segment", s.segment},
                                 {"kind", stream::DriftKindName(s.kind)},
                                 {"value", s.value},
                                 {"threshold", s.threshold},
                                 {"event_time_ms", s.event_time_ms},
                                 {"model_version", model.version},
                                 {"label", alert.label()}};
    commands.push_back({"LPUSH", storage::DriftAlertsKey(), json.dump()});
  }
  // Delivered before they count as sent: a successor skips alerts up to evaluated_through_ms.
  if (Status st = producer_->Flush(options_.flush_timeout); !st.ok()) return st;
  commands.push_back({"LTRIM", storage::DriftAlertsKey(), "0",
                      std::to_string(std::max<int64_t>(options_.alerts_kept, 1) - 1)});
  auto replies = redis_->Pipeline(commands);
  return replies.ok() ? Status::Ok() : replies.status();
}

Status DriftEvaluator::WriteReport(const stream::SegmentModel& model) {
  const stream::DriftReport& r = monitor_->report();
  const stream::DriftOptions& o = monitor_->options();
  nlohmann::json segments = nlohmann::json::array();
  for (const stream::SegmentDrift& s : r.segments) {
    segments.push_back({{"id", s.segment},
                        {"label", Label(model, s.segment)},
                        {"centroid_shift", Number(s.centroid_shift)},
                        {"cost_ratio", Number(s.cost_ratio)},
                        {"psi", Number(s.psi_contribution)},
                        {"state", stream::DriftLevelName(s.level)},
                        {"centroid_shift_state", stream::DriftLevelName(s.centroid_level)},
                        {"cost_ratio_state", stream::DriftLevelName(s.cost_level)},
                        {"recent_purchases", s.recent_count},
                        {"reference_purchases", s.reference_count},
                        {"recent_share", Number(s.recent_share)},
                        {"reference_share", Number(s.reference_share)}});
  }
  auto thresholds = [](const stream::DriftThresholds& t) {
    return nlohmann::json{{"warn", t.warn}, {"alert", t.alert}};
  };
  const nlohmann::json report = {
      {"model_version", model.version},
      {"evaluated_through_ms", evaluated_day_},
      {"first_day_ms", first_day_ms_},
      {"cold_start_days", options_.cold_start_days},
      {"warming_up", r.warming_up},
      {"reference_window", {{"start_ms", r.reference_start_ms}, {"end_ms", r.recent_start_ms}}},
      {"recent_window", {{"start_ms", r.recent_start_ms}, {"end_ms", r.recent_end_ms}}},
      {"recent_purchases", r.recent_total},
      {"reference_purchases", r.reference_total},
      {"psi", Number(r.psi)},
      {"psi_state", stream::DriftLevelName(r.psi_level)},
      {"psi_top_segment", r.psi_top_segment},
      {"thresholds",
       {{"centroid_shift", thresholds(o.centroid_shift)},
        {"cost_ratio", thresholds(o.cost_ratio)},
        {"psi", thresholds(o.share_psi)}}},
      {"options",
       {{"recent_days", o.recent_ms / o.pane_ms},
        {"reference_days", o.reference_ms / o.pane_ms},
        {"warmup_days", o.warmup_ms / o.pane_ms},
        {"cooldown_days", o.cooldown_ms / o.pane_ms},
        {"min_members", o.min_members},
        {"clip_radii", o.clip_radii}}},
      {"segments", std::move(segments)}};
  auto reply = redis_->Command({"SET", storage::DriftReportKey(), report.dump()});
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) return Status::Corruption("drift report: " + reply->str);
  return Status::Ok();
}

}  // namespace segstream::ingest
