#include "storage/redis_client.h"

#include <hiredis/hiredis.h>

#include <charconv>

#include "storage/redis_cluster.h"

namespace segstream::storage {

namespace {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

RedisValue Convert(const redisReply* r) {
  RedisValue v;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      v.type = RedisValue::Type::kInteger;
      v.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
      v.type = RedisValue::Type::kString;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      v.type = RedisValue::Type::kStatus;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      v.type = RedisValue::Type::kError;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      v.type = RedisValue::Type::kArray;
      v.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) v.elements.push_back(Convert(r->element[i]));
      break;
    default:
      v.type = RedisValue::Type::kNil;
  }
  return v;
}

timeval ToTimeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000),
                 static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

}  // namespace

Result<int64_t> RedisValue::AsInt() const {
  if (type == Type::kInteger) return integer;
  if (type == Type::kNil) return int64_t{0};
  if (type == Type::kString) {
    int64_t out = 0;
    auto [ptr, ec] = std::from_chars(str.data(), str.data() + str.size(), out);
    if (ec == std::errc() && ptr == str.data() + str.size()) return out;
  }
  return Status::Corruption("expected an integer reply, got '" + str + "'");
}

void RedisConnection::ContextDeleter::operator()(redisContext* c) const { redisFree(c); }

Result<RedisConnection> RedisConnection::Connect(const RedisOptions& options) {
  if (!options.cluster_seeds.empty()) {
    auto router = ClusterRouter::Connect(options);
    if (!router.ok()) return router.status();
    return RedisConnection(options, nullptr, std::move(*router));
  }
  timeval tv = ToTimeval(options.timeout);
  std::unique_ptr<redisContext, ContextDeleter> ctx(
      redisConnectWithTimeout(options.host.c_str(), options.port, tv));
  std::string where = options.host + ":" + std::to_string(options.port);
  if (!ctx) return Status::Unavailable("redis " + where + ": cannot allocate a connection");
  if (ctx->err) {
    return Status::Unavailable("redis " + where + ": " + ctx->errstr +
                               " (is redis-server running there?)");
  }
  if (redisSetTimeout(ctx.get(), tv) != REDIS_OK) {
    return Status::Unavailable("redis " + where + ": cannot set timeout");
  }
  return RedisConnection(options, std::move(ctx), nullptr);
}

RedisConnection::RedisConnection(RedisOptions options,
                                 std::unique_ptr<redisContext, ContextDeleter> ctx,
                                 std::unique_ptr<ClusterRouter> cluster)
    : options_(std::move(options)), ctx_(std::move(ctx)), cluster_(std::move(cluster)) {}

RedisConnection::RedisConnection(RedisConnection&&) noexcept = default;
RedisConnection& RedisConnection::operator=(RedisConnection&&) noexcept = default;
RedisConnection::~RedisConnection() = default;

std::string RedisConnection::address() const {
  if (!options_.cluster_seeds.empty()) {
    std::string seeds;
    for (const auto& seed : options_.cluster_seeds) seeds += (seeds.empty() ? "" : ",") + seed;
    return "cluster " + seeds;
  }
  return options_.host + ":" + std::to_string(options_.port);
}

Status RedisConnection::Reconnect() {
  if (cluster_) return cluster_->Refresh();
  auto fresh = Connect(options_);
  if (!fresh.ok()) return fresh.status();
  ctx_ = std::move(fresh->ctx_);
  return Status::Ok();
}

Status RedisConnection::Append(const std::vector<std::string>& argv) {
  if (!ctx_ || ctx_->err) return Status::Unavailable("redis " + address() + ": not connected");
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(argv.size()), ptrs.data(), lens.data()) !=
      REDIS_OK) {
    return Status::Unavailable("redis " + address() + ": " + ctx_->errstr);
  }
  return Status::Ok();
}

Result<RedisValue> RedisConnection::ReadReply() {
  void* raw = nullptr;
  if (redisGetReply(ctx_.get(), &raw) != REDIS_OK || raw == nullptr) {
    std::string why = ctx_->errstr[0] ? ctx_->errstr : "connection lost";
    // The stream is now out of step with its replies: force a reconnect before reuse.
    ctx_->err = ctx_->err ? ctx_->err : REDIS_ERR_EOF;
    return Status::Unavailable("redis " + address() + ": " + why);
  }
  ReplyPtr reply(static_cast<redisReply*>(raw));
  RedisValue value = Convert(reply.get());
  if (!options_.cluster_node && value.is_error() && value.str.rfind("MOVED ", 0) == 0) {
    // Only a Redis Cluster node redirects: every retry would be redirected again.
    return Status::InvalidArgument("redis " + address() + " is a Redis Cluster node (" + value.str +
                                   "): give it as --redis-cluster, not --redis");
  }
  return value;
}

Result<RedisValue> RedisConnection::Command(const std::vector<std::string>& argv) {
  if (cluster_) return cluster_->Command(argv);
  if (Status s = Append(argv); !s.ok()) return s;
  return ReadReply();
}

Result<std::vector<RedisValue>> RedisConnection::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  if (cluster_) return cluster_->Pipeline(commands);
  for (const auto& argv : commands) {
    if (Status s = Append(argv); !s.ok()) return s;
  }
  std::vector<RedisValue> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    auto r = ReadReply();
    if (!r.ok()) return r.status();
    replies.push_back(std::move(*r));
  }
  return replies;
}

Result<RedisOptions> ParseRedisAddress(std::string_view address) {
  auto colon = address.rfind(':');
  RedisOptions o;
  if (colon == std::string_view::npos || colon == 0) {
    return Status::InvalidArgument("redis address must be HOST:PORT, got '" + std::string(address) +
                                   "'");
  }
  o.host = std::string(address.substr(0, colon));
  auto port_text = address.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), o.port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || o.port <= 0 ||
      o.port > 65535) {
    return Status::InvalidArgument("bad port in redis address '" + std::string(address) + "'");
  }
  return o;
}

Result<RedisOptions> ParseRedisClusterSeeds(std::string_view seeds) {
  RedisOptions o;
  while (!seeds.empty()) {
    auto comma = seeds.find(',');
    std::string_view one = seeds.substr(0, comma);
    auto parsed = ParseRedisAddress(one);
    if (!parsed.ok()) {
      return Status::InvalidArgument("redis cluster seeds must be HOST:PORT[,HOST:PORT...]: " +
                                     parsed.status().message());
    }
    o.cluster_seeds.push_back(std::string(one));
    if (comma == std::string_view::npos) break;
    seeds.remove_prefix(comma + 1);
  }
  if (o.cluster_seeds.empty()) return Status::InvalidArgument("no redis cluster seed node given");
  o.host = o.cluster_seeds.front().substr(0, o.cluster_seeds.front().rfind(':'));
  return o;
}

}  // namespace segstream::storage
