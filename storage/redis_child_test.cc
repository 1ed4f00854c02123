#include "storage/redis_child.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

namespace segstream::storage {
namespace {

namespace fs = std::filesystem;

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};

// A minimal client for the tests: connect, run a command, return its reply as text.
class Client {
 public:
  explicit Client(const RedisChild& redis)
      : ctx_(redisConnect(redis.host().c_str(), redis.port())) {}
  bool ok() const { return ctx_ && !ctx_->err; }
  std::string Run(const std::string& a, const std::string& b = "", const std::string& c = "") {
    const char* argv[] = {a.c_str(), b.c_str(), c.c_str()};
    size_t lens[] = {a.size(), b.size(), c.size()};
    int argc = c.empty() ? (b.empty() ? 1 : 2) : 3;
    std::unique_ptr<redisReply, ReplyDeleter> r(
        static_cast<redisReply*>(redisCommandArgv(ctx_.get(), argc, argv, lens)));
    if (!r) return "<io error>";
    switch (r->type) {
      case REDIS_REPLY_NIL:
        return "<nil>";
      case REDIS_REPLY_INTEGER:
        return std::to_string(r->integer);
      case REDIS_REPLY_ARRAY:
        return r->elements == 2 ? std::string(r->element[1]->str, r->element[1]->len) : "<array>";
      default:
        return std::string(r->str, r->len);
    }
  }

 private:
  std::unique_ptr<redisContext, ContextDeleter> ctx_;
};

// Built with append: GCC 12 gives a false -Wrestrict on `Key(i)`.
std::string Key(int i) {
  std::string key = "k";
  key += std::to_string(i);
  return key;
}

// Options built field by field: GCC 12 warns on designated initializers that skip members.
RedisChild::Options WithFsync(RedisChild::Fsync fsync) {
  RedisChild::Options o;
  o.appendfsync = fsync;
  return o;
}

bool ProcessExists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

TEST(RedisChildTest, StartsAndServesSetGet) {
  RedisChild redis;
  ASSERT_TRUE(redis.Start().ok());
  EXPECT_TRUE(redis.running());
  EXPECT_GT(redis.port(), 0);
  EXPECT_EQ(redis.address(), "127.0.0.1:" + std::to_string(redis.port()));
  Client client(redis);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(client.Run("SET", "greeting", "hello"), "OK");
  EXPECT_EQ(client.Run("GET", "greeting"), "hello");
  EXPECT_EQ(client.Run("CONFIG", "GET", "appendonly"), "yes");
  EXPECT_EQ(client.Run("CONFIG", "GET", "appendfsync"), "everysec");
}

TEST(RedisChildTest, DataSurvivesRestartOnSamePort) {
  RedisChild redis;
  ASSERT_TRUE(redis.Start().ok());
  const int port = redis.port();
  const pid_t first_pid = redis.pid();
  {
    Client client(redis);
    for (int i = 0; i < 100; ++i) client.Run("SET", Key(i), std::to_string(i * i));
  }
  ASSERT_TRUE(redis.Restart().ok());
  EXPECT_EQ(redis.port(), port);
  EXPECT_NE(redis.pid(), first_pid);
  Client client(redis);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(client.Run("GET", Key(i)), std::to_string(i * i));
  }
}

TEST(RedisChildTest, KillThenRestartKeepsAlwaysFsyncedData) {
  RedisChild redis(WithFsync(RedisChild::Fsync::kAlways));
  ASSERT_TRUE(redis.Start().ok());
  {
    Client client(redis);
    EXPECT_EQ(client.Run("CONFIG", "GET", "appendfsync"), "always");
    for (int i = 0; i < 50; ++i)
      EXPECT_EQ(client.Run("INCRBY", "counter", "3"), std::to_string(3 * (i + 1)));
    EXPECT_EQ(client.Run("SET", "last", "written"), "OK");
  }
  const pid_t killed = redis.pid();
  redis.Kill();
  EXPECT_FALSE(redis.running());
  EXPECT_FALSE(ProcessExists(killed));
  ASSERT_TRUE(redis.Restart().ok());
  Client client(redis);
  EXPECT_EQ(client.Run("GET", "counter"), "150");
  EXPECT_EQ(client.Run("GET", "last"), "written");
}

TEST(RedisChildTest, TwoChildrenGetDifferentPortsAndDirs) {
  RedisChild a;
  RedisChild b;
  ASSERT_TRUE(a.Start().ok());
  ASSERT_TRUE(b.Start().ok());
  EXPECT_NE(a.port(), b.port());
  EXPECT_NE(a.data_dir(), b.data_dir());
  Client ca(a);
  Client cb(b);
  ca.Run("SET", "who", "a");
  cb.Run("SET", "who", "b");
  EXPECT_EQ(ca.Run("GET", "who"), "a");
  EXPECT_EQ(cb.Run("GET", "who"), "b");
}

