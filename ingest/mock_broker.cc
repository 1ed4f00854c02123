#include "ingest/mock_broker.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>

namespace segstream::ingest {
namespace {

// Limits that keep a typo from allocating a cluster nobody wants; not limits of the mock.
constexpr int kMaxBrokers = 16;
constexpr int kMaxPartitions = 1024;

}  // namespace

void MockBroker::Poke() const {
  if (broker_ports_.empty()) return;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(broker_ports_.front()));
  // The handshake completes in the kernel even though we close at once: the mock's listener
  // becomes readable, its poll() returns and it serves its op queue.
  (void)::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::close(fd);
}

std::vector<std::string> MockBroker::DefaultTopics() {
  return {"checkouts", "item-sales", "segment-changes", "segment-drift", "checkouts.dlq"};
}

MockBroker::MockBroker(Options options) : options_(std::move(options)) {}

MockBroker::~MockBroker() { Stop(); }

Status MockBroker::Validate() const {
  const Options& o = options_;
  if (o.broker_count < 1 || o.broker_count > kMaxBrokers) {
    return Status::InvalidArgument("broker count " + std::to_string(o.broker_count) +
                                   " is not in 1.." + std::to_string(kMaxBrokers));
  }
  if (o.port < 0 || o.port > 65535) {
    return Status::InvalidArgument("port " + std::to_string(o.port) + " is not in 0..65535");
  }
  if (o.partitions < 1 || o.partitions > kMaxPartitions) {
    return Status::InvalidArgument("partitions " + std::to_string(o.partitions) + " is not in 1.." +
                                   std::to_string(kMaxPartitions));
  }
  if (o.replication_factor < 0 || o.replication_factor > o.broker_count) {
    return Status::InvalidArgument("replication factor " + std::to_string(o.replication_factor) +
                                   " is not in 0.." + std::to_string(o.broker_count));
  }
  return Status::Ok();
}

Status MockBroker::Start() {
  if (cluster_) return Status::Ok();
  if (Status s = Validate(); !s.ok()) return s;

  // The cluster needs a client handle to hang off (logging, its thread's lifetime); a producer
  // with no brokers never connects anywhere.
  std::unique_ptr<rd_kafka_conf_t, ConfDeleter> conf(rd_kafka_conf_new());
  char errstr[512];
  // Errors only: the handle would otherwise warn that it has no bootstrap.servers.
  for (auto [name, value] :
       {std::pair{"client.id", "segstream-mock-broker"}, std::pair{"log_level", "3"}}) {
    if (rd_kafka_conf_set(conf.get(), name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
      return Status::Internal(std::string("mock broker handle: ") + errstr);
    }
  }
  handle_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof(errstr)));
  if (!handle_) return Status::Internal(std::string("mock broker handle: ") + errstr);
  conf.release();  // rd_kafka_new owns it on success

  cluster_.reset(rd_kafka_mock_cluster_new(handle_.get(), options_.broker_count));
  if (!cluster_) {
    handle_.reset();
    return Status::Internal("rd_kafka_mock_cluster_new failed (see librdkafka log above)");
  }
  direct_bootstraps_ = rd_kafka_mock_cluster_bootstraps(cluster_.get());
  // "127.0.0.1:p1,127.0.0.1:p2,...": brokers are created with ids 1..N in this order.
  broker_ports_.clear();
  std::stringstream list(direct_bootstraps_);
  for (std::string entry; std::getline(list, entry, ',');) {
    broker_ports_.push_back(std::stoi(entry.substr(entry.rfind(':') + 1)));
  }
  if (static_cast<int>(broker_ports_.size()) != options_.broker_count) {
    Stop();
    return Status::Internal("unexpected mock bootstrap list '" + direct_bootstraps_ + "'");
  }
  {
    std::lock_guard lock(mu_);
    broker_up_.assign(broker_ports_.size(), true);
  }

  for (const std::string& topic : options_.topics) {
    if (Status s = CreateTopic(topic, options_.partitions); !s.ok()) {
      Stop();
      return s;
    }
  }

  TcpForwarder::Options fwd;
  fwd.port = options_.port;
  forwarder_ = std::make_unique<TcpForwarder>(fwd, broker_ports_.front());
  if (Status s = forwarder_->Start(); !s.ok()) {
    Stop();
    return Status(s.code(), "bootstrap port: " + s.message());
  }
  return Status::Ok();
}

