#include "ingest/segmenter.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <tuple>

#include "storage/keys.h"
#include "storage/segment_reader.h"
#include "storage/snapshot_reader.h"
#include "stream/windows.h"

namespace segstream::ingest {

namespace {

constexpr int64_t kDayMs = 86'400'000;

// FNV-1a 64 (Fowler–Noll–Vo): a fixed, portable hash, so event ids never depend on the library.
uint64_t Fnv1a(std::string_view bytes, uint64_t h = 14695981039346656037ull) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string Hex64(uint64_t v) {
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(v));
  return out;
}

const std::string& LabelOf(const stream::SegmentModel& model, int32_t segment) {
  static const std::string kNone;
  return segment >= 0 && segment < static_cast<int32_t>(model.labels.size()) ? model.labels[segment]
                                                                             : kNone;
}

}  // namespace

stream::CheckoutSummary SummarizeCheckout(const v1::Checkout& checkout) {
  stream::CheckoutSummary s;
  s.event_time_ms = checkout.event_time_ms();
  std::set<std::string_view> skus;
  for (const auto& line : checkout.lines()) {
    if (line.quantity() > 0) {
      s.units += line.quantity();
      s.sales_micros += line.quantity() * line.unit_price_micros();
      skus.insert(line.sku());
    } else if (line.quantity() < 0) {
      s.returned_units += -line.quantity();
      s.returns_micros += -line.quantity() * line.unit_price_micros();
    }
  }
  s.distinct_sale_skus = static_cast<int64_t>(skus.size());
  return s;
}

Segmenter::Segmenter(SegmenterOptions options, storage::RedisConnection* redis, Producer* producer,
                     std::string owner)
    : options_(std::move(options)),
      redis_(redis),
      producer_(producer),
      owner_(std::move(owner)),
      store_(redis),
      drift_({.monitors = options_.drift, .cold_start_days = options_.drift_cold_start_days}, redis,
             producer) {}

Status Segmenter::LoadPartition(int32_t partition) {
  storage::SegmentReader reader(redis_);
  Partition p;
  Status scanned = reader.ScanCustomers(partition, [&p](const storage::StoredCustomer& c) {
    p.customers.emplace(c.customer_id, c.state);
    return Status::Ok();
  });
  if (!scanned.ok()) return scanned;
  // Statistics exist only once a model does; decode them with its k (else the configured one).
  const int k = model_.ready() ? model_.k : options_.model.k;
  auto parts = reader.ReadPartitionStats({partition}, k);
  if (!parts.ok()) return parts.status();
  const storage::PartitionSegments& stored = parts->front();
  p.stats = stored.stats;
  p.scored_version = stored.meta.scored_version;
  p.with_sale = stored.meta.customers;
  p.segmented = stored.meta.segmented;
  auto basket = reader.ReadBasketDigest(partition);
  if (!basket.ok()) return basket.status();
  if (*basket) p.basket = std::move(**basket);
  auto drift = reader.ReadDriftIndex(partition);
  if (!drift.ok()) return drift.status();
  p.drift_days = std::move(*drift);
  if (!p.drift_days.empty()) p.drift_newest_day = p.drift_days.rbegin()->first;
  if (model_.ready()) {
    if (p.stats.empty()) p.stats.assign(model_.k, {});
    if (p.scored_version < model_.version) StartSweep(&p);
  }
  partitions_[partition] = std::move(p);
  return Status::Ok();
}

void Segmenter::DropPartition(int32_t partition) { partitions_.erase(partition); }

bool Segmenter::SweepPending(int32_t partition) const {
  auto it = partitions_.find(partition);
  return it != partitions_.end() && model_.ready() && it->second.sweep_version == model_.version &&
         it->second.sweep_cursor < it->second.sweep_order.size();
}

void Segmenter::StartSweep(Partition* p) const {
  p->sweep_version = model_.version;
  p->sweep_cursor = 0;
  p->sweep_order.clear();
  for (const auto& [id, state] : p->customers) {
    if (state.has_sale()) p->sweep_order.push_back(id);
  }
  std::sort(p->sweep_order.begin(), p->sweep_order.end());
}

