#include "storage/model_store.h"

namespace segstream::storage {

namespace {

// KEYS: lease. ARGV: owner, ttl ms. Takes a free lease or renews our own.
constexpr std::string_view kLeaseScript = R"lua(
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
)lua";

// KEYS: model, version. ARGV: expected version, new version, encoded model.
constexpr std::string_view kPublishScript = R"lua(
local current = redis.call('GET', KEYS[2]) or '0'
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[3])
redis.call('SET', KEYS[2], ARGV[2])
return 1
)lua";

Result<bool> EvalFlag(RedisConnection* redis, std::string_view script,
                      std::initializer_list<std::string> keys_and_args, int num_keys) {
  std::vector<std::string> argv = {"EVAL", std::string(script), std::to_string(num_keys)};
  argv.insert(argv.end(), keys_and_args.begin(), keys_and_args.end());
  auto reply = redis->Command(argv);
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) return Status::Unavailable("model store: " + reply->str);
  return reply->integer == 1;
}

}  // namespace

// The same hash tag as ModelKey(): one Cluster slot, so the compare-and-set stays atomic.
std::string ModelVersionKey() { return "{model}:version"; }

Result<std::optional<std::string>> ModelStore::Read() {
  auto reply = redis_->Command({"GET", ModelKey()});
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) return Status::Unavailable("GET model: " + reply->str);
  if (reply->is_nil()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(reply->str));
}

Result<bool> ModelStore::AcquireLease(std::string_view owner, int64_t ttl_ms) {
  return EvalFlag(redis_, kLeaseScript,
                  {ModelLeaseKey(), std::string(owner), std::to_string(ttl_ms)}, 1);
}

Result<bool> ModelStore::Publish(int64_t expected_version, int64_t version,
                                 std::string_view encoded) {
  return EvalFlag(redis_, kPublishScript,
                  {ModelKey(), ModelVersionKey(), std::to_string(expected_version),
                   std::to_string(version), std::string(encoded)},
                  2);
}

}  // namespace segstream::storage
