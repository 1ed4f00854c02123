// The stage-2 commit script (storage/partition_state.cc) against a real redis-server: one commit
// of `skus` skus, each in `panes` event-time panes with a basket ref, with or without their
// descriptions (sent once per claim, ingest/item_commits.h). Its cost is what issue 10 found Redis
// spending its time on.
//
//   build/release/item_commit_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "storage/keys.h"
#include "storage/partition_state.h"
#include "storage/redis_child.h"

namespace {

using namespace segstream::storage;  // NOLINT(google-build-using-namespace): a bench

RedisConnection& Redis() {
  static RedisConnection* conn = [] {
    static RedisChild child;
    if (!child.Start().ok()) std::abort();
    auto c = RedisConnection::Connect({child.host(), child.port()});
    if (!c.ok()) std::abort();
    return new RedisConnection(std::move(*c));
  }();
  return *conn;
}

void BM_CommitItemSales(benchmark::State& state) {
  const int skus = static_cast<int>(state.range(0));
  const int panes = static_cast<int>(state.range(1));
  const bool descriptions = state.range(2) != 0;
  PartitionStateStore store(&Redis());
  const int32_t partition = static_cast<int32_t>(state.range(0) * 10 + state.range(1)) % 1000;
  auto claim = store.Claim(kItemSalesTopic, partition);
  if (!claim.ok()) std::abort();
  ItemSalesCommit c;
  c.generation = claim->generation;
  c.expected_offset = claim->next_offset;
  c.next_offset = std::max<int64_t>(c.expected_offset, 0);
  for (int s = 0; s < skus; ++s) {
    const std::string sku = "SKU" + std::to_string(s);
    ItemDelta d{1, 6, 0, 2'550'000, descriptions ? "WHITE HANGING HEART T-LIGHT HOLDER" : ""};
    c.items[sku] = d;
    for (int p = 0; p < panes; ++p) c.panes[int64_t{3'600'000} * p][sku] = {1, 6, 0, 2'550'000};
    c.basket_refs[sku] = std::string(12, 'r');
  }
  c.applied = skus;
  for (auto _ : state) {
    c.next_offset += skus;
    if (!store.CommitItemSales(partition, c).ok()) std::abort();
    c.expected_offset = c.next_offset;
  }
  state.counters["pairs/s"] = benchmark::Counter(static_cast<double>(skus) * (1 + panes),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CommitItemSales)
    ->ArgNames({"skus", "panes", "desc"})
    ->Args({2000, 1, 1})
    ->Args({2000, 1, 0})
    ->Args({2000, 10, 0})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
