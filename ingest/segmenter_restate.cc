// Restating segments after a batch that produced its segment-changes but never committed them
// (segmenter.h, "RESTATE"): the bounds a claim reads and writes, the sweep customers a dead
// owner may have touched, and what an abandoned batch leaves owed.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "ingest/segmenter.h"
#include "storage/keys.h"

namespace segstream::ingest {

namespace {

// KEYS: {checkouts:P}:meta, {checkouts:P}:segmeta. ARGV: the claim's generation, this worker's
// most records per stage-1 batch and customers per sweep chunk. Returns the previous bounds (nil
// where never written) after storing the larger of each pair: the window this owner now covers
// includes the previous owner's, until it has replayed it or releases the partition cleanly.
constexpr std::string_view kTakeOverScript = R"lua(
if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[1] then return redis.error_reply('FENCED') end
local prev = redis.call('HMGET', KEYS[2], 'restate_records', 'restate_sweep')
redis.call('HSET', KEYS[2],
  'restate_records', math.max(tonumber(prev[1]) or 0, tonumber(ARGV[2])),
  'restate_sweep', math.max(tonumber(prev[2]) or 0, tonumber(ARGV[3])))
return prev
)lua";

// KEYS as above. ARGV: the owner's generation. A clean revocation: nothing is owed.
constexpr std::string_view kReleaseScript = R"lua(
if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[1] then return redis.error_reply('FENCED') end
redis.call('HSET', KEYS[2], 'restate_records', 0, 'restate_sweep', 0)
return 1
)lua";

Result<storage::RedisValue> Eval(storage::RedisConnection* redis, std::string_view script,
                                 int32_t partition, std::vector<std::string> args) {
  std::vector<std::string> argv = {
      "EVAL", std::string(script), "2",
      storage::PartitionKey(storage::kCheckoutsTopic, partition, "meta"),
      storage::SegmentMetaKey(partition)};
  for (auto& a : args) argv.push_back(std::move(a));
  auto reply = redis->Command(argv);
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) {
    if (reply->str.find("FENCED") != std::string::npos) {
      return Status::Fenced("checkouts:" + std::to_string(partition) + " claimed since");
    }
    // -LOADING from a restarted Redis and the like: ask again after a reconnect.
    return Status::Unavailable("redis: " + reply->str);
  }
  return reply;
}

}  // namespace

bool Segmenter::MovedBySweep(const stream::SegmentModel& model,
                             const stream::CustomerState& state) const {
  // Rescore() of a sweep, on the committed state: same features, transform and hysteresis.
  const stream::FeatureVector x = model.transform.Apply(stream::RawFeatures(state, model.as_of_ms));
  for (double v : x) {
    if (!std::isfinite(v)) return true;  // the sweep failed there: owe it anyway
  }
  const int32_t current = state.segment < model.k ? state.segment : -1;
  return stream::AssignSegment(model, x, current, options_.model.hysteresis).segment !=
         state.segment;
}

void Segmenter::NoteRestate(SegmentBatch* batch, const std::string& id, int64_t event_time_ms,
                            int64_t offset) const {
  const Partition& p = partitions_.at(batch->partition);
  auto owed = p.owed.find(id);
  const bool replayed = offset >= 0 && offset < batch->restate_below_offset;
  if (!replayed && owed == p.owed.end()) return;
  batch->restate[id] = {event_time_ms, offset};
  if (owed != p.owed.end() && model_.version >= owed->second) batch->resolved.push_back(id);
}

