#include "storage/snapshot_reader.h"

#include <algorithm>
#include <unordered_map>

#include "storage/keys.h"
#include "storage/partition_state.h"

namespace segstream::storage {

namespace {

// HGETALL reply → field map; integers parsed where asked.
std::unordered_map<std::string, std::string> ToMap(const RedisValue& v) {
  std::unordered_map<std::string, std::string> m;
  for (size_t i = 0; i + 1 < v.elements.size(); i += 2)
    m[v.elements[i].str] = v.elements[i + 1].str;
  return m;
}

int64_t IntField(const std::unordered_map<std::string, std::string>& m, const std::string& f,
                 int64_t fallback = 0) {
  auto it = m.find(f);
  if (it == m.end()) return fallback;
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    return fallback;
  }
}

}  // namespace

Result<std::vector<int32_t>> SnapshotReader::Partitions(std::string_view topic) {
  auto reply = redis_->Command({"SMEMBERS", PartitionsSetKey(topic)});
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) return Status::Unavailable("SMEMBERS: " + reply->str);
  std::vector<int32_t> parts;
  for (const auto& e : reply->elements) {
    auto p = e.AsInt();
    if (!p.ok()) return p.status();
    parts.push_back(static_cast<int32_t>(*p));
  }
  std::sort(parts.begin(), parts.end());
  return parts;
}

Result<PipelineStatus> SnapshotReader::ReadStatus() {
  PipelineStatus status;
  std::vector<std::vector<std::string>> commands;
  std::vector<std::pair<std::string, int32_t>> order;
  for (std::string_view topic : {kCheckoutsTopic, kItemSalesTopic}) {
    auto parts = Partitions(topic);
    if (!parts.ok()) return parts.status();
    for (int32_t p : *parts) {
      commands.push_back({"HGETALL", PartitionKey(topic, p, "meta")});
      order.emplace_back(std::string(topic), p);
      if (topic == kCheckoutsTopic) {
        commands.push_back({"HGETALL", PartitionKey(topic, p, "dlq_reasons")});
        order.emplace_back("dlq_reasons", p);
      }
    }
  }
  commands.push_back({"HGETALL", ReplayStatusKey()});
  auto replies = redis_->Pipeline(commands);
  if (!replies.ok()) return replies.status();
  bool any_partition_events = false;
  for (size_t i = 0; i < order.size(); ++i) {
    auto m = ToMap((*replies)[i]);
    const auto& [topic, p] = order[i];
    if (topic == "dlq_reasons") {
      for (const auto& entry : m) status.dlq_reasons[entry.first] += IntField(m, entry.first);
      continue;
    }
    PartitionProgress progress{IntField(m, "offset", -1), IntField(m, "high_watermark", -1)};
    status.partitions[topic + ":" + std::to_string(p)] = progress;
    if (const int64_t commits = IntField(m, "commit_count"); commits > 0) {
      CommitHistogram& h = status.commit_durations[topic];
      h.cumulative.resize(std::size(kCommitBucketBounds));
      for (size_t b = 0; b < h.cumulative.size(); ++b) {
        h.cumulative[b] += IntField(m, CommitBucketField(kCommitBucketBounds[b]));
      }
      h.count += commits;
      h.sum_us += IntField(m, "commit_sum_us");
    }
    if (topic == kItemSalesTopic) {
      status.item_sales_applied += IntField(m, "applied");
      status.item_sales_duplicates += IntField(m, "duplicates");
      status.late_events += IntField(m, "late");
      status.sale_checkouts += IntField(m, "sale_checkouts");
    }
    if (topic == kCheckoutsTopic) {
      status.events_processed += IntField(m, "events");
      status.dlq_events += IntField(m, "dlq");
      status.item_sales_produced += IntField(m, "item_sales");
      status.baskets_stored += IntField(m, "baskets_stored");
      status.baskets_capped += IntField(m, "baskets_capped");
      int64_t max_ms = IntField(m, "max_event_ms");
      status.max_event_ms = std::max(status.max_event_ms, max_ms);
      if (max_ms > 0) {
        status.min_partition_max_event_ms =
            any_partition_events ? std::min(status.min_partition_max_event_ms, max_ms) : max_ms;
        any_partition_events = true;
      }
    }
  }
  auto replay = ToMap(replies->back());
  if (!replay.empty()) {
    status.replay_known = true;
    status.replay_done = IntField(replay, "done") != 0;
    status.replay_events = IntField(replay, "events");
    status.replay_rows_skipped = IntField(replay, "rows_skipped");
  }
  return status;
}

