#include "serve/http_connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <utility>

namespace segstream::serve::detail {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// Bytes discarded after an error response before the socket is closed (see LingeringClose).
constexpr size_t kLingerBytes = 256 * 1024;
constexpr std::chrono::milliseconds kLingerTime{1'000};
// First read of a new request: enough for a typical GET in one go.
constexpr size_t kFirstReadBytes = 4096;

bool HasCrLf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

const SseFrame& HeartbeatFrame() {
  // A comment line: EventSource ignores it, proxies see traffic (WHATWG HTML §9.2.6).
  static const SseFrame kFrame = std::make_shared<const std::string>(": keep-alive\n\n");
  return kFrame;
}

}  // namespace

Connection::Connection(asio::ip::tcp::socket socket, std::shared_ptr<ServerShared> shared,
                       bool reject)
    : stream_(std::move(socket)),
      // Header and body caps bound the parser; the buffer cap bounds pipelined bytes on top.
      buffer_(shared->options.max_header_bytes + shared->options.max_body_bytes + kFirstReadBytes),
      shared_(std::move(shared)),
      reject_(reject) {
  beast::error_code ec;
  const auto endpoint = stream_.socket().remote_endpoint(ec);
  if (!ec) remote_ = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

Connection::~Connection() {
  std::lock_guard lock(shared_->mu);
  shared_->connections.erase(this);
  shared_->connection_closed.notify_all();
}

void Connection::Start() {
  asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
    if (self->reject_) {
      self->Respond(JsonError(503, "too many connections; retry later"), "", "", false, false, 11);
    } else {
      self->WaitForRequest();
    }
  });
}

void Connection::Shutdown() {
  if (SseHub* hub = hub_.exchange(nullptr)) hub->Detach(this);
  asio::post(stream_.get_executor(), [self = shared_from_this()] { self->Close(); });
}

void Connection::Close() {
  if (closed_) return;
  closed_ = true;
  if (SseHub* hub = hub_.exchange(nullptr)) hub->Detach(this);
  if (queue_) queue_->Close();
  if (heartbeat_) heartbeat_->cancel();
  beast::error_code ec;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  stream_.close();
}

// Keep-alive wait: the idle timeout covers the gap until the next request's first byte; from
// then on the (shorter) read timeout covers the whole request, so trickling bytes do not help.
void Connection::WaitForRequest() {
  if (closed_) return;
  if (buffer_.size() > 0) {  // a pipelined request is already here
    ReadRequest();
    return;
  }
  stream_.expires_after(shared_->options.idle_timeout);
  stream_.async_read_some(buffer_.prepare(kFirstReadBytes), [self = shared_from_this()](
                                                                beast::error_code ec, size_t n) {
    self->buffer_.commit(n);
    if (ec) {
      self->Close();  // idle timeout, client closed, or shut down: nothing to answer
      return;
    }
    self->ReadRequest();
  });
}

void Connection::ReadRequest() {
  if (closed_) return;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(shared_->options.max_header_bytes));
  parser_->body_limit(shared_->options.max_body_bytes);
  stream_.expires_after(shared_->options.read_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
}

