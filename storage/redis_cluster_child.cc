#include "storage/redis_cluster_child.h"

#include <chrono>
#include <cstdlib>
#include <thread>

namespace segstream::storage {

RedisClusterChild::~RedisClusterChild() { Stop(); }

void RedisClusterChild::Stop() {
  for (auto& node : nodes_) node->Stop();
  nodes_.clear();
}

Result<RedisValue> RedisClusterChild::On(int i, const std::vector<std::string>& argv) const {
  RedisOptions o;
  o.host = nodes_[i]->host();
  o.port = nodes_[i]->port();
  o.cluster_node = true;  // redirects come back as values
  auto conn = RedisConnection::Connect(o);
  if (!conn.ok()) return conn.status();
  return conn->Command(argv);
}

Status RedisClusterChild::Start() {
  for (int i = 0; i < masters_; ++i) {
    RedisChild::Options o;
    // A short node timeout: a test that stops a node sees the cluster notice quickly.
    o.extra_config = {"cluster-enabled yes", "cluster-config-file nodes.conf",
                      "cluster-node-timeout 3000", "cluster-require-full-coverage yes"};
    nodes_.push_back(std::make_unique<RedisChild>(o));
    if (Status s = nodes_.back()->Start(); !s.ok()) return s;
  }
  std::string create = "redis-cli --cluster create";
  for (int i = 0; i < masters_; ++i) create += " " + address(i);
  create +=
      " --cluster-replicas 0 --cluster-yes > " + nodes_[0]->data_dir() + "/cluster-create.log 2>&1";
  if (std::system(create.c_str()) != 0) {
    return Status::Internal("`" + create + "` failed; see " + nodes_[0]->data_dir() +
                            "/cluster-create.log");
  }
  // The nodes learn about each other by gossip: wait until every one reports the cluster ok and
  // sees every slot.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (int i = 0; i < masters_; ++i) {
    while (true) {
      auto info = On(i, {"CLUSTER", "INFO"});
      if (info.ok() && info->str.find("cluster_state:ok") != std::string::npos &&
          info->str.find("cluster_slots_ok:16384") != std::string::npos) {
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return Status::Timeout("redis cluster node " + address(i) + " not ok after 30 s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return Status::Ok();
}

RedisOptions RedisClusterChild::options() const {
  RedisOptions o;
  for (int i = 0; i < masters_; ++i) o.cluster_seeds.push_back(address(i));
  o.host = nodes_[0]->host();
  return o;
}

Result<std::string> RedisClusterChild::NodeId(int i) const {
  auto id = On(i, {"CLUSTER", "MYID"});
  if (!id.ok()) return id.status();
  if (id->is_error()) return Status::Internal("CLUSTER MYID: " + id->str);
  return id->str;
}

Result<int> RedisClusterChild::OwnerOf(int slot) const {
  auto slots = On(0, {"CLUSTER", "SLOTS"});
  if (!slots.ok()) return slots.status();
  for (const RedisValue& range : slots->elements) {
    if (range.elements.size() < 3) continue;
    if (slot < range.elements[0].integer || slot > range.elements[1].integer) continue;
    int64_t port = range.elements[2].elements[1].integer;
    for (int i = 0; i < masters_; ++i) {
      if (nodes_[i]->port() == port) return i;
    }
  }
  return Status::NotFound("slot " + std::to_string(slot) + " has no owner");
}

Status RedisClusterChild::BeginMigration(int slot, int from, int to) {
  auto from_id = NodeId(from);
  auto to_id = NodeId(to);
  if (!from_id.ok() || !to_id.ok()) return Status::Internal("no node id");
  const std::string s = std::to_string(slot);
  auto a = On(to, {"CLUSTER", "SETSLOT", s, "IMPORTING", *from_id});
  auto b = On(from, {"CLUSTER", "SETSLOT", s, "MIGRATING", *to_id});
  if (!a.ok() || !b.ok() || a->is_error() || b->is_error()) {
    return Status::Internal("SETSLOT IMPORTING/MIGRATING failed");
  }
  return Status::Ok();
}

Status RedisClusterChild::MoveKeys(int slot, int from, int to) {
  const std::string host = nodes_[to]->host(), port = std::to_string(nodes_[to]->port());
  while (true) {
    auto keys = On(from, {"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), "100"});
    if (!keys.ok()) return keys.status();
    if (keys->elements.empty()) return Status::Ok();
    std::vector<std::string> migrate = {"MIGRATE", host, port, "", "0", "5000", "KEYS"};
    for (const RedisValue& k : keys->elements) migrate.push_back(k.str);
    auto moved = On(from, migrate);
    if (!moved.ok()) return moved.status();
    if (moved->is_error()) return Status::Internal("MIGRATE: " + moved->str);
  }
}

Status RedisClusterChild::FinishMigration(int slot, int to) {
  auto to_id = NodeId(to);
  if (!to_id.ok()) return to_id.status();
  // The new owner first, then the old (which then answers MOVED), then the rest (redis-cli's
  // order).
  std::vector<int> order = {to};
  for (int i = 0; i < masters_; ++i) {
    if (i != to) order.push_back(i);
  }
  for (int i : order) {
    auto r = On(i, {"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", *to_id});
    if (!r.ok()) return r.status();
    if (r->is_error()) return Status::Internal("SETSLOT NODE on " + address(i) + ": " + r->str);
  }
  return Status::Ok();
}

}  // namespace segstream::storage