SegmentBatch Segmenter::Begin(int32_t partition) const {
  const Partition& p = partitions_.at(partition);
  SegmentBatch batch;
  batch.partition = partition;
  batch.stats = p.stats;
  batch.sweep_cursor = p.sweep_cursor;
  batch.sweep_begin = p.sweep_cursor;
  batch.scored_version = p.scored_version;
  batch.with_sale = p.with_sale;
  batch.segmented = p.segmented;
  batch.drift_newest_day = p.drift_newest_day;
  return batch;
}

stream::CustomerState Segmenter::Get(const SegmentBatch& batch, const std::string& id) const {
  if (auto it = batch.changed.find(id); it != batch.changed.end()) return it->second;
  const Partition& p = partitions_.at(batch.partition);
  if (auto it = p.customers.find(id); it != p.customers.end()) return it->second;
  return {};
}

Status Segmenter::OnCheckout(SegmentBatch* batch, const std::string& customer_id,
                             const stream::CheckoutSummary& checkout, int64_t offset) {
  if (checkout.sales_micros > 0) {
    if (!batch->basket) batch->basket = partitions_.at(batch->partition).basket;
    batch->basket->Add(static_cast<double>(checkout.sales_micros) / 1e6);
  }
  if (customer_id.empty()) return Status::Ok();
  stream::CustomerState state = Get(*batch, customer_id);
  const bool had_sale = state.has_sale();
  const int64_t previous_sale_ms = state.last_sale_ms;
  stream::ApplyCheckout(checkout, &state);
  if (!had_sale && state.has_sale()) {
    ++batch->with_sale;
    batch->meta_changed = true;
  }
  if (model_.ready() && state.has_sale()) {
    if (Status s =
            Rescore(batch, customer_id, &state, Trigger::kPurchase, checkout.event_time_ms, offset);
        !s.ok()) {
      return s;
    }
    if (had_sale && checkout.sales_micros > 0) {
      AddDriftPurchase(batch, customer_id,
                       {.lifetime = stream::ModelToLogSpace(
                            model_.transform, stream::DequantizeVector(state.quantized)),
                        .behaviour = stream::BehaviourVector(checkout, previous_sale_ms)},
                       checkout.event_time_ms, offset);
    }
  } else if (state.has_sale() && offset < batch->restate_below_offset) {
    batch->unsettled.push_back(customer_id);  // no model yet: restated once there is one
  }
  batch->changed[customer_id] = state;
  return Status::Ok();
}

Status Segmenter::Sweep(SegmentBatch* batch) {
  Partition& p = partitions_.at(batch->partition);
  if (!model_.ready() || p.sweep_version != model_.version) return Status::Ok();
  const size_t end = std::min(p.sweep_order.size(), batch->sweep_cursor + options_.sweep_chunk);
  for (; batch->sweep_cursor < end; ++batch->sweep_cursor) {
    const std::string& id = p.sweep_order[batch->sweep_cursor];
    stream::CustomerState state = Get(*batch, id);
    if (state.model_version == model_.version && state.as_of_ms == model_.as_of_ms) continue;
    if (Status s = Rescore(batch, id, &state, Trigger::kSweep, model_.as_of_ms, -1); !s.ok()) {
      return s;
    }
    batch->changed[id] = state;
  }
  if (batch->sweep_cursor >= p.sweep_order.size() && batch->scored_version != model_.version) {
    batch->scored_version = model_.version;
    batch->meta_changed = true;
  }
  return Status::Ok();
}

