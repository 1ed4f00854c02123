// Fixed, documented random numbers for the synthetic stream generator (`generator.h`).
//
// Why not <random>: std:: distributions (normal, gamma, poisson, discrete) are
// implementation-defined and give different draws on libstdc++, libc++ and MSVC, so a seed would
// not name a stream. Every sampler here is a short published method written out in full; the only
// library calls are std::log, std::exp, std::sqrt and std::pow (glibc's are < 1 ULP and give the
// same bits for the same binary on the same platform; another libm may differ in a last bit and so
// in a rare draw).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace segstream::ingest {

// SplitMix64 (Steele, Lea & Flood 2014; Vigna's reference constants): expands one 64-bit seed
// into well-mixed words, used to seed Xoshiro256 and to derive independent keyed streams.
inline uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// One 64-bit hash of (a, b, c): keys independent random streams (per customer, per event).
inline uint64_t MixKey(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t s = a;
  uint64_t h = SplitMix64(&s);
  s = h ^ b;
  h = SplitMix64(&s);
  s = h ^ c;
  return SplitMix64(&s);
}

// xoshiro256** 1.0 (Blackman & Vigna 2018, "Scrambled linear pseudorandom number generators"),
// seeded through SplitMix64 as its authors recommend. Small (32 bytes) and cheap to seed, so the
// generator makes one per event from a key instead of sharing one sequence.
class Xoshiro256 {
 public:
  explicit Xoshiro256(uint64_t seed) {
    uint64_t s = seed;
    for (auto& word : s_) word = SplitMix64(&s);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1): the top 53 bits as a double (Vigna's recommended conversion).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  // Uniform integer in [0, n), n > 0: Lemire's multiply-shift (2019). Its bias is below n / 2^64,
  // far under anything a test could see, and it costs no division.
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Exponential with mean 1 by inversion. 1 - U is in (0, 1], so the log is finite.
inline double SampleExponential(Xoshiro256& rng) { return -std::log(1.0 - rng.Uniform()); }

// Standard normal by Marsaglia's polar method (1964); the second value of the pair is dropped so
// the generator stays stateless.
inline double SampleNormal(Xoshiro256& rng) {
  for (;;) {
    const double u = 2 * rng.Uniform() - 1;
    const double v = 2 * rng.Uniform() - 1;
    const double s = u * u + v * v;
    if (s > 0 && s < 1) return u * std::sqrt(-2 * std::log(s) / s);
  }
}

// Gamma(shape k, scale theta), mean k * theta: Marsaglia & Tsang (2000), "A simple method for
// generating gamma variables", with their boost for k < 1: Gamma(k) = Gamma(k + 1) * U^(1/k).
inline double SampleGamma(Xoshiro256& rng, double shape, double scale) {
  if (shape < 1) {
    const double u = rng.Uniform();
    return SampleGamma(rng, shape + 1, scale) * std::pow(1.0 - u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9 * d);
  for (;;) {
    double x, v;
    do {
      x = SampleNormal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = rng.Uniform();
    if (u < 1 - 0.0331 * (x * x) * (x * x)) return d * v * scale;
    if (std::log(u) < 0.5 * x * x + d * (1 - v + std::log(v))) return d * v * scale;
  }
}

// Poisson(lambda): Knuth's multiplication method (TAOCP vol. 2, 3.4.1) on chunks of mean ≤ 30,
// summed (a sum of independent Poissons is Poisson), so it stays exact for large means without
// exp(-lambda) underflowing. Cost O(lambda) uniforms: fine for basket sizes.
inline int64_t SamplePoisson(Xoshiro256& rng, double lambda) {
  int64_t total = 0;
  while (lambda > 0) {
    const double chunk = lambda > 30 ? 30 : lambda;
    lambda -= chunk;
    const double limit = std::exp(-chunk);
    double p = rng.Uniform();
    while (p > limit) {
      ++total;
      p *= rng.Uniform();
    }
  }
  return total;
}

// Geometric on {1, 2, ...} with the given mean (≥ 1) by inversion: 1 + floor(ln U / ln(1 - p)),
// p = 1 / mean.
inline int64_t SampleGeometric(Xoshiro256& rng, double mean) {
  if (mean <= 1) return 1;
  const double q = 1 - 1 / mean;
  const double u = 1.0 - rng.Uniform();  // (0, 1]
  const double k = std::floor(std::log(u) / std::log(q));
  return 1 + (k > 1e9 ? int64_t{1'000'000'000} : static_cast<int64_t>(k));
}

// Walker's alias method, built with Vose's stable O(n) construction (Vose 1991): one draw from any
// finite discrete distribution in O(1) — two random numbers, one table lookup.
class AliasTable {
 public:
  AliasTable() = default;
  // Weights ≥ 0 with a positive sum; index i is drawn with probability weights[i] / sum.
  explicit AliasTable(const std::vector<double>& weights);

  size_t size() const { return prob_.size(); }
  uint32_t Sample(Xoshiro256& rng) const {
    const auto i = static_cast<uint32_t>(rng.Below(prob_.size()));
    return rng.Uniform() < prob_[i] ? i : alias_[i];
  }

 private:
  std::vector<double> prob_;
  std::vector<uint32_t> alias_;
};

// Zipf weights over ranks 1..n: weight of rank r is r^-exponent (index r - 1).
std::vector<double> ZipfWeights(int64_t n, double exponent);

}  // namespace segstream::ingest
