// Blocking routes (Router::GetBlocking) and streamed bodies (BodyStream) over a real server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "serve/http_server.h"
#include "serve/test_client.h"

namespace segstream::serve {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::StringResponse;
using testing::TestClient;
using testing::WaitFor;
namespace http = boost::beast::http;

// Pieces as given; fails with an error (or a throw) instead of piece `fail_at`.
class PieceStream : public BodyStream {
 public:
  PieceStream(std::vector<std::string> pieces, int fail_at = -1, bool throw_instead = false)
      : pieces_(std::move(pieces)), fail_at_(fail_at), throw_(throw_instead) {}
  Result<std::optional<std::string>> Next() override {
    if (next_ == fail_at_) {
      if (throw_) throw std::runtime_error("stream bug");
      return Status::Unavailable("redis went away");
    }
    if (next_ >= static_cast<int>(pieces_.size())) return std::optional<std::string>();
    return std::optional<std::string>(pieces_[next_++]);
  }

 private:
  std::vector<std::string> pieces_;
  int next_ = 0;
  int fail_at_;
  bool throw_;
};

// A latch the blocking handler waits on, released by the test.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int waiting = 0;
};

class HttpBlockingTest : public ::testing::Test {
 protected:
  void StartServer(int io_threads = 1, int blocking_threads = 2) {
    Router router;
    router.Get("/fast", [](const Request&) { return JsonResponse({{"fast", true}}); });
    router.GetBlocking("/wait/{id}", [this](const Request& r) {
      std::unique_lock lock(gate_.mu);
      ++gate_.waiting;
      gate_.cv.notify_all();
      gate_.cv.wait(lock, [this] { return gate_.open; });
      return JsonResponse({{"id", r.PathParam("id")}});
    });
    router.GetBlocking("/boom",
                       [](const Request&) -> Response { throw std::runtime_error("handler bug"); });
    router.GetBlocking("/missing", [](const Request&) { return JsonError(404, "no such thing"); });
    router.Get("/stream", [](const Request&) {
      Response r;
      r.content_type = "text/csv";
      r.headers = {{"X-Rows", "3"}};
      r.stream = std::make_shared<PieceStream>(
          std::vector<std::string>{"a,b\n", "", "1,2\n", std::string(100'000, 'x') + "\n"});
      return r;
    });
    router.Get("/stream-fail", [](const Request&) {
      Response r;
      r.stream = std::make_shared<PieceStream>(std::vector<std::string>{"first,", "second,"}, 1);
      return r;
    });
    router.Get("/stream-throw", [](const Request&) {
      Response r;
      r.stream = std::make_shared<PieceStream>(std::vector<std::string>{"first,"}, 1, true);
      return r;
    });
    HttpServerOptions options;
    options.port = 0;
    options.io_threads = io_threads;
    options.blocking_threads = blocking_threads;
    options.stop_timeout = std::chrono::milliseconds(200);
    server_ = std::make_unique<HttpServer>(std::move(router), options);
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    {
      std::lock_guard lock(gate_.mu);
      gate_.open = true;
    }
    gate_.cv.notify_all();
    if (server_) server_->Stop();
  }

  Gate gate_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpBlockingTest, BlockingRouteDoesNotHoldTheIoThread) {
  StartServer(/*io_threads=*/1);
  // Client A's handler waits on the gate; with one I/O thread, client B is answered meanwhile
  // only if A's handler runs elsewhere.
  std::thread a([&] {
    TestClient client(server_->port());
    StringResponse r;
    ASSERT_FALSE(client.Call(http::verb::get, "/wait/A%20B", r));
    EXPECT_EQ(r.result_int(), 200);
    EXPECT_EQ(nlohmann::json::parse(r.body())["id"], "A B");
    // Keep-alive goes on after a blocking answer.
    ASSERT_FALSE(client.Call(http::verb::get, "/fast", r));
    EXPECT_EQ(r.result_int(), 200);
  });
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(gate_.mu);
    return gate_.waiting == 1;
  }));
  TestClient b(server_->port());
  StringResponse r;
  ASSERT_FALSE(b.Call(http::verb::get, "/fast", r));
  EXPECT_EQ(r.result_int(), 200);
  {
    std::lock_guard lock(gate_.mu);
    gate_.open = true;
  }
  gate_.cv.notify_all();
  a.join();
}

TEST_F(HttpBlockingTest, BlockingErrorsAndHead) {
  StartServer();
  TestClient client(server_->port());
  StringResponse r;
  ASSERT_FALSE(client.Call(http::verb::get, "/boom", r));
  EXPECT_EQ(r.result_int(), 500);
  EXPECT_EQ(nlohmann::json::parse(r.body())["error"]["code"], 500);
  ASSERT_FALSE(client.Call(http::verb::get, "/missing", r));
  EXPECT_EQ(r.result_int(), 404);
  ASSERT_FALSE(client.Call(http::verb::post, "/missing", r));
  EXPECT_EQ(r.result_int(), 405);
  EXPECT_EQ(r[http::field::allow], "GET, HEAD");
  {
    std::lock_guard lock(gate_.mu);
    gate_.open = true;
  }
  ASSERT_FALSE(client.Call(http::verb::head, "/wait/x", r));
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_TRUE(r.body().empty());
  EXPECT_EQ(r[http::field::content_length], "10");  // {"id":"x"}
  ASSERT_FALSE(client.Call(http::verb::get, "/wait/x", r));
  EXPECT_EQ(r.body(), R"({"id":"x"})");
}