void MockBroker::Stop() {
  forwarder_.reset();
  // Often takes 1 s: librdkafka 2.0.2 joins the cluster's internal broker thread, which can miss
  // its TERMINATE (it still holds a reference when it serves the op) and sleeps out its 1 s
  // queue wait, as in librdkafka issue #1690. The listeners close at once, so only our caller
  // waits; no safe way to wake that thread from outside was found (pokes cannot reach it).
  cluster_.reset();
  handle_.reset();
  broker_ports_.clear();
  direct_bootstraps_.clear();
}

int MockBroker::broker_port(int32_t broker_id) const {
  if (broker_id < 1 || broker_id > static_cast<int32_t>(broker_ports_.size())) return 0;
  return broker_ports_[broker_id - 1];
}

Status MockBroker::CreateTopic(const std::string& topic, int partitions) {
  if (!cluster_) return Status::Unavailable("mock broker is not running");
  if (topic.empty() || partitions < 1 || partitions > kMaxPartitions) {
    return Status::InvalidArgument("topic '" + topic + "' with " + std::to_string(partitions) +
                                   " partitions");
  }
  const int replicas = options_.replication_factor > 0 ? options_.replication_factor
                                                       : std::min(3, options_.broker_count);
  rd_kafka_resp_err_t err = Nudged([&] {
    return rd_kafka_mock_topic_create(cluster_.get(), topic.c_str(), partitions, replicas);
  });
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::InvalidArgument("cannot create topic '" + topic + "': " + rd_kafka_err2str(err));
  }
  return Status::Ok();
}

Status MockBroker::CheckBroker(int32_t broker_id) const {
  if (!cluster_) return Status::Unavailable("mock broker is not running");
  if (broker_port(broker_id) == 0) {
    return Status::InvalidArgument("no broker " + std::to_string(broker_id) + " (ids are 1.." +
                                   std::to_string(broker_ports_.size()) + ")");
  }
  return Status::Ok();
}

Status MockBroker::SetBrokerDown(int32_t broker_id) {
  if (Status s = CheckBroker(broker_id); !s.ok()) return s;
  rd_kafka_resp_err_t err =
      Nudged([&] { return rd_kafka_mock_broker_set_down(cluster_.get(), broker_id); });
  if (err) return Status::Internal(std::string("broker_set_down: ") + rd_kafka_err2str(err));
  {
    std::lock_guard lock(mu_);
    broker_up_[broker_id - 1] = false;
  }
  RetargetForwarder();
  return Status::Ok();
}

Status MockBroker::SetBrokerUp(int32_t broker_id) {
  if (Status s = CheckBroker(broker_id); !s.ok()) return s;
  rd_kafka_resp_err_t err =
      Nudged([&] { return rd_kafka_mock_broker_set_up(cluster_.get(), broker_id); });
  if (err) return Status::Internal(std::string("broker_set_up: ") + rd_kafka_err2str(err));
  {
    std::lock_guard lock(mu_);
    broker_up_[broker_id - 1] = true;
  }
  RetargetForwarder();
  return Status::Ok();
}

void MockBroker::RetargetForwarder() {
  std::lock_guard lock(mu_);
  // With every broker down, keep pointing at broker 1: clients retry until one comes back.
  size_t target = 0;
  for (size_t i = 0; i < broker_up_.size(); ++i) {
    if (broker_up_[i]) {
      target = i;
      break;
    }
  }
  if (forwarder_) forwarder_->SetUpstreamPort(broker_ports_[target]);
}

void MockBroker::PushRequestErrors(int16_t api_key,
                                   const std::vector<rd_kafka_resp_err_t>& errors) {
  if (!cluster_ || errors.empty()) return;
  Nudged([&] {
    rd_kafka_mock_push_request_errors_array(cluster_.get(), api_key, errors.size(), errors.data());
    return 0;
  });
}

Status MockBroker::SetPartitionLeader(const std::string& topic, int32_t partition,
                                      int32_t broker_id) {
  if (Status s = CheckBroker(broker_id); !s.ok()) return s;
  rd_kafka_resp_err_t err = Nudged([&] {
    return rd_kafka_mock_partition_set_leader(cluster_.get(), topic.c_str(), partition, broker_id);
  });
  if (err) {
    return Status::InvalidArgument("set leader of " + topic + "[" + std::to_string(partition) +
                                   "]: " + rd_kafka_err2str(err));
  }
  return Status::Ok();
}

}  // namespace segstream::ingest
