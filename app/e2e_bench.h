// `segstream bench e2e` (issue 10): the whole pipeline measured against the physical limit in one
// run on the embedded servers. Throughput: a bare librdkafka consumer (no processing) and then the
// workers (both stages, Redis state, segments, outputs) read the same pre-filled `checkouts` topic
// from a fresh group; the ratio of their rates says how much the pipeline costs on top of Kafka.
// Latency: checkouts produced at a fixed rate, each timed until the partition's offset committed in
// Redis covers it (what /v1/status reads, minus the API's snapshot refresh interval).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "app/latency_stats.h"
#include "app/repartition_floor.h"
#include "ingest/segmenter.h"
#include "storage/snapshot_reader.h"
#include "stream/status.h"

namespace segstream::app {

struct E2eBenchOptions {
  std::string csv;      // input; empty = the bundled Online Retail file
  int64_t events = -1;  // -1: every checkout of the file once; N: N checkouts, re-reading the file
  int partitions = 6;   // of every topic
  int threads = 2;      // worker consumers
  bool serve = true;    // also run the API (snapshot cache + HTTP on a free port), as `run` does
  ingest::SegmenterOptions segments;
  std::vector<std::string> redis_config;            // extra redis.conf lines (EmbeddedOptions)
  std::map<std::string, std::string> kafka_config;  // extra librdkafka properties (KafkaOptions)
  std::chrono::seconds phase_timeout{300};          // bound on each phase (prefill, raw, pipeline)
};

// One measured consumption of the whole topic.
struct RateFigure {
  int64_t events = 0;
  // From the group's assignment to the last event (raw: consumed; pipeline: committed in Redis
  // with stage 2 drained). The mock broker's first join waits 3 s (KAFKA_MOCK.md): excluded here,
  // reported as join_seconds.
  double seconds = 0;
  double join_seconds = 0;
  double events_per_second() const {
    return seconds > 0 ? static_cast<double>(events) / seconds : 0;
  }
};

struct E2eThroughput {
  int64_t prefilled = 0;  // checkouts in the topic
  int64_t prefill_rows = 0;
  double prefill_seconds = 0;
  RateFigure raw;
  RepartitionFloor floor;  // the item-sales traffic alone (app/repartition_floor.h)
  RateFigure pipeline;
  storage::PipelineStatus final_status;
  int64_t max_generation = 0;  // > 1: a partition was reassigned during the measurement
  double ratio() const {
    return raw.events_per_second() > 0 ? pipeline.events_per_second() / raw.events_per_second() : 0;
  }
  double floor_ratio() const {
    const double limit = floor.checkouts_per_second();
    return limit > 0 ? pipeline.events_per_second() / limit : 0;
  }
};

Result<E2eThroughput> RunThroughputBench(const E2eBenchOptions& options,
                                         const std::atomic<bool>& stop);

struct LatencyBenchOptions {
  std::string csv;      // checkouts to send, read in a loop; empty = the bundled file
  double rate = 10000;  // checkouts per second
  std::chrono::seconds duration{10};
  int partitions = 6;
  int threads = 2;
  bool serve = true;
  ingest::SegmenterOptions segments;
  std::vector<std::string> redis_config;
  std::map<std::string, std::string> kafka_config;
  // After the last checkout is produced, how long to wait for the rest to be committed.
  std::chrono::seconds drain_timeout{60};
};

struct LatencyFigures : LatencyStats {
  int64_t produced = 0;
  int64_t measured = 0;  // seen committed before the drain timeout
  double produce_seconds = 0;
  double achieved_rate = 0;
  // Largest item-sales backlog (produced by stage 1, not yet applied by stage 2) seen, polled.
  int64_t max_item_sales_backlog = 0;
  // False if the topic's end offsets differ from the checkouts sent per partition, which breaks
  // the offset → send-time mapping the latencies rely on.
  bool offsets_consistent = true;
};

Result<LatencyFigures> RunLatencyBench(const LatencyBenchOptions& options,
                                       const std::atomic<bool>& stop);

}  // namespace segstream::app
