#include "serve/segments_view.h"

#include <algorithm>

#include "storage/keys.h"
#include "storage/snapshot_reader.h"

namespace segstream::serve {

std::vector<int64_t> SegmentsView::sizes() const {
  if (!model) return {};
  if (!live) return model->sizes;
  std::vector<int64_t> out;
  for (const auto& s : merged) out.push_back(s.count);
  return out;
}

double SegmentsView::inertia() const {
  if (!model) return 0;
  if (!live) return model->inertia;
  double total = 0;
  for (const auto& s : merged) total += s.Cost();
  return total;
}

SegmentsView BuildSegmentsView(std::vector<int32_t> partitions,
                               std::optional<stream::SegmentModel> model,
                               const std::vector<storage::PartitionSegments>& parts) {
  SegmentsView view;
  view.partitions = std::move(partitions);
  view.model = std::move(model);
  bool all_scored = !parts.empty();
  for (const auto& part : parts) {
    view.customers += part.meta.customers;
    view.segmented += part.meta.segmented;
    if (!view.model || part.meta.scored_version < view.model->version) all_scored = false;
    if (!view.model || part.stats.size() != static_cast<size_t>(view.model->k)) continue;
    if (!view.live) view.merged.assign(view.model->k, stream::SegmentStats{});
    view.live = true;
    for (int s = 0; s < view.model->k; ++s) view.merged[s].Merge(part.stats[s]);
  }
  view.scored = view.model && view.model->ready() && all_scored;
  return view;
}

namespace {

bool IsTransport(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kTimeout ||
         s.code() == StatusCode::kIoError;
}

}  // namespace

Result<SegmentsView> ReadSegmentsView(storage::RedisConnection* redis) {
  storage::SnapshotReader snapshot_reader(redis);
  auto partitions = snapshot_reader.Partitions(storage::kCheckoutsTopic);
  if (!partitions.ok()) return partitions.status();
  storage::SegmentReader reader(redis);
  SegmentsView broken;
  broken.partitions = *partitions;
  auto model = reader.ReadModel();
  if (!model.ok()) {
    if (IsTransport(model.status())) return model.status();
    broken.error = model.status().message();
    return broken;
  }
  // Without a model the statistics have no k to decode with; only the meta counts.
  auto parts = reader.ReadPartitionStats(*partitions, model->has_value() ? (*model)->k : 0);
  if (!parts.ok()) {
    if (IsTransport(parts.status())) return parts.status();
    broken.model = std::move(*model);
    broken.error = parts.status().message();
    return broken;
  }
  SegmentsView view = BuildSegmentsView(std::move(*partitions), std::move(*model), *parts);
  for (int32_t p : view.partitions) {
    auto digest = reader.ReadBasketDigest(p);
    if (!digest.ok()) {
      if (IsTransport(digest.status())) return digest.status();
      view.error = digest.status().message();
      break;
    }
    if (!*digest) continue;
    if (!view.basket) view.basket.emplace();
    view.basket->Merge(**digest);
  }
  // Compressed now (it would be on the first query, in mutable state), so the I/O threads that
  // share the snapshot only read it: concurrent first queries raced (seen as a /v1/segments
  // handler hanging for minutes, then std::bad_alloc, under `bench http`).
  if (view.basket) view.basket->Compress();
  auto drift = redis->Pipeline(
      {{"GET", storage::DriftReportKey()}, {"LRANGE", storage::DriftAlertsKey(), "0", "-1"}});
  if (!drift.ok()) return drift.status();
  const storage::RedisValue& report = (*drift)[0];
  if (!report.is_nil() && !report.is_error()) {
    view.drift_report = nlohmann::json::parse(report.str, nullptr, false);
    if (!view.drift_report.is_object()) {
      view.drift_report = nullptr;
      view.error = "drift report: not a JSON object";
    }
  }
  for (const storage::RedisValue& alert : (*drift)[1].elements) {
    nlohmann::json parsed = nlohmann::json::parse(alert.str, nullptr, false);
    if (parsed.is_object()) view.drift_alerts.push_back(std::move(parsed));
  }
  return view;
}

std::string FormatQuantized(int64_t quantized) {
  // Magnitude as unsigned so even INT64_MIN formats (decoders bound it far below anyway).
  const uint64_t magnitude =
      quantized < 0 ? 0 - static_cast<uint64_t>(quantized) : static_cast<uint64_t>(quantized);
  std::string frac = std::to_string(magnitude % 1'000'000);
  std::string out = quantized < 0 ? "-" : "";
  out += std::to_string(magnitude / 1'000'000);
  out += '.';
  out.append(6 - frac.size(), '0');
  out += frac;
  return out;
}

}  // namespace segstream::serve
