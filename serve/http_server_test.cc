#include "serve/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

#include "serve/params.h"
#include "serve/test_client.h"

namespace segstream::serve {
namespace {

using ::testing::HasSubstr;
using testing::StringResponse;
using testing::TestClient;
using testing::WaitFor;
namespace http = boost::beast::http;

struct Logged {
  std::string method;
  std::string route;
  int status;
};

// Routes shaped like DESIGN §6, answering with what they parsed so tests can check it.
Router TestRouter() {
  Router router;
  router.Get("/v1/status", [](const Request&) { return JsonResponse({{"ok", true}}); });
  router.Get("/v1/items/{sku}", [](const Request& r) {
    if (Status s = CheckParams(r, {"window"}); !s.ok()) return ErrorResponse(s);
    auto window = EnumParam(r, "window", {"all", "1h", "24h", "7d", "30d"}, "all");
    if (!window.ok()) return ErrorResponse(window.status());
    return JsonResponse({{"sku", r.PathParam("sku")}, {"window", window.value()}});
  });
  router.Get("/v1/items/{sku}/together", [](const Request& r) {
    if (Status s = CheckParams(r, {"n", "window"}); !s.ok()) return ErrorResponse(s);
    auto n = IntParam(r, "n", 1, 1000, 10);
    if (!n.ok()) return ErrorResponse(n.status());
    return JsonResponse({{"sku", r.PathParam("sku")}, {"n", n.value()}});
  });
  router.Get("/v1/customers/{id}", [](const Request& r) {
    if (r.PathParam("id") == "404") return JsonError(404, "customer 404 is not segmented");
    return JsonResponse({{"customer_id", r.PathParam("id")}});
  });
  router.Get("/boom", [](const Request&) -> Response { throw std::runtime_error("handler bug"); });
  router.Get("/text", [](const Request&) {
    return Response{.status = 200,
                    .content_type = "text/plain",
                    .body = "hello",
                    .headers = {{"X-Ok", "1"},
                                {"X-Bad", "a\r\nInjected: 1"},
                                {"Content-Length", "999"},
                                {"Connection", "close"}}};
  });
  return router;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options = {}) {
    options.port = 0;
    server_ = std::make_unique<HttpServer>(TestRouter(), options, [this](const RequestLog& log) {
      std::lock_guard lock(mu_);
      logged_.push_back({std::string(log.method), std::string(log.route), log.status});
    });
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_NE(server_->port(), 0);
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  std::vector<Logged> logged() {
    std::lock_guard lock(mu_);
    return logged_;
  }

  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::vector<Logged> logged_;
};

nlohmann::json Json(const StringResponse& r) { return nlohmann::json::parse(r.body()); }

void ExpectJsonError(const StringResponse& r, int status) {
  EXPECT_EQ(r.result_int(), status) << r.body();
  EXPECT_EQ(r[http::field::content_type], "application/json");
  const auto body = Json(r);
  EXPECT_EQ(body["error"]["code"], status) << r.body();
  EXPECT_TRUE(body["error"]["message"].is_string());
}

TEST_F(HttpServerTest, RoutesPathParametersAndErrors) {
  StartServer();
  TestClient client(server_->port());
  ASSERT_FALSE(client.connect_error());
  StringResponse r;

  ASSERT_FALSE(client.Call(http::verb::get, "/v1/items/85123A?window=7d", r));
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(Json(r), nlohmann::json::parse(R"({"sku":"85123A","window":"7d"})"));

  // A sku with characters that must be percent-encoded, encoded by hand.
  ASSERT_FALSE(
      client.Call(http::verb::get, "/v1/items/BANK%20CHARGES%3F%26%23%25/together?n=3", r));
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(Json(r), nlohmann::json::parse(R"({"sku":"BANK CHARGES?&#%","n":3})"));

  ASSERT_FALSE(client.Call(http::verb::get, "/v1/customers/17850", r));
  EXPECT_EQ(Json(r)["customer_id"], "17850");

  ASSERT_FALSE(client.Call(http::verb::get, "/v1/customers/404", r));
  ExpectJsonError(r, 404);
  ASSERT_FALSE(client.Call(http::verb::get, "/v1/nothing-here", r));
  ExpectJsonError(r, 404);
  ASSERT_FALSE(client.Call(http::verb::post, "/v1/status", r));
  ExpectJsonError(r, 405);
  EXPECT_EQ(r[http::field::allow], "GET, HEAD");
  ASSERT_FALSE(client.Call(http::verb::get, "/v1/items/x/together?n=0", r));
  ExpectJsonError(r, 400);
  EXPECT_THAT(Json(r)["error"]["message"].get<std::string>(), HasSubstr("'n'"));
  ASSERT_FALSE(client.Call(http::verb::get, "/v1/items/x?window=2h", r));
  ExpectJsonError(r, 400);
  ASSERT_FALSE(client.Call(http::verb::get, "/v1/items/x?windw=1h", r));
  ExpectJsonError(r, 400);
  ASSERT_FALSE(client.Call(http::verb::get, "/v1/items/%zz", r));
  ExpectJsonError(r, 400);
  ASSERT_FALSE(client.Call(http::verb::get, "/boom", r));
  ExpectJsonError(r, 500);

  ASSERT_FALSE(client.Call(http::verb::get, "/text", r));
  EXPECT_EQ(r.body(), "hello");
  EXPECT_EQ(r[http::field::content_type], "text/plain");
  EXPECT_EQ(r["X-Ok"], "1");
  EXPECT_EQ(r.count("X-Bad"), 0u);
  EXPECT_EQ(r.count("Injected"), 0u);
  EXPECT_EQ(r[http::field::server], "segstream");
  EXPECT_EQ(r[http::field::content_length], "5");  // framing headers from a handler are ignored
  EXPECT_TRUE(r.keep_alive());

  // All of that on one keep-alive connection, including the error answers.
  EXPECT_EQ(server_->connection_count(), 1u);
}

TEST_F(HttpServerTest, HeadSendsHeadersOnly) {
  StartServer();
  TestClient client(server_->port());
  StringResponse get;
  ASSERT_FALSE(client.Call(http::verb::get, "/v1/status", get));
  StringResponse head;
  ASSERT_FALSE(client.Call(http::verb::head, "/v1/status", head));
  EXPECT_EQ(head.result_int(), 200);
  EXPECT_EQ(head[http::field::content_length], std::to_string(get.body().size()));
  EXPECT_TRUE(head.body().empty());
  // The connection is still in sync: no stray body bytes were sent after the HEAD answer.
  ASSERT_FALSE(client.Call(http::verb::get, "/v1/status", get));
  EXPECT_EQ(Json(get)["ok"], true);
}

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  StartServer();
  TestClient client(server_->port());
  for (int i = 0; i < 50; ++i) {
    StringResponse r;
    ASSERT_FALSE(client.Call(http::verb::get, "/v1/customers/c" + std::to_string(i), r));
    EXPECT_EQ(Json(r)["customer_id"], "c" + std::to_string(i));
    EXPECT_TRUE(r.keep_alive());
  }
  EXPECT_EQ(server_->connection_count(), 1u);
}

TEST_F(HttpServerTest, ConnectionCloseIsHonoured) {
  StartServer();
  TestClient client(server_->port());
  StringResponse r;
  ASSERT_FALSE(client.Call(http::verb::get, "/v1/status", r, /*keep_alive=*/false));
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_FALSE(r.keep_alive());
  EXPECT_TRUE(client.WaitForClose());
  EXPECT_TRUE(WaitFor([&] { return server_->connection_count() == 0; }));
}

TEST_F(HttpServerTest, Http10WithoutKeepAliveCloses) {
  StartServer();
  TestClient client(server_->port());
  ASSERT_FALSE(client.WriteRaw("GET /v1/status HTTP/1.0\r\n\r\n"));
  EXPECT_TRUE(client.WaitForClose());
  EXPECT_THAT(client.raw(), HasSubstr("HTTP/1.0 200 OK"));
  EXPECT_THAT(client.raw(), HasSubstr(R"({"ok":true})"));
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  TestClient client(server_->port());
  std::string batch;
  for (int i = 0; i < 20; ++i) {
    batch += "GET /v1/customers/p" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  ASSERT_FALSE(client.WriteRaw(batch));
  for (int i = 0; i < 20; ++i) {
    StringResponse r;
    ASSERT_FALSE(client.Read(r));
    EXPECT_EQ(Json(r)["customer_id"], "p" + std::to_string(i));
  }
}

TEST_F(HttpServerTest, OversizedHeaderIs431ThenClose) {
  HttpServerOptions options;
  options.max_header_bytes = 2048;
  StartServer(options);
  TestClient client(server_->port());
  ASSERT_FALSE(client.WriteRaw(
      "GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8192, 'a') + "\r\n\r\n"));
  StringResponse r;
  ASSERT_FALSE(client.Read(r));
  ExpectJsonError(r, 431);
  EXPECT_FALSE(r.keep_alive());
  EXPECT_TRUE(client.WaitForClose());
}

TEST_F(HttpServerTest, OversizedBodyIs413ThenClose) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  StartServer(options);
  TestClient client(server_->port());
  // Announce 10 MB, send 100 KB: the server must answer without waiting for (or buffering) it all.
  ASSERT_FALSE(
      client.WriteRaw("POST /v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n" +
                      std::string(100'000, 'b')));
  StringResponse r;
  ASSERT_FALSE(client.Read(r));
  ExpectJsonError(r, 413);
  EXPECT_TRUE(client.WaitForClose());

  // Chunked bodies are capped the same way.
  TestClient chunked(server_->port());
  ASSERT_FALSE(
      chunked.WriteRaw("POST /v1/status HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "800\r\n" +
                       std::string(2048, 'c') + "\r\n0\r\n\r\n"));
  ASSERT_FALSE(chunked.Read(r));
  ExpectJsonError(r, 413);
}

TEST_F(HttpServerTest, GarbageIs400ThenClose) {
  StartServer();
  const std::vector<std::string> garbage = {
      std::string("\x01\x02\x03\r\n\r\n", 7),
      "GET /v1/status HTTP/9.9\r\n\r\n",
      "GET /v1/status HTTP/1.1\r\nNo colon here\r\n\r\n",
      "GET /v1/status HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
      "GET /v1/status HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "GET /v1/status HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "GET  HTTP/1.1\r\n\r\n",
  };
  for (const auto& bytes : garbage) {
    TestClient client(server_->port());
    ASSERT_FALSE(client.WriteRaw(bytes));
    StringResponse r;
    ASSERT_FALSE(client.Read(r)) << bytes;
    ExpectJsonError(r, 400);
    EXPECT_TRUE(client.WaitForClose()) << bytes;
  }
  // A method the server does not know is valid HTTP: routed, then refused.
  TestClient client(server_->port());
  ASSERT_FALSE(client.WriteRaw("BREW /v1/status HTTP/1.1\r\nHost: x\r\n\r\n"));
  StringResponse r;
  ASSERT_FALSE(client.Read(r));
  ExpectJsonError(r, 405);
  // And the server is still fine.
  ASSERT_FALSE(client.Call(http::verb::get, "/v1/status", r));
  EXPECT_EQ(r.result_int(), 200);
}

TEST_F(HttpServerTest, SlowAndIdleClientsAreClosed) {
  HttpServerOptions options;
  options.read_timeout = std::chrono::milliseconds(200);
  options.idle_timeout = std::chrono::milliseconds(200);
  StartServer(options);

  TestClient slowloris(server_->port());
  ASSERT_FALSE(slowloris.WriteRaw("GET /v1/status HTTP/1.1\r\nHost: x\r\n"));  // never finished
  TestClient idle(server_->port());  // connects, never sends
  TestClient after_one(server_->port());
  StringResponse r;
  ASSERT_FALSE(after_one.Call(http::verb::get, "/v1/status", r));  // then goes quiet

  // The client deadline (10 s) is far beyond the server's: a close seen first came from the server.
  EXPECT_TRUE(slowloris.WaitForClose());
  EXPECT_TRUE(idle.WaitForClose());
  EXPECT_TRUE(after_one.WaitForClose());
  EXPECT_TRUE(WaitFor([&] { return server_->connection_count() == 0; }));
}

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitGet503) {
  HttpServerOptions options;
  options.max_connections = 2;
  StartServer(options);
  TestClient a(server_->port());
  TestClient b(server_->port());
  StringResponse r;
  ASSERT_FALSE(a.Call(http::verb::get, "/v1/status", r));
  ASSERT_FALSE(b.Call(http::verb::get, "/v1/status", r));
  TestClient c(server_->port());
  ASSERT_FALSE(c.Read(r));  // refused before it even asks
  ExpectJsonError(r, 503);
  EXPECT_TRUE(c.WaitForClose());
  // The admitted ones still work, and a slot frees up when one leaves.
  ASSERT_FALSE(a.Call(http::verb::get, "/v1/status", r, /*keep_alive=*/false));
  EXPECT_TRUE(a.WaitForClose());
  ASSERT_TRUE(WaitFor([&] { return server_->connection_count() == 1; }));
  TestClient d(server_->port());
  ASSERT_FALSE(d.Call(http::verb::get, "/v1/status", r));
  EXPECT_EQ(r.result_int(), 200);
}

TEST_F(HttpServerTest, ObserverSeesRoutePatternsAndStatuses) {
  StartServer();
  TestClient client(server_->port());
  StringResponse r;
  ASSERT_FALSE(client.Call(http::verb::get, "/v1/items/abc", r));
  ASSERT_FALSE(client.Call(http::verb::get, "/v1/items/abc?window=bad", r));
  ASSERT_FALSE(client.Call(http::verb::get, "/missing", r));
  ASSERT_FALSE(client.Call(http::verb::delete_, "/v1/status", r));
  const auto log = logged();
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[0].route, "/v1/items/{sku}");
  EXPECT_EQ(log[0].status, 200);
  EXPECT_EQ(log[0].method, "GET");
  EXPECT_EQ(log[1].status, 400);
  EXPECT_EQ(log[2].route, "");
  EXPECT_EQ(log[2].status, 404);
  EXPECT_EQ(log[3].method, "DELETE");
  EXPECT_EQ(log[3].status, 405);
}

TEST_F(HttpServerTest, TakenPortIsAClearError) {
  StartServer();
  HttpServerOptions options;
  options.port = server_->port();
  HttpServer second(Router{}, options);
  const Status status = second.Start();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr(server_->address()));
  EXPECT_THAT(status.message(), HasSubstr("in use"));
}

TEST_F(HttpServerTest, BadOptionsAreRejected) {
  HttpServerOptions options;
  options.port = 0;
  options.io_threads = 0;
  HttpServer server(Router{}, options);
  EXPECT_EQ(server.Start().code(), StatusCode::kInvalidArgument);
  options.io_threads = 1;
  options.host = "not a host name";
  HttpServer unresolvable(Router{}, options);
  EXPECT_FALSE(unresolvable.Start().ok());
}

TEST_F(HttpServerTest, StopClosesKeepAliveConnectionsAndCanRestart) {
  StartServer();
  TestClient client(server_->port());
  StringResponse r;
  ASSERT_FALSE(client.Call(http::verb::get, "/v1/status", r));
  server_->Stop();
  EXPECT_TRUE(client.WaitForClose());
  server_->Stop();                     // idempotent
  ASSERT_TRUE(server_->Start().ok());  // a new run on a new free port
  TestClient again(server_->port());
  ASSERT_FALSE(again.Call(http::verb::get, "/v1/status", r));
  EXPECT_EQ(r.result_int(), 200);
}

// 32 keep-alive clients on their own threads; every answer is checked against the request.
TEST_F(HttpServerTest, ConcurrentKeepAliveClients) {
  StartServer();
  constexpr int kClients = 32;
  constexpr int kRequests = 250;
  std::atomic<int> errors{0};
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      TestClient client(server_->port());
      if (client.connect_error()) {
        errors += kRequests;
        return;
      }
      for (int i = 0; i < kRequests; ++i) {
        const std::string sku = "c" + std::to_string(c) + " r" + std::to_string(i);
        StringResponse r;
        const auto ec = client.Call(
            http::verb::get, "/v1/items/c" + std::to_string(c) + "%20r" + std::to_string(i), r);
        if (ec || r.result_int() != 200 ||
            nlohmann::json::parse(r.body(), nullptr, false) !=
                nlohmann::json{{"sku", sku}, {"window", "all"}}) {
          ++errors;
        } else {
          ++ok;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(ok.load(), kClients * kRequests);
  EXPECT_EQ(logged().size(), static_cast<size_t>(kClients * kRequests));
}

}  // namespace
}  // namespace segstream::serve
