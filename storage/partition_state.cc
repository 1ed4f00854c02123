#include "storage/partition_state.h"

#include <cstdio>
#include <string_view>

#include "storage/keys.h"

namespace segstream::storage {

namespace {

// Claim: a new generation fences every earlier owner; returns it with the whole meta hash.
constexpr std::string_view kClaimScript = R"lua(
local gen = redis.call('HINCRBY', KEYS[1], 'gen', 1)
return {gen, redis.call('HGETALL', KEYS[1])}
)lua";

// The last ARGV of a commit, when it starts with "hist ": (meta field, increment)* pairs of the
// previous commit's duration (CommitHistogramArg), added to the meta hash once the fence passed.
#define SEGSTREAM_COMMIT_HISTOGRAM_LUA                            \
  "if string.sub(ARGV[#ARGV], 1, 5) == 'hist ' then\n"            \
  "  for f, by in string.gmatch(ARGV[#ARGV], '(%S+) (%d+)') do\n" \
  "    redis.call('HINCRBY', KEYS[1], f, by)\n"                   \
  "  end\n"                                                       \
  "end\n"

// Shared fence: the caller's generation must be current and the stored
// offset what it expects. ARGV[1] = generation, ARGV[2] = expected stored offset ('' = none yet).
#define SEGSTREAM_FENCE_LUA                                                              \
  "local gen = redis.call('HGET', KEYS[1], 'gen')\n"                                     \
  "if gen ~= ARGV[1] then\n"                                                             \
  "  return redis.error_reply('FENCED generation ' .. tostring(gen) .. ' is current')\n" \
  "end\n"                                                                                \
  "local cur = redis.call('HGET', KEYS[1], 'offset') or ''\n"                            \
  "if cur ~= ARGV[2] then\n"                                                             \
  "  return redis.error_reply('FENCED stored offset ' .. cur .. ' moved')\n"             \
  "end\n"

// Redis Cluster: while a slot migrates, a script's access to a key the node no longer (or not yet)
// holds fails *at that call*, and a script's earlier writes are not rolled back. So each commit
// touches every key it will write before its first write: a refusal then leaves nothing half
// done, and the client retries (storage/redis_cluster.h). Outside a migration it is one read.
#define SEGSTREAM_TOUCH_LUA                                               \
  "local function touch(keys)\n"                                          \
  "  for k = 1, #keys, 500 do\n"                                          \
  "    redis.call('EXISTS', unpack(keys, k, math.min(k + 499, #keys)))\n" \
  "  end\n"                                                               \
  "end\n"

// Stage 1. KEYS: meta, dlq_reasons, customers, segstats, segmeta. ARGV: gen, expected,
// next_offset, events, dlq, item_sales, max_event_ms, high_watermark, n_reasons, (reason, count)*,
// n_customers, (id, state)*, segstats ('' = unchanged), n_meta, (field, value)*, basket digest
// ('' = unchanged), n_drift_days, (day, count, n, (field, vector)*)*, n_deleted, day*, n_baskets,
// (offset, basket)*, baskets_capped.
// KEYS[6]: basket_digest, KEYS[7]: the drift day index; a day's purchases live in the index's
// key + ':' + day (same hash tag, so the call stays in one slot). KEYS[8]: baskets.
constexpr std::string_view kCommitCheckoutsScript = SEGSTREAM_FENCE_LUA SEGSTREAM_TOUCH_LUA R"lua(
local touched = {KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]}
local j = 10 + 2 * tonumber(ARGV[9])
j = j + 2 + 2 * tonumber(ARGV[j])
j = j + 2 + 2 * tonumber(ARGV[j])
for _ = 1, tonumber(ARGV[j]) do
  table.insert(touched, KEYS[7] .. ':' .. ARGV[j + 1])
  j = j + 3 + 2 * tonumber(ARGV[j + 3])
end
j = j + 1
for _ = 1, tonumber(ARGV[j]) do
  table.insert(touched, KEYS[7] .. ':' .. ARGV[j + 1])
  j = j + 1
