#include "serve/events.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace segstream::serve {
namespace {

std::shared_ptr<const Snapshot> WithOrders(int64_t a, int64_t b) {
  std::vector<storage::ItemCounts> items(2);
  items[0].sku = "A";
  items[0].orders = a;
  items[1].sku = "B";
  items[1].orders = b;
  return BuildSnapshot({}, std::move(items), {}, {});
}

TEST(TopItemsPublisherTest, PublishesOnlyWhenTheTopTenMoves) {
  SseHub hub;
  TopItemsPublisher publisher(&hub);
  publisher.OnSnapshot(*WithOrders(3, 1));
  EXPECT_EQ(hub.published_total(), 1u);
  publisher.OnSnapshot(*WithOrders(3, 1));  // same top 10: nothing new to say
  EXPECT_EQ(hub.published_total(), 1u);
  publisher.OnSnapshot(*WithOrders(3, 4));  // B overtakes A
  EXPECT_EQ(hub.published_total(), 2u);
}

// Every frame the hub delivers, as wire text.
class Recorder : public SseClient {
 public:
  void Deliver(const SseFrame& frame) override { frames.push_back(*frame); }
  std::vector<std::string> frames;
};

nlohmann::json Change(int to_segment, int64_t event_ms) {
  return {{"customer_id", "17850"}, {"to_segment", to_segment}, {"event_time_ms", event_ms}};
}

TEST(SegmentChangePublisherTest, PublishesUpToTheLimitThenOneSummaryPerWindow) {
  SseHub hub;
  auto client = std::make_shared<Recorder>();
  ASSERT_TRUE(hub.Attach(client));
  SegmentChangePublisher publisher(&hub, {.max_per_window = 2, .window = std::chrono::seconds(1)});
  const auto t0 = SegmentChangePublisher::Clock::time_point{} + std::chrono::hours(1);
  using std::chrono::milliseconds;
  // A sweep: 5 changes within the first window; 2 go out, 3 are counted (to segments 1, 1, 4).
  publisher.OnChange(Change(0, 100), t0);
  publisher.OnChange(Change(3, 101), t0 + milliseconds(10));
  publisher.OnChange(Change(1, 102), t0 + milliseconds(20));
  // (changes of different partitions interleave: event times are not in order)
  publisher.OnChange(Change(1, 99), t0 + milliseconds(30));
  publisher.OnChange(Change(4, 104), t0 + milliseconds(999));
  EXPECT_EQ(client->frames.size(), 2u);
  publisher.Tick(t0 + milliseconds(999));  // the window is not over yet
  EXPECT_EQ(client->frames.size(), 2u);
  publisher.Tick(t0 + milliseconds(1000));
  ASSERT_EQ(client->frames.size(), 3u);
  EXPECT_EQ(client->frames[0],
            "event: segment-change\n"
            "data: {\"customer_id\":\"17850\",\"event_time_ms\":100,\"to_segment\":0}\n\n");
  EXPECT_EQ(client->frames[2],
            "event: segment-changes-summary\n"
            "data: {\"dropped\":3,\"max_event_time_ms\":104,\"max_per_window\":2,"
            "\"min_event_time_ms\":99,\"to_segment\":{\"1\":2,\"4\":1},\"window_ms\":1000}\n\n");
  EXPECT_EQ(publisher.published(), 2);
  EXPECT_EQ(publisher.dropped_total(), 3);
  // A new window starts with the next change: the limit applies afresh, and a quiet window sends
  // no summary.
  publisher.OnChange(Change(2, 200), t0 + milliseconds(5000));
  publisher.Tick(t0 + milliseconds(7000));
  ASSERT_EQ(client->frames.size(), 4u);
  EXPECT_EQ(client->frames[3].rfind("event: segment-change\n", 0), 0u);
  hub.Detach(client.get());
}

}  // namespace
}  // namespace segstream::serve
