// Reads the customer-segment state (DESIGN §3, key map in storage/README.md) for serving: the
// global model, each checkouts partition's segment statistics and meta, one customer by id, and
// every customer of a partition page by page. Values are decoded with the stream/segments.h
// decoders, which validate everything: a value that does not decode is a kCorruption Status naming
// the key, never a crash. Transport failures are kUnavailable (redis_client.h).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/redis_client.h"
#include "stream/drift_panes.h"
#include "stream/segments.h"
#include "stream/tdigest.h"

namespace segstream::storage {

// `{checkouts:P}:segmeta`; a missing hash or field reads as 0.
struct SegmentMeta {
  int64_t scored_version = 0;  // model version whose re-scoring sweep finished on the partition
  int64_t segmented = 0;       // customers with segment >= 0
  int64_t customers = 0;       // customers with a sale
};

struct PartitionSegments {
  int32_t partition = -1;
  // `{checkouts:P}:segstats` decoded with the model's k; empty when the key does not exist (the
  // partition has not committed segment state yet).
  std::vector<stream::SegmentStats> stats;
  SegmentMeta meta;
};

struct StoredCustomer {
  std::string customer_id;
  int32_t partition = -1;
  stream::CustomerState state;
};

// One HSCAN page of `{checkouts:P}:customers`.
struct CustomerPage {
  std::string next_cursor;  // "0" when the scan is complete
  std::vector<StoredCustomer> customers;
};

class SegmentReader {
 public:
  // `redis` must outlive the reader; the reader is as (not) thread-safe as the connection.
  explicit SegmentReader(RedisConnection* redis) : redis_(redis) {}

  // `{model}:current`; nullopt before the first model has been written.
  Result<std::optional<stream::SegmentModel>> ReadModel();

  // Statistics (decoded with `k`) and meta of each partition, in the order given: one round trip.
  // k <= 0 (no model yet, so no k to decode with): the meta only, `stats` left empty.
  Result<std::vector<PartitionSegments>> ReadPartitionStats(const std::vector<int32_t>& partitions,
                                                            int k);

  // The customer's record, looked up in every given partition's customers hash in one pipelined
  // round trip (a customer lives in the partition its key hashes to, but serve does not know the
  // producer's partitioner). nullopt when no partition has it. Should it be in several (the topic
  // was repartitioned), the record with the newest sale wins.
  Result<std::optional<StoredCustomer>> ReadCustomer(std::string_view customer_id,
                                                     const std::vector<int32_t>& partitions);

  // `{checkouts:P}:basket_digest`; nullopt when the partition has none yet.
  Result<std::optional<stream::TDigest>> ReadBasketDigest(int32_t partition);

  // The drift day index `{checkouts:P}:drift`: day start (ms) -> purchases stored that day.
  Result<std::map<int64_t, int64_t>> ReadDriftIndex(int32_t partition);
  // Every stored drift purchase of the given partitions, merged per day (two pipelined round
  // trips): day start (ms) -> purchases, in no particular order.
  Result<std::map<int64_t, std::vector<stream::DriftPurchase>>> ReadDriftPurchases(
      const std::vector<int32_t>& partitions);

  // One HSCAN page from `cursor` ("0" to start). `count` is the HSCAN COUNT hint: the page holds
  // about that many entries, so the caller's memory stays bounded (a small hash, stored as a
  // listpack, comes back whole in one page whatever the hint). HSCAN may return an entry twice
  // when the hash is resized during the scan (SCAN docs, "Scan guarantees"); ScanCustomers dedups.
  Result<CustomerPage> ScanCustomersPage(int32_t partition, const std::string& cursor,
                                         int64_t count);

  // Every customer of the partition exactly once (entries present for the whole scan), page by
  // page. `visit` returning an error stops the scan with that error. Memory: one page plus the
  // ids already visited (needed for exactly-once, see above).
  using CustomerVisitor = std::function<Status(const StoredCustomer&)>;
  Status ScanCustomers(int32_t partition, const CustomerVisitor& visit, int64_t count = 1000);

 private:
  RedisConnection* redis_;
};

}  // namespace segstream::storage
