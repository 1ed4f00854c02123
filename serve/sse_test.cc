#include "serve/sse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "serve/http_server.h"
#include "serve/test_client.h"

namespace segstream::serve {
namespace {

using ::testing::HasSubstr;
using testing::TestClient;
using testing::WaitFor;

SseFrame Frame(size_t bytes) { return std::make_shared<const std::string>(bytes, 'x'); }

TEST(SseFormatTest, FramesFollowTheEventStreamGrammar) {
  EXPECT_EQ(FormatSseEvent("top", R"({"a":1})"), "event: top\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(FormatSseEvent("x", "l1\nl2\r\nl3\rl4"),
            "event: x\ndata: l1\ndata: l2\ndata: l3\ndata: l4\n\n");
  EXPECT_EQ(FormatSseEvent("", "d"), "data: d\n\n");
  EXPECT_EQ(FormatSseEvent("e", ""), "event: e\ndata: \n\n");
  EXPECT_EQ(FormatSseEvent("bad\r\nname", "d"), "event: badname\ndata: d\n\n");
  EXPECT_EQ(FormatSseEvent("e", "end\n"), "event: e\ndata: end\ndata: \n\n");
}

TEST(SseQueueTest, BoundsEventsAndBytesAndBatchesWrites) {
  detail::SseQueue queue(/*max_bytes=*/100, /*max_events=*/3);
  using R = detail::SseQueue::PushResult;
  EXPECT_EQ(queue.Push(Frame(10)), R::kWakeWriter);  // idle writer must be woken once
  EXPECT_EQ(queue.Push(Frame(10)), R::kQueued);
  auto batch = queue.BeginWrite();
  EXPECT_EQ(batch.size(), 2u);
  EXPECT_EQ(queue.Push(Frame(10)), R::kQueued);  // in-flight frames still count
  EXPECT_EQ(queue.queued_events(), 3u);
  EXPECT_EQ(queue.queued_bytes(), 30u);
  EXPECT_TRUE(queue.EndWrite());  // one more waiting
  EXPECT_EQ(queue.queued_events(), 1u);
  batch = queue.BeginWrite();
  EXPECT_EQ(batch.size(), 1u);
  EXPECT_FALSE(queue.EndWrite());  // writer goes idle
  EXPECT_EQ(queue.queued_bytes(), 0u);
  EXPECT_EQ(queue.Push(Frame(10)), R::kWakeWriter);

  EXPECT_EQ(queue.Push(Frame(95)), R::kOverflow);  // 10 + 95 > 100
  EXPECT_EQ(queue.Push(Frame(1)), R::kClosed);     // a dropped client stays dropped

  detail::SseQueue by_count(1000, 2);
  EXPECT_EQ(by_count.Push(Frame(1)), R::kWakeWriter);
  EXPECT_EQ(by_count.Push(Frame(1)), R::kQueued);
  EXPECT_EQ(by_count.PushUnbounded(Frame(1)), R::kQueued);  // heartbeats bypass the bound
  EXPECT_EQ(by_count.Push(Frame(1)), R::kOverflow);
}

class RecordingClient : public SseClient {
 public:
  void Deliver(const SseFrame& frame) override { frames.push_back(*frame); }
  std::vector<std::string> frames;
};

TEST(SseHubTest, FansOutInOrderAndForgetsDetachedClients) {
  SseOptions options;
  options.max_clients = 2;
  SseHub hub(options);
  auto a = std::make_shared<RecordingClient>();
  auto b = std::make_shared<RecordingClient>();
  auto c = std::make_shared<RecordingClient>();
  ASSERT_TRUE(hub.Attach(a));
  ASSERT_TRUE(hub.Attach(b));
  EXPECT_FALSE(hub.Attach(c));  // over max_clients
  EXPECT_EQ(hub.client_count(), 2u);
  hub.Publish("e", "1");
  hub.Publish("e", "2");
  hub.Detach(b.get());
  hub.Publish("e", "3");
  EXPECT_EQ(a->frames, (std::vector<std::string>{"event: e\ndata: 1\n\n", "event: e\ndata: 2\n\n",
                                                 "event: e\ndata: 3\n\n"}));
  EXPECT_EQ(b->frames.size(), 2u);
  a.reset();  // the hub holds only a weak reference
  hub.Publish("e", "4");
  EXPECT_EQ(hub.client_count(), 0u);
  EXPECT_EQ(hub.published_total(), 4u);
}

class SseServerTest : public ::testing::Test {
 protected:
  void Start(SseOptions sse = {}, HttpServerOptions http = {}) {
    hub_ = std::make_unique<SseHub>(sse);
    Router router;
    router.AddEventStream("/v1/events", *hub_);
    router.Get("/v1/status", [](const Request&) { return JsonError(200, "fine"); });
    http.port = 0;
    server_ = std::make_unique<HttpServer>(std::move(router), http);
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  // Connects and reads the stream's response header; the client is attached once it returns.
  std::unique_ptr<TestClient> Subscribe() {
    auto client = std::make_unique<TestClient>(server_->port());
    EXPECT_FALSE(client->WriteRaw(
        "GET /v1/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"));
    EXPECT_FALSE(client->ReadUntil("retry: 3000\n\n"));
    return client;
  }

  std::unique_ptr<SseHub> hub_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(SseServerTest, ClientsReceiveEventsInOrder) {
  Start();
  auto a = Subscribe();
  auto b = Subscribe();
  EXPECT_THAT(a->raw(), HasSubstr("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(a->raw(), HasSubstr("Content-Type: text/event-stream\r\n"));
  EXPECT_THAT(a->raw(), HasSubstr("Cache-Control: no-cache\r\n"));
  EXPECT_EQ(hub_->client_count(), 2u);
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    const std::string data = R"({"seq":)" + std::to_string(i) + "}";
    hub_->Publish(i % 2 ? "segment" : "top", data);
    expected += std::string("event: ") + (i % 2 ? "segment" : "top") + "\ndata: " + data + "\n\n";
  }
  for (auto* client : {a.get(), b.get()}) {
    ASSERT_FALSE(client->ReadUntil(R"({"seq":99})"
                                   "\n\n"));
    const std::string& raw = client->raw();
    EXPECT_EQ(raw.substr(raw.find("retry: 3000\n\n") + 13), expected);
  }
  // The stream and ordinary requests share the server.
  TestClient plain(server_->port());
  testing::StringResponse r;
  ASSERT_FALSE(plain.Call(boost::beast::http::verb::get, "/v1/status", r));
  EXPECT_EQ(r.result_int(), 200);
}

TEST_F(SseServerTest, HeartbeatWhenIdle) {
  SseOptions sse;
  sse.heartbeat_interval = std::chrono::milliseconds(50);
  Start(sse);
  auto client = Subscribe();
  ASSERT_FALSE(client->ReadUntil(": keep-alive\n\n"));
  hub_->Publish("e", "after");
  ASSERT_FALSE(client->ReadUntil("data: after\n\n"));
  client->raw().clear();
  ASSERT_FALSE(client->ReadUntil(": keep-alive\n\n"));  // and again after an event
}

TEST_F(SseServerTest, ClientGoingAwayIsDetached) {
  Start();
  auto client = Subscribe();
  EXPECT_EQ(hub_->client_count(), 1u);
  client.reset();
  EXPECT_TRUE(WaitFor([&] { return hub_->client_count() == 0; }));
  EXPECT_TRUE(WaitFor([&] { return server_->connection_count() == 0; }));
}

// A client that never reads fills its socket buffers, then its queue, then is dropped; a client
// that reads keeps receiving every event. The publisher waits for the reader after each event, so
// the reader's queue never holds more than one frame and only the stalled client can overflow.
TEST_F(SseServerTest, StalledClientIsDroppedWhileReaderContinues) {
  SseOptions sse;
  sse.max_queued_bytes = 256 * 1024;
  Start(sse);
  auto stalled = std::make_unique<TestClient>(server_->port());
  stalled->socket().set_option(boost::asio::socket_base::receive_buffer_size(4096));
  ASSERT_FALSE(stalled->WriteRaw("GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto reader = Subscribe();
  ASSERT_TRUE(WaitFor([&] { return hub_->client_count() == 2; }));

  const std::string payload(64 * 1024, 'p');
  int published = 0;
  // Kernel buffers on loopback hold a few MB at most; 2000 × 64 KiB is far beyond them.
  for (; published < 2000 && hub_->client_count() == 2; ++published) {
    const std::string marker = "\"" + std::to_string(published) + "\"";
    hub_->Publish("bulk", "[" + marker + ",\"" + payload + "\"]");
    ASSERT_FALSE(reader->ReadUntil(marker)) << "reader lost at event " << published;
    reader->raw().erase(0, reader->raw().size() - marker.size());  // keep memory flat
  }
  ASSERT_EQ(hub_->client_count(), 1u) << "stalled client still attached after " << published;
  EXPECT_EQ(hub_->dropped_total(), 1u);
  // The server let go of the socket (the kernel may still be flushing it to the tiny window, so the
  // client is not drained here: at 4 KiB per round trip that takes long).
  EXPECT_TRUE(WaitFor([&] { return server_->connection_count() == 1; }));
  for (int i = 0; i < 10; ++i) {  // the reader is unaffected
    hub_->Publish("after", "{\"i\":" + std::to_string(i) + "}");
  }
  ASSERT_FALSE(reader->ReadUntil("{\"i\":9}\n\n"));
}

TEST_F(SseServerTest, TooManyStreamsGet503) {
  SseOptions sse;
  sse.max_clients = 1;
  Start(sse);
  auto first = Subscribe();
  TestClient second(server_->port());
  testing::StringResponse r;
  ASSERT_FALSE(second.Call(boost::beast::http::verb::get, "/v1/events", r));
  EXPECT_EQ(r.result_int(), 503);
  EXPECT_THAT(r.body(), HasSubstr("\"code\":503"));
}

TEST_F(SseServerTest, HeadDoesNotSubscribe) {
  Start();
  TestClient client(server_->port());
  testing::StringResponse r;
  ASSERT_FALSE(client.Call(boost::beast::http::verb::head, "/v1/events", r));
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r[boost::beast::http::field::content_type], "text/event-stream");
  EXPECT_EQ(hub_->client_count(), 0u);
}

TEST_F(SseServerTest, StopClosesStreamsAndKeepAliveConnections) {
  HttpServerOptions http;
  http.stop_timeout = std::chrono::seconds(30);
  Start({}, http);
  auto a = Subscribe();
  auto b = Subscribe();
  TestClient keep_alive(server_->port());
  testing::StringResponse r;
  ASSERT_FALSE(keep_alive.Call(boost::beast::http::verb::get, "/v1/status", r));
  const auto start = std::chrono::steady_clock::now();
  server_->Stop();
  // Not a performance check: the forced path only starts after stop_timeout (30 s), so returning
  // well before it shows every connection closed by itself.
  EXPECT_LT(std::chrono::steady_clock::now() - start, http.stop_timeout);
  EXPECT_EQ(hub_->client_count(), 0u);
  EXPECT_TRUE(a->WaitForClose());
  EXPECT_TRUE(b->WaitForClose());
  EXPECT_TRUE(keep_alive.WaitForClose());
  hub_->Publish("e", "nobody listens");  // the hub outlives the server's connections
}

TEST_F(SseServerTest, PublishFromManyThreadsWhileClientsComeAndGo) {
  Start();
  auto steady = Subscribe();
  constexpr int kPublishers = 3;
  constexpr int kEvents = 300;
  std::atomic<int> churned{0};
  std::atomic<bool> done{false};
  std::thread churn([&] {
    while (!done.load() || churned.load() < 20) {
      TestClient c(server_->port());
      (void)c.WriteRaw("GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n");
      (void)c.ReadUntil("retry:");
      ++churned;
    }
  });
  std::string received;
  std::thread reader([&] {
    for (int t = 0; t < kPublishers; ++t) {
      (void)steady->ReadUntil("event: t" + std::to_string(t) +
                              "\ndata: " + std::to_string(kEvents - 1) + "\n\n");
    }
    received = steady->raw();
  });
  ASSERT_TRUE(WaitFor([&] { return churned.load() > 0; }));
  std::vector<std::thread> publishers;
  for (int t = 0; t < kPublishers; ++t) {
    publishers.emplace_back([&, t] {
      for (int i = 0; i < kEvents; ++i) hub_->Publish("t" + std::to_string(t), std::to_string(i));
    });
  }
  for (auto& p : publishers) p.join();
  done = true;
  churn.join();
  reader.join();
  // Each publisher's events arrive complete and in its order.
  for (int t = 0; t < kPublishers; ++t) {
    size_t pos = 0;
    for (int i = 0; i < kEvents; ++i) {
      pos = received.find("event: t" + std::to_string(t) + "\ndata: " + std::to_string(i) + "\n\n",
                          pos);
      ASSERT_NE(pos, std::string::npos) << "t" << t << " event " << i;
    }
  }
  EXPECT_EQ(hub_->dropped_total(), 0u);
}

}  // namespace
}  // namespace segstream::serve
