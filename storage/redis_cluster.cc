#include "storage/redis_cluster.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <thread>

namespace segstream::storage {

namespace {

// CRC16/XMODEM (poly 0x1021, init 0), the checksum the Redis Cluster specification names for key
// slots; table built once at compile time.
constexpr std::array<uint16_t, 256> MakeCrc16Table() {
  std::array<uint16_t, 256> table{};
  for (int i = 0; i < 256; ++i) {
    uint16_t crc = static_cast<uint16_t>(i << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = static_cast<uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    table[i] = crc;
  }
  return table;
}
constexpr std::array<uint16_t, 256> kCrc16Table = MakeCrc16Table();

uint16_t Crc16(std::string_view bytes) {
  uint16_t crc = 0;
  for (unsigned char c : bytes) {
    crc = static_cast<uint16_t>((crc << 8) ^ kCrc16Table[((crc >> 8) ^ c) & 0xff]);
  }
  return crc;
}

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool StartsWith(const std::string& text, std::string_view prefix) {
  return text.rfind(prefix, 0) == 0;
}

// Commands that name no key: they go to any master.
bool IsKeyless(const std::string& command) {
  static const char* const kKeyless[] = {
      "PING",    "INFO",  "SCRIPT",  "CLUSTER", "DBSIZE",       "CONFIG",   "FLUSHALL",
      "FLUSHDB", "TIME",  "CLIENT",  "COMMAND", "ECHO",         "AUTH",     "HELLO",
      "ROLE",    "WAIT",  "SLOWLOG", "LATENCY", "MEMORY",       "LASTSAVE", "BGSAVE",
      "SAVE",    "DEBUG", "SELECT",  "ASKING",  "BGREWRITEAOF", "READONLY", "SHUTDOWN"};
  return std::find(std::begin(kKeyless), std::end(kKeyless), command) != std::end(kKeyless);
}

bool IsBroadcast(const std::string& command) {
  return command == "SCRIPT" || command == "FLUSHALL" || command == "FLUSHDB";
}

// A redirect or a transient refusal found in an error reply.
struct Redirect {
  enum class Kind { kNone, kMoved, kAsk, kRetry } kind = Kind::kNone;
  int slot = -1;
  std::string address;
};

Redirect ParseRedirect(const RedisValue& reply) {
  Redirect r;
  if (!reply.is_error()) return r;
  const std::string& e = reply.str;
  if (StartsWith(e, "MOVED ") || StartsWith(e, "ASK ")) {
    // "MOVED 3999 127.0.0.1:6381"
    auto first = e.find(' ');
    auto second = e.find(' ', first + 1);
    if (second == std::string::npos) return r;
    r.kind = e[0] == 'M' ? Redirect::Kind::kMoved : Redirect::Kind::kAsk;
    r.slot = std::atoi(e.c_str() + first + 1);
    r.address = e.substr(second + 1);
    if (!r.address.empty() && r.address.front() == ':') r.address = "127.0.0.1" + r.address;
    return r;
  }
  if (StartsWith(e, "TRYAGAIN") || StartsWith(e, "CLUSTERDOWN") ||
      e.find("non local key") != std::string::npos) {
    r.kind = Redirect::Kind::kRetry;
  }
  return r;
}

}  // namespace

int KeySlot(std::string_view key) {
  auto open = key.find('{');
  if (open != std::string_view::npos) {
    auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return Crc16(key) % kClusterSlots;
}

std::optional<std::string_view> RoutingKey(const std::vector<std::string>& argv) {
  if (argv.size() < 2) return std::nullopt;
  std::string command = Upper(argv[0]);
  if (IsKeyless(command)) return std::nullopt;
  if (command == "EVAL" || command == "EVALSHA" || command == "EVAL_RO" ||
      command == "EVALSHA_RO" || command == "FCALL" || command == "FCALL_RO") {
    if (argv.size() < 4 || argv[2] == "0") return std::nullopt;
    return argv[3];
  }
  return argv[1];
}

Result<std::unique_ptr<ClusterRouter>> ClusterRouter::Connect(const RedisOptions& options) {
  std::unique_ptr<ClusterRouter> router(new ClusterRouter(options));
  router->seeds_ = options.cluster_seeds;
  router->slot_owner_.assign(kClusterSlots, "");
  if (Status s = router->Refresh(); !s.ok()) return s;
  return router;
}

Result<RedisConnection*> ClusterRouter::Node(const std::string& address) {
  auto found = nodes_.find(address);
  if (found != nodes_.end()) return &found->second;
  auto parsed = ParseRedisAddress(address);
  if (!parsed.ok()) return parsed.status();
  parsed->timeout = options_.timeout;
  parsed->cluster_node = true;
  auto conn = RedisConnection::Connect(*parsed);
  if (!conn.ok()) return conn.status();
  return &nodes_.emplace(address, std::move(*conn)).first->second;
}

Status ClusterRouter::LoadSlotsFrom(const std::string& address) {
  auto node = Node(address);
  if (!node.ok()) return node.status();
  auto reply = (*node)->Command({"CLUSTER", "SLOTS"});
  if (!reply.ok()) {
    nodes_.erase(address);
    return reply.status();
  }
  if (reply->is_error()) {
    return Status::Unavailable("redis cluster " + address + ": CLUSTER SLOTS: " + reply->str +
                               " (is cluster mode enabled on that server?)");
  }
  // [[start, end, [ip, port, id, ...], replica...], ...]; an empty ip means "the node you asked".
  std::vector<std::string> owner(kClusterSlots);
  int covered = 0;
  for (const RedisValue& range : reply->elements) {
    if (range.elements.size() < 3 || range.elements[2].elements.size() < 2) continue;
    auto start = range.elements[0].AsInt();
    auto end = range.elements[1].AsInt();
    auto port = range.elements[2].elements[1].AsInt();
    if (!start.ok() || !end.ok() || !port.ok()) continue;
    std::string host = range.elements[2].elements[0].str;
    if (host.empty()) host = address.substr(0, address.rfind(':'));
    std::string master = host + ":" + std::to_string(*port);
    for (int64_t s = std::max<int64_t>(0, *start); s <= *end && s < kClusterSlots; ++s) {
      owner[s] = master;
      ++covered;
    }
  }
  if (covered == 0) return Status::Unavailable("redis cluster " + address + ": no slot assigned");
  slot_owner_ = std::move(owner);
  return Status::Ok();
}

Status ClusterRouter::Refresh() {
  // Known masters first (they reflect the latest topology), then the seeds.
  std::vector<std::string> candidates;
  for (const auto& address : slot_owner_) {
    if (!address.empty() &&
        std::find(candidates.begin(), candidates.end(), address) == candidates.end()) {
      candidates.push_back(address);
    }
  }
  for (const auto& seed : seeds_) {
    if (std::find(candidates.begin(), candidates.end(), seed) == candidates.end()) {
      candidates.push_back(seed);
    }
  }
  Status last = Status::Unavailable("redis cluster: no seed node given");
  for (const auto& address : candidates) {
    last = LoadSlotsFrom(address);
    if (last.ok()) return last;
    nodes_.erase(address);
  }
  return last;
}

std::string ClusterRouter::NodeForSlot(int slot) const {
  return slot >= 0 && slot < kClusterSlots ? slot_owner_[slot] : "";
}

std::string ClusterRouter::AnyNode() const {
  for (const auto& address : slot_owner_) {
    if (!address.empty()) return address;
  }
  return seeds_.empty() ? "" : seeds_.front();
}

Result<RedisValue> ClusterRouter::Broadcast(const std::vector<std::string>& argv) {
  std::vector<std::string> masters;
  for (const auto& address : slot_owner_) {
    if (!address.empty() && std::find(masters.begin(), masters.end(), address) == masters.end()) {
      masters.push_back(address);
    }
  }
  std::optional<RedisValue> first;
  for (const auto& address : masters) {
    auto node = Node(address);
    if (!node.ok()) return node.status();
    auto reply = (*node)->Command(argv);
    if (!reply.ok()) {
      nodes_.erase(address);
      return reply.status();
    }
    if (!first || (reply->is_error() && !first->is_error())) first = std::move(*reply);
  }
  if (!first) return Status::Unavailable("redis cluster: no master known");
  return std::move(*first);
}

Result<RedisValue> ClusterRouter::Command(const std::vector<std::string>& argv) {
  if (argv.empty()) return Status::InvalidArgument("empty redis command");
  if (IsBroadcast(Upper(argv[0]))) return Broadcast(argv);
  auto key = RoutingKey(argv);
  const int slot = key ? KeySlot(*key) : -1;
  std::string address = slot >= 0 ? slot_owner_[slot] : AnyNode();
  bool asking = false;
  auto backoff = std::chrono::milliseconds(2);
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  std::string last_refusal;
  for (int redirects = 0; std::chrono::steady_clock::now() < deadline;) {
    if (address.empty()) {
      if (Status s = Refresh(); !s.ok()) return s;
      address = slot >= 0 ? slot_owner_[slot] : AnyNode();
      if (address.empty())
        return Status::Unavailable("redis cluster: slot " + std::to_string(slot) +
                                   " has no master");
    }
    auto node = Node(address);
    if (!node.ok()) return node.status();  // the caller backs off and Reconnect()s (Refresh)
    Result<RedisValue> reply = Status::Internal("unreachable");
    if (asking) {
      auto both = (*node)->Pipeline({{"ASKING"}, argv});
      reply = both.ok() ? Result<RedisValue>(std::move((*both)[1])) : both.status();
    } else {
      reply = (*node)->Command(argv);
    }
    if (!reply.ok()) {
      nodes_.erase(address);
      return Status::Unavailable("redis cluster node " + address + ": " + reply.status().message());
    }
    Redirect redirect = ParseRedirect(*reply);
    if (redirect.kind == Redirect::Kind::kNone) return reply;
    if (++redirects > 16 && redirect.kind != Redirect::Kind::kRetry) {
      return Status::Unavailable("redis cluster: too many redirects for slot " +
                                 std::to_string(slot) + " (last: " + reply->str + ")");
    }
    asking = false;
    switch (redirect.kind) {
      case Redirect::Kind::kMoved:
        // The slot changed owner for good: most likely many did, so reload the whole table, but
        // trust the redirect for this slot (the node we ask may not know yet).
        if (Status s = Refresh(); !s.ok()) spdlog::debug("cluster refresh: {}", s.message());
        if (redirect.slot >= 0 && redirect.slot < kClusterSlots) {
          slot_owner_[redirect.slot] = redirect.address;
        }
        address = redirect.address;
        break;
      case Redirect::Kind::kAsk:
        address = redirect.address;
        asking = true;
        break;
      default:
        // A migration in progress split the keys, or the cluster is settling: wait and retry at
        // the owner the table names now.
        last_refusal = reply->str;
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(100));
        if (StartsWith(last_refusal, "CLUSTERDOWN")) (void)Refresh();
        address = slot >= 0 ? slot_owner_[slot] : AnyNode();
        break;
    }
  }
  return Status::Unavailable("redis cluster: slot " + std::to_string(slot) + " not served within " +
                             std::to_string(options_.timeout.count()) +
                             " ms (last: " + last_refusal + ")");
}

Result<std::vector<RedisValue>> ClusterRouter::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  std::vector<RedisValue> replies(commands.size());
  std::vector<bool> resend(commands.size(), false);
  // One pipeline per node, in the order commands were given.
  std::map<std::string, std::vector<size_t>> by_node;
  for (size_t i = 0; i < commands.size(); ++i) {
    if (commands[i].empty()) return Status::InvalidArgument("empty redis command");
    if (IsBroadcast(Upper(commands[i][0]))) {
      resend[i] = true;
      continue;
    }
    auto key = RoutingKey(commands[i]);
    std::string address = key ? slot_owner_[KeySlot(*key)] : AnyNode();
    if (address.empty()) {
      resend[i] = true;
      continue;
    }
    by_node[address].push_back(i);
  }
  for (const auto& [address, indexes] : by_node) {
    auto node = Node(address);
    if (!node.ok()) return node.status();
    std::vector<std::vector<std::string>> batch;
    batch.reserve(indexes.size());
    for (size_t i : indexes) batch.push_back(commands[i]);
    auto got = (*node)->Pipeline(batch);
    if (!got.ok()) {
      nodes_.erase(address);
      return Status::Unavailable("redis cluster node " + address + ": " + got.status().message());
    }
    for (size_t j = 0; j < indexes.size(); ++j) {
      if (ParseRedirect((*got)[j]).kind != Redirect::Kind::kNone) {
        resend[indexes[j]] = true;
      } else {
        replies[indexes[j]] = std::move((*got)[j]);
      }
    }
  }
  for (size_t i = 0; i < commands.size(); ++i) {
    if (!resend[i]) continue;
    auto reply = Command(commands[i]);
    if (!reply.ok()) return reply.status();
    replies[i] = std::move(*reply);
  }
  return replies;
}

}  // namespace segstream::storage