void Connection::OnRead(beast::error_code ec) {
  if (closed_) return;
  if (ec) {
    // Timeouts close the socket (beast::tcp_stream), so there is nobody left to answer.
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec.category() != http::make_error_code(http::error::bad_method).category()) {
      Close();
      return;
    }
    int status = 400;
    std::string message = "malformed HTTP request: " + ec.message();
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      status = 431;
      message = "request header larger than " + std::to_string(shared_->options.max_header_bytes) +
                " bytes";
    } else if (ec == http::error::body_limit) {
      status = 413;
      message =
          "request body larger than " + std::to_string(shared_->options.max_body_bytes) + " bytes";
    }
    Respond(JsonError(status, message), "", "", false, false, 11);
    return;
  }

  request_ready_ = std::chrono::steady_clock::now();
  auto& message = parser_->get();
  Request request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  for (const auto& field : message) {
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  request.body = std::move(message.body());
  request.remote = remote_;
  const bool keep_alive = message.keep_alive();
  const unsigned version = message.version();
  const bool head = message.method() == http::verb::head;
  parser_.reset();

  Dispatch dispatch = shared_->router->Handle(request);
  if (dispatch.blocking) {
    RunBlocking(std::move(dispatch.blocking), std::move(request.method), std::move(dispatch.route),
                head, keep_alive, version);
    return;
  }
  if (dispatch.sse != nullptr && !head) {
    StartEventStream(*dispatch.sse, dispatch.route);
    return;
  }
  if (dispatch.sse != nullptr) {  // HEAD of a stream: the headers a GET would get, no stream
    dispatch.response.content_type = "text/event-stream";
    dispatch.response.headers.emplace_back("Cache-Control", "no-cache");
  }
  Respond(std::move(dispatch.response), request.method, dispatch.route, head, keep_alive, version);
}

void Connection::Observe(std::string_view method, std::string_view route, int status) {
  if (shared_->observer) {
    const auto elapsed = request_ready_ == std::chrono::steady_clock::time_point{}
                             ? std::chrono::nanoseconds(0)
                             : std::chrono::steady_clock::now() - request_ready_;
    try {
      shared_->observer(RequestLog{method, route, status, elapsed});
    } catch (const std::exception& e) {
      spdlog::error("http request observer threw: {}", e.what());
    }
  }
  request_ready_ = {};
}

void Connection::Respond(Response response, std::string_view method, std::string_view route,
                         bool head, bool keep_alive, unsigned version) {
  const bool bodiless = response.status < 200 || response.status == 204 || response.status == 304;
  const bool streamed = response.stream != nullptr && !bodiless;
  if (streamed && version < 11) {
    Gather(std::move(response), std::string(method), std::string(route), head, keep_alive, version);
    return;
  }
  Observe(method, route, response.status);
  if (shared_->stopping.load()) keep_alive = false;

  response_ = {};
  response_.version(version);
  response_.result(static_cast<unsigned>(response.status));
  response_.set(http::field::server, shared_->options.server_name);
  response_.set(http::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) {
    if (name.empty() || HasCrLf(name) || HasCrLf(value)) continue;  // no response splitting
    // Framing is the server's job; a handler's value would desynchronise the connection.
    if (beast::iequals(name, "Content-Length") || beast::iequals(name, "Transfer-Encoding") ||
        beast::iequals(name, "Connection")) {
      continue;
    }
    response_.set(name, value);
  }
  if (streamed) {
    body_stream_ = std::move(response.stream);
    StartChunked(head, keep_alive);
    return;
  }
  const size_t body_size = bodiless ? 0 : response.body.size();
  if (!head && !bodiless) response_.body() = std::move(response.body);
  response_.keep_alive(keep_alive);
  if (!bodiless) response_.content_length(body_size);  // HEAD: the size a GET would send

  stream_.expires_after(shared_->options.write_timeout);
  http::async_write(stream_, response_,
                    [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                      if (ec) {
                        self->Close();
                      } else {
                        self->AfterResponse(keep_alive);
                      }
                    });
}

void Connection::AfterResponse(bool keep_alive) {
  if (!keep_alive) {
    LingeringClose();
  } else {
    WaitForRequest();
  }
}

// The handler may wait (on Redis): it runs on the blocking pool, the answer is written back on
// this connection's strand. Nothing else happens on the connection meanwhile (one request at a
// time; pipelined bytes wait in the buffer).
void Connection::RunBlocking(std::function<Response()> job, std::string method, std::string route,
                             bool head, bool keep_alive, unsigned version) {
  asio::post(*shared_->blocking, [self = shared_from_this(), job = std::move(job),
                                  method = std::move(method), route = std::move(route), head,
                                  keep_alive, version]() mutable {
    Response response = job();  // Router's RunHandler: never throws
    asio::post(self->stream_.get_executor(),
               [self, response = std::move(response), method = std::move(method),
                route = std::move(route), head, keep_alive, version]() mutable {
                 if (self->closed_) return;
                 self->Respond(std::move(response), method, route, head, keep_alive, version);
               });
  });
}

