// HTTP/1.1 server on Boost.Beast/Asio: keep-alive, pipelining (answered in order), size and time
// limits on everything a client controls, and event-stream routes handed to an SseHub (sse.h).
// Handlers run synchronously on the I/O threads, so they must be quick (answer from a snapshot,
// never wait on Redis) and thread-safe; the server parses, routes (router.h) and writes. The few
// that must wait (a read-through to Redis: Router::GetBlocking) and streamed bodies (BodyStream)
// run on a separate blocking pool, so a slow Redis never stalls the I/O threads.
//
// What a client cannot do (each is a test in http_server_test.cc):
// - crash it: parse errors are a 400, a throwing handler a 500, then the connection goes on or
//   closes as the error requires;
// - grow memory without bound: the header is capped (431), the body is capped (413), the read
//   buffer is capped, at most one request per connection is in progress (pipelined bytes wait in
//   the capped buffer), connections are capped (503), SSE queues are capped (client dropped);
// - hold resources forever: idle keep-alive connections, requests that trickle in (slowloris) and
//   clients that do not read their responses are all closed after a timeout.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "serve/router.h"
#include "stream/status.h"

namespace segstream::serve {

struct HttpServerOptions {
  // Address to listen on; a name is resolved once at Start(). Default loopback only.
  std::string host = "127.0.0.1";
  // 0 picks a free port; port() tells which. Default 8080.
  uint16_t port = 8080;
  // Threads running the I/O loop and the handlers. Default 2 (the API is read-mostly and handlers
  // answer from memory; more threads only help with many slow clients).
  int io_threads = 2;
  // Threads for blocking routes (Router::GetBlocking) and streamed bodies (BodyStream::Next):
  // at most this many such calls run at once, the rest queue. Default 2.
  int blocking_threads = 2;
  // Request line plus headers. Beyond: 431 and close. Default 16 KiB (browsers send ~1-2 KiB).
  size_t max_header_bytes = 16 * 1024;
  // Request body (the API is GET-only; bodies are ignored). Beyond: 413 and close. Default 64 KiB.
  size_t max_body_bytes = 64 * 1024;
  // Keep-alive: how long an open connection may wait for the first byte of its next request.
  // Default 30 s.
  std::chrono::milliseconds idle_timeout{30'000};
  // From a request's first byte to its last; a slower request (slowloris) is closed. Default 10 s.
  std::chrono::milliseconds read_timeout{10'000};
  // To hand one response (or one batch of SSE frames) to the kernel; a client that does not read
  // is closed. Default 10 s.
  std::chrono::milliseconds write_timeout{10'000};
  // Open connections, event streams included. Beyond it a new connection gets a 503 and is closed;
  // beyond it plus 64 it is closed without a response. Default 1024.
  size_t max_connections = 1024;
  // Stop(): how long open connections get to close before the loop is stopped hard. Default 2 s.
  std::chrono::milliseconds stop_timeout{2'000};
  // `Server` header value. Default "segstream".
  std::string server_name = "segstream";
};

// One answered request, for metrics (segstream_http_requests_total{code}) and access logs.
struct RequestLog {
  std::string_view method;  // empty when the request could not be parsed
  std::string_view route;   // the matched pattern, "" when none: bounded label cardinality
  int status = 0;
  std::chrono::nanoseconds duration{0};  // request fully read -> response ready to write
};
// Called on I/O threads, possibly concurrently: must be thread-safe and quick.
using RequestObserver = std::function<void(const RequestLog&)>;

class HttpServer {
 public:
  explicit HttpServer(Router router, HttpServerOptions options = {},
                      RequestObserver observer = nullptr);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the I/O threads. Unavailable (with the address and the OS reason)
  // when the address cannot be bound, e.g. the port is taken; InvalidArgument for a bad option.
  Status Start();
  // Closes the listener and every connection (event streams included), waits up to
  // `stop_timeout` for them, then joins the threads. Idempotent. Must not be called from a
  // handler (it would join its own thread).
  void Stop();

  // The bound port (useful with port 0); 0 before Start().
  uint16_t port() const;
  // "host:port" as bound, e.g. "127.0.0.1:40123".
  std::string address() const;
  size_t connection_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace segstream::serve