Status Segmenter::Rescore(SegmentBatch* batch, const std::string& id, stream::CustomerState* state,
                          Trigger trigger, int64_t event_time_ms, int64_t offset) {
  const stream::FeatureVector raw = stream::RawFeatures(*state, model_.as_of_ms);
  const stream::FeatureVector x = model_.transform.Apply(raw);
  for (double v : x) {
    if (!std::isfinite(v)) return Status::Internal("customer " + id + ": non-finite features");
  }
  const int32_t current = state->segment < model_.k ? state->segment : -1;
  const stream::SegmentAssignment a =
      stream::AssignSegment(model_, x, current, options_.model.hysteresis);
  const stream::CustomerState old = *state;
  const auto q = stream::QuantizeVector(x);
  if (old.segment >= 0 && old.segment < static_cast<int32_t>(batch->stats.size())) {
    batch->stats[old.segment].Remove(old.quantized);
  } else {
    ++batch->segmented;
    batch->meta_changed = true;
  }
  batch->stats[a.segment].Add(q);
  batch->stats_changed = true;
  state->segment = a.segment;
  state->distance = a.distance;
  state->quantized = q;
  state->model_version = model_.version;
  state->as_of_ms = model_.as_of_ms;
  NoteRestate(batch, id, event_time_ms, offset);
  if (old.segment == a.segment) return Status::Ok();

  v1::ChangeReason reason = v1::PURCHASE;
  if (trigger == Trigger::kSweep) {
    // LAPSE: no purchase of theirs, but event time moved on since they were last scored (their
    // recency grew) and they move to a segment of longer recency. Otherwise the centroids moved:
    // MODEL_UPDATE (first assignments by a sweep included).
    reason = v1::MODEL_UPDATE;
    if (old.segment >= 0 && old.segment < model_.k && old.as_of_ms < model_.as_of_ms &&
        model_.CentroidOriginal(a.segment)[stream::kRecencyDays] >
            model_.CentroidOriginal(old.segment)[stream::kRecencyDays]) {
      reason = v1::LAPSE;
    }
  }
  return Emit(*batch, id, old, *state, reason, event_time_ms, offset);
}

void Segmenter::AddDriftPurchase(SegmentBatch* batch, const std::string& id,
                                 const stream::DriftPurchase& purchase, int64_t event_time_ms,
                                 int64_t offset) const {
  if (!stream::KeepForDrift(id, event_time_ms, options_.drift_sample_rate)) return;
  const int64_t day = event_time_ms - ((event_time_ms % kDayMs) + kDayMs) % kDayMs;
  const int64_t keep = options_.drift_retention_days * kDayMs;
  const Partition& p = partitions_.at(batch->partition);
  if (day > batch->drift_newest_day) {
    batch->drift_newest_day = day;
    // Retire what fell out of the retention, stored or touched by this batch.
    const int64_t cutoff = day - keep;
    for (auto it = p.drift_days.begin(); it != p.drift_days.end() && it->first < cutoff; ++it) {
      batch->drift_days_deleted.insert(it->first);
    }
    for (auto it = batch->drift_day_counts.begin();
         it != batch->drift_day_counts.end() && it->first < cutoff;) {
      batch->drift_days_deleted.insert(it->first);
      batch->drift_purchases.erase(it->first);
      it = batch->drift_day_counts.erase(it);
    }
  }
  if (day < batch->drift_newest_day - keep) return;  // too late for any window
  auto count = batch->drift_day_counts.find(day);
  if (count == batch->drift_day_counts.end()) {
    auto stored = p.drift_days.find(day);
    count = batch->drift_day_counts.emplace(day, stored != p.drift_days.end() ? stored->second : 0)
                .first;
    batch->drift_days_deleted.erase(day);
  }
  ++count->second;
  batch->drift_purchases[day].emplace_back(std::to_string(offset),
                                           stream::EncodeDriftPurchase(purchase));
}