namespace {

Result<std::optional<std::string>> NextPiece(BodyStream& stream) {
  try {
    return stream.Next();
  } catch (const std::exception& e) {
    return Status::Internal(std::string("body stream threw: ") + e.what());
  } catch (...) {
    return Status::Internal("body stream threw");
  }
}

}  // namespace

// `response_` holds the status and headers; they go out with `Transfer-Encoding: chunked`, then
// one chunk per piece, each piece fetched on the blocking pool.
void Connection::StartChunked(bool head, bool keep_alive) {
  stream_serializer_.reset();  // it refers to the previous head
  stream_head_.emplace(std::move(response_.base()));
  stream_head_->keep_alive(keep_alive);
  stream_head_->chunked(true);
  stream_serializer_.emplace(*stream_head_);
  stream_.expires_after(shared_->options.write_timeout);
  http::async_write_header(
      stream_, *stream_serializer_,
      [self = shared_from_this(), head, keep_alive](beast::error_code ec, size_t) {
        if (ec) {
          self->Close();
        } else if (head) {  // HEAD: the header a GET would get, no body
          self->body_stream_.reset();
          self->AfterResponse(keep_alive);
        } else {
          self->PumpChunk(keep_alive);
        }
      });
}

void Connection::PumpChunk(bool keep_alive) {
  asio::post(*shared_->blocking, [self = shared_from_this(), keep_alive] {
    auto piece = NextPiece(*self->body_stream_);
    asio::post(self->stream_.get_executor(), [self, keep_alive,
                                              piece = std::move(piece)]() mutable {
      if (self->closed_) return;
      if (!piece.ok()) {
        spdlog::warn("response body to {} aborted: {}", self->remote_, piece.status().ToString());
        self->Close();  // no terminating chunk: the client sees an incomplete body
        return;
      }
      self->stream_.expires_after(self->shared_->options.write_timeout);
      if (!piece->has_value()) {
        self->body_stream_.reset();
        asio::async_write(self->stream_, http::make_chunk_last(),
                          [self, keep_alive](beast::error_code ec, size_t) {
                            if (ec) {
                              self->Close();
                            } else {
                              self->AfterResponse(keep_alive);
                            }
                          });
        return;
      }
      if ((*piece)->empty()) {  // an empty chunk would end the body
        self->PumpChunk(keep_alive);
        return;
      }
      self->chunk_ = std::move(**piece);
      asio::async_write(self->stream_, http::make_chunk(asio::buffer(self->chunk_)),
                        [self, keep_alive](beast::error_code ec, size_t) {
                          if (ec) {
                            self->Close();
                          } else {
                            self->PumpChunk(keep_alive);
                          }
                        });
    });
  });
}

// HTTP/1.0 has no chunked coding (RFC 9112 §7.1): the stream is gathered into one body. Nothing
// has been sent yet, so a failing stream still gets a proper error response.
void Connection::Gather(Response response, std::string method, std::string route, bool head,
                        bool keep_alive, unsigned version) {
  auto stream = std::move(response.stream);
  RunBlocking(
      [stream = std::move(stream), response = std::move(response)]() mutable {
        std::string body;
        while (true) {
          auto piece = NextPiece(*stream);
          if (!piece.ok()) return ErrorResponse(piece.status());
          if (!piece->has_value()) break;
          body += **piece;
        }
        response.body = std::move(body);
        return std::move(response);
      },
      std::move(method), std::move(route), head, keep_alive, version);
}

// Closing a socket with unread input makes the kernel send RST, which can destroy the response
// still in flight to the client (RFC 9112 §9.6). So: half-close, discard what the client still
// sends for a bounded time and amount, then close.
void Connection::LingeringClose() {
  if (closed_) return;
  beast::error_code ec;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  stream_.expires_after(
      std::min<std::chrono::milliseconds>(kLingerTime, shared_->options.read_timeout));
  buffer_.clear();
  Drain(0);
}

