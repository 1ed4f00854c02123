// TcpForwarder: a fixed loopback port that relays every connection, byte for byte, to an upstream
// loopback port. MockBroker uses it as the stable bootstrap address in front of librdkafka's mock
// cluster, whose brokers bind random ports (KAFKA_MOCK.md); clients then follow the metadata to
// the real broker ports, so only bootstrap traffic (ApiVersions, Metadata) normally passes here.
//
// One thread, poll(2), non-blocking sockets; each connection has a bounded buffer per direction
// (a full buffer stops reading from that side: TCP backpressure, no unbounded memory). A half
// close (FIN) is forwarded once the buffer has drained, so request/response protocols and
// shutdown(SHUT_WR) both work. Stop() closes every connection.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>

#include "stream/status.h"

namespace segstream::ingest {

class TcpForwarder {
 public:
  struct Options {
    // Listening port on 127.0.0.1; 0 picks a free one.
    int port = 0;
    // Bytes buffered per direction per connection.
    size_t buffer_bytes = 256 * 1024;
    // Connections beyond this wait in the listen backlog until one closes.
    int max_connections = 256;
  };

  TcpForwarder(Options options, int upstream_port);
  ~TcpForwarder();  // Stop()
  TcpForwarder(const TcpForwarder&) = delete;
  TcpForwarder& operator=(const TcpForwarder&) = delete;

  // Binds and starts the relay thread. Errors: port in use (kUnavailable), bad port.
  Status Start();
  // Closes the listener and every relayed connection; joins the thread. Idempotent.
  void Stop();

  // Where connections accepted from now on go (127.0.0.1:port); open ones keep their upstream.
  void SetUpstreamPort(int port) { upstream_port_.store(port); }
  int upstream_port() const { return upstream_port_.load(); }
  int port() const { return port_; }
  // Connections accepted so far, and those currently open (for tests and diagnostics).
  uint64_t accepted() const { return accepted_.load(); }
  int open_connections() const { return open_.load(); }
  // Bytes relayed so far, both directions.
  uint64_t bytes_relayed() const { return bytes_.load(); }

 private:
  void Run();

  Options options_;
  std::atomic<int> upstream_port_;
  int port_ = 0;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: Stop() wakes poll()
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<int> open_{0};
  std::atomic<uint64_t> bytes_{0};
  std::thread thread_;
};

}  // namespace segstream::ingest