end
touch(touched)
)lua" SEGSTREAM_COMMIT_HISTOGRAM_LUA R"lua(
redis.call('HSET', KEYS[1], 'offset', ARGV[3], 'high_watermark', ARGV[8])
redis.call('HINCRBY', KEYS[1], 'events', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'dlq', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'item_sales', ARGV[6])
local max_ms = tonumber(redis.call('HGET', KEYS[1], 'max_event_ms') or '0')
if tonumber(ARGV[7]) > max_ms then redis.call('HSET', KEYS[1], 'max_event_ms', ARGV[7]) end
local n = tonumber(ARGV[9])
for i = 0, n - 1 do
  redis.call('HINCRBY', KEYS[2], ARGV[10 + 2 * i], ARGV[11 + 2 * i])
end
local i = 10 + 2 * n
for _ = 1, tonumber(ARGV[i]) do
  redis.call('HSET', KEYS[3], ARGV[i + 1], ARGV[i + 2])
  i = i + 2
end
if ARGV[i + 1] ~= '' then redis.call('SET', KEYS[4], ARGV[i + 1]) end
i = i + 2
for _ = 1, tonumber(ARGV[i]) do
  redis.call('HSET', KEYS[5], ARGV[i + 1], ARGV[i + 2])
  i = i + 2
end
if ARGV[i + 1] ~= '' then redis.call('SET', KEYS[6], ARGV[i + 1]) end
i = i + 2
for _ = 1, tonumber(ARGV[i]) do
  redis.call('HSET', KEYS[7], ARGV[i + 1], ARGV[i + 2])
  local day_key = KEYS[7] .. ':' .. ARGV[i + 1]
  local m = tonumber(ARGV[i + 3])
  i = i + 3
  for _ = 1, m do
    redis.call('HSET', day_key, ARGV[i + 1], ARGV[i + 2])
    i = i + 2
  end
end
i = i + 1
for _ = 1, tonumber(ARGV[i]) do
  redis.call('HDEL', KEYS[7], ARGV[i + 1])
  redis.call('DEL', KEYS[7] .. ':' .. ARGV[i + 1])
  i = i + 1
end
i = i + 1
local baskets = tonumber(ARGV[i])
if baskets > 0 then
  local last = i + 2 * baskets
  for k = i + 1, last, 1000 do
    redis.call('HSET', KEYS[8], unpack(ARGV, k, math.min(k + 999, last)))
  end
  redis.call('HINCRBY', KEYS[1], 'baskets_stored', baskets)
end
i = i + 2 * baskets + 1
if ARGV[i] ~= '0' then redis.call('HINCRBY', KEYS[1], 'baskets_capped', ARGV[i]) end
return 'OK'
)lua";

// Stage 2. KEYS: meta, orders, units, returned, revenue, desc. ARGV: gen, expected, next_offset,
// high_watermark, applied, duplicates, max_event_ms, late, retention_cutoff ('' = none), n_hwm,
// (source, offset, seq)*, n_items, (sku, orders, units, returned, revenue, description)*, n_panes,
// (pane_start, sale_checkouts, n, (sku, orders, units, returned, revenue)*)*, sale_checkouts,
// n_refs, (sku, refs)*. Zero deltas are skipped.
// Pane keys are built here from the partition's prefix: they share its hash tag, so the script
// still touches a single Cluster slot.
constexpr std::string_view kCommitItemSalesScript = SEGSTREAM_FENCE_LUA SEGSTREAM_TOUCH_LUA R"lua(
local prefix = string.sub(KEYS[1], 1, #KEYS[1] - 4)
local fields = {'orders', 'units', 'returned', 'revenue'}
local touched = {KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], prefix .. 'panes',
                 prefix .. 'pane_index', prefix .. 'pane_sale_checkouts'}
local function touch_pane(start)
  for f = 1, 4 do table.insert(touched, prefix .. 'pane:' .. start .. ':' .. fields[f]) end
end
local j = 11 + 3 * tonumber(ARGV[10])
j = j + 1 + 6 * tonumber(ARGV[j])
local n_panes = tonumber(ARGV[j])
j = j + 1
for _ = 1, n_panes do
  touch_pane(ARGV[j])
  j = j + 3 + 5 * tonumber(ARGV[j + 2])
end
local ref_keys = {}
for k = 1, tonumber(ARGV[j + 1]) do
  ref_keys[k] = prefix .. 'basket_refs:' .. ARGV[j + 2 * k]
  table.insert(touched, ref_keys[k])
end
local expired = {}
if ARGV[9] ~= '' then
  expired = redis.call('ZRANGEBYSCORE', prefix .. 'pane_index', '-inf', '(' .. ARGV[9])
  for _, start in ipairs(expired) do touch_pane(start) end
