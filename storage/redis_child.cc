#include "storage/redis_child.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

namespace segstream::storage {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string ErrnoText(int err) { return std::strerror(err); }

// Resolves `name` the way execvp would, so a missing binary is reported before fork().
std::string FindExecutable(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Binds 127.0.0.1:`port` (0 = kernel's choice) and returns the bound port, or -errno. The socket is
// closed again, so a free port can in principle be taken by someone else before redis binds it;
// Start() retries in that case.
int ProbePort(int port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return -errno;
  // Same option redis sets, so a port in TIME_WAIT from our previous run counts as free.
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return -errno;
  socklen_t len = sizeof(addr);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) return -errno;
  return ntohs(addr.sin_port);
}

// redis.conf strings go through sdssplitargs: quote and escape.
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

enum class Probe { kDown, kLoading, kReady };

// PING, then INFO's process_id, so a PONG from some other server on the port is not taken for
// ours (the child may have failed to bind and not have been reaped yet).
Probe PingChild(const std::string& host, int port, pid_t pid, std::string* foreign) {
  timeval timeout{0, 200 * 1000};
  ContextPtr ctx(redisConnectWithTimeout(host.c_str(), port, timeout));
  if (!ctx || ctx->err) return Probe::kDown;
  redisSetTimeout(ctx.get(), timeval{1, 0});
  ReplyPtr pong(static_cast<redisReply*>(redisCommand(ctx.get(), "PING")));
  if (!pong) return Probe::kDown;
  if (pong->type == REDIS_REPLY_ERROR) {
    // -LOADING while the AOF replays; anything else (e.g. -NOAUTH) is not our fresh server.
    if (std::strncmp(pong->str, "LOADING", 7) == 0) return Probe::kLoading;
    *foreign = pong->str;
    return Probe::kDown;
  }
  ReplyPtr info(static_cast<redisReply*>(redisCommand(ctx.get(), "INFO server")));
  if (!info || info->type != REDIS_REPLY_STRING) return Probe::kDown;
  const char* field = std::strstr(info->str, "process_id:");
  long reported = field ? std::strtol(field + 11, nullptr, 10) : -1;
  if (reported != pid) {
    *foreign = "process_id " + std::to_string(reported);
    return Probe::kDown;
  }
  return Probe::kReady;
}

}  // namespace

RedisChild::RedisChild(Options options) : options_(std::move(options)) {}

RedisChild::~RedisChild() { Stop(); }

Status RedisChild::PrepareDir() {
  if (!data_dir_.empty()) return Status::Ok();
  std::error_code ec;
  if (options_.data_dir.empty()) {
    std::string pattern = (fs::temp_directory_path(ec) / "segstream-redis-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return Status::IoError("cannot create a temporary redis dir " + pattern + ": " +
                             ErrnoText(errno));
    }
    data_dir_ = pattern;
    temp_dir_ = true;
    return Status::Ok();
  }
  fs::create_directories(options_.data_dir, ec);
  if (ec) {
    return Status::IoError("cannot create redis data dir " + options_.data_dir + ": " +
                           ec.message());
  }
  data_dir_ = fs::absolute(options_.data_dir, ec).string();
  temp_dir_ = false;
  return Status::Ok();
}

Status RedisChild::Start() {
  if (running()) return Status::Ok();
  std::string binary = FindExecutable(options_.redis_server);
  if (binary.empty()) {
    return Status::NotFound("redis-server binary '" + options_.redis_server +
                            "' not found or not executable (apt-get install redis-server)");
  }
  options_.redis_server = binary;
  if (options_.port < 0 || options_.port > 65535) {
    return Status::InvalidArgument("redis port " + std::to_string(options_.port) +
                                   " is not in 0..65535");
  }
  const bool fresh_dir = data_dir_.empty();
  if (Status s = PrepareDir(); !s.ok()) return s;

  // A pinned port (given, or kept by Restart) gets one attempt; a picked one is re-picked if
  // another process grabs it between our probe and redis's bind.
  const int wanted = port_ != 0 ? port_ : options_.port;
  Status last;
  for (int attempt = 0; attempt < (wanted != 0 ? 1 : 5); ++attempt) {
    int port = ProbePort(wanted);
    if (port < 0) {
      last = Status::Unavailable("port " + std::to_string(wanted) +
                                 " on 127.0.0.1 is not available: " + ErrnoText(-port));
      continue;
    }
    port_ = port;
    last = Launch();
    if (last.ok()) return last;
    if (last.code() != StatusCode::kUnavailable) break;
  }
  if (wanted == 0) port_ = 0;
  if (fresh_dir) RemoveTempDir();  // the error message carries the log tail
  return last;
}

