#include "ingest/tcp_forwarder.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <thread>
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

int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = Loopback(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

void SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// A blocking loopback server running `handler` on each accepted connection, one thread each.
class TestServer {
 public:
  explicit TestServer(std::function<void(int)> handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = Loopback(0);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] {
      while (true) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        workers_.emplace_back([this, c] {
          handler_(c);
          ::close(c);
        });
      }
    });
  }
  ~TestServer() {
    ::shutdown(fd_, SHUT_RDWR);  // unblocks accept()
    acceptor_.join();
    for (auto& w : workers_) w.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  std::function<void(int)> handler_;
  int fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

void Echo(int fd) {
  char buf[8192];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) SendAll(fd, std::string(buf, n));
}

TEST(TcpForwarderTest, RelaysBothWaysThroughSmallBuffers) {
  TestServer echo(Echo);
  TcpForwarder::Options options;
  options.buffer_bytes = 4096;  // far below the payload: exercises backpressure both ways
  TcpForwarder fwd(options, echo.port());
  ASSERT_TRUE(fwd.Start().ok());
  ASSERT_GT(fwd.port(), 0);

  std::string payload(2 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<char>((i * 131 + i / 7) & 0xff);
  int fd = Connect(fwd.port());
  ASSERT_GE(fd, 0);
  std::thread writer([&] {
    SendAll(fd, payload);
    ::shutdown(fd, SHUT_WR);
  });
  std::string echoed = ReadAll(fd);
  writer.join();
  ::close(fd);
  EXPECT_EQ(echoed.size(), payload.size());
  EXPECT_TRUE(echoed == payload);
  EXPECT_EQ(fwd.accepted(), 1u);
  EXPECT_EQ(fwd.bytes_relayed(), 2 * payload.size());  // there and back
}

TEST(TcpForwarderTest, ForwardsHalfCloseAndThenTheReply) {
  TestServer counter([](int fd) {
    std::string got = ReadAll(fd);  // returns at the forwarded FIN
    SendAll(fd, "got " + std::to_string(got.size()));
  });
  TcpForwarder fwd({}, counter.port());
  ASSERT_TRUE(fwd.Start().ok());
  int fd = Connect(fwd.port());
  SendAll(fd, "hello");
  ::shutdown(fd, SHUT_WR);
  EXPECT_EQ(ReadAll(fd), "got 5");
  ::close(fd);
}

TEST(TcpForwarderTest, NewConnectionsFollowTheUpstreamAndStopClosesOpenOnes) {
  auto greeter = [](std::string name) {
    return [name](int fd) {
      SendAll(fd, name);
      char c;
      (void)::recv(fd, &c, 1, 0);  // hold the connection until the other side closes
    };
  };
  TestServer a(greeter("A"));
  TestServer b(greeter("B"));
  TcpForwarder fwd({}, a.port());
  ASSERT_TRUE(fwd.Start().ok());
  int to_a = Connect(fwd.port());
  char got = 0;
  ASSERT_EQ(::recv(to_a, &got, 1, 0), 1);
  EXPECT_EQ(got, 'A');
  fwd.SetUpstreamPort(b.port());
  int to_b = Connect(fwd.port());
  ASSERT_EQ(::recv(to_b, &got, 1, 0), 1);
  EXPECT_EQ(got, 'B');
  EXPECT_EQ(fwd.open_connections(), 2);
  fwd.Stop();
  EXPECT_EQ(::recv(to_a, &got, 1, 0), 0);  // EOF: the forwarder closed it
  EXPECT_EQ(::recv(to_b, &got, 1, 0), 0);
  ::close(to_a);
  ::close(to_b);
}

TEST(TcpForwarderTest, RefusedUpstreamClosesTheClient) {
  int closed_port;
  {
    TestServer gone([](int) {});
    closed_port = gone.port();
  }
  TcpForwarder fwd({}, closed_port);
  ASSERT_TRUE(fwd.Start().ok());
  int fd = Connect(fwd.port());
  ASSERT_GE(fd, 0);
  char c;
  EXPECT_LE(::recv(fd, &c, 1, 0), 0);
  ::close(fd);
}

TEST(TcpForwarderTest, PortInUseIsUnavailable) {
  TestServer holder([](int) {});
  TcpForwarder::Options options;
  options.port = holder.port();
  TcpForwarder fwd(options, holder.port());
  Status s = fwd.Start();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find(std::to_string(holder.port())), std::string::npos);
}

}  // namespace
}  // namespace segstream::ingest
