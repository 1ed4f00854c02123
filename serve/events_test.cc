#include "serve/events.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace segstream::serve
