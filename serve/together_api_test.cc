#include "serve/together_api.h"

#include <gtest/gtest.h>

namespace segstream::serve {
namespace {

WindowView Window(std::vector<std::pair<std::string, int64_t>> orders, int64_t sale_checkouts) {
  std::vector<storage::ItemCounts> items;
  for (auto& [sku, n] : orders) {
    storage::ItemCounts c;
    c.sku = sku;
    c.orders = n;
    items.push_back(c);
  }
  WindowView view = BuildWindowView("all", std::move(items));
  view.sale_checkouts = sale_checkouts;
  return view;
}

TEST(RankPartnersTest, HandWorkedConfidenceLiftAndOrder) {
  // 10 sale checkouts; X in 4 of them. Partners: A (orders 2) twice with X, B (orders 4) twice,
  // C (orders 1) once, Z not in the window (left out).
  const WindowView view = Window({{"X", 4}, {"A", 2}, {"B", 4}, {"C", 1}}, 10);
  auto rows = RankPartners({{"C", 1}, {"B", 2}, {"Z", 3}, {"A", 2}}, 4, view);
  ASSERT_EQ(rows.size(), 3u);
  // A: confidence 2/4 = 0.5, lift 0.5 / (2/10) = 2.5; B: 0.5 / (4/10) = 1.25;
  // C: 1/4 = 0.25, 0.25 / (1/10) = 2.5. Count first, then lift.
  EXPECT_EQ(rows[0].sku, "A");
  EXPECT_EQ(rows[0].count, 2);
  EXPECT_DOUBLE_EQ(rows[0].confidence, 0.5);
  EXPECT_DOUBLE_EQ(rows[0].lift, 2.5);
  EXPECT_EQ(rows[1].sku, "B");
  EXPECT_DOUBLE_EQ(rows[1].lift, 1.25);
  EXPECT_EQ(rows[2].sku, "C");
  EXPECT_DOUBLE_EQ(rows[2].confidence, 0.25);
  EXPECT_DOUBLE_EQ(rows[2].lift, 2.5);
}

TEST(RankPartnersTest, EqualCountAndLiftFallBackToSku) {
  const WindowView view = Window({{"X", 5}, {"Q", 3}, {"P", 3}}, 20);
  auto rows = RankPartners({{"Q", 2}, {"P", 2}}, 5, view);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].sku, "P");
  EXPECT_EQ(rows[1].sku, "Q");
}

TEST(RankPartnersTest, LimitKeepsTheFirstRowsInOrder) {
  const WindowView view = Window({{"X", 5}, {"A", 1}, {"B", 1}, {"C", 1}}, 20);
  auto rows = RankPartners({{"C", 1}, {"A", 3}, {"B", 2}}, 5, view, 2);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].sku, "A");
  EXPECT_EQ(rows[1].sku, "B");
}

TEST(RankPartnersTest, NoOrdersOrNoSaleCheckoutsIsEmpty) {
  EXPECT_TRUE(RankPartners({{"A", 1}}, 0, Window({{"A", 1}}, 3)).empty());
  EXPECT_TRUE(RankPartners({{"A", 1}}, 2, Window({{"A", 1}}, 0)).empty());
}

TEST(DataVersionTest, MovesWithAnyOffsetOrTheWatermark) {
  Snapshot a;
  a.status.partitions["checkouts:0"] = {.committed_offset = 40, .high_watermark = 50};
  a.status.partitions["item-sales:1"] = {.committed_offset = -1, .high_watermark = 7};
  a.watermark_ms = 1000;
  EXPECT_EQ(DataVersionOf(a).committed_offsets, 40);  // -1 (none committed) counts as 0
  Snapshot b = a;
  b.status.partitions["item-sales:1"].committed_offset = 3;
  EXPECT_FALSE(DataVersionOf(a) == DataVersionOf(b));
  Snapshot c = a;
  c.watermark_ms = 2000;
  EXPECT_FALSE(DataVersionOf(a) == DataVersionOf(c));
  Snapshot d = a;
  d.status.events_processed = 99;  // not data the answer depends on
  EXPECT_TRUE(DataVersionOf(a) == DataVersionOf(d));
}

}  // namespace
}  // namespace segstream::serve
