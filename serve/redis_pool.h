// Redis connections for the blocking handlers (Router::GetBlocking, BodyStream): RedisConnection
// is not thread-safe, and the handlers of the server's blocking pool run concurrently. A
// connection that failed in transport is dropped (the next call connects afresh), so a Redis
// restart heals by itself.
#pragma once

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "storage/redis_client.h"

namespace segstream::serve {

namespace detail {
inline bool IsTransport(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kTimeout ||
         s.code() == StatusCode::kIoError;
}
inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}
}  // namespace detail

class RedisPool {
 public:
  RedisPool(storage::RedisOptions options, size_t max_idle)
      : options_(std::move(options)), max_idle_(max_idle) {}

  // fn(storage::RedisConnection&) -> Status or Result<T>.
  template <typename Fn>
  auto Run(Fn&& fn) -> decltype(fn(std::declval<storage::RedisConnection&>())) {
    std::unique_ptr<storage::RedisConnection> conn;
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        conn = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    if (!conn) {
      auto fresh = storage::RedisConnection::Connect(options_);
      if (!fresh.ok()) return fresh.status();
      conn = std::make_unique<storage::RedisConnection>(std::move(*fresh));
    }
    auto result = fn(*conn);
    if (!detail::IsTransport(detail::StatusOf(result))) {
      std::lock_guard lock(mu_);
      if (idle_.size() < max_idle_) idle_.push_back(std::move(conn));
    }
    return result;
  }

 private:
  const storage::RedisOptions options_;
  const size_t max_idle_;
  std::mutex mu_;
  std::vector<std::unique_ptr<storage::RedisConnection>> idle_;
};

}  // namespace segstream::serve
