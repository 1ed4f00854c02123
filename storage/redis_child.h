// RedisChild: Debian's `redis-server` as a child process on a loopback port, the real Redis that
// tests, fixtures and `segstream run` use (DESIGN §1, §5: AOF persistence, everysec by default,
// always in fault tests).
//
//   storage::RedisChild redis({.appendfsync = storage::RedisChild::Fsync::kAlways});
//   if (Status s = redis.Start(); !s.ok()) ...;
//   redisConnect(redis.host().c_str(), redis.port());   // or redis.address() = "127.0.0.1:P"
//   redis.Kill(); redis.Restart();                      // same port and dir: the AOF reloads
//
// The child never outlives us: it gets PR_SET_PDEATHSIG=SIGKILL, and the destructor stops it.
// Caveat (prctl(2)): the death signal fires when the *thread* that called Start()/Restart() exits,
// not only the process, so start it from a thread that lives as long as the server should.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "stream/status.h"

namespace segstream::storage {

class RedisChild {
 public:
  enum class Fsync { kEverySec, kAlways };

  struct Options {
    // Loopback TCP port; 0 picks a free one (and retries if another process takes it first).
    int port = 0;
    // Data dir (AOF, config, redis.log). Empty: a fresh temporary dir, removed by Stop(). A given
    // dir is created if missing and kept.
    std::string data_dir;
    // `appendonly yes` always; `appendfsync everysec` (default) or `always` (no acknowledged write
    // is lost even on an OS crash; fault tests).
    Fsync appendfsync = Fsync::kEverySec;
    // redis-server binary: a path, or a name looked up in $PATH.
    std::string redis_server = "redis-server";
    // How long Start() waits for the first PONG (including AOF loading).
    std::chrono::milliseconds startup_timeout{10000};
    // How long Stop() waits after SIGTERM before it sends SIGKILL.
    std::chrono::milliseconds stop_timeout{10000};
    // Extra redis.conf lines appended verbatim (e.g. "maxmemory 64mb").
    std::vector<std::string> extra_config;
  };

  RedisChild() : RedisChild(Options{}) {}
  explicit RedisChild(Options options);
  ~RedisChild();  // Stop()
  RedisChild(const RedisChild&) = delete;
  RedisChild& operator=(const RedisChild&) = delete;

  // Starts redis-server and waits until it answers PING. Errors: binary missing, port in use,
  // exited during start-up or timeout (with the tail of redis.log). No-op if already running.
  Status Start();
  // Graceful: SIGTERM (Redis flushes and fsyncs the AOF), wait, reap; SIGKILL after stop_timeout.
  // Removes the data dir if it was a temporary one. A later Start() is a fresh start (new port if
  // none was given); only Restart() keeps the port.
  void Stop();
  // SIGKILL and reap, as a crash would; the data dir is kept so Restart() can reload the AOF.
  void Kill();
  // Stops (gracefully) if running, then starts again on the same port with the same data dir.
  Status Restart();

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const std::string& host() const { return host_; }
  int port() const { return port_; }
  std::string address() const { return host_ + ":" + std::to_string(port_); }
  const std::string& data_dir() const { return data_dir_; }
  std::string log_path() const { return data_dir_ + "/redis.log"; }

 private:
  Status PrepareDir();
  Status Launch();  // one fork/exec + wait-for-PONG attempt on port_
  void Terminate(int signal, std::chrono::milliseconds grace);
  void RemoveTempDir();
  std::string LogTail(size_t max_bytes = 2000) const;

  Options options_;
  std::string host_ = "127.0.0.1";
  int port_ = 0;
  std::string data_dir_;
  bool temp_dir_ = false;  // data_dir_ was made by us and is removed by Stop()
  pid_t pid_ = -1;
};

}  // namespace segstream::storage
