// Redis Cluster routing for RedisConnection: hiredis speaks to one node, and Debian has no cluster
// client, so this small layer maps each command to the master owning its key's hash slot.
//
// What it does (Redis Cluster specification, "Redirection and resharding"):
// - Slot table from `CLUSTER SLOTS`, asked of the seeds and then of every known node, refreshed
//   after a `MOVED` or a node failure.
// - `MOVED slot host:port`: the slot changed owner for good; the table is refreshed and the
//   command goes to the new owner. `ASK slot host:port`: the slot is migrating and the key is
//   already on the target; that one command is sent there after `ASKING`, the table is kept.
// - `TRYAGAIN` (a multi-key command whose keys are split by a migration in progress),
//   `CLUSTERDOWN`, and a script's "non local key" refusal (storage/partition_state.cc touches all
//   its keys before its first write, so the refusal leaves nothing half done): retried with
//   backoff for up to the connection timeout, then kUnavailable so callers back off as for a
//   down server.
// - Keyless commands go to any master, except `SCRIPT` and `FLUSHALL`/`FLUSHDB`, which go to every
//   master (a script must be loaded wherever its keys live).
//
// Every atomic call of segstream names keys of a single hash tag (DESIGN §5), so one call always
// lands on one node.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/redis_client.h"

namespace segstream::storage {

inline constexpr int kClusterSlots = 16384;

// CRC16/XMODEM of the key's hash tag (the first non-empty `{...}`, else the whole key) mod 16384.
int KeySlot(std::string_view key);

// The key a command routes by: argv[1] for keyed commands, the first key of EVAL/EVALSHA;
// nullopt for keyless commands (PING, INFO, SCRIPT, ..., and scripts with no keys).
std::optional<std::string_view> RoutingKey(const std::vector<std::string>& argv);

class ClusterRouter {
 public:
  // Connects to the first seed that answers and loads the slot table. `options` gives the
  // timeout (per command, and the budget for retrying a migrating slot).
  static Result<std::unique_ptr<ClusterRouter>> Connect(const RedisOptions& options);

  Result<RedisValue> Command(const std::vector<std::string>& argv);
  // Commands are grouped by node, one pipeline per node; redirected commands are then re-sent one
  // by one in their original order. Replies come back in the order of `commands`.
  Result<std::vector<RedisValue>> Pipeline(const std::vector<std::vector<std::string>>& commands);
  // Reloads the slot table (after kUnavailable; RedisConnection::Reconnect).
  Status Refresh();

  // "host:port" of the master serving `slot` now ("" if none is known).
  std::string NodeForSlot(int slot) const;

 private:
  explicit ClusterRouter(RedisOptions options) : options_(std::move(options)) {}
  Result<RedisConnection*> Node(const std::string& address);
  std::string AnyNode() const;
  // Sends to every master; the first reply (or first error) is returned.
  Result<RedisValue> Broadcast(const std::vector<std::string>& argv);
  Status LoadSlotsFrom(const std::string& address);

  RedisOptions options_;
  std::vector<std::string> seeds_;                // "host:port"
  std::vector<std::string> slot_owner_;           // kClusterSlots entries, "host:port"
  std::map<std::string, RedisConnection> nodes_;  // connections, made lazily
};

}  // namespace segstream::storage
