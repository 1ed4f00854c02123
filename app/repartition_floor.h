// The Kafka work the two-stage design (DESIGN §1) implies, measured alone, for `segstream bench
// e2e` (issue 10). Every checkout becomes one `item-sales` record per distinct sku, produced keyed
// by sku and read back by stage 2; with ~20 skus per Online Retail checkout that traffic, not the
// checkouts topic, bounds the pipeline. This phase does exactly that Kafka work and nothing else
// (decode and validate, no Redis, no segments, no DLQ records): a bound for the pipeline on this
// machine that is tighter than the raw consume rate.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "ingest/kafka.h"
#include "ingest/mock_broker.h"
#include "stream/status.h"

namespace segstream::app {

struct RepartitionFloor {
  int64_t checkouts = 0;
  int64_t item_sales = 0;
  double split_seconds = 0;    // read checkouts, split, produce item-sales, until all delivered
  double consume_seconds = 0;  // read every item-sales record back
  double seconds() const { return split_seconds + consume_seconds; }
  double checkouts_per_second() const {
    return seconds() > 0 ? static_cast<double>(checkouts) / seconds() : 0;
  }
};

// Reads the `checkouts` topic from the beginning (assigned, no group join) until `total`
// records, splits each into item-sales as stage 1 does and produces them to a scratch topic with
// `partitions` partitions created on `broker`, then reads that topic back. One thread, the
// worker's client settings. Errors if a phase exceeds `timeout` or the broker dropped records
// (5 MiB per partition, KAFKA_MOCK.md).
Result<RepartitionFloor> MeasureRepartitionFloor(const ingest::KafkaOptions& kafka,
                                                 ingest::MockBroker* broker, int partitions,
                                                 int64_t total, std::chrono::seconds timeout,
                                                 const std::atomic<bool>& stop);

}  // namespace segstream::app
