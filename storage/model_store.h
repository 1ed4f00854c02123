// The global segment model in Redis (`{model}:*`, storage/README.md): the encoded model, its
// version (compare-and-set on publish, so two publishers can never interleave) and the lease
// that picks the one worker which makes the initial model and the refreshes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/keys.h"
#include "storage/redis_client.h"

namespace segstream::storage {

// STRING: the version of ModelKey()'s model (the publish compare-and-set reads it).
std::string ModelVersionKey();

class ModelStore {
 public:
  explicit ModelStore(RedisConnection* redis) : redis_(redis) {}

  // The encoded model, or nullopt before the first one is published.
  Result<std::optional<std::string>> Read();
  // Takes or renews the lease for `owner`; false while another owner holds it.
  Result<bool> AcquireLease(std::string_view owner, int64_t ttl_ms);
  // Publishes `encoded` as `version` if the stored version is still `expected_version` (0 = no
  // model yet); false if someone else published first.
  Result<bool> Publish(int64_t expected_version, int64_t version, std::string_view encoded);

 private:
  RedisConnection* redis_;
};

}  // namespace segstream::storage
