#include "ingest/item_sales.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace segstream::ingest {
namespace {

constexpr int64_t kTime = 1323435000000;

void AddLine(v1::Checkout* c, const std::string& sku, int64_t quantity, int64_t price_micros,
             const std::string& description = "") {
  v1::Line* l = c->add_lines();
  l->set_sku(sku);
  l->set_quantity(quantity);
  l->set_unit_price_micros(price_micros);
  l->set_description(description);
}

v1::Checkout NewCheckout(const std::string& invoice) {
  v1::Checkout c;
  c.set_invoice_no(invoice);
  c.set_customer_id("12680");
  c.set_event_time_ms(kTime);
  return c;
}

std::vector<std::string> Basket(const v1::ItemSale& s) {
  return {s.basket().begin(), s.basket().end()};
}

TEST(ItemSalesTest, MixedSaleAndReturnLinesOfTheSameSku) {
  v1::Checkout c = NewCheckout("581475");
  AddLine(&c, "A", 6, 2'550'000);
  AddLine(&c, "B", -2, 1'250'000, "B desc");
  AddLine(&c, "A", -1, 2'550'000, "A desc");
  AddLine(&c, "C", 12, 420'000, "C");
  AddLine(&c, "A", 4, 2'100'000, "A other");
  AddLine(&c, "B", -3, 1'250'000, "B other");
  std::vector<v1::ItemSale> out;
  EXPECT_TRUE(SplitIntoItemSales(c, 3, 4711, &out));
  ASSERT_EQ(out.size(), 3u);

  // A: sales 6 @ 2.55 and 4 @ 2.10 = 15.30 + 8.40 = 23.70; one unit returned.
  EXPECT_EQ(out[0].sku(), "A");
  EXPECT_EQ(out[0].seq(), 0);
  EXPECT_EQ(out[0].orders(), 1);
  EXPECT_EQ(out[0].units(), 10);
  EXPECT_EQ(out[0].returned_units(), 1);
  EXPECT_EQ(out[0].revenue_micros(), 23'700'000);
  EXPECT_EQ(out[0].description(), "A desc");  // first non-empty
  EXPECT_EQ(Basket(out[0]), (std::vector<std::string>{"A", "C"}));

  // B: return-only — no order, no revenue, 5 returned.
  EXPECT_EQ(out[1].sku(), "B");
  EXPECT_EQ(out[1].seq(), 1);
  EXPECT_EQ(out[1].orders(), 0);
  EXPECT_EQ(out[1].units(), 0);
  EXPECT_EQ(out[1].returned_units(), 5);
  EXPECT_EQ(out[1].revenue_micros(), 0);
  EXPECT_EQ(out[1].description(), "B desc");
  EXPECT_EQ(out[1].basket_size(), 0);

  // C: 12 @ 0.42 = 5.04.
  EXPECT_EQ(out[2].seq(), 2);
  EXPECT_EQ(out[2].orders(), 1);
  EXPECT_EQ(out[2].units(), 12);
  EXPECT_EQ(out[2].revenue_micros(), 5'040'000);
  EXPECT_EQ(out[2].basket_size(), 0);  // the basket rides on seq 0 only

  for (const v1::ItemSale& s : out) {
    EXPECT_EQ(s.invoice_no(), "581475");
    EXPECT_EQ(s.event_time_ms(), kTime);
    EXPECT_EQ(s.source_partition(), 3);
    EXPECT_EQ(s.source_offset(), 4711);
  }
}

TEST(ItemSalesTest, ReturnOnlyCheckoutHasNoOrdersAndAnEmptyBasket) {
  v1::Checkout c = NewCheckout("C581484");
  AddLine(&c, "23843", -80995, 2'080'000, "PAPER CRAFT , LITTLE BIRDIE");
  std::vector<v1::ItemSale> out;
  EXPECT_TRUE(SplitIntoItemSales(c, 0, 0, &out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].orders(), 0);
  EXPECT_EQ(out[0].units(), 0);
  EXPECT_EQ(out[0].returned_units(), 80995);
  EXPECT_EQ(out[0].revenue_micros(), 0);
  EXPECT_EQ(out[0].basket_size(), 0);
}

TEST(ItemSalesTest, RepeatedSkuLinesAddUpAndCountOneOrder) {
  v1::Checkout c = NewCheckout("1");
  for (int i = 0; i < 10; ++i) AddLine(&c, "D", 1, 100'000);  // ten lines of 1 @ 0.10
  std::vector<v1::ItemSale> out;
  EXPECT_TRUE(SplitIntoItemSales(c, 0, 0, &out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].orders(), 1);
  EXPECT_EQ(out[0].units(), 10);
  EXPECT_EQ(out[0].revenue_micros(), 1'000'000);  // exactly 1.00, where doubles give 0.999…
  EXPECT_EQ(Basket(out[0]), (std::vector<std::string>{"D"}));
}

TEST(ItemSalesTest, RevenueIsExactForLargeValues) {
  v1::Checkout c = NewCheckout("581483");
  AddLine(&c, "23843", 80995, 2'080'000);  // Online Retail's largest line: 168,469.60
  AddLine(&c, "M", 1'000'000, 1);          // a million items at one micro each: 1.00
  AddLine(&c, "B", 3, 649'500'000);        // 3 @ 649.50 = 1,948.50
  std::vector<v1::ItemSale> out;
  EXPECT_TRUE(SplitIntoItemSales(c, 0, 0, &out));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].revenue_micros(), 168'469'600'000);
  EXPECT_EQ(out[1].revenue_micros(), 1'000'000);
  EXPECT_EQ(out[2].revenue_micros(), 1'948'500'000);
}

TEST(ItemSalesTest, OverflowSaturatesAndIsReported) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  v1::Checkout c = NewCheckout("1");
  AddLine(&c, "X", 10'000'000'000'000, 1'000'000);  // 10^13 × 10^6 micros > 9.2 × 10^18
  AddLine(&c, "Y", std::numeric_limits<int64_t>::min(), 1);
  AddLine(&c, "Z", kMax, 0);
  AddLine(&c, "Z", 1, 0);
  std::vector<v1::ItemSale> out;
  EXPECT_FALSE(SplitIntoItemSales(c, 0, 0, &out));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].revenue_micros(), kMax);
  EXPECT_EQ(out[0].units(), 10'000'000'000'000);
  EXPECT_EQ(out[1].returned_units(), kMax);
  EXPECT_EQ(out[2].units(), kMax);

