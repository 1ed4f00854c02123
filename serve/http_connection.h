// Internal to http_server.cc: one accepted socket, serving HTTP requests one at a time and, after
// an event-stream request, SSE frames until it closes. Not part of the serve/ API.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "serve/http_server.h"
#include "serve/router.h"
#include "serve/sse.h"

namespace segstream::serve::detail {

class Connection;

// What every connection of one server run shares; outlives all of them (they hold a shared_ptr).
struct ServerShared {
  HttpServerOptions options;
  std::shared_ptr<const Router> router;
  RequestObserver observer;
  boost::asio::thread_pool* blocking = nullptr;  // blocking routes and body streams

  std::mutex mu;
  std::condition_variable connection_closed;  // notified whenever `connections` shrinks
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections;  // under mu
  std::atomic<bool> stopping{false};  // set under mu; read lock-free by connections
};

class Connection : public SseClient, public std::enable_shared_from_this<Connection> {
 public:
  // `reject`: answer 503 (too many connections) and close.
  Connection(boost::asio::ip::tcp::socket socket, std::shared_ptr<ServerShared> shared,
             bool reject);
  ~Connection() override;  // unregisters from `shared->connections`; never touches a hub

  void Start();
  // Any thread: detaches from its hub now, closes the socket on its strand soon.
  void Shutdown();
  void Deliver(const SseFrame& frame) override;

 private:
  using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;

  void WaitForRequest();
  void ReadRequest();
  void OnRead(boost::beast::error_code ec);
  void Observe(std::string_view method, std::string_view route, int status);
  void Respond(Response response, std::string_view method, std::string_view route, bool head,
               bool keep_alive, unsigned version);
  void RunBlocking(std::function<Response()> job, std::string method, std::string route, bool head,
                   bool keep_alive, unsigned version);
  // A streamed body (BodyStream): chunked for HTTP/1.1, gathered into one body for HTTP/1.0.
  void StartChunked(bool head, bool keep_alive);
  void PumpChunk(bool keep_alive);
  void Gather(Response response, std::string method, std::string route, bool head, bool keep_alive,
              unsigned version);
  void AfterResponse(bool keep_alive);
  void LingeringClose();
  void Drain(size_t drained);
  void Close();

  void StartEventStream(SseHub& hub, std::string_view route);
  void WriteFrames();
  void ArmHeartbeat();
  void ReadUntilClosed();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  boost::beast::http::response<boost::beast::http::string_body> response_;
  // Streamed response state: header, its serializer, the source and the chunk being written.
  std::optional<boost::beast::http::response<boost::beast::http::empty_body>> stream_head_;
  std::optional<boost::beast::http::response_serializer<boost::beast::http::empty_body>>
      stream_serializer_;
  std::shared_ptr<BodyStream> body_stream_;
  std::string chunk_;
  const std::shared_ptr<ServerShared> shared_;
  const bool reject_;
  bool closed_ = false;
  std::string remote_;
  std::chrono::steady_clock::time_point request_ready_;

  // Event-stream state. `hub_` is also swapped by Shutdown() on another thread.
  std::atomic<SseHub*> hub_{nullptr};
  std::unique_ptr<SseQueue> queue_;
  std::vector<SseFrame> writing_;
  std::optional<boost::asio::steady_timer> heartbeat_;
  std::chrono::milliseconds heartbeat_interval_{0};
  std::array<char, 512> discard_{};
};

}  // namespace segstream::serve::detail
