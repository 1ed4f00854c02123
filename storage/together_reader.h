// Reads what "bought together" counts over (stream/together.h, storage/README.md key map): the
// basket refs of one sku and the baskets they name. Two round trips: one GETRANGE of the sku's
// refs on its item-sales partition, then one pipeline of HMGETs, one per stage-1 partition named
// (in Redis Cluster mode the pipeline is split per node; each HMGET stays in one slot).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/redis_client.h"
#include "stream/together.h"

namespace segstream::storage {

struct SkuBaskets {
  int64_t refs = 0;  // refs read (≤ max_refs)
  // One entry per ref, in ref order: the encoded basket, or nullopt where none is stored (a
  // checkout with one sale sku or above the cap, or one whose stage-1 commit has not landed yet),
  // and the ref's late flag.
  std::vector<stream::RefBasket> baskets;
};

// The baskets of the first `max_refs` refs of `sku` (stored on item-sales partition
// `item_partition`). Passing the snapshot's orders(sku) in window `all` as `max_refs` makes the
// answer consistent with that snapshot: refs are appended in the same atomic commit as the
// orders they count, one per order. Corruption for refs that do not decode.
Result<SkuBaskets> ReadSkuBaskets(RedisConnection* redis, int32_t item_partition,
                                  std::string_view sku, int64_t max_refs);

}  // namespace segstream::storage