Status RedisChild::Launch() {
  const std::string conf_path = data_dir_ + "/redis.conf";
  {
    std::ofstream conf(conf_path, std::ios::trunc);
    conf << "# written by segstream storage::RedisChild; regenerated at every start\n"
         << "port " << port_ << "\n"
         << "bind 127.0.0.1\n"
         << "dir " << Quote(data_dir_) << "\n"
         << "daemonize no\n"
         << "logfile \"\"\n"  // stdout, which is redis.log
         << "always-show-logo no\n"
         << "save \"\"\n"  // AOF is the persistence (DESIGN §5); no RDB forks
         << "appendonly yes\n"
         << "appendfsync " << (options_.appendfsync == Fsync::kAlways ? "always" : "everysec")
         << "\n";
    for (const std::string& line : options_.extra_config) conf << line << "\n";
    if (!conf) return Status::IoError("cannot write " + conf_path);
  }

  // Everything the child needs is prepared here: between fork and exec in a multi-threaded
  // process only async-signal-safe calls are allowed.
  Fd log(::open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (log.get() < 0) return Status::IoError("cannot open " + log_path() + ": " + ErrnoText(errno));
  Fd null_in(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  std::string binary = options_.redis_server;
  char* argv[] = {binary.data(), const_cast<char*>(conf_path.c_str()), nullptr};
  const pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) return Status::Internal("fork: " + ErrnoText(errno));
  if (pid == 0) {
    // Own process group: a terminal's Ctrl-C reaches us, and we stop redis in order.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);  // parent already died before prctl took effect
    // A blocked or ignored signal survives exec; the parent may block SIGTERM for sigwait.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGCHLD}) ::signal(sig, SIG_DFL);
    if (null_in.get() >= 0) ::dup2(null_in.get(), STDIN_FILENO);
    ::dup2(log.get(), STDOUT_FILENO);
    ::dup2(log.get(), STDERR_FILENO);
    ::close_range(3, ~0U, 0);  // no inherited sockets (e.g. a broker's listener) in redis
    ::execv(argv[0], argv);
    ::_exit(127);
  }
  pid_ = pid;

  const auto deadline = Clock::now() + options_.startup_timeout;
  std::string foreign;
  while (true) {
    int wstatus = 0;
    if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      std::string tail = LogTail();
      std::string how = WIFEXITED(wstatus)
                            ? "exited with code " + std::to_string(WEXITSTATUS(wstatus))
                            : "died of signal " + std::to_string(WTERMSIG(wstatus));
      if (tail.find("Address already in use") != std::string::npos) {
        return Status::Unavailable("redis-server: port " + std::to_string(port_) +
                                   " already in use; log tail:\n" + tail);
      }
      return Status::Internal("redis-server " + how + " during start-up (" + log_path() +
                              "); log tail:\n" + tail);
    }
    Probe probe = PingChild(host_, port_, pid_, &foreign);
    if (probe == Probe::kReady) return Status::Ok();
    if (Clock::now() >= deadline) {
      Terminate(SIGKILL, std::chrono::milliseconds(0));
      std::string why =
          foreign.empty() ? "" : " (port answered by another server: " + foreign + ")";
      return Status::Timeout("redis-server did not answer PING on " + address() + " within " +
                             std::to_string(options_.startup_timeout.count()) + " ms" + why +
                             "; log tail:\n" + LogTail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(probe == Probe::kLoading ? 20 : 5));
  }
}

void RedisChild::Terminate(int signal, std::chrono::milliseconds grace) {
  if (pid_ <= 0) return;
  ::kill(pid_, signal);
  const auto deadline = Clock::now() + grace;
  while (signal != SIGKILL) {
    pid_t got = ::waitpid(pid_, nullptr, WNOHANG);
    if (got == pid_ || (got < 0 && errno == ECHILD)) {
      pid_ = -1;
      return;
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

void RedisChild::Stop() {
  Terminate(SIGTERM, options_.stop_timeout);
  RemoveTempDir();
  // Stop + Start is a fresh start; only Restart() keeps the port.
  port_ = 0;
}

void RedisChild::Kill() { Terminate(SIGKILL, std::chrono::milliseconds(0)); }

Status RedisChild::Restart() {
  Terminate(SIGTERM, options_.stop_timeout);
  return Start();
}

void RedisChild::RemoveTempDir() {
  if (!temp_dir_ || data_dir_.empty()) return;
  std::error_code ec;
  fs::remove_all(data_dir_, ec);
  data_dir_.clear();
  temp_dir_ = false;
}

std::string RedisChild::LogTail(size_t max_bytes) const {
  std::ifstream in(log_path(), std::ios::binary | std::ios::ate);
  if (!in) return "(no log)";
  std::streamoff size = in.tellg();
  std::streamoff from = size > static_cast<std::streamoff>(max_bytes) ? size - max_bytes : 0;
  in.seekg(from);
  std::string tail(static_cast<size_t>(size - from), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  return tail;
}

}  // namespace segstream::storage
