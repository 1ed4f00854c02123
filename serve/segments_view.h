// The customer-segment part of the serving snapshot (DESIGN §3, §6): the global model and the
// live membership, i.e. the sum of every checkouts partition's current segment statistics.
// Built by the snapshot refresh (snapshot.h) so /v1/segments and /metrics answer from memory.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "storage/segment_reader.h"
#include "stream/segments.h"
#include "stream/tdigest.h"

namespace segstream::serve {

struct SegmentsView {
  std::vector<int32_t> partitions;            // checkouts partitions claimed by workers
  std::optional<stream::SegmentModel> model;  // nullopt before the first model (warming up)
  // Σ over partitions of `{checkouts:P}:segstats` (model.k entries); `live` when at least one
  // partition has them. The statistics are exact integers, so the sum is the membership.
  std::vector<stream::SegmentStats> merged;
  bool live = false;
  // Every partition's re-scoring sweep has finished with this model (scored_version >= the
  // model's version: a partition may already have scored a newer model than the one read).
  bool scored = false;
  int64_t customers = 0;  // Σ segmeta `customers` (customers with a sale)
  int64_t segmented = 0;  // Σ segmeta `segmented`
  // Basket values (currency units) of every checkout with a sale: the merge of the partitions'
  // `{checkouts:P}:basket_digest` t-digests; nullopt before any.
  std::optional<stream::TDigest> basket;
  // The drift evaluator's output (ingest/drift_evaluator.h): the monitors' table (JSON object,
  // null before the first evaluation) and the newest alerts (JSON objects, newest first).
  nlohmann::json drift_report;
  nlohmann::json drift_alerts = nlohmann::json::array();
  // Set when the segment state could not be decoded (kCorruption): /v1/segments reports it while
  // the rest of the API keeps answering.
  std::string error;

  // Members per segment: the live statistics, else the model's own sizes. Empty without a model.
  std::vector<int64_t> sizes() const;
  // Σ cost over segments (model units): from the live statistics, else the model's.
  double inertia() const;
};

// Pure: the view from what storage read (`parts` in any order, stats decoded with model->k).
SegmentsView BuildSegmentsView(std::vector<int32_t> partitions,
                               std::optional<stream::SegmentModel> model,
                               const std::vector<storage::PartitionSegments>& parts);

// Reads and builds the view on `redis`. Transport failures (kUnavailable, kTimeout, kIoError)
// are returned as errors; undecodable state becomes a view with `error` set.
Result<SegmentsView> ReadSegmentsView(storage::RedisConnection* redis);

// A quantized model-unit value (integer millionths, stream::kQuantum) as exact decimal text with
// six decimals, e.g. -1234567 -> "-1.234567": the export prints the very vector a customer is
// counted with, without a binary round trip.
std::string FormatQuantized(int64_t quantized);

}  // namespace segstream::serve