Status Segmenter::Emit(const SegmentBatch& batch, const std::string& id,
                       const stream::CustomerState& old, const stream::CustomerState& now,
                       v1::ChangeReason reason, int64_t event_time_ms, int64_t offset,
                       std::string_view restated) {
  const std::string trigger = !restated.empty() ? std::string(restated)
                              : offset >= 0     ? "offset " + std::to_string(offset)
                                                : "sweep " + std::to_string(model_.version);
  const std::string key = id + '\x1f' + v1::ChangeReason_Name(reason) + '\x1f' +
                          std::to_string(old.segment) + '\x1f' + std::to_string(now.segment) +
                          '\x1f' + std::to_string(model_.version) + '\x1f' +
                          std::to_string(batch.partition) + '\x1f' + trigger;
  change_.Clear();
  change_.set_event_id(Hex64(Fnv1a(key)));
  change_.set_customer_id(id);
  change_.set_from_segment(old.segment);
  change_.set_to_segment(now.segment);
  change_.set_from_label(LabelOf(model_, old.segment));
  change_.set_to_label(LabelOf(model_, now.segment));
  change_.set_distance(now.distance);
  change_.set_event_time_ms(event_time_ms);
  change_.set_model_version(model_.version);
  change_.set_reason(reason);
  change_.set_source_partition(batch.partition);
  change_.set_source_offset(offset);
  change_.SerializeToString(&buffer_);
  if (Status s = producer_->Produce(storage::kSegmentChangesTopic, id, buffer_); !s.ok()) return s;
  return Status::Ok();
}

void Segmenter::Fill(const SegmentBatch& batch, storage::CheckoutsCommit* commit) {
  for (const auto& [id, state] : batch.changed)
    commit->customers[id] = stream::EncodeCustomer(state);
  if (batch.stats_changed) commit->segment_stats = stream::EncodeStats(batch.stats);
  if (batch.basket) commit->basket_digest = batch.basket->Serialize();
  commit->drift_day_counts = batch.drift_day_counts;
  commit->drift_purchases = batch.drift_purchases;
  commit->drift_days_deleted.assign(batch.drift_days_deleted.begin(),
                                    batch.drift_days_deleted.end());
  if (batch.meta_changed) {
    commit->segment_meta = {{"scored_version", batch.scored_version},
                            {"customers", batch.with_sale},
                            {"segmented", batch.segmented}};
  }
}

void Segmenter::Adopt(SegmentBatch&& batch) {
  auto it = partitions_.find(batch.partition);
  if (it == partitions_.end()) return;
  Partition& p = it->second;
  for (auto& [id, state] : batch.changed) p.customers[id] = std::move(state);
  for (const auto& id : batch.resolved) p.owed.erase(id);
  for (auto& id : batch.unsettled) p.owed.emplace(std::move(id), 0);
  p.stats = std::move(batch.stats);
  if (batch.basket) p.basket = std::move(*batch.basket);
  p.sweep_cursor = batch.sweep_cursor;
  p.scored_version = batch.scored_version;
  p.with_sale = batch.with_sale;
  p.segmented = batch.segmented;
  for (int64_t day : batch.drift_days_deleted) p.drift_days.erase(day);
  for (const auto& [day, count] : batch.drift_day_counts) p.drift_days[day] = count;
  p.drift_newest_day = batch.drift_newest_day;
}

void Segmenter::AdoptModel(stream::SegmentModel model) {
  spdlog::info("segment model v{}: k {} as of {} inertia {:.1f}", model.version, model.k,
               model.as_of_ms, model.inertia);
  model_ = std::move(model);
  for (auto& [id, p] : partitions_) {
    if (p.stats.size() != static_cast<size_t>(model_.k)) p.stats.assign(model_.k, {});
    StartSweep(&p);
  }
}

Status Segmenter::Tick(std::chrono::steady_clock::time_point now) {
  if (now < next_tick_) return Status::Ok();
  next_tick_ = now + options_.refresh_interval;
  auto text = store_.Read();
  if (!text.ok()) return text.status();
  if (text->has_value()) {
    auto model = stream::SegmentModel::Decode(**text);
    if (!model.ok()) return Status::Corruption("segment model: " + model.status().message());
    if (model->version > model_.version) AdoptModel(std::move(*model));
  }
  auto lease = store_.AcquireLease(owner_, options_.lease_ttl.count());
  if (!lease.ok()) return lease.status();
  if (!*lease) {
    drift_.Reset();
    return Status::Ok();
  }
  Status upkeep = model_.ready() ? MaybeRefresh(now) : MaybeInit();
  if (!upkeep.ok() || !model_.ready()) return upkeep;
  auto partitions = Partitions();
  if (!partitions.ok()) return partitions.status();
  auto watermark = Watermark(0);
  if (!watermark.ok()) return watermark.status();
  return *watermark > 0 ? drift_.Run(model_, *partitions, *watermark) : Status::Ok();
}

