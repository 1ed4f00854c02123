// `segment-change` events on /v1/events (issue 8): serve consumes `segment-changes` from the real
// (mock-cluster) broker and an SSE client over HTTP sees what a worker would produce; a burst is
// coalesced into a `segment-changes-summary`. Embedded redis-server and broker.
#include "app/segment_feed.h"

#include <gtest/gtest.h>

#include <string>

#include "app/embedded.h"
#include "app/serve_stack.h"
#include "ingest/kafka.h"
#include "segstream.pb.h"
#include "serve/test_client.h"
#include "storage/keys.h"

namespace segstream::app {
namespace {

using serve::testing::TestClient;
using serve::testing::WaitFor;

class SegmentFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(servers_.Start().ok());
    stack_ = std::make_unique<ServeStack>(ServeStackOptions{
        .redis = servers_.redis_client(),
        .brokers_shown = servers_.brokers(),
        .redis_shown = servers_.redis_address(),
        .http_host = "127.0.0.1",
        .http_port = 0,
        .segments_k = 6,
        .segment_feed_brokers = servers_.brokers(),
        .segment_change_limits = {.max_per_window = 5, .window = std::chrono::seconds(1)}});
    ASSERT_TRUE(stack_->Start().ok());
    ASSERT_NE(stack_->segment_feed(), nullptr);
    ASSERT_TRUE(WaitFor([&] { return stack_->segment_feed()->ready(); }, std::chrono::seconds(30)));
    ingest::KafkaOptions kafka;
    kafka.brokers = servers_.brokers();
    auto producer = ingest::Producer::Create(kafka);
    ASSERT_TRUE(producer.ok()) << producer.status().ToString();
    producer_ = std::move(*producer);
  }

  void TearDown() override {
    if (stack_) stack_->Stop();
  }

  // An SSE client of /v1/events, attached once the stream's first frame arrived.
  std::unique_ptr<TestClient> Subscribe() {
    const std::string address = stack_->address();
    const auto port = static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
    auto client = std::make_unique<TestClient>(port, std::chrono::seconds(30));
    EXPECT_FALSE(client->connect_error());
    EXPECT_FALSE(client->WriteRaw("GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    EXPECT_FALSE(client->ReadUntil("retry:"));
    return client;
  }

  void Produce(const std::string& customer, int to_segment, int64_t event_ms) {
    v1::SegmentChange change;
    change.set_event_id("e-" + customer);
    change.set_customer_id(customer);
    change.set_from_segment(-1);
    change.set_to_segment(to_segment);
    change.set_to_label("Champions");
    change.set_event_time_ms(event_ms);
    change.set_model_version(3);
    ASSERT_TRUE(
        producer_->Produce(storage::kSegmentChangesTopic, customer, change.SerializeAsString())
            .ok());
  }

  EmbeddedServers servers_{EmbeddedOptions{.partitions = 2}};
  std::unique_ptr<ServeStack> stack_;
  std::unique_ptr<ingest::Producer> producer_;
};

TEST_F(SegmentFeedTest, AProducedChangeReachesAnSseClient) {
  auto client = Subscribe();
  Produce("17850", 3, 1291191960000);
  ASSERT_TRUE(producer_->Flush(std::chrono::seconds(10)).ok());
  ASSERT_FALSE(client->ReadUntil("\"customer_id\":\"17850\"")) << client->raw();
  ASSERT_FALSE(client->ReadUntil("}\n\n")) << client->raw();
  const std::string& raw = client->raw();
  const size_t event = raw.find("event: segment-change\ndata: {");
  ASSERT_NE(event, std::string::npos) << raw;
  const std::string frame = raw.substr(event, raw.find("\n\n", event) - event);
  // `segstream tail`'s format: every proto field by name, plus the record's coordinates.
  for (const char* field :
       {"\"to_segment\":3", "\"from_segment\":-1", "\"to_label\":\"Champions\"",
        "\"event_time_ms\":1291191960000", "\"model_version\":3", "\"event_id\":\"e-17850\"",
        "\"_key\":\"17850\"", "\"_offset\":0", "\"_partition\":"}) {
    EXPECT_NE(frame.find(field), std::string::npos) << field << " in " << frame;
  }
  EXPECT_EQ(stack_->segment_feed()->consumed(), 1);
}

TEST_F(SegmentFeedTest, ABurstIsCoalescedIntoASummary) {
  auto client = Subscribe();
  // 30 changes flushed at once reach the feed within one 1-s window (one fetch per partition),
  // so at most 5 go out one by one and a summary counts the rest.
  for (int i = 0; i < 30; ++i) Produce("c" + std::to_string(i), i % 2, 1291191960000 + i);
  ASSERT_TRUE(producer_->Flush(std::chrono::seconds(10)).ok());
  ASSERT_FALSE(client->ReadUntil("event: segment-changes-summary\ndata: {\"dropped\":"))
      << client->raw();
  ASSERT_TRUE(
      WaitFor([&] { return stack_->segment_feed()->consumed() == 30; }, std::chrono::seconds(30)));
}

}  // namespace
}  // namespace segstream::app