TEST_F(HttpBlockingTest, StreamedBodyIsChunked) {
  StartServer();
  TestClient client(server_->port());
  StringResponse r;
  ASSERT_FALSE(client.Call(http::verb::get, "/stream", r));
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r[http::field::transfer_encoding], "chunked");
  EXPECT_EQ(r.count(http::field::content_length), 0u);
  EXPECT_EQ(r[http::field::content_type], "text/csv");
  EXPECT_EQ(r["X-Rows"], "3");
  EXPECT_EQ(r.body(), "a,b\n1,2\n" + std::string(100'000, 'x') + "\n");
  // HEAD: the header a GET gets, no body, and the connection stays in sync.
  ASSERT_FALSE(client.Call(http::verb::head, "/stream", r));
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r[http::field::transfer_encoding], "chunked");
  EXPECT_TRUE(r.body().empty());
  ASSERT_FALSE(client.Call(http::verb::get, "/fast", r));
  EXPECT_EQ(r.body(), R"({"fast":true})");
  EXPECT_EQ(server_->connection_count(), 1u);
}

TEST_F(HttpBlockingTest, FailingStreamLeavesTheBodyIncomplete) {
  StartServer();
  for (const char* target : {"/stream-fail", "/stream-throw"}) {
    TestClient client(server_->port());
    ASSERT_FALSE(client.WriteRaw(std::string("GET ") + target + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_TRUE(client.WaitForClose()) << target;
    EXPECT_THAT(client.raw(), HasSubstr("HTTP/1.1 200 OK"));
    EXPECT_THAT(client.raw(), HasSubstr("first,"));
    // No terminating zero-size chunk: a client cannot mistake the body for a complete one.
    EXPECT_THAT(client.raw(), Not(HasSubstr("\r\n0\r\n\r\n"))) << target;
  }
}

TEST_F(HttpBlockingTest, Http10GetsTheStreamAsOneBody) {
  StartServer();
  {
    TestClient client(server_->port());
    ASSERT_FALSE(client.WriteRaw("GET /stream HTTP/1.0\r\n\r\n"));
    EXPECT_TRUE(client.WaitForClose());
    const std::string body = "a,b\n1,2\n" + std::string(100'000, 'x') + "\n";
    EXPECT_THAT(client.raw(), HasSubstr("HTTP/1.0 200 OK"));
    EXPECT_THAT(client.raw(), HasSubstr("Content-Length: " + std::to_string(body.size())));
    EXPECT_THAT(client.raw(), Not(HasSubstr("chunked")));
    EXPECT_EQ(client.raw().substr(client.raw().size() - body.size()), body);
  }
  {
    // Nothing was sent before the failure, so it is a proper error answer.
    TestClient client(server_->port());
    ASSERT_FALSE(client.WriteRaw("GET /stream-fail HTTP/1.0\r\n\r\n"));
    EXPECT_TRUE(client.WaitForClose());
    EXPECT_THAT(client.raw(), HasSubstr("HTTP/1.0 503"));
    EXPECT_THAT(client.raw(), HasSubstr("redis went away"));
  }
}

TEST_F(HttpBlockingTest, StopWithBlockingCallsRunningAndQueued) {
  // One blocking thread: the first call runs (and waits on the gate), the second queues. Stop()
  // must let the running call finish, drop the queued one, and free both connections without a
  // hang or a dangling reference (the ASan/TSan builds check the lifetimes). The gate opens after
  // Stop() has waited out its stop_timeout for the connections, so the queued call is normally
  // abandoned; should the machine be slow enough for it to run instead, that is correct too.
  StartServer(/*io_threads=*/1, /*blocking_threads=*/1);
  std::vector<std::thread> clients;
  for (int i = 0; i < 2; ++i) {
    clients.emplace_back([&, i] {
      TestClient client(server_->port());
      StringResponse r;
      const auto ec = client.Call(http::verb::get, "/wait/" + std::to_string(i), r);
      if (!ec) {  // answered, or cut off by the stop
        EXPECT_EQ(r.result_int(), 200);
      }
    });
  }
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(gate_.mu);
    return gate_.waiting == 1;
  }));
  ASSERT_TRUE(WaitFor([&] { return server_->connection_count() == 2; }));
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    std::lock_guard lock(gate_.mu);
    gate_.open = true;
    gate_.cv.notify_all();
  });
  server_->Stop();
  EXPECT_EQ(server_->connection_count(), 0u);
  opener.join();
  for (auto& t : clients) t.join();
}

}  // namespace
}  // namespace segstream::serve