Result<std::vector<int32_t>> Segmenter::Partitions() {
  return storage::SnapshotReader(redis_).Partitions(storage::kCheckoutsTopic);
}

Result<int64_t> Segmenter::Watermark(int64_t fallback_ms) {
  storage::SnapshotReader reader(redis_);
  auto status = reader.ReadStatus();
  if (!status.ok()) return status.status();
  // The served watermark (serve/snapshot.cc): newest event time, min over partitions, minus the
  // allowed lateness.
  return status->min_partition_max_event_ms > 0
             ? status->min_partition_max_event_ms - stream::WindowOptions{}.allowed_lateness_ms
             : fallback_ms;
}

Result<int64_t> Segmenter::AsOf(int64_t fallback_ms) {
  auto watermark = Watermark(fallback_ms);
  if (!watermark.ok()) return watermark.status();
  return *watermark - *watermark % kDayMs;  // whole days: recency is measured in days
}

Result<std::vector<stream::FeatureVector>> Segmenter::PopulationSample(int64_t* as_of_ms) {
  auto partitions = Partitions();
  if (!partitions.ok()) return partitions.status();
  // Every customer with a sale, in a hash order that does not depend on the partitioning; the
  // first max_init_sample of them are the sample.
  std::vector<std::pair<uint64_t, stream::CustomerState>> customers;
  int64_t newest_sale = 0;
  storage::SegmentReader reader(redis_);
  for (int32_t p : *partitions) {
    Status scanned = reader.ScanCustomers(p, [&](const storage::StoredCustomer& c) {
      if (c.state.has_sale()) {
        newest_sale = std::max(newest_sale, c.state.last_sale_ms);
        customers.emplace_back(Fnv1a(c.customer_id), c.state);
      }
      return Status::Ok();
    });
    if (!scanned.ok()) return scanned;
  }
  std::sort(customers.begin(), customers.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  if (customers.size() > options_.max_init_sample) customers.resize(options_.max_init_sample);
  if (*as_of_ms <= 0) {
    auto as_of = AsOf(newest_sale);
    if (!as_of.ok()) return as_of.status();
    *as_of_ms = *as_of;
  }
  std::vector<stream::FeatureVector> sample;
  sample.reserve(customers.size());
  for (const auto& [hash, state] : customers)
    sample.push_back(stream::RawFeatures(state, *as_of_ms));
  return sample;
}

Status Segmenter::MaybeInit() {
  auto partitions = Partitions();
  if (!partitions.ok()) return partitions.status();
  auto parts = storage::SegmentReader(redis_).ReadPartitionStats(*partitions, 0);
  if (!parts.ok()) return parts.status();
  int64_t with_sale = 0;
  for (const storage::PartitionSegments& part : *parts) with_sale += part.meta.customers;
  if (with_sale < std::max<int64_t>(options_.init_min_customers, 1)) return Status::Ok();
  int64_t as_of = 0;
  auto sample = PopulationSample(&as_of);
  if (!sample.ok()) return sample.status();
  auto model = stream::InitModel(*sample, as_of, options_.model);
  if (!model.ok()) return model.status();
  spdlog::info("segment model initialised from {} customers", sample->size());
  refit_as_of_ = as_of;
  return Publish(std::move(*model), std::chrono::steady_clock::now());
}

Status Segmenter::Refit() {
  int64_t as_of = model_.as_of_ms;
  auto sample = PopulationSample(&as_of);
  if (!sample.ok()) return sample.status();
  if (sample->size() < static_cast<size_t>(model_.k)) return Status::Ok();
  auto fitted = stream::InitModel(*sample, as_of, options_.model);
  if (!fitted.ok()) return fitted.status();
  // Keep ids: pair each fitted centroid with the nearest current one (both in the fitted model's
  // units), closest pairs first, so memberships and labels carry over.
  const int k = model_.k;
  std::vector<stream::FeatureVector> current(k);
  for (int c = 0; c < k; ++c) current[c] = fitted->transform.Apply(model_.CentroidOriginal(c));
  std::vector<std::tuple<double, int, int>> pairs;
  for (int f = 0; f < k; ++f) {
    for (int c = 0; c < k; ++c) {
      double d2 = 0;
      for (int j = 0; j < stream::kFeatureCount; ++j) {
        const double d = fitted->centroids[f][j] - current[c][j];
        d2 += d * d;
      }
      pairs.emplace_back(d2, f, c);
    }
  }
  std::sort(pairs.begin(), pairs.end());
  std::vector<int> slot_of(k, -1);
  std::vector<bool> taken(k, false);
  for (const auto& [d2, f, c] : pairs) {
    if (slot_of[f] >= 0 || taken[c]) continue;
    slot_of[f] = c;
    taken[c] = true;
  }
  stream::SegmentModel next = *fitted;
  for (int f = 0; f < k; ++f) {
    next.centroids[slot_of[f]] = fitted->centroids[f];
    next.sizes[slot_of[f]] = fitted->sizes[f];
  }
  std::vector<stream::FeatureVector> original(k);
  for (int c = 0; c < k; ++c) original[c] = next.CentroidOriginal(c);
  // Fresh labels: a function of the re-fitted centroids alone, so every partitioning names the
  // segments alike. (Refreshes between re-fits keep the previous labels through near-ties.)
  next.labels = stream::LabelSegments(original, {});
  next.version = model_.version + 1;
  spdlog::info("segment model re-fitted on {} customers as of {}", sample->size(), as_of);
  refit_as_of_ = as_of;
  return Publish(std::move(next), std::chrono::steady_clock::now());
}

Status Segmenter::Publish(stream::SegmentModel model, std::chrono::steady_clock::time_point now) {
  const std::string encoded = model.Encode();
  auto published = store_.Publish(model_.version, model.version, encoded);
  if (!published.ok()) return published.status();
  if (*published) {
    // Kept for takeovers (segmenter_restate.cc); if this write is lost they restate more.
    auto kept = redis_->Command({"SET", storage::ModelVersionHistoryKey(model.version), encoded,
                                 "PX", std::to_string(options_.model_history_ttl.count())});
    if (!kept.ok() || kept->is_error()) spdlog::warn("model v{} not kept", model.version);
    published_ = now;
    AdoptModel(std::move(model));
  }
  return Status::Ok();
}

Status Segmenter::MaybeRefresh(std::chrono::steady_clock::time_point now) {
  auto partitions = Partitions();
  if (!partitions.ok()) return partitions.status();
  auto parts = storage::SegmentReader(redis_).ReadPartitionStats(*partitions, model_.k);
  if (!parts.ok()) return parts.status();
  std::vector<stream::SegmentStats> merged(model_.k);
  bool all_scored = true;
  for (const storage::PartitionSegments& part : *parts) {
    if (part.meta.scored_version < model_.version) all_scored = false;
    for (size_t c = 0; c < part.stats.size(); ++c) merged[c].Merge(part.stats[c]);
  }
  if (!all_scored && now - published_ < options_.max_refresh_wait) return Status::Ok();
  auto as_of = AsOf(model_.as_of_ms);
  if (!as_of.ok()) return as_of.status();
  auto refreshed = stream::RefreshModel(model_, merged, std::max(*as_of, model_.as_of_ms));
  if (!refreshed.ok()) return refreshed.status();
  double shift = 0;
  for (int c = 0; c < model_.k; ++c) {
    double d2 = 0;
    for (int j = 0; j < stream::kFeatureCount; ++j) {
      const double d = refreshed->centroids[c][j] - model_.centroids[c][j];
      d2 += d * d;
    }
    shift = std::max(shift, std::sqrt(d2));
  }
  if (shift <= options_.refresh_tolerance && refreshed->as_of_ms == model_.as_of_ms) {
    // Converged at this as-of: re-fit once on the whole population (see the header).
    return all_scored && refit_as_of_ != model_.as_of_ms ? Refit() : Status::Ok();
  }
  refreshed->version = model_.version + 1;
  return Publish(std::move(*refreshed), now);
}

}  // namespace segstream::ingest
