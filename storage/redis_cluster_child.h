// RedisClusterChild: a local Redis Cluster of N masters (no replicas), each a RedisChild on a free
// loopback port with `cluster-enabled yes`, joined by `redis-cli --cluster create`. Tests use it to
// run segstream against a real cluster (issue 11); `MigrateSlot` moves one slot the way
// `redis-cli --cluster reshard` does, step by step, so a test can act while the slot is half moved.
//
//   storage::RedisClusterChild cluster;            // 3 masters
//   if (Status s = cluster.Start(); !s.ok()) ...;
//   RedisOptions o = cluster.options();            // cluster mode, all masters as seeds
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "storage/redis_child.h"
#include "storage/redis_client.h"

namespace segstream::storage {

class RedisClusterChild {
 public:
  explicit RedisClusterChild(int masters = 3) : masters_(masters) {}
  ~RedisClusterChild();  // Stop()
  RedisClusterChild(const RedisClusterChild&) = delete;
  RedisClusterChild& operator=(const RedisClusterChild&) = delete;

  // Starts the servers, creates the cluster (slots split evenly) and waits for cluster_state:ok
  // on every node.
  Status Start();
  void Stop();

  // Cluster-mode connection options with every master as a seed.
  RedisOptions options() const;
  // "127.0.0.1:P" of master i, and its cluster node id.
  std::string address(int i) const { return nodes_[i]->address(); }
  Result<std::string> NodeId(int i) const;
  int masters() const { return masters_; }
  // Index of the master serving `slot` now, as that master's CLUSTER SLOTS says.
  Result<int> OwnerOf(int slot) const;

  // Step 1 of a migration: `to` imports, `from` migrates (keys stay on `from`).
  Status BeginMigration(int slot, int from, int to);
  // Step 2: MIGRATE every key of the slot from `from` to `to`.
  Status MoveKeys(int slot, int from, int to);
  // Step 3: the slot belongs to `to` on every node.
  Status FinishMigration(int slot, int to);

  // One command on master i (no routing, no redirects).
  Result<RedisValue> On(int i, const std::vector<std::string>& argv) const;

 private:
  int masters_;
  std::vector<std::unique_ptr<RedisChild>> nodes_;
};

}  // namespace segstream::storage
