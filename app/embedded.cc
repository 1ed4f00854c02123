#include "app/embedded.h"

#include <spdlog/spdlog.h>

#include <filesystem>

namespace segstream::app {

namespace {

storage::RedisChild::Options RedisOptions(const EmbeddedOptions& options) {
  storage::RedisChild::Options redis;
  redis.port = options.redis_port;
  redis.extra_config = options.redis_config;
  return redis;
}

ingest::MockBroker::Options BrokerOptions(const EmbeddedOptions& options) {
  ingest::MockBroker::Options broker;
  broker.port = options.broker_port;
  broker.partitions = options.partitions;
  return broker;
}

}  // namespace

std::string DefaultRetailCsv() {
  for (const std::string& candidate :
       {std::string("data/online_retail.csv.gz"),
        std::string(SEGSTREAM_SOURCE_DIR) + "/data/online_retail.csv.gz"}) {
    if (std::filesystem::exists(candidate)) return candidate;
  }
  return "data/online_retail.csv.gz";
}

EmbeddedServers::EmbeddedServers(EmbeddedOptions options)
    : partitions_(options.partitions),
      redis_(RedisOptions(options)),
      broker_(BrokerOptions(options)) {}

Status EmbeddedServers::Start() {
  if (Status s = redis_.Start(); !s.ok())
    return Status::Unavailable("redis-server: " + s.message());
  if (Status s = broker_.Start(); !s.ok()) return Status::Unavailable("broker: " + s.message());
  return Status::Ok();
}

ingest::WorkerOptions EmbeddedServers::WorkerOptions(
    const ingest::SegmenterOptions& segments) const {
  ingest::WorkerOptions options;
  options.kafka.brokers = brokers();
  options.kafka.group = "segstream";
  options.kafka.session_timeout_ms = 6000;
  options.redis = redis_client();
  options.segments = segments;
  // One process owns every partition: no group join to wait for.
  options.static_partitions = partitions_;
  return options;
}

WorkerPool::WorkerPool(ingest::WorkerOptions options, int threads)
    : thread_([this, options = std::move(options), threads] {
        Status s = ingest::RunWorkers(options, threads, stop_);
        if (!s.ok()) spdlog::error("workers stopped: {}", s.ToString());
        {
          std::lock_guard lock(mu_);
          status_ = s;
        }
        if (!s.ok()) failed_ = true;
      }) {}

WorkerPool::~WorkerPool() { (void)Stop(); }

Status WorkerPool::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  return status_;
}

}  // namespace segstream::app
