#include "storage/segment_reader.h"

#include <charconv>
#include <unordered_set>

#include "storage/keys.h"

namespace segstream::storage {

namespace {

// A Redis error reply (e.g. WRONGTYPE: something else lives under the key) is bad stored state,
// not a transport failure.
Status CheckReply(const RedisValue& v, const std::string& key) {
  if (v.is_error()) return Status::Corruption("redis key " + key + ": " + v.str);
  return Status::Ok();
}

Result<int64_t> ParseInt(std::string_view text, const std::string& what) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) {
    return Status::Corruption(what + ": not an integer: '" + std::string(text.substr(0, 40)) + "'");
  }
  return value;
}

Result<SegmentMeta> ParseMeta(const RedisValue& v, const std::string& key) {
  if (Status s = CheckReply(v, key); !s.ok()) return s;
  SegmentMeta meta;
  for (size_t i = 0; i + 1 < v.elements.size(); i += 2) {
    const std::string& field = v.elements[i].str;
    int64_t* target = field == "scored_version" ? &meta.scored_version
                      : field == "segmented"    ? &meta.segmented
                      : field == "customers"    ? &meta.customers
                                                : nullptr;
    if (target == nullptr) continue;  // fields added later are not ours to judge
    auto value = ParseInt(v.elements[i + 1].str, key + " " + field);
    if (!value.ok()) return value.status();
    *target = *value;
  }
  return meta;
}

Result<StoredCustomer> DecodeStored(std::string id, int32_t partition, std::string_view text) {
  auto state = stream::DecodeCustomer(text);
  if (!state.ok()) {
    return Status::Corruption("customer '" + id + "' in " + CustomersKey(partition) + ": " +
                              state.status().message());
  }
  return StoredCustomer{std::move(id), partition, std::move(*state)};
}

}  // namespace

Result<std::optional<stream::SegmentModel>> SegmentReader::ReadModel() {
  const std::string key = ModelKey();
  auto reply = redis_->Command({"GET", key});
  if (!reply.ok()) return reply.status();
  if (Status s = CheckReply(*reply, key); !s.ok()) return s;
  if (reply->is_nil()) return std::optional<stream::SegmentModel>();
  auto model = stream::SegmentModel::Decode(reply->str);
  if (!model.ok()) return Status::Corruption(key + ": " + model.status().message());
  return std::optional<stream::SegmentModel>(std::move(*model));
}

Result<std::vector<PartitionSegments>> SegmentReader::ReadPartitionStats(
    const std::vector<int32_t>& partitions, int k) {
  std::vector<std::vector<std::string>> commands;
  for (int32_t p : partitions) {
    commands.push_back({"GET", SegmentStatsKey(p)});
    commands.push_back({"HGETALL", SegmentMetaKey(p)});
  }
  if (commands.empty()) return std::vector<PartitionSegments>();
  auto replies = redis_->Pipeline(commands);
  if (!replies.ok()) return replies.status();
  std::vector<PartitionSegments> out;
  for (size_t i = 0; i < partitions.size(); ++i) {
    PartitionSegments part;
    part.partition = partitions[i];
    const RedisValue& stats = (*replies)[2 * i];
    const std::string stats_key = SegmentStatsKey(part.partition);
    if (Status s = CheckReply(stats, stats_key); !s.ok()) return s;
    if (!stats.is_nil() && k > 0) {
      auto decoded = stream::DecodeStats(stats.str, k);
      if (!decoded.ok()) {
        return Status::Corruption(stats_key + " (k=" + std::to_string(k) +
                                  "): " + decoded.status().message());
      }
      part.stats = std::move(*decoded);
    }
    auto meta = ParseMeta((*replies)[2 * i + 1], SegmentMetaKey(part.partition));
    if (!meta.ok()) return meta.status();
    part.meta = *meta;
    out.push_back(std::move(part));
  }
  return out;
}

Result<std::optional<stream::TDigest>> SegmentReader::ReadBasketDigest(int32_t partition) {
  const std::string key = BasketDigestKey(partition);
  auto reply = redis_->Command({"GET", key});
  if (!reply.ok()) return reply.status();
  if (Status s = CheckReply(*reply, key); !s.ok()) return s;
  if (reply->is_nil() || reply->str.empty()) return std::optional<stream::TDigest>();
  auto digest = stream::TDigest::Deserialize(reply->str);
  if (!digest.ok()) return Status::Corruption(key + ": " + digest.status().message());
  return std::optional<stream::TDigest>(std::move(*digest));
}

namespace {

// An HGETALL reply of day start -> count.
Result<std::map<int64_t, int64_t>> ParseDriftIndex(const RedisValue& v, const std::string& key) {
  if (Status s = CheckReply(v, key); !s.ok()) return s;
  std::map<int64_t, int64_t> index;
  for (size_t f = 0; f + 1 < v.elements.size(); f += 2) {
    auto day = ParseInt(v.elements[f].str, key + " field");
    if (!day.ok()) return day.status();
    auto count = ParseInt(v.elements[f + 1].str, key + " " + v.elements[f].str);
    if (!count.ok()) return count.status();
    index[*day] = *count;
  }
  return index;
}

}  // namespace

