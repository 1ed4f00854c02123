// CSV replay read speed over the project's Online Retail copy (or $SEGSTREAM_CSV), with the
// in-run baseline of just decompressing the file and finding its line ends: the reader's parse
// cost is its time minus the baseline's.
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ingest/csv_reader.h"

namespace {

std::string CsvPath() {
  const char* env = std::getenv("SEGSTREAM_CSV");
  return env != nullptr ? env : SEGSTREAM_DATA_DIR "/online_retail.csv.gz";
}

// Baseline: gzread in 256 KiB chunks and count '\n' with memchr.
void BM_GzReadAndCountLines(benchmark::State& state) {
  const std::string path = CsvPath();
  std::vector<char> buf(256 * 1024);
  int64_t lines = 0;
  for (auto _ : state) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (f == nullptr) {
      state.SkipWithError("cannot open the CSV");
      return;
    }
    gzbuffer(f, 128 * 1024);
    lines = 0;
    int n = 0;
    while ((n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()))) > 0) {
      const char* p = buf.data();
      const char* end = p + n;
      while (const void* nl = std::memchr(p, '\n', static_cast<size_t>(end - p))) {
        ++lines;
        p = static_cast<const char*>(nl) + 1;
      }
    }
    gzclose(f);
  }
  state.counters["lines"] = static_cast<double>(lines);
  state.SetItemsProcessed(state.iterations() * lines);
}
BENCHMARK(BM_GzReadAndCountLines)->Unit(benchmark::kMillisecond);

// The whole file through CsvCheckoutReader, one reused Checkout.
void BM_CsvCheckoutReader(benchmark::State& state) {
  const std::string path = CsvPath();
  segstream::v1::Checkout checkout;
  int64_t rows = 0, checkouts = 0;
  for (auto _ : state) {
    auto reader = segstream::ingest::CsvCheckoutReader::Open(path);
    if (!reader.ok()) {
      state.SkipWithError(reader.status().ToString().c_str());
      return;
    }
    for (;;) {
      auto more = reader->Next(&checkout);
      if (!more.ok()) {
        state.SkipWithError(more.status().ToString().c_str());
        return;
      }
      if (!*more) break;
      benchmark::DoNotOptimize(checkout.lines_size());
    }
    rows = reader->stats().rows_read;
    checkouts = reader->stats().checkouts;
  }
  state.counters["rows"] = static_cast<double>(rows);
  state.counters["checkouts"] = static_cast<double>(checkouts);
  state.SetItemsProcessed(state.iterations() * rows);
}
BENCHMARK(BM_CsvCheckoutReader)->Unit(benchmark::kMillisecond);

}  // namespace
