// t-digest kernels against the in-run baseline, std::sort of the same values (DESIGN §4: inserts
// must cost <= 25 ns/value and less than sorting). Every insert benchmark includes the final
// Compress, so `cpu_ns_per_value` is all insert and compress work. Run:
//   build/release/tdigest_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "stream/tdigest.h"

namespace segstream::stream {
namespace {

constexpr size_t kValues = 10'000'000;

double Uniform(std::mt19937_64& rng) { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1p-53; }

// 0 uniform, 1 exponential, 2 lognormal(0, 2); the same generator as stream/tdigest_test.cc.
const std::vector<double>& Values(int dist) {
  static std::map<int, std::vector<double>> cache;
  auto it = cache.find(dist);
  if (it != cache.end()) return it->second;
  std::mt19937_64 rng(42 + dist);
  std::vector<double> values(kValues);
  for (double& x : values) {
    double u = Uniform(rng);
    x = dist == 0   ? u
        : dist == 1 ? -std::log(u)
                    : std::exp(2 * std::sqrt(-2 * std::log(u)) * std::cos(2 * M_PI * Uniform(rng)));
  }
  return cache.emplace(dist, std::move(values)).first->second;
}

void SetLabel(benchmark::State& state) {
  static const char* const kNames[] = {"uniform", "exponential", "lognormal"};
  state.SetLabel(kNames[state.range(0)]);
}

// Thread CPU time and wall time of the timed region, summed over iterations: the machine is
// shared, so CPU time is the figure to compare; wall time is reported alongside.
class RegionClock {
 public:
  void Start() {
    cpu_start_ = CpuNs();
    wall_start_ = std::chrono::steady_clock::now();
  }
  void Stop() {
    cpu_ns_ += CpuNs() - cpu_start_;
    wall_ns_ +=
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - wall_start_)
            .count();
  }
  void Report(benchmark::State& state, size_t values_per_iteration) const {
    double values = static_cast<double>(state.iterations() * values_per_iteration);
    state.SetItemsProcessed(static_cast<int64_t>(values));
    state.counters["cpu_ns_per_value"] = cpu_ns_ / values;
    state.counters["wall_ns_per_value"] = wall_ns_ / values;
  }

 private:
  static double CpuNs() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
  }
  double cpu_start_ = 0, cpu_ns_ = 0, wall_ns_ = 0;
  std::chrono::steady_clock::time_point wall_start_;
};

void BM_TDigestInsert(benchmark::State& state) {
  const auto& values = Values(static_cast<int>(state.range(0)));
  RegionClock clock;
  for (auto _ : state) {
    clock.Start();
    TDigest digest;
    for (double x : values) digest.Add(x);
    digest.Compress();
    clock.Stop();
    benchmark::DoNotOptimize(digest.CentroidCount());
  }
  clock.Report(state, values.size());
  SetLabel(state);
}

// 16 digests on 16 contiguous slices, merged (what `segstream sketch --parts 16` does).
void BM_TDigestInsertMerge16(benchmark::State& state) {
  const auto& values = Values(static_cast<int>(state.range(0)));
  RegionClock clock;
  for (auto _ : state) {
    clock.Start();
    TDigest total;
    for (size_t p = 0; p < 16; ++p) {
      TDigest part;
      for (size_t i = values.size() * p / 16; i < values.size() * (p + 1) / 16; ++i) {
        part.Add(values[i]);
      }
      total.Merge(part);
    }
    total.Compress();
    clock.Stop();
    benchmark::DoNotOptimize(total.CentroidCount());
  }
  clock.Report(state, values.size());
  SetLabel(state);
}

// The baseline: sorting the same values (the copy is not timed).
void BM_StdSort(benchmark::State& state) {
  const auto& values = Values(static_cast<int>(state.range(0)));
  std::vector<double> copy;
  RegionClock clock;
  for (auto _ : state) {
    state.PauseTiming();
    copy = values;
    state.ResumeTiming();
    clock.Start();
    std::sort(copy.begin(), copy.end());
    clock.Stop();
    benchmark::DoNotOptimize(copy.data());
  }
  clock.Report(state, values.size());
  SetLabel(state);
}

const TDigest& Built(int dist) {
  static std::map<int, TDigest> cache;
  auto it = cache.find(dist);
  if (it != cache.end()) return it->second;
  TDigest digest;
  for (double x : Values(dist)) digest.Add(x);
  digest.Compress();
  return cache.emplace(dist, std::move(digest)).first->second;
}

void BM_TDigestQuantile(benchmark::State& state) {
  const TDigest& digest = Built(static_cast<int>(state.range(0)));
  std::mt19937_64 rng(1);
  std::vector<double> qs(4096);
  for (double& q : qs) q = Uniform(rng);
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(digest.Quantile(qs[i++ & 4095]));
  SetLabel(state);
}

void BM_TDigestCdf(benchmark::State& state) {
  const auto& values = Values(static_cast<int>(state.range(0)));
  const TDigest& digest = Built(static_cast<int>(state.range(0)));
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(digest.Cdf(values[i++ & 4095]));
  SetLabel(state);
}

// Merging 16 compressed digests of 625 k values each, and compressing the result.
void BM_TDigestMerge16(benchmark::State& state) {
  const auto& values = Values(static_cast<int>(state.range(0)));
  std::vector<TDigest> parts;
  for (size_t p = 0; p < 16; ++p) {
    TDigest part;
    for (size_t i = values.size() * p / 16; i < values.size() * (p + 1) / 16; ++i) {
      part.Add(values[i]);
    }
    part.Compress();
    parts.push_back(std::move(part));
  }
  for (auto _ : state) {
    TDigest total;
    for (const TDigest& part : parts) total.Merge(part);
    benchmark::DoNotOptimize(total.CentroidCount());
  }
  SetLabel(state);
}

void BM_TDigestSerialize(benchmark::State& state) {
  const TDigest& digest = Built(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) bytes = digest.Serialize().size();
  state.counters["bytes"] = static_cast<double>(bytes);
  SetLabel(state);
}

void BM_TDigestDeserialize(benchmark::State& state) {
  const std::string bytes = Built(static_cast<int>(state.range(0))).Serialize();
  for (auto _ : state) {
    auto digest = TDigest::Deserialize(bytes);
    benchmark::DoNotOptimize(digest.ok());
  }
  SetLabel(state);
}

BENCHMARK(BM_TDigestInsert)->DenseRange(0, 2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_StdSort)->DenseRange(0, 2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TDigestInsertMerge16)->DenseRange(0, 2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TDigestQuantile)->DenseRange(0, 2);
BENCHMARK(BM_TDigestCdf)->DenseRange(0, 2);
BENCHMARK(BM_TDigestMerge16)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TDigestSerialize)->Arg(2);
BENCHMARK(BM_TDigestDeserialize)->Arg(2);

}  // namespace
}  // namespace segstream::stream
