#include "stream/popularity.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace segstream::stream {
namespace {

// Independent reference: sort and take the value at rank ceil(q n).
double ExactQuantile(std::vector<int> values, double q) {
  std::sort(values.begin(), values.end());
  size_t rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(q * values.size())));
  return values[rank - 1];
}

TEST(IntegerQuantileTest, ExactOnSmallPopulations) {
  std::vector<int> values = {1, 1, 1, 2, 2, 3, 5, 8, 13, 21};
  TDigest d;
  for (int v : values) d.Add(v);
  for (double q : {0.0, 0.1, 0.3, 0.31, 0.5, 0.7, 0.9, 0.95, 1.0}) {
    EXPECT_EQ(IntegerQuantile(d, q), ExactQuantile(values, q)) << "q=" << q;
  }
}

TEST(IntegerQuantileTest, ZipfCountsAreExactAtTheTopTenPercentThreshold) {
  // Item order counts shaped like retail popularity: count(rank) ~ 2000 / rank^0.8.
  std::vector<int> values;
  for (int rank = 1; rank <= 4000; ++rank) {
    values.push_back(std::max(1, static_cast<int>(2000 / std::pow(rank, 0.8))));
  }
  TDigest d;
  for (int v : values) d.Add(v);
  for (double q : {0.5, 0.9}) EXPECT_EQ(IntegerQuantile(d, q), ExactQuantile(values, q));
}

TEST(IntegerQuantileTest, EmptyIsNanAndBadQThrows) {
  TDigest d;
  EXPECT_TRUE(std::isnan(IntegerQuantile(d, 0.5)));
  d.Add(3);
  EXPECT_THROW(IntegerQuantile(d, 1.5), std::invalid_argument);
  EXPECT_EQ(IntegerQuantile(d, 0.5), 3);
}

}  // namespace
}  // namespace segstream::stream
