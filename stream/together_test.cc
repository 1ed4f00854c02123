#include "stream/together.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

namespace segstream::stream {
namespace {

constexpr int64_t kHour = 3'600'000;

std::vector<std::string_view> Views(const std::vector<std::string>& skus) {
  return {skus.begin(), skus.end()};
}

TEST(TogetherCodecTest, BasketBytesAreTheDocumentedLayout) {
  // 0x0102030405060708 little-endian, then "A" (len 1) and "BC" (len 2).
  const std::string got = EncodeBasket(0x0102030405060708, {"A", "BC"});
  const std::string want(
      "\x08\x07\x06\x05\x04\x03\x02\x01\x01"
      "A\x02"
      "BC",
      13);
  EXPECT_EQ(got, want);
}

TEST(TogetherCodecTest, BasketRoundTripsBinarySkusAndLongOnes) {
  const std::vector<std::string> skus = {std::string("a\0b", 3), std::string(300, 'x'), "85123A",
                                         "\xff\x80"};
  const std::string bytes = EncodeBasket(1'291'191'960'000, Views(skus));
  // 300 needs a two-byte varint: 0xAC 0x02.
  EXPECT_EQ(bytes.size(), 8u + (1 + 3) + (2 + 300) + (1 + 6) + (1 + 2));
  BasketView view;
  ASSERT_TRUE(DecodeBasket(bytes, &view));
  EXPECT_EQ(view.event_time_ms, 1'291'191'960'000);
  ASSERT_EQ(view.skus.size(), skus.size());
  for (size_t i = 0; i < skus.size(); ++i) EXPECT_EQ(view.skus[i], skus[i]);
}

TEST(TogetherCodecTest, NegativeEventTimeRoundTrips) {
  BasketView view;
  ASSERT_TRUE(DecodeBasket(EncodeBasket(-5, {"S"}), &view));
  EXPECT_EQ(view.event_time_ms, -5);
}

TEST(TogetherCodecTest, BasketDecoderRefusesWhatNoEncoderWrote) {
  BasketView view;
  const std::string good = EncodeBasket(7, {"AB", "C"});
  EXPECT_FALSE(DecodeBasket(good.substr(0, 7), &view));                // short header
  EXPECT_FALSE(DecodeBasket(good.substr(0, good.size() - 1), &view));  // length past the end
  EXPECT_FALSE(DecodeBasket(std::string(8, '\0') + '\0', &view));      // empty sku
  // A varint that never ends (six continuation bytes).
  EXPECT_FALSE(DecodeBasket(std::string(8, '\0') + std::string(6, '\x80'), &view));
  // A huge length with nothing behind it.
  EXPECT_FALSE(DecodeBasket(std::string(8, '\0') + "\xff\xff\xff\xff\x0f", &view));
  // The header alone is an empty basket (never stored, but well-formed).
  ASSERT_TRUE(DecodeBasket(good.substr(0, 8), &view));
  EXPECT_TRUE(view.skus.empty());
}

TEST(TogetherCodecTest, RefsAreTwelveBytesLittleEndian) {
  std::string bytes;
  AppendBasketRef(&bytes, {3, 0x0102030405});
  AppendBasketRef(&bytes, {0, 0});
  AppendBasketRef(&bytes, {0x7fffffff, 1, true});
  const std::string want = std::string("\x03\x00\x00\x00\x05\x04\x03\x02\x01\x00\x00\x00", 12) +
                           std::string(12, '\0') +
                           // The late flag is the partition's top bit.
                           std::string("\xff\xff\xff\xff\x01\x00\x00\x00\x00\x00\x00\x00", 12);
  EXPECT_EQ(bytes, want);
  std::vector<BasketRef> refs;
  ASSERT_TRUE(DecodeBasketRefs(bytes, &refs));
  EXPECT_EQ(refs, (std::vector<BasketRef>{{3, 0x0102030405}, {0, 0}, {0x7fffffff, 1, true}}));
}

TEST(TogetherCodecTest, RefDecoderRefusesPartialRefsAndNegativeOffsets) {
  std::vector<BasketRef> refs;
  std::string bytes;
  AppendBasketRef(&bytes, {1, 2});
  EXPECT_FALSE(DecodeBasketRefs(bytes.substr(0, 11), &refs));
  EXPECT_FALSE(DecodeBasketRefs(bytes + "x", &refs));
  EXPECT_FALSE(DecodeBasketRefs(std::string(12, '\xff'), &refs));  // offset -1
  EXPECT_TRUE(DecodeBasketRefs("", &refs));
  EXPECT_TRUE(refs.empty());
}

std::map<std::string, int64_t> AsMap(const std::vector<PartnerCount>& v) {
  std::map<std::string, int64_t> m;
  for (const auto& p : v) {
    EXPECT_TRUE(m.emplace(p.sku, p.count).second) << "sku listed twice: " << p.sku;
  }
  return m;
}

TEST(TogetherCountTest, HandWorkedExample) {
  // X's checkouts: {X,A,B}, {X,A}, a single-sku checkout (no basket) and {B,X,C}.
  std::vector<RefBasket> baskets = {{EncodeBasket(1, {"X", "A", "B"})},
                                    {EncodeBasket(2, {"X", "A"})},
                                    {std::nullopt},
                                    {EncodeBasket(3, {"B", "X", "C"})}};
  PartnerCountStats stats;
  auto got = AsMap(CountPartners("X", baskets, {}, &stats));
  EXPECT_EQ(got, (std::map<std::string, int64_t>{{"A", 2}, {"B", 2}, {"C", 1}}));
  EXPECT_EQ(stats.baskets, 3);
  EXPECT_EQ(stats.missing, 1);
  EXPECT_EQ(stats.outside, 0);
  EXPECT_EQ(stats.undecodable, 0);
}

TEST(TogetherCountTest, CorruptBasketsAndBasketsWithoutTheSkuAreSkipped) {
  std::vector<RefBasket> baskets = {
      {std::string("junk")}, {EncodeBasket(1, {"A", "B"})}, {EncodeBasket(1, {"X", "A"})}};
  PartnerCountStats stats;
  auto got = AsMap(CountPartners("X", baskets, {}, &stats));
  EXPECT_EQ(got, (std::map<std::string, int64_t>{{"A", 1}}));
  EXPECT_EQ(stats.undecodable, 2);
  EXPECT_EQ(stats.baskets, 1);
}

TEST(TogetherCountTest, WindowKeepsTheBasketsOfItsPanes) {
  // Panes [10h, 12h]: 9h59 is out, 10h00 and 12h59 in, 13h00 out (beyond the watermark).
  const BasketFilter filter{PaneRange{10 * kHour, 12 * kHour}, kHour};
  std::vector<RefBasket> baskets = {{EncodeBasket(10 * kHour - 60'000, {"X", "A"})},
                                    {EncodeBasket(10 * kHour, {"X", "B"})},
                                    {EncodeBasket(13 * kHour - 1, {"X", "C"})},
                                    {EncodeBasket(13 * kHour, {"X", "D"})}};
  PartnerCountStats stats;
  auto got = AsMap(CountPartners("X", baskets, filter, &stats));
  EXPECT_EQ(got, (std::map<std::string, int64_t>{{"B", 1}, {"C", 1}}));
  EXPECT_EQ(stats.outside, 2);
}

TEST(TogetherCountTest, LateRefsCountInWindowAllOnly) {
  // Stage 2 took the second sale for late: its pane is in the window, but like the item counters
  // it counts in `all` only.
  std::vector<RefBasket> baskets = {{EncodeBasket(10 * kHour, {"X", "A"})},
                                    {EncodeBasket(11 * kHour, {"X", "B"}), true}};
  EXPECT_EQ(AsMap(CountPartners("X", baskets, {})),
            (std::map<std::string, int64_t>{{"A", 1}, {"B", 1}}));
  EXPECT_EQ(AsMap(CountPartners("X", baskets, {PaneRange{10 * kHour, 12 * kHour}, kHour})),
            (std::map<std::string, int64_t>{{"A", 1}}));
}

// Randomised against a brute-force count of unordered pairs over explicit sets.
TEST(TogetherCountTest, MatchesBruteForceOverRandomBaskets) {
  std::mt19937_64 rng(12);
  const int kSkus = 40;
  std::vector<std::set<int>> sets;
  std::vector<int64_t> times;
  for (int c = 0; c < 2000; ++c) {
    std::set<int> s;
    const int size = 1 + static_cast<int>(rng() % 12);
    while (static_cast<int>(s.size()) < size) s.insert(static_cast<int>(rng() % kSkus));
    sets.push_back(s);
    times.push_back(static_cast<int64_t>(rng() % (48 * kHour)));
  }
  auto name = [](int i) { return "S" + std::to_string(i); };
  const PaneRange panes{20 * kHour, 30 * kHour};
  for (int target : {0, 7, 39}) {
    std::vector<RefBasket> baskets;
    std::map<std::string, int64_t> want_all, want_window;
    for (size_t c = 0; c < sets.size(); ++c) {
      if (!sets[c].count(target)) continue;
      if (sets[c].size() < 2) {
        baskets.push_back({std::nullopt});  // stage 1 stores no single-sku basket
        continue;
      }
      std::vector<std::string> skus;
      for (int i : sets[c]) skus.push_back(name(i));
      std::shuffle(skus.begin(), skus.end(), rng);
      baskets.push_back({EncodeBasket(times[c], Views(skus))});
      const int64_t pane = times[c] / kHour * kHour;
      for (int i : sets[c]) {
        if (i == target) continue;
        ++want_all[name(i)];
        if (pane >= panes.first && pane <= panes.last) ++want_window[name(i)];
      }
    }
    EXPECT_EQ(AsMap(CountPartners(name(target), baskets, {})), want_all) << target;
    EXPECT_EQ(AsMap(CountPartners(name(target), baskets, {panes, kHour})), want_window) << target;
  }
}

}  // namespace
}  // namespace segstream::stream