  v1::Checkout fine = NewCheckout("2");
  AddLine(&fine, "X", 9'223'372, 1'000'000'000'000);  // 9.223372 × 10^18: fits
  EXPECT_TRUE(SplitIntoItemSales(fine, 0, 0, &out));
  EXPECT_EQ(out[0].revenue_micros(), 9'223'372'000'000'000'000);
}

TEST(ItemSalesTest, BasketIsCappedInSeqOrder) {
  v1::Checkout c = NewCheckout("1");
  AddLine(&c, "R", -1, 1);  // return-only, never in the basket
  for (const char* sku : {"S1", "S2", "S3", "S4", "S5"}) AddLine(&c, sku, 1, 1);
  std::vector<v1::ItemSale> out;
  ItemSalesOptions options;
  options.max_basket_for_pairs = 3;
  EXPECT_TRUE(SplitIntoItemSales(c, 0, 0, &out, options));
  ASSERT_EQ(out.size(), 6u);
  EXPECT_EQ(out[0].sku(), "R");
  EXPECT_EQ(Basket(out[0]), (std::vector<std::string>{"S1", "S2", "S3"}));
  for (size_t i = 1; i < out.size(); ++i) EXPECT_EQ(out[i].basket_size(), 0);
}

TEST(ItemSalesTest, LargeCheckoutMatchesAReferenceComputation) {
  // Over the linear-scan threshold: 300 lines over 40 skus, mixed signs and prices.
  v1::Checkout c = NewCheckout("big");
  struct Expected {
    int first_seen = -1;
    int64_t orders = 0, units = 0, returned = 0, revenue = 0;
  };
  std::map<std::string, Expected> expected;
  std::vector<std::string> names;
  for (int k = 0; k < 40; ++k) {
    names.emplace_back("S");  // appended, not "S" + …: GCC 12 -Wrestrict false positive
    names.back() += std::to_string(k);
  }
  int distinct = 0;
  for (int i = 0; i < 300; ++i) {
    const std::string& sku = names[static_cast<size_t>((i * 7) % 40)];
    const int64_t q = i % 3 == 0 ? -(i % 5 + 1) : i % 4 + 1;
    const int64_t p = 10'000 * (i % 11);
    AddLine(&c, sku, q, p);
    Expected& e = expected[sku];
    if (e.first_seen < 0) e.first_seen = distinct++;
    if (q > 0) {
      e.orders = 1;
      e.units += q;
      e.revenue += q * p;
    } else {
      e.returned += -q;
    }
  }
  std::vector<v1::ItemSale> out;
  EXPECT_TRUE(SplitIntoItemSales(c, 1, 2, &out));
  ASSERT_EQ(out.size(), expected.size());
  for (const auto& [sku, e] : expected) {
    const v1::ItemSale& s = out[static_cast<size_t>(e.first_seen)];
    EXPECT_EQ(s.sku(), sku);
    EXPECT_EQ(s.seq(), e.first_seen);
    EXPECT_EQ(s.orders(), e.orders) << sku;
    EXPECT_EQ(s.units(), e.units) << sku;
    EXPECT_EQ(s.returned_units(), e.returned) << sku;
    EXPECT_EQ(s.revenue_micros(), e.revenue) << sku;
  }
}

TEST(ItemSalesTest, ReusedVectorCarriesNothingOver) {
  v1::Checkout big = NewCheckout("1");
  AddLine(&big, "A", 1, 5, "old description");
  AddLine(&big, "B", 2, 5, "b");
  AddLine(&big, "C", -1, 5, "c");
  std::vector<v1::ItemSale> out;
  EXPECT_TRUE(SplitIntoItemSales(big, 0, 0, &out));
  ASSERT_EQ(out.size(), 3u);

  v1::Checkout small = NewCheckout("2");
  AddLine(&small, "A", -4, 5);
  EXPECT_TRUE(SplitIntoItemSales(small, 7, 8, &out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].invoice_no(), "2");
  EXPECT_EQ(out[0].description(), "");
  EXPECT_EQ(out[0].orders(), 0);
  EXPECT_EQ(out[0].units(), 0);
  EXPECT_EQ(out[0].returned_units(), 4);
  EXPECT_EQ(out[0].revenue_micros(), 0);
  EXPECT_EQ(out[0].basket_size(), 0);
  EXPECT_EQ(out[0].source_offset(), 8);

  EXPECT_TRUE(SplitIntoItemSales(NewCheckout("3"), 0, 0, &out));
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace segstream::ingest