end
touch(touched)
)lua" SEGSTREAM_COMMIT_HISTOGRAM_LUA R"lua(
redis.call('HSET', KEYS[1], 'offset', ARGV[3], 'high_watermark', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'applied', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'duplicates', ARGV[6])
redis.call('HINCRBY', KEYS[1], 'late', ARGV[8])
local max_ms = tonumber(redis.call('HGET', KEYS[1], 'max_event_ms') or '0')
if tonumber(ARGV[7]) > max_ms then redis.call('HSET', KEYS[1], 'max_event_ms', ARGV[7]) end
local i = 11
for _ = 1, tonumber(ARGV[10]) do
  redis.call('HSET', KEYS[1], 'hwm:' .. ARGV[i], ARGV[i + 1] .. ':' .. ARGV[i + 2])
  i = i + 3
end
local n = tonumber(ARGV[i])
i = i + 1
for _ = 1, n do
  local sku = ARGV[i]
  for f = 1, 4 do
    if ARGV[i + f] ~= '0' then redis.call('HINCRBY', KEYS[1 + f], sku, ARGV[i + f]) end
  end
  if ARGV[i + 5] ~= '' then redis.call('HSETNX', KEYS[6], sku, ARGV[i + 5]) end
  i = i + 6
end
local panes = tonumber(ARGV[i])
i = i + 1
for _ = 1, panes do
  local start = ARGV[i]
  local base = prefix .. 'pane:' .. start .. ':'
  local pane_keys = {base .. 'orders', base .. 'units', base .. 'returned', base .. 'revenue'}
  if ARGV[i + 1] ~= '0' then
    redis.call('HINCRBY', prefix .. 'pane_sale_checkouts', start, ARGV[i + 1])
  end
  local m = tonumber(ARGV[i + 2])
  i = i + 3
  for _ = 1, m do
    for f = 1, 4 do
      if ARGV[i + f] ~= '0' then redis.call('HINCRBY', pane_keys[f], ARGV[i], ARGV[i + f]) end
    end
    i = i + 5
  end
  redis.call('HINCRBY', prefix .. 'panes', start, 1)
  redis.call('ZADD', prefix .. 'pane_index', start, start)
end
if ARGV[i] ~= '0' then redis.call('HINCRBY', KEYS[1], 'sale_checkouts', ARGV[i]) end
for k = 1, tonumber(ARGV[i + 1]) do
  redis.call('APPEND', ref_keys[k], ARGV[i + 3])
  i = i + 2
end
if ARGV[9] ~= '' then
  for _, start in ipairs(expired) do
    local base = prefix .. 'pane:' .. start .. ':'
    redis.call('DEL', base .. 'orders', base .. 'units', base .. 'returned', base .. 'revenue')
    redis.call('HDEL', prefix .. 'panes', start)
    redis.call('HDEL', prefix .. 'pane_sale_checkouts', start)
    redis.call('ZREM', prefix .. 'pane_index', start)
  end
end
return 'OK'
)lua";

#undef SEGSTREAM_FENCE_LUA
#undef SEGSTREAM_TOUCH_LUA
#undef SEGSTREAM_COMMIT_HISTOGRAM_LUA

enum Script { kClaim = 0, kCommitCheckouts = 1, kCommitItemSales = 2 };
constexpr std::string_view kScripts[] = {kClaimScript, kCommitCheckoutsScript,
                                         kCommitItemSalesScript};

std::string OffsetArg(int64_t offset) { return offset < 0 ? "" : std::to_string(offset); }

// "hist commit_count 1 commit_sum_us <us> commit_le_<bound> 1 ..." for every bound the duration
// fits under; "" when there is no duration to record.
std::string CommitHistogramArg(int64_t micros) {
  if (micros < 0) return "";
  std::string arg = "hist commit_count 1 commit_sum_us ";
  arg += std::to_string(micros);
  for (double bound : kCommitBucketBounds) {
    if (static_cast<double>(micros) > bound * 1e6) continue;
    arg += ' ';
    arg += CommitBucketField(bound);
    arg += " 1";
  }
  return arg;
}

}  // namespace

std::string CommitBucketField(double bound) {
  char text[32];
  std::snprintf(text, sizeof text, "commit_le_%g", bound);
  return text;
}