Status Segmenter::Restate(SegmentBatch* batch) {
  if (batch->restate.empty()) return Status::Ok();
  const std::string trigger =
      "restate " + batch->restate_trigger + ":s" + std::to_string(model_.version) + ":" +
      std::to_string(batch->sweep_begin) + "-" + std::to_string(batch->sweep_cursor);
  for (const auto& [id, last] : batch->restate) {
    const stream::CustomerState& state = batch->changed.at(id);
    if (Status s = Emit(*batch, id, state, state, v1::RESTATE, last.first, last.second, trigger);
        !s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

Result<int64_t> Segmenter::TakeOver(int32_t partition, int64_t generation, bool has_offset,
                                    int64_t batch_records) {
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return Status::Internal("TakeOver before LoadPartition");
  Partition& p = it->second;
  const int64_t own_sweep = static_cast<int64_t>(options_.sweep_chunk);
  auto reply =
      Eval(redis_, kTakeOverScript, partition,
           {std::to_string(generation), std::to_string(batch_records), std::to_string(own_sweep)});
  if (!reply.ok()) return reply.status();
  if (reply->elements.size() != 2) return Status::Corruption("restate bounds reply");
  int64_t records = 0, sweep = 0;
  if (reply->elements[0].is_nil() && reply->elements[1].is_nil()) {
    // Never written: a partition nobody claimed before (nothing to restate), or one last owned
    // by a worker older than these fields, with this worker's bounds then.
    if (has_offset) {
      records = batch_records;
      sweep = own_sweep;
    }
  } else {
    auto r = reply->elements[0].AsInt();
    auto s = reply->elements[1].AsInt();
    if (!r.ok() || !s.ok())
      return Status::Corruption("restate bounds of " + std::to_string(partition));
    records = *r;
    sweep = *s;
  }

  // The sweep chunk a dead owner may have re-scored: toward some model version m with
  // scored_version < m <= the current one, the first `sweep` customers in id order whose
  // committed version is below m (those before its cursor are at m already). Under each such m
  // that is still kept (model_history_ttl), the sweep is re-run from the committed state: only
  // the customers it would have moved are owed. Without m's model, all of them are.
  auto version = redis_->Command({"GET", storage::ModelVersionKey()});
  if (!version.ok()) return version.status();
  auto current = version->AsInt();
  if (!current.ok()) return current.status();
  if (sweep > 0 && *current > p.scored_version) {
    std::vector<std::pair<std::string, const stream::CustomerState*>> order;  // with a sale
    for (const auto& [id, state] : p.customers) {
      if (state.has_sale()) order.emplace_back(id, &state);
    }
    std::sort(order.begin(), order.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    // Beyond this many versions, read no history: the first chunk below each distinct stored
    // version + 1 covers every m (a partition left unowned that long restates its sweep).
    constexpr int64_t kMostVersions = 256;
    const bool replay = *current - p.scored_version <= kMostVersions;
    std::set<int64_t> versions;
    if (replay) {
      for (int64_t m = p.scored_version + 1; m <= *current; ++m) versions.insert(m);
    } else {
      versions.insert(p.scored_version + 1);
      for (const auto& [id, state] : order) {
        const int64_t m = state->model_version + 1;
        if (m > p.scored_version + 1 && m <= *current) versions.insert(m);
      }
    }
    for (int64_t m : versions) {
      std::optional<stream::SegmentModel> model;
      if (replay) {
        auto kept = redis_->Command({"GET", storage::ModelVersionHistoryKey(m)});
        if (!kept.ok()) return kept.status();
        if (kept->type == storage::RedisValue::Type::kString) {
          auto decoded = stream::SegmentModel::Decode(kept->str);
          if (decoded.ok()) model = std::move(*decoded);
        }
      }
      int64_t taken = 0;
      for (const auto& [id, state] : order) {
        if (state->model_version >= m) continue;
        if (!model || MovedBySweep(*model, *state)) p.owed[id] = *current;
        if (++taken == sweep) break;
      }
    }
  }
  if (records > 0 || !p.owed.empty()) {
    spdlog::info("checkouts:{} restates the customers of {} replayed records and {} swept",
                 partition, records, p.owed.size());
  }
  return records;
}

Status Segmenter::Release(int32_t partition, int64_t generation) {
  auto reply = Eval(redis_, kReleaseScript, partition, {std::to_string(generation)});
  return reply.ok() ? Status::Ok() : reply.status();
}

bool Segmenter::RestatePending(int32_t partition) const {
  auto it = partitions_.find(partition);
  return it != partitions_.end() && !it->second.owed.empty();
}

void Segmenter::Abandon(const SegmentBatch& batch) {
  auto it = partitions_.find(batch.partition);
  if (it == partitions_.end()) return;
  // Its events may come again verbatim from the replay (same ids, dropped downstream) or not at
  // all: each customer it re-scored is owed until re-scored at this version.
  for (const auto& [id, state] : batch.changed) {
    if (state.model_version <= 0) continue;  // not re-scored: no event
    int64_t& until = it->second.owed[id];
    until = std::max(until, model_.version);
  }
}

}  // namespace segstream::ingest
