#include "storage/together_reader.h"

#include <map>

#include "storage/keys.h"
#include "stream/together.h"

namespace segstream::storage {

Result<SkuBaskets> ReadSkuBaskets(RedisConnection* redis, int32_t item_partition,
                                  std::string_view sku, int64_t max_refs) {
  SkuBaskets out;
  if (max_refs <= 0) return out;
  const int64_t last_byte = max_refs * static_cast<int64_t>(stream::kBasketRefBytes) - 1;
  auto reply = redis->Command(
      {"GETRANGE", BasketRefsKey(item_partition, sku), "0", std::to_string(last_byte)});
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) return Status::Unavailable("GETRANGE basket refs: " + reply->str);
  std::vector<stream::BasketRef> refs;
  if (!stream::DecodeBasketRefs(reply->str, &refs)) {
    return Status::Corruption("basket refs of sku '" + std::string(sku) + "' on item-sales:" +
                              std::to_string(item_partition) + " do not decode");
  }
  out.refs = static_cast<int64_t>(refs.size());
  out.baskets.resize(refs.size());
  for (size_t i = 0; i < refs.size(); ++i) out.baskets[i].late = refs[i].late;
  if (refs.empty()) return out;

  // One HMGET per stage-1 partition; `where` maps each partition's reply back to ref positions.
  std::map<int32_t, std::vector<size_t>> where;
  for (size_t i = 0; i < refs.size(); ++i) where[refs[i].partition].push_back(i);
  std::vector<std::vector<std::string>> commands;
  commands.reserve(where.size());
  for (const auto& [partition, positions] : where) {
    std::vector<std::string> cmd = {"HMGET", BasketsKey(partition)};
    cmd.reserve(2 + positions.size());
    for (size_t i : positions) cmd.push_back(std::to_string(refs[i].offset));
    commands.push_back(std::move(cmd));
  }
  auto replies = redis->Pipeline(commands);
  if (!replies.ok()) return replies.status();
  size_t r = 0;
  for (const auto& [partition, positions] : where) {
    RedisValue& values = (*replies)[r++];
    if (values.is_error()) return Status::Unavailable("HMGET baskets: " + values.str);
    if (values.elements.size() != positions.size()) {
      return Status::Corruption("HMGET baskets: unexpected reply shape");
    }
    for (size_t k = 0; k < positions.size(); ++k) {
      RedisValue& v = values.elements[k];
      if (!v.is_nil()) out.baskets[positions[k]].encoded = std::move(v.str);
    }
  }
  return out;
}

}  // namespace segstream::storage
