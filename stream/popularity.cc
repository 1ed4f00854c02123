#include "stream/popularity.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace segstream::stream {

double IntegerQuantile(const TDigest& digest, double q) {
  if (!(q >= 0 && q <= 1)) throw std::invalid_argument("IntegerQuantile: q not in [0, 1]");
  if (digest.Count() == 0) return std::numeric_limits<double>::quiet_NaN();
  double lo = std::ceil(digest.Min());
  double hi = std::floor(digest.Max());
  // Binary search for the first integer whose cumulative fraction reaches q; the tolerance keeps
  // q = k/n from missing its value to floating-point noise in the digest's ranks.
  while (lo < hi) {
    const double mid = std::floor((lo + hi) / 2);
    if (digest.Cdf(mid + 0.5) >= q - 1e-12) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

}  // namespace segstream::stream