void Connection::Drain(size_t drained) {
  stream_.async_read_some(asio::buffer(discard_),
                          [self = shared_from_this(), drained](beast::error_code ec, size_t n) {
                            if (ec || drained + n > kLingerBytes) {
                              self->Close();
                            } else {
                              self->Drain(drained + n);
                            }
                          });
}

void Connection::StartEventStream(SseHub& hub, std::string_view route) {
  const SseOptions& options = hub.options();
  queue_ = std::make_unique<SseQueue>(options.max_queued_bytes, options.max_queued_events);
  heartbeat_interval_ = options.heartbeat_interval;
  // The response has no length: the stream ends when the connection closes (RFC 9112 §6.3).
  std::string head = "HTTP/1.1 200 OK\r\nServer: " + shared_->options.server_name +
                     "\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                     "Connection: close\r\nX-Accel-Buffering: no\r\n\r\n"
                     "retry: " +
                     std::to_string(options.client_retry.count()) + "\n\n";
  // Queued before Attach, so every event lands after the header.
  (void)queue_->PushUnbounded(std::make_shared<const std::string>(std::move(head)));
  if (!hub.Attach(shared_from_this())) {
    queue_.reset();
    Respond(JsonError(503, "too many event-stream clients; retry later"), "GET", route, false,
            false, 11);
    return;
  }
  hub_.store(&hub);
  // Pairs with Stop(): it sets `stopping` and then detaches every connection it knows, so either
  // it saw `hub_` or this load sees `stopping`.
  if (shared_->stopping.load()) {
    Close();
    return;
  }
  Observe("GET", route, 200);
  heartbeat_.emplace(stream_.get_executor());
  WriteFrames();
  ReadUntilClosed();
}

void Connection::Deliver(const SseFrame& frame) {
  switch (queue_->Push(frame)) {
    case SseQueue::PushResult::kWakeWriter:
      asio::post(stream_.get_executor(), [self = shared_from_this()] { self->WriteFrames(); });
      break;
    case SseQueue::PushResult::kOverflow:
      asio::post(stream_.get_executor(), [self = shared_from_this()] {
        if (self->closed_) return;
        spdlog::warn("dropping slow event-stream client {}", self->remote_);
        if (SseHub* hub = self->hub_.load()) hub->CountDrop();
        self->Close();
      });
      break;
    default:
      break;
  }
}

void Connection::WriteFrames() {
  if (closed_) return;
  writing_ = queue_->BeginWrite();
  if (writing_.empty()) return;
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(writing_.size());
  for (const auto& frame : writing_) buffers.emplace_back(asio::buffer(*frame));
  stream_.expires_after(shared_->options.write_timeout);
  asio::async_write(stream_, buffers, [self = shared_from_this()](beast::error_code ec, size_t) {
    self->writing_.clear();
    if (ec || self->closed_) {
      self->Close();
      return;
    }
    self->stream_.expires_never();
    self->ArmHeartbeat();
    if (self->queue_->EndWrite()) self->WriteFrames();
  });
}

void Connection::ArmHeartbeat() {
  heartbeat_->expires_after(heartbeat_interval_);
  heartbeat_->async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->closed_) return;  // re-armed by a later write, or closing
    if (self->queue_->PushUnbounded(HeartbeatFrame()) == SseQueue::PushResult::kWakeWriter) {
      self->WriteFrames();
    }
  });
}

// An event stream is one-way; reading only notices the client going away. Anything it sends is
// discarded into a fixed buffer.
void Connection::ReadUntilClosed() {
  stream_.socket().async_read_some(asio::buffer(discard_),
                                   [self = shared_from_this()](beast::error_code ec, size_t) {
                                     if (ec || self->closed_) {
                                       self->Close();
                                       return;
                                     }
                                     self->ReadUntilClosed();
                                   });
}

}  // namespace segstream::serve::detail
