#include "serve/redis_probe.h"

namespace segstream::serve {

RedisProbe::RedisProbe(RedisProbeOptions options, RedisProbeObserver observer)
    : options_(std::move(options)), observer_(std::move(observer)) {}

RedisProbe::~RedisProbe() { Stop(); }

void RedisProbe::ProbeOnce() {
  if (!redis_) {
    auto conn = storage::RedisConnection::Connect(options_.redis);
    if (!conn.ok()) {
      observer_(conn.status(), {});
      return;
    }
    redis_ = std::make_unique<storage::RedisConnection>(std::move(*conn));
  }
  const auto start = std::chrono::steady_clock::now();
  auto reply = redis_->Command({"PING"});
  const auto rtt = std::chrono::steady_clock::now() - start;
  if (!reply.ok()) {
    redis_.reset();  // reconnect next time
    observer_(reply.status(), {});
    return;
  }
  if (reply->is_error()) {
    observer_(Status::Unavailable("PING: " + reply->str), {});
    return;
  }
  observer_(Status::Ok(), std::chrono::duration_cast<std::chrono::nanoseconds>(rtt));
}

void RedisProbe::Start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      ProbeOnce();
      lock.lock();
      wake_.wait_for(lock, options_.interval, [this] { return stopping_; });
    }
  });
}

void RedisProbe::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace segstream::serve
