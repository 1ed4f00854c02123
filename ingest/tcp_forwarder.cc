#include "ingest/tcp_forwarder.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace segstream::ingest {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Bytes travelling one way, from `from` to `to`.
struct Direction {
  std::vector<char> buf;
  size_t head = 0;    // next byte to send
  size_t tail = 0;    // next free byte
  bool eof = false;   // `from` sent FIN
  bool shut = false;  // FIN forwarded to `to`
  size_t pending() const { return tail - head; }
  size_t space() const { return buf.size() - tail; }
};

struct Connection {
  int client = -1;
  int upstream = -1;
  bool connecting = true;  // non-blocking connect to upstream in progress
  bool dead = false;
  Direction up;    // client -> upstream
  Direction down;  // upstream -> client
  ~Connection() {
    CloseFd(client);
    CloseFd(upstream);
  }
};

// Reads what fits into `d`, counting into `total`; false on a hard error.
bool ReadInto(int fd, Direction& d, std::atomic<uint64_t>& total) {
  if (d.head == d.tail) d.head = d.tail = 0;
  if (d.space() == 0 && d.head > 0) {
    std::memmove(d.buf.data(), d.buf.data() + d.head, d.pending());
    d.tail -= d.head;
    d.head = 0;
  }
  while (!d.eof && d.space() > 0) {
    ssize_t n = ::recv(fd, d.buf.data() + d.tail, d.space(), 0);
    if (n > 0) {
      d.tail += static_cast<size_t>(n);
      total.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    } else if (n == 0) {
      d.eof = true;
    } else if (errno == EINTR) {
      continue;
    } else {
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
  }
  return true;
}

// Sends what the peer takes, then forwards a FIN once the source has ended and all is sent.
bool WriteFrom(int fd, Direction& d) {
  while (d.pending() > 0) {
    ssize_t n = ::send(fd, d.buf.data() + d.head, d.pending(), MSG_NOSIGNAL);
    if (n > 0) {
      d.head += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
  }
  if (d.eof && !d.shut) {
    ::shutdown(fd, SHUT_WR);
    d.shut = true;
  }
  return true;
}

}  // namespace

TcpForwarder::TcpForwarder(Options options, int upstream_port)
    : options_(options), upstream_port_(upstream_port) {}

TcpForwarder::~TcpForwarder() { Stop(); }

Status TcpForwarder::Start() {
  if (thread_.joinable()) return Status::Ok();
  if (options_.port < 0 || options_.port > 65535) {
    return Status::InvalidArgument("port " + std::to_string(options_.port) + " is not in 0..65535");
  }
  if (options_.buffer_bytes == 0 || options_.max_connections <= 0) {
    return Status::InvalidArgument("buffer_bytes and max_connections must be positive");
  }
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return Status::IoError(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr = Loopback(options_.port);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 128) != 0) {
    int err = errno;
    CloseFd(listen_fd_);
    std::string what = "127.0.0.1:" + std::to_string(options_.port);
    if (err == EADDRINUSE) return Status::Unavailable(what + " is already in use");
    return Status::IoError("cannot listen on " + what + ": " + std::strerror(err));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    CloseFd(listen_fd_);
    return Status::IoError(std::string("eventfd: ") + std::strerror(errno));
  }
  stopping_ = false;
  // The relay thread takes no process signals: a sigwait()ing main thread must get them all.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  thread_ = std::thread([this] { Run(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return Status::Ok();
}

void TcpForwarder::Stop() {
  if (thread_.joinable()) {
    stopping_ = true;
    uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }
  CloseFd(listen_fd_);
  CloseFd(wake_fd_);
}

void TcpForwarder::Run() {
  std::vector<std::unique_ptr<Connection>> conns;
  std::vector<pollfd> fds;
  while (!stopping_) {
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    const bool room = static_cast<int>(conns.size()) < options_.max_connections;
    fds.push_back({room ? listen_fd_ : -1, POLLIN, 0});
    for (auto& c : conns) {
      short client_events = 0;
      short upstream_events = 0;
      if (!c->up.eof && c->up.space() + c->up.head > 0) client_events |= POLLIN;
      if (c->down.pending() > 0) client_events |= POLLOUT;
      if (c->connecting) {
        upstream_events = POLLOUT;
      } else {
        if (!c->down.eof && c->down.space() + c->down.head > 0) upstream_events |= POLLIN;
        if (c->up.pending() > 0) upstream_events |= POLLOUT;
      }
      // poll ignores negative fds; an fd we want nothing from would otherwise spin on POLLHUP.
      fds.push_back({client_events ? c->client : -1, client_events, 0});
      fds.push_back({upstream_events ? c->upstream : -1, upstream_events, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents) {
      uint64_t drained;
      (void)!::read(wake_fd_, &drained, sizeof(drained));
    }
    for (size_t i = 0; i < conns.size(); ++i) {
      Connection& c = *conns[i];
      const short cr = fds[2 + 2 * i].revents;
      const short ur = fds[3 + 2 * i].revents;
      if (c.connecting && ur) {
        int err = 0;
        socklen_t len = sizeof(err);
        ::getsockopt(c.upstream, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          c.dead = true;  // upstream refused (e.g. broker down): the client sees a close
          continue;
        }
        c.connecting = false;
      }
      if (cr & (POLLIN | POLLHUP | POLLERR)) c.dead |= !ReadInto(c.client, c.up, bytes_);
      if (ur & (POLLIN | POLLHUP | POLLERR) && !c.connecting) {
        c.dead |= !ReadInto(c.upstream, c.down, bytes_);
      }
      if (!c.connecting) c.dead |= !WriteFrom(c.upstream, c.up);
      c.dead |= !WriteFrom(c.client, c.down);
      if (c.up.shut && c.down.shut) c.dead = true;
    }
    const size_t before = conns.size();
    std::erase_if(conns, [](const auto& c) { return c->dead; });
    open_ -= static_cast<int>(before - conns.size());

    if (fds[1].revents & POLLIN) {
      while (static_cast<int>(conns.size()) < options_.max_connections) {
        int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (client < 0) break;
        auto c = std::make_unique<Connection>();
        c->client = client;
        c->up.buf.resize(options_.buffer_bytes);
        c->down.buf.resize(options_.buffer_bytes);
        c->upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        // Kafka is small request/response frames: Nagle plus delayed ACK would add ~40 ms stalls.
        int one = 1;
        ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        ::setsockopt(c->upstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        sockaddr_in to = Loopback(upstream_port_.load());
        if (c->upstream < 0 ||
            (::connect(c->upstream, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0 &&
             errno != EINPROGRESS)) {
          continue;  // Connection's destructor closes the client: it sees a refused-like close
        }
        ++accepted_;
        ++open_;
        conns.push_back(std::move(c));
      }
    }
  }
  open_ -= static_cast<int>(conns.size());
  conns.clear();
}

}  // namespace segstream::ingest
