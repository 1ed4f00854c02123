#include "app/http_bench.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cmath>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace segstream::app {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// What every client shares: the request counter and the callback's lock.
struct LoadShared {
  const HttpLoadOptions* options = nullptr;
  tcp::endpoint endpoint;
  const std::atomic<bool>* stop = nullptr;
  std::atomic<int64_t> next{0};
  std::mutex callback_mu;
};

// One keep-alive connection issuing requests one after the other until the shared counter runs
// out. Each client's operations form one chain, so its members need no lock.
class LoadClient : public std::enable_shared_from_this<LoadClient> {
 public:
  struct Sample {
    int32_t target;
    int32_t status;  // 0: transport error
    double ms;
  };

  LoadClient(asio::io_context& ioc, LoadShared* shared) : shared_(shared), stream_(ioc) {}

  void Start() { Next(); }
  const std::vector<Sample>& samples() const { return samples_; }
  int64_t connections() const { return connections_; }

 private:
  const HttpLoadOptions& options() const { return *shared_->options; }

  void Next() {
    if (shared_->stop->load()) return Close();
    index_ = shared_->next.fetch_add(1);
    if (index_ >= options().requests) return Close();
    const auto& targets = options().targets;
    target_ = static_cast<int32_t>(index_ % static_cast<int64_t>(targets.size()));
    start_ = Clock::now();
    if (connected_) return Send();
    ++connections_;
    stream_.expires_after(options().timeout);
    stream_.async_connect(shared_->endpoint, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->Failed();
      self->connected_ = true;
      self->Send();
    });
  }

  void Send() {
    request_ = {http::verb::get, options().targets[target_], 11};
    request_.set(http::field::host, shared_->endpoint.address().to_string());
    request_.keep_alive(true);
    stream_.expires_after(options().timeout);
    http::async_write(stream_, request_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Failed();
      self->Receive();
    });
  }

  void Receive() {
    parser_.emplace();
    parser_->body_limit(64 * 1024 * 1024);
    stream_.expires_after(options().timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->Failed();
                       self->Answered();
                     });
  }

  void Answered() {
    const auto& response = parser_->get();
    const int status = static_cast<int>(response.result_int());
    samples_.push_back({target_, status, Millis()});
    if (options().on_response) {
      std::lock_guard lock(shared_->callback_mu);
      options().on_response(index_, status, response.body());
    }
    if (!response.keep_alive()) Disconnect();
    parser_.reset();
    Next();
  }

  void Failed() {
    samples_.push_back({target_, 0, Millis()});
    Disconnect();
    Next();
  }

  double Millis() const {
    return std::chrono::duration<double, std::milli>(Clock::now() - start_).count();
  }

  void Disconnect() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    buffer_.clear();
    connected_ = false;
  }

  void Close() {
    if (connected_) Disconnect();
  }

  LoadShared* shared_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::empty_body> request_;
  std::optional<http::response_parser<http::string_body>> parser_;
  bool connected_ = false;
  int64_t index_ = 0;
  int32_t target_ = 0;
  Clock::time_point start_;
  std::vector<Sample> samples_;
  int64_t connections_ = 0;
};

}  // namespace

std::string EncodePathSegment(std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : segment) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<HttpLoadFigures> RunHttpLoad(const HttpLoadOptions& options, const std::atomic<bool>& stop) {
  if (options.targets.empty()) return Status::InvalidArgument("no request target");
  for (const auto& t : options.targets) {
    if (t.empty() || t[0] != '/') {
      return Status::InvalidArgument("a target must start with '/': " + t);
    }
  }
  if (options.clients < 1 || options.requests < 0 || options.threads < 1) {
    return Status::InvalidArgument("clients and threads must be >= 1, requests >= 0");
  }
  beast::error_code ec;
  const auto address = asio::ip::make_address(options.host, ec);
  if (ec) return Status::InvalidArgument("not an IP address: " + options.host);

  LoadShared shared;
  shared.options = &options;
  shared.endpoint = tcp::endpoint(address, options.port);
  shared.stop = &stop;
  asio::io_context ioc(options.threads);
  std::vector<std::shared_ptr<LoadClient>> clients;
  for (int i = 0; i < options.clients; ++i) {
    clients.push_back(std::make_shared<LoadClient>(ioc, &shared));
  }
  const auto start = Clock::now();
  for (auto& c : clients) c->Start();
  std::vector<std::thread> threads;
  for (int i = 1; i < options.threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  HttpLoadFigures out;
  out.seconds = seconds;
  std::vector<double> all;
  std::vector<std::vector<double>> by_target(options.targets.size());
  out.per_target.resize(options.targets.size());
  for (size_t t = 0; t < options.targets.size(); ++t) out.per_target[t].target = options.targets[t];
  for (const auto& c : clients) {
    out.connections += c->connections();
    for (const auto& s : c->samples()) {
      ++out.requests;
      HttpTargetFigures& target = out.per_target[s.target];
      ++target.requests;
      if (s.status == 0) {
        ++out.transport_errors;
        ++target.errors;
        continue;
      }
      ++out.answered;
      ++out.status_counts[s.status];
      if (s.status < 200 || s.status > 299) {
        ++out.non_2xx;
        ++target.errors;
      }
      all.push_back(s.ms);
      by_target[s.target].push_back(s.ms);
    }
  }
  out.SetFrom(&all);
  for (size_t t = 0; t < by_target.size(); ++t) {
    std::sort(by_target[t].begin(), by_target[t].end());
    out.per_target[t].p50_ms = NearestRankPercentile(by_target[t], 0.50);
    out.per_target[t].p99_ms = NearestRankPercentile(by_target[t], 0.99);
  }
  return out;
}

}  // namespace segstream::app
