// Popularity quantiles over integer counts (DESIGN §3: an item's popularity is its `orders`).
#pragma once

#include "stream/tdigest.h"

namespace segstream::stream {

// Quantile of a digest whose values are all integers: the smallest integer v with
// #{values <= v} >= q * n, read from the digest's mid-rank Cdf at v + 1/2 (no value lies strictly
// between integers, so Cdf(v + 1/2) = #{<= v} / n). Unlike the interpolated Quantile(), it names
// a count an item can have, and the "top p%" set it cuts is the exact one whenever the digest's
// rank estimate at the threshold is right. NaN for an empty digest; q must be in [0, 1].
double IntegerQuantile(const TDigest& digest, double q);

}  // namespace segstream::stream
