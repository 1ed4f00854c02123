// Test-only HTTP client for serve/ tests: blocking calls built on Beast's async operations with a
// deadline (beast::tcp_stream timeouts), so a misbehaving server fails a test instead of hanging
// it. Header-only so it stays out of the library.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <thread>

namespace segstream::serve::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using StringResponse = http::response<http::string_body>;

class TestClient {
 public:
  explicit TestClient(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : stream_(ioc_), timeout_(timeout) {
    connect_error_ = Run([&](auto done) {
      stream_.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), port), done);
    });
  }

  beast::error_code connect_error() const { return connect_error_; }
  tcp::socket& socket() { return stream_.socket(); }

  beast::error_code WriteRaw(std::string_view bytes) {
    return Run([&](auto done) { asio::async_write(stream_, asio::buffer(bytes), done); });
  }

  beast::error_code Write(http::request<http::string_body> request) {
    request.prepare_payload();
    return Run([&](auto done) { http::async_write(stream_, request, done); });
  }

  // Reads one response; `head` when it answers a HEAD request (no body follows).
  beast::error_code Read(StringResponse& response, bool head = false) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    parser.skip(head);
    const auto ec = Run([&](auto done) { http::async_read(stream_, buffer_, parser, done); });
    response = parser.release();
    return ec;
  }

  // One request/response; the caller checks the error and the response.
  beast::error_code Call(http::verb method, std::string_view target, StringResponse& response,
                         bool keep_alive = true) {
    http::request<http::string_body> request{method,
                                             beast::string_view(target.data(), target.size()), 11};
    request.set(http::field::host, "127.0.0.1");
    request.keep_alive(keep_alive);
    if (auto ec = Write(std::move(request))) return ec;
    return Read(response, method == http::verb::head);
  }

  // Raw bytes until `marker` is among them (everything read so far is in raw()); an error when
  // the connection ends or the deadline passes first.
  beast::error_code ReadUntil(std::string_view marker) {
    MoveBufferedToRaw();
    while (raw_.find(marker) == std::string::npos) {
      if (auto ec = ReadSome()) return ec;
    }
    return {};
  }

  // Reads until the peer closes, then closes too (as a browser would); true for an orderly or
  // abortive close by the peer within the deadline, false on timeout.
  bool WaitForClose() {
    MoveBufferedToRaw();
    while (true) {
      const auto ec = ReadSome();
      if (!ec) continue;
      stream_.close();
      return ec != beast::error::timeout;
    }
  }

  std::string& raw() { return raw_; }

 private:
  template <typename Start>
  beast::error_code Run(Start&& start) {
    beast::error_code result = asio::error::would_block;
    stream_.expires_after(timeout_);
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }

  beast::error_code ReadSome() {
    char chunk[16 * 1024];
    size_t got = 0;
    const auto ec = Run([&](auto done) {
      stream_.async_read_some(asio::buffer(chunk), [&got, done](beast::error_code e, size_t n) {
        got = n;
        done(e, n);
      });
    });
    raw_.append(chunk, got);
    return ec;
  }

  void MoveBufferedToRaw() {
    raw_ += beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
  }

  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::string raw_;
  std::chrono::milliseconds timeout_;
  beast::error_code connect_error_;
};

// Polls `condition` every few milliseconds until it holds or `limit` passes; returns whether it
// held. For state that changes on server threads (client counts); never used to assert timing.
template <typename Condition>
bool WaitFor(Condition condition, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace segstream::serve::testing