Result<std::map<int64_t, int64_t>> SegmentReader::ReadDriftIndex(int32_t partition) {
  const std::string key = DriftIndexKey(partition);
  auto reply = redis_->Command({"HGETALL", key});
  if (!reply.ok()) return reply.status();
  return ParseDriftIndex(*reply, key);
}

Result<std::map<int64_t, std::vector<stream::DriftPurchase>>> SegmentReader::ReadDriftPurchases(
    const std::vector<int32_t>& partitions) {
  std::map<int64_t, std::vector<stream::DriftPurchase>> out;
  if (partitions.empty()) return out;
  std::vector<std::vector<std::string>> commands;
  for (int32_t p : partitions) commands.push_back({"HGETALL", DriftIndexKey(p)});
  auto indexes = redis_->Pipeline(commands);
  if (!indexes.ok()) return indexes.status();
  commands.clear();
  std::vector<std::pair<int64_t, std::string>> day_keys;
  for (size_t i = 0; i < partitions.size(); ++i) {
    auto index = ParseDriftIndex((*indexes)[i], DriftIndexKey(partitions[i]));
    if (!index.ok()) return index.status();
    for (const auto& [day, count] : *index) {
      day_keys.emplace_back(day, DriftDayKey(partitions[i], day));
      commands.push_back({"HGETALL", day_keys.back().second});
    }
  }
  if (commands.empty()) return out;
  auto days = redis_->Pipeline(commands);
  if (!days.ok()) return days.status();
  for (size_t i = 0; i < day_keys.size(); ++i) {
    const auto& [day, key] = day_keys[i];
    const RedisValue& v = (*days)[i];
    if (Status s = CheckReply(v, key); !s.ok()) return s;
    std::vector<stream::DriftPurchase>& vectors = out[day];
    for (size_t f = 1; f < v.elements.size(); f += 2) {
      auto y = stream::DecodeDriftPurchase(v.elements[f].str);
      if (!y.ok()) return Status::Corruption(key + ": " + y.status().message());
      vectors.push_back(*y);
    }
  }
  return out;
}

Result<std::optional<StoredCustomer>> SegmentReader::ReadCustomer(
    std::string_view customer_id, const std::vector<int32_t>& partitions) {
  std::vector<std::vector<std::string>> commands;
  for (int32_t p : partitions)
    commands.push_back({"HGET", CustomersKey(p), std::string(customer_id)});
  if (commands.empty()) return std::optional<StoredCustomer>();
  auto replies = redis_->Pipeline(commands);
  if (!replies.ok()) return replies.status();
  std::optional<StoredCustomer> found;
  for (size_t i = 0; i < partitions.size(); ++i) {
    const RedisValue& v = (*replies)[i];
    if (Status s = CheckReply(v, CustomersKey(partitions[i])); !s.ok()) return s;
    if (v.is_nil()) continue;
    auto customer = DecodeStored(std::string(customer_id), partitions[i], v.str);
    if (!customer.ok()) return customer.status();
    if (!found || customer->state.last_sale_ms > found->state.last_sale_ms) {
      found = std::move(*customer);
    }
  }
  return found;
}

Result<CustomerPage> SegmentReader::ScanCustomersPage(int32_t partition, const std::string& cursor,
                                                      int64_t count) {
  const std::string key = CustomersKey(partition);
  auto reply =
      redis_->Command({"HSCAN", key, cursor, "COUNT", std::to_string(count < 1 ? 1 : count)});
  if (!reply.ok()) return reply.status();
  if (Status s = CheckReply(*reply, key); !s.ok()) return s;
  if (reply->elements.size() != 2 || reply->elements[1].type != RedisValue::Type::kArray) {
    return Status::Corruption("HSCAN " + key + ": unexpected reply shape");
  }
  CustomerPage page;
  page.next_cursor = reply->elements[0].str;
  const auto& entries = reply->elements[1].elements;
  page.customers.reserve(entries.size() / 2);
  for (size_t i = 0; i + 1 < entries.size(); i += 2) {
    auto customer = DecodeStored(entries[i].str, partition, entries[i + 1].str);
    if (!customer.ok()) return customer.status();
    page.customers.push_back(std::move(*customer));
  }
  return page;
}

Status SegmentReader::ScanCustomers(int32_t partition, const CustomerVisitor& visit,
                                    int64_t count) {
  std::unordered_set<std::string> seen;
  std::string cursor = "0";
  do {
    auto page = ScanCustomersPage(partition, cursor, count);
    if (!page.ok()) return page.status();
    for (const StoredCustomer& customer : page->customers) {
      if (!seen.insert(customer.customer_id).second) continue;
      if (Status s = visit(customer); !s.ok()) return s;
    }
    cursor = std::move(page->next_cursor);
  } while (cursor != "0");
  return Status::Ok();
}

}  // namespace segstream::storage
