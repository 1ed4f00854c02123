#include "serve/http_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "serve/http_connection.h"

namespace segstream::serve {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
// Connections beyond max_connections that still get a polite 503 before the close.
constexpr size_t kRejectSlack = 64;
// After a failed accept (e.g. EMFILE) wait before trying again instead of spinning.
constexpr std::chrono::milliseconds kAcceptRetry{50};
}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  std::shared_ptr<const Router> router;
  RequestObserver observer;

  // One run, from Start() to Stop().
  std::unique_ptr<asio::io_context> ioc;
  std::optional<tcp::acceptor> acceptor;  // on its own strand; only touched from it after Start
  std::optional<asio::steady_timer> accept_retry;
  // Keeps the threads in run() until Stop() is done with them: without it they return as soon as
  // the last connection's last handler ran, and a close posted by Stop() would never execute.
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  // Blocking routes and body streams (http_server.h); outlives the I/O threads (see Stop).
  std::unique_ptr<asio::thread_pool> blocking;
  std::shared_ptr<detail::ServerShared> shared;
  std::vector<std::thread> threads;
  tcp::endpoint bound;

  void Accept();
  void OnAccept(boost::beast::error_code ec, tcp::socket socket);
};

void HttpServer::Impl::Accept() {
  acceptor->async_accept(
      asio::make_strand(*ioc),
      [this](boost::beast::error_code ec, tcp::socket socket) { OnAccept(ec, std::move(socket)); });
}

void HttpServer::Impl::OnAccept(boost::beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
  if (ec) {
    spdlog::warn("http accept failed: {}; retrying", ec.message());
    accept_retry->expires_after(kAcceptRetry);
    accept_retry->async_wait([this](boost::beast::error_code wait_ec) {
      if (!wait_ec && acceptor->is_open()) Accept();
    });
    return;
  }
  std::shared_ptr<detail::Connection> connection;
  {
    std::lock_guard lock(shared->mu);
    const size_t open = shared->connections.size();
    if (!shared->stopping.load() && open < options.max_connections + kRejectSlack) {
      connection = std::make_shared<detail::Connection>(std::move(socket), shared,
                                                        open >= options.max_connections);
      shared->connections[connection.get()] = connection;
    }
  }
  if (connection) {
    connection->Start();
  } else {
    boost::beast::error_code ignored;
    socket.close(ignored);
  }
  Accept();
}

HttpServer::HttpServer(Router router, HttpServerOptions options, RequestObserver observer)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->router = std::make_shared<const Router>(std::move(router));
  impl_->observer = std::move(observer);
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  Impl& m = *impl_;
  if (m.ioc) return Status::Internal("http server already started");
  const HttpServerOptions& o = m.options;
  if (o.io_threads < 1 || o.blocking_threads < 1 || o.max_connections < 1 ||
      o.max_header_bytes < 256 || o.idle_timeout.count() <= 0 || o.read_timeout.count() <= 0 ||
      o.write_timeout.count() <= 0) {
    return Status::InvalidArgument(
        "http options: io_threads, blocking_threads and max_connections must be >= 1, "
        "max_header_bytes >= 256, timeouts > 0");
  }
  const std::string where = o.host + ":" + std::to_string(o.port);
  auto ioc = std::make_unique<asio::io_context>(o.io_threads);
  boost::beast::error_code ec;
  tcp::resolver resolver(*ioc);
  auto endpoints = resolver.resolve(o.host, std::to_string(o.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    return Status::InvalidArgument("cannot resolve http listen address " + where + ": " +
                                   (ec ? ec.message() : "no address"));
  }
  tcp::acceptor acceptor(asio::make_strand(*ioc));
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  // reuse_address lets a restarted server bind while old connections sit in TIME_WAIT; on Linux
  // it does not allow two listeners on one port, so a taken port still fails below.
  if (acceptor.open(endpoint.protocol(), ec); !ec) {
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  }
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + where + ": " + ec.message() +
                               (ec == asio::error::address_in_use
                                    ? " (another process holds the port; pick another or 0)"
                                    : ""));
  }
  m.bound = acceptor.local_endpoint(ec);

  m.blocking = std::make_unique<asio::thread_pool>(static_cast<size_t>(o.blocking_threads));
  m.shared = std::make_shared<detail::ServerShared>();
  m.shared->blocking = m.blocking.get();
  m.shared->options = o;
  m.shared->router = m.router;
  m.shared->observer = m.observer;
  m.acceptor.emplace(std::move(acceptor));
  m.accept_retry.emplace(m.acceptor->get_executor());
  m.ioc = std::move(ioc);
  m.work.emplace(m.ioc->get_executor());
  m.Accept();
  for (int i = 0; i < o.io_threads; ++i) {
    m.threads.emplace_back([ioc = m.ioc.get()] {
      while (true) {
        try {
          ioc->run();
          return;
        } catch (const std::exception& e) {  // a handler must not take the server down
          spdlog::error("http io thread caught: {}", e.what());
        }
      }
    });
  }
  spdlog::info("http listening on {}", address());
  return Status::Ok();
}

void HttpServer::Stop() {
  Impl& m = *impl_;
  if (!m.ioc) return;
  std::vector<std::shared_ptr<detail::Connection>> open;
  {
    std::lock_guard lock(m.shared->mu);
    m.shared->stopping.store(true);
    for (auto& [unused, weak] : m.shared->connections) {
      if (auto connection = weak.lock()) open.push_back(std::move(connection));
    }
  }
  asio::post(m.acceptor->get_executor(), [&m] {
    boost::beast::error_code ignored;
    m.acceptor->close(ignored);
    m.accept_retry->cancel();
  });
  for (auto& connection : open) connection->Shutdown();
  open.clear();
  {
    std::unique_lock lock(m.shared->mu);
    m.shared->connection_closed.wait_for(lock, m.options.stop_timeout,
                                         [&] { return m.shared->connections.empty(); });
    if (!m.shared->connections.empty()) {
      spdlog::warn("http stop: {} connections still open after {} ms; stopping hard",
                   m.shared->connections.size(), m.options.stop_timeout.count());
    }
  }
  // Blocking calls already running finish (each is bounded by its own Redis timeout) and post
  // their results to the still-running loop; queued ones are abandoned.
  m.blocking->stop();
  m.blocking->join();
  m.work.reset();
  m.ioc->stop();
  for (auto& thread : m.threads) thread.join();
  m.threads.clear();
  // Abandoned blocking jobs hold connections: destroy them while the loop (their sockets'
  // executor) still exists. Destroying the loop then destroys handlers that never ran, and with
  // them the last connections.
  m.blocking.reset();
  m.accept_retry.reset();
  m.acceptor.reset();
  m.ioc.reset();
  m.shared.reset();
}

uint16_t HttpServer::port() const { return impl_->bound.port(); }

std::string HttpServer::address() const {
  const auto& e = impl_->bound;
  return (e.address().is_v6() ? "[" + e.address().to_string() + "]" : e.address().to_string()) +
         ":" + std::to_string(e.port());
}

size_t HttpServer::connection_count() const {
  if (!impl_->shared) return 0;
  std::lock_guard lock(impl_->shared->mu);
  return impl_->shared->connections.size();
}

}  // namespace segstream::serve