namespace {

// Folds HGETALL replies of (orders, units, returned, revenue[, desc]) hashes into items.
Status FoldCounters(const std::vector<RedisValue>& replies, size_t first, size_t fields,
                    int32_t partition, std::vector<ItemCounts>* items,
                    std::unordered_map<std::string, size_t>* index) {
  for (size_t f = 0; f < fields; ++f) {
    const auto& elems = replies[first + f].elements;
    for (size_t i = 0; i + 1 < elems.size(); i += 2) {
      const std::string& sku = elems[i].str;
      auto [it, inserted] = index->try_emplace(sku, items->size());
      if (inserted) {
        items->emplace_back();
        items->back().sku = sku;
        items->back().partition = partition;
      }
      ItemCounts& item = (*items)[it->second];
      if (f == 4) {
        item.description = elems[i + 1].str;
        continue;
      }
      auto v = elems[i + 1].AsInt();
      if (!v.ok()) return v.status();
      int64_t* target[] = {&item.orders, &item.units, &item.returned_units, &item.revenue_micros};
      *target[f] += *v;
    }
  }
  return Status::Ok();
}

constexpr const char* kCounterSuffixes[] = {"orders", "units", "returned", "revenue", "desc"};

}  // namespace

Result<std::vector<ItemCounts>> SnapshotReader::ReadItems() {
  auto parts = Partitions(kItemSalesTopic);
  if (!parts.ok()) return parts.status();
  std::vector<std::vector<std::string>> commands;
  for (int32_t p : *parts) {
    for (const char* suffix : kCounterSuffixes) {
      commands.push_back({"HGETALL", PartitionKey(kItemSalesTopic, p, suffix)});
    }
  }
  auto replies = redis_->Pipeline(commands);
  if (!replies.ok()) return replies.status();
  std::vector<ItemCounts> items;
  std::unordered_map<std::string, size_t> index;
  for (size_t r = 0; r < replies->size(); r += 5) {
    if (Status s = FoldCounters(*replies, r, 5, (*parts)[r / 5], &items, &index); !s.ok()) {
      return s;
    }
  }
  return items;
}

Result<std::map<int64_t, int64_t>> SnapshotReader::ReadPaneVersions(int32_t partition) {
  auto reply = redis_->Command({"HGETALL", PartitionKey(kItemSalesTopic, partition, "panes")});
  if (!reply.ok()) return reply.status();
  std::map<int64_t, int64_t> versions;
  const auto& elems = reply->elements;
  for (size_t i = 0; i + 1 < elems.size(); i += 2) {
    auto start = elems[i].AsInt();
    auto version = elems[i + 1].AsInt();
    if (!start.ok() || !version.ok()) return Status::Corruption("bad pane index entry");
    versions[*start] = *version;
  }
  return versions;
}

Result<std::map<int64_t, std::vector<ItemCounts>>> SnapshotReader::ReadPanes(
    int32_t partition, const std::vector<int64_t>& starts) {
  std::vector<std::vector<std::string>> commands;
  for (int64_t start : starts) {
    const std::string base = "pane:" + std::to_string(start) + ":";
    for (int f = 0; f < 4; ++f) {
      commands.push_back(
          {"HGETALL", PartitionKey(kItemSalesTopic, partition, base + kCounterSuffixes[f])});
    }
  }
  auto replies = redis_->Pipeline(commands);
  if (!replies.ok()) return replies.status();
  std::map<int64_t, std::vector<ItemCounts>> panes;
  for (size_t k = 0; k < starts.size(); ++k) {
    std::vector<ItemCounts>& items = panes[starts[k]];
    std::unordered_map<std::string, size_t> index;
    if (Status s = FoldCounters(*replies, 4 * k, 4, partition, &items, &index); !s.ok()) return s;
  }
  return panes;
}

Result<std::map<int64_t, int64_t>> SnapshotReader::ReadPaneSaleCheckouts(
    int32_t partition, const std::vector<int64_t>& starts) {
  std::map<int64_t, int64_t> out;
  if (starts.empty()) return out;
  std::vector<std::string> cmd = {"HMGET", PaneSaleCheckoutsKey(partition)};
  for (int64_t start : starts) cmd.push_back(std::to_string(start));
  auto reply = redis_->Command(cmd);
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) return Status::Unavailable("HMGET pane_sale_checkouts: " + reply->str);
  if (reply->elements.size() != starts.size()) {
    return Status::Corruption("HMGET pane_sale_checkouts: unexpected reply shape");
  }
  for (size_t i = 0; i < starts.size(); ++i) {
    auto v = reply->elements[i].AsInt();
    if (!v.ok()) return v.status();
    out[starts[i]] = *v;
  }
  return out;
}

}  // namespace segstream::storage
