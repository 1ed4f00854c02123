#include "stream/windows.h"

#include <gtest/gtest.h>

namespace segstream::stream {
namespace {

constexpr int64_t kHour = 3'600'000;

TEST(WindowsTest, PaneStartFloorsAlsoBeforeTheEpoch) {
  EXPECT_EQ(PaneStart(0, kHour), 0);
  EXPECT_EQ(PaneStart(kHour - 1, kHour), 0);
  EXPECT_EQ(PaneStart(kHour, kHour), kHour);
  EXPECT_EQ(PaneStart(-1, kHour), -kHour);
  EXPECT_EQ(PaneStart(-kHour, kHour), -kHour);
}

TEST(WindowsTest, LastDayIsTwentyFourPanesEndingAtTheWatermarkPane) {
  // Watermark 2011-12-09 12:25 UTC (1323433500000): its pane starts at 12:00.
  const int64_t wm = 1323433500000;
  PaneRange r = WindowPanes(wm, 24 * kHour, kHour);
  EXPECT_EQ(r.last, 1323432000000);
  EXPECT_EQ((r.last - r.first) / kHour + 1, 24);
  EXPECT_TRUE(r.Contains(r.first));
  EXPECT_FALSE(r.Contains(r.first - kHour));
  EXPECT_FALSE(r.Contains(r.last + kHour));
}

TEST(WindowsTest, DurationShorterThanAPaneStillCoversOnePane) {
  PaneRange r = WindowPanes(5 * kHour + 7, kHour / 2, kHour);
  EXPECT_EQ(r.first, 5 * kHour);
  EXPECT_EQ(r.last, 5 * kHour);
}

TEST(WindowsTest, ServedWindowsAreKnownByName) {
  ASSERT_TRUE(FindWindow("all"));
  EXPECT_FALSE(FindWindow("all")->duration_ms);
  EXPECT_EQ(*FindWindow("7d")->duration_ms, 7 * 24 * kHour);
  EXPECT_FALSE(FindWindow("2h"));
  EXPECT_EQ(ServedWindows().size(), 5u);
}

TEST(WindowsTest, RetentionKeepsTheLargestWindowWhole) {
  WindowOptions o;
  const int64_t max_event = 1323433500000;
  const int64_t cutoff = RetentionCutoff(max_event, o);
  PaneRange month = WindowPanes(max_event - o.allowed_lateness_ms, 30 * 24 * kHour, o.pane_ms);
  EXPECT_LE(cutoff, month.first);
}

}  // namespace
}  // namespace segstream::stream
