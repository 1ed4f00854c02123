// `segstream generate` speed (wall-clock rates): lines per second for the simulation and CSV
// formatting alone (bytes counted and dropped), and through a plain and a gzip file — against the
// in-run baseline of writing the same number of bytes of a fixed buffer to a file, so the
// file-system share shows.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "ingest/generator.h"

namespace {

using segstream::Status;
using segstream::ingest::ByteSink;
using segstream::ingest::GeneratorOptions;

class CountingSink : public ByteSink {
 public:
  Status Write(std::string_view bytes) override {
    bytes_ += static_cast<int64_t>(bytes.size());
    return {};
  }
  Status Close() override { return {}; }
  int64_t bytes_ = 0;
};

GeneratorOptions Options() {
  GeneratorOptions o;
  o.customers = 50'000;
  o.days = 90;
  o.seed = 1;
  return o;
}

std::string TempFile(const char* name) {
  return "/tmp/generator_bench_" + std::to_string(::getpid()) + name;
}

void Report(benchmark::State& state, int64_t lines, int64_t bytes) {
  state.SetItemsProcessed(state.iterations() * lines);
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["lines"] = static_cast<double>(lines);
}

void BM_GenerateToMemory(benchmark::State& state) {
  int64_t lines = 0, bytes = 0;
  for (auto _ : state) {
    CountingSink sink;
    auto r = segstream::ingest::Generate(Options(), &sink);
    if (!r.ok()) return state.SkipWithError(r.status().message().c_str());
    lines = r->stats.lines;
    bytes = sink.bytes_;
  }
  Report(state, lines, bytes);
}
BENCHMARK(BM_GenerateToMemory)->Unit(benchmark::kMillisecond)->UseRealTime();

// Argument: 0 = plain .csv, else the gzip level of a .csv.gz.
void BM_GenerateToFile(benchmark::State& state) {
  GeneratorOptions o = Options();
  const bool gz = state.range(0) > 0;
  if (gz) o.gzip_level = static_cast<int>(state.range(0));
  const std::string path = TempFile(gz ? ".csv.gz" : ".csv");
  int64_t lines = 0, bytes = 0;
  for (auto _ : state) {
    auto r = segstream::ingest::GenerateToFile(o, path);
    if (!r.ok()) return state.SkipWithError(r.status().message().c_str());
    lines = r->stats.lines;
    bytes = r->stats.bytes;
  }
  std::remove(path.c_str());
  Report(state, lines, bytes);
}
BENCHMARK(BM_GenerateToFile)->Arg(0)->Arg(1)->Arg(6)->Unit(benchmark::kMillisecond)->UseRealTime();

// Baseline: as many bytes as the plain CSV, from one 4 MiB buffer, through fwrite.
void BM_WriteBytesBaseline(benchmark::State& state) {
  CountingSink counter;
  auto r = segstream::ingest::Generate(Options(), &counter);
  if (!r.ok()) return state.SkipWithError(r.status().message().c_str());
  const std::vector<char> buf(4 << 20, 'x');
  const std::string path = TempFile(".raw");
  for (auto _ : state) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    for (int64_t left = counter.bytes_; left > 0;) {
      const auto n = static_cast<size_t>(std::min<int64_t>(left, static_cast<int64_t>(buf.size())));
      std::fwrite(buf.data(), 1, n, f);
      left -= static_cast<int64_t>(n);
    }
    std::fclose(f);
  }
  std::remove(path.c_str());
  Report(state, r->stats.lines, counter.bytes_);
}
BENCHMARK(BM_WriteBytesBaseline)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