Result<RedisValue> PartitionStateStore::RunScript(int which, const std::vector<std::string>& keys,
                                                  const std::vector<std::string>& args) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (sha_[which].empty()) {
      auto loaded = redis_->Command({"SCRIPT", "LOAD", std::string(kScripts[which])});
      if (!loaded.ok()) return loaded.status();
      if (loaded->is_error()) return Status::Internal("SCRIPT LOAD failed: " + loaded->str);
      sha_[which] = loaded->str;
    }
    std::vector<std::string> argv = {"EVALSHA", sha_[which], std::to_string(keys.size())};
    argv.insert(argv.end(), keys.begin(), keys.end());
    argv.insert(argv.end(), args.begin(), args.end());
    auto reply = redis_->Command(argv);
    if (reply.ok() && reply->is_error() && reply->str.rfind("NOSCRIPT", 0) == 0) {
      sha_[which].clear();  // Redis restarted without its script cache: load and retry once
      continue;
    }
    return reply;
  }
  return Status::Internal("script not loadable");
}

Result<PartitionClaim> PartitionStateStore::Claim(std::string_view topic, int32_t partition) {
  if (auto added = redis_->Command({"SADD", PartitionsSetKey(topic), std::to_string(partition)});
      !added.ok()) {
    return added.status();
  }
  auto reply = RunScript(kClaim, {PartitionKey(topic, partition, "meta")}, {});
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) return Status::Internal("claim failed: " + reply->str);
  if (reply->elements.size() != 2) return Status::Corruption("claim: unexpected reply shape");
  PartitionClaim claim;
  claim.generation = reply->elements[0].integer;
  const auto& fields = reply->elements[1].elements;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& name = fields[i].str;
    const std::string& value = fields[i + 1].str;
    if (name == "offset" || name == "max_event_ms") {
      auto v = fields[i + 1].AsInt();
      if (!v.ok()) return v.status();
      (name == "offset" ? claim.next_offset : claim.max_event_ms) = *v;
    } else if (name.rfind("hwm:", 0) == 0) {
      auto colon = value.find(':');
      if (colon == std::string::npos) return Status::Corruption("bad high-water mark " + value);
      HighWaterMark hwm;
      hwm.offset = std::stoll(value.substr(0, colon));
      hwm.seq = std::stoi(value.substr(colon + 1));
      claim.source_hwm[std::stoi(name.substr(4))] = hwm;
    }
  }
  return claim;
}

Status PartitionStateStore::CheckCommitReply(const Result<RedisValue>& reply,
                                             std::string_view what) {
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) {
    if (reply->str.rfind("FENCED", 0) == 0)
      return Status::Fenced(std::string(what) + ": " + reply->str);
    return Status::Internal(std::string(what) + ": " + reply->str);
  }
  return Status::Ok();
}

Status PartitionStateStore::CommitCheckouts(int32_t partition, const CheckoutsCommit& c) {
  std::vector<std::string> keys = {PartitionKey(kCheckoutsTopic, partition, "meta"),
                                   PartitionKey(kCheckoutsTopic, partition, "dlq_reasons"),
                                   CustomersKey(partition),
                                   SegmentStatsKey(partition),
                                   SegmentMetaKey(partition),
                                   BasketDigestKey(partition),
                                   DriftIndexKey(partition),
                                   BasketsKey(partition)};
  std::vector<std::string> args = {std::to_string(c.generation),
                                   OffsetArg(c.expected_offset),
                                   std::to_string(c.next_offset),
                                   std::to_string(c.events),
                                   std::to_string(c.dlq),
                                   std::to_string(c.item_sales),
                                   std::to_string(c.max_event_ms),
                                   std::to_string(c.high_watermark),
                                   std::to_string(c.dlq_reasons.size())};
  for (const auto& [reason, count] : c.dlq_reasons) {
    args.push_back(reason);
    args.push_back(std::to_string(count));
  }
  args.push_back(std::to_string(c.customers.size()));
  args.reserve(args.size() + 2 * c.customers.size() + 2 + 2 * c.segment_meta.size());
  for (const auto& [id, state] : c.customers) {
    args.push_back(id);
    args.push_back(state);
  }
  args.push_back(c.segment_stats);
  args.push_back(std::to_string(c.segment_meta.size()));
  for (const auto& [field, value] : c.segment_meta) {
    args.push_back(field);
    args.push_back(std::to_string(value));
  }
  args.push_back(c.basket_digest);
  args.push_back(std::to_string(c.drift_day_counts.size()));
  for (const auto& [day, count] : c.drift_day_counts) {
    args.push_back(std::to_string(day));
    args.push_back(std::to_string(count));
    auto purchases = c.drift_purchases.find(day);
    if (purchases == c.drift_purchases.end()) {
      args.push_back("0");
      continue;
    }
    args.push_back(std::to_string(purchases->second.size()));
    for (const auto& [field, vector] : purchases->second) {
      args.push_back(field);
      args.push_back(vector);
    }
  }
  args.push_back(std::to_string(c.drift_days_deleted.size()));
  for (int64_t day : c.drift_days_deleted) args.push_back(std::to_string(day));
  args.push_back(std::to_string(c.baskets.size()));
  args.reserve(args.size() + 2 * c.baskets.size() + 2);
  for (const auto& [offset, basket] : c.baskets) {
    args.push_back(std::to_string(offset));
    args.push_back(basket);
  }
  args.push_back(std::to_string(c.baskets_capped));
  args.push_back(CommitHistogramArg(c.previous_commit_us));  // last: the script reads ARGV[#ARGV]
  return CheckCommitReply(RunScript(kCommitCheckouts, keys, args), "commit checkouts");
}