TEST(RedisChildTest, DestructorLeavesNoProcessAndNoTempDir) {
  pid_t pid = -1;
  std::string dir;
  {
    RedisChild redis;
    ASSERT_TRUE(redis.Start().ok());
    pid = redis.pid();
    dir = redis.data_dir();
    EXPECT_TRUE(ProcessExists(pid));
    EXPECT_TRUE(fs::exists(dir + "/redis.log"));
  }
  EXPECT_FALSE(ProcessExists(pid));
  EXPECT_FALSE(fs::exists(dir));
}

TEST(RedisChildTest, ChildDiesWithItsParent) {
  // As a subreaper we adopt the orphaned redis and can reap it: in a container PID 1 may not.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  struct Started {
    pid_t pid;
    char dir[512];
  };
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t parent = ::fork();
  ASSERT_GE(parent, 0);
  if (parent == 0) {
    RedisChild redis;
    Started started{-1, {}};
    if (redis.Start().ok()) {
      started.pid = redis.pid();
      std::snprintf(started.dir, sizeof(started.dir), "%s", redis.data_dir().c_str());
    }
    (void)!::write(fds[1], &started, sizeof(started));
    ::pause();
    ::_exit(0);
  }
  Started started{};
  ASSERT_EQ(::read(fds[0], &started, sizeof(started)), static_cast<ssize_t>(sizeof(started)));
  ::close(fds[0]);
  ::close(fds[1]);
  ASSERT_GT(started.pid, 0);
  EXPECT_TRUE(ProcessExists(started.pid));
  ::kill(parent, SIGKILL);  // no destructor runs: only PR_SET_PDEATHSIG can end redis
  ::waitpid(parent, nullptr, 0);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(started.pid, &wstatus, 0), started.pid);
  EXPECT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL);
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  fs::remove_all(started.dir);  // the killed parent could not
}

TEST(RedisChildTest, GivenDataDirIsKeptAndReloaded) {
  std::string dir =
      (fs::temp_directory_path() / ("segstream-redis-kept-" + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  {
    RedisChild::Options options;
    options.data_dir = dir;
    RedisChild redis(options);
    ASSERT_TRUE(redis.Start().ok());
    Client(redis).Run("SET", "kept", "yes");
  }
  EXPECT_TRUE(fs::exists(dir + "/appendonlydir"));
  {
    RedisChild::Options options;
    options.data_dir = dir;
    RedisChild redis(options);
    ASSERT_TRUE(redis.Start().ok());
    EXPECT_EQ(Client(redis).Run("GET", "kept"), "yes");
  }
  fs::remove_all(dir);
}

TEST(RedisChildTest, ExtraConfigLinesApply) {
  RedisChild::Options options;
  options.extra_config = {"maxmemory 12345678", "hz 25"};
  RedisChild redis(options);
  ASSERT_TRUE(redis.Start().ok());
  Client client(redis);
  EXPECT_EQ(client.Run("CONFIG", "GET", "maxmemory"), "12345678");
  EXPECT_EQ(client.Run("CONFIG", "GET", "hz"), "25");
}

TEST(RedisChildTest, MissingBinaryIsAClearError) {
  RedisChild::Options options;
  options.redis_server = "/nonexistent/redis-server";
  RedisChild redis(options);
  Status s = redis.Start();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("/nonexistent/redis-server"), std::string::npos);
  EXPECT_FALSE(redis.running());
}

TEST(RedisChildTest, PortInUseIsAClearError) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int busy = ntohs(addr.sin_port);

  RedisChild::Options options;
  options.port = busy;
  RedisChild redis(options);
  Status s = redis.Start();
  ::close(fd);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find(std::to_string(busy)), std::string::npos) << s.message();
  EXPECT_FALSE(redis.running());
}

TEST(RedisChildTest, BadConfigReportsRedisLogTail) {
  RedisChild::Options options;
  options.extra_config = {"no-such-directive 1"};
  RedisChild redis(options);
  Status s = redis.Start();
  EXPECT_FALSE(s.ok());
  // The tail of redis's own log names the offending directive.
  EXPECT_NE(s.message().find("no-such-directive"), std::string::npos) << s.message();
  EXPECT_FALSE(redis.running());
}

}  // namespace
}  // namespace segstream::storage
