// A small synchronous Redis client over hiredis: binary-safe argv commands, pipelines, reconnect.
// Every call returns Result/Status; a broken connection reports kUnavailable so callers can back
// off and reconnect (DESIGN §5: Redis is the source of truth, so outages must be survivable).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "stream/status.h"

struct redisContext;

namespace segstream::storage {

class ClusterRouter;

// A decoded Redis reply (RESP2): a value type so callers never touch hiredis memory.
struct RedisValue {
  enum class Type { kNil, kInteger, kString, kStatus, kError, kArray };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;  // kString, kStatus and kError
  std::vector<RedisValue> elements;

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
  // Integer replies, and strings holding an integer (as HGET returns); 0 for nil.
  Result<int64_t> AsInt() const;
};

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  // Connect and per-command timeout: long enough for a big pipeline, short enough to notice a dead
  // server before the Kafka session times out.
  std::chrono::milliseconds timeout{5000};
  // Redis Cluster seed nodes ("host:port"); non-empty means cluster mode: commands are routed by
  // key slot (storage/redis_cluster.h) and host/port above are unused.
  std::vector<std::string> cluster_seeds;
  // Set by the cluster router on its per-node connections: a MOVED reply is then a value for it
  // to follow. Otherwise MOVED means --redis points at a cluster node, a configuration error.
  bool cluster_node = false;
};

class RedisConnection {
 public:
  static Result<RedisConnection> Connect(const RedisOptions& options);

  RedisConnection(RedisConnection&&) noexcept;
  RedisConnection& operator=(RedisConnection&&) noexcept;
  ~RedisConnection();

  // One command; a Redis error reply is returned as a value of type kError, not as a Status, so
  // scripts can return domain errors (e.g. FENCED). Status is for transport failures only.
  Result<RedisValue> Command(const std::vector<std::string>& argv);
  // Sends every command, then reads every reply: one round trip.
  Result<std::vector<RedisValue>> Pipeline(const std::vector<std::vector<std::string>>& commands);

  // Drops the socket and connects again (after kUnavailable); in cluster mode, reloads the slot
  // table.
  Status Reconnect();
  const RedisOptions& options() const { return options_; }
  std::string address() const;

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const;
  };
  RedisConnection(RedisOptions options, std::unique_ptr<redisContext, ContextDeleter> ctx,
                  std::unique_ptr<ClusterRouter> cluster);
  Status Append(const std::vector<std::string>& argv);
  Result<RedisValue> ReadReply();

  RedisOptions options_;
  std::unique_ptr<redisContext, ContextDeleter> ctx_;  // single server
  std::unique_ptr<ClusterRouter> cluster_;             // cluster mode
};

// Parses "host:port" into RedisOptions.
Result<RedisOptions> ParseRedisAddress(std::string_view address);
// Parses "host:port,host:port,..." (Redis Cluster seed nodes) into RedisOptions in cluster mode.
Result<RedisOptions> ParseRedisClusterSeeds(std::string_view seeds);

}  // namespace segstream::storage