Status PartitionStateStore::CommitItemSales(int32_t partition, const ItemSalesCommit& c) {
  for (const auto& [start, count] : c.pane_sale_checkouts) {
    if (!c.panes.count(start)) {
      return Status::InvalidArgument("pane_sale_checkouts names pane " + std::to_string(start) +
                                     ", which is not in panes");
    }
  }
  std::vector<std::string> keys;
  for (const char* suffix : {"meta", "orders", "units", "returned", "revenue", "desc"}) {
    keys.push_back(PartitionKey(kItemSalesTopic, partition, suffix));
  }
  std::vector<std::string> args = {
      std::to_string(c.generation),
      OffsetArg(c.expected_offset),
      std::to_string(c.next_offset),
      std::to_string(c.high_watermark),
      std::to_string(c.applied),
      std::to_string(c.duplicates),
      std::to_string(c.max_event_ms),
      std::to_string(c.late_events),
      c.retention_cutoff == INT64_MIN ? "" : std::to_string(c.retention_cutoff),
      std::to_string(c.source_hwm.size())};
  for (const auto& [source, hwm] : c.source_hwm) {
    args.push_back(std::to_string(source));
    args.push_back(std::to_string(hwm.offset));
    args.push_back(std::to_string(hwm.seq));
  }
  // sku, orders, units, returned, revenue: the layout the script reads for `all` and for panes.
  auto push_counters = [&args](const std::string& sku, const ItemDelta& d) {
    args.push_back(sku);
    args.push_back(std::to_string(d.orders));
    args.push_back(std::to_string(d.units));
    args.push_back(std::to_string(d.returned_units));
    args.push_back(std::to_string(d.revenue_micros));
  };
  args.push_back(std::to_string(c.items.size()));
  args.reserve(args.size() + 6 * c.items.size());
  for (const auto& [sku, d] : c.items) {
    push_counters(sku, d);
    args.push_back(d.description);
  }
  args.push_back(std::to_string(c.panes.size()));
  for (const auto& [start, items] : c.panes) {
    args.push_back(std::to_string(start));
    auto sales = c.pane_sale_checkouts.find(start);
    args.push_back(std::to_string(sales == c.pane_sale_checkouts.end() ? 0 : sales->second));
    args.push_back(std::to_string(items.size()));
    for (const auto& [sku, d] : items) push_counters(sku, d);
  }
  args.push_back(std::to_string(c.sale_checkouts));
  args.push_back(std::to_string(c.basket_refs.size()));
  args.reserve(args.size() + 2 * c.basket_refs.size() + 1);
  for (const auto& [sku, refs] : c.basket_refs) {
    args.push_back(sku);
    args.push_back(refs);
  }
  args.push_back(CommitHistogramArg(c.previous_commit_us));  // last: the script reads ARGV[#ARGV]
  return CheckCommitReply(RunScript(kCommitItemSales, keys, args), "commit item-sales");
}

}  // namespace segstream::storage
