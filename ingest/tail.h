// `segstream tail`: any segstream topic as JSON lines (DESIGN §6).
#pragma once

#include <google/protobuf/message.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "ingest/kafka.h"

namespace segstream::ingest {

// Every field of `message` by its proto name, zero values included, int64 as JSON numbers,
// enums by name (unlike protobuf's own JSON printer, which drops defaults and quotes int64).
nlohmann::json ProtoToJson(const google::protobuf::Message& message);

// Decodes one record of `topic` into a JSON object with `_partition`, `_offset`, `_key` (and
// `_headers` when it has any). DLQ records decode as the Checkout they failed to be, or carry the
// raw bytes in `_value` (UTF-8 with invalid bytes replaced) and `_undecodable: true`.
nlohmann::json RecordToJson(const std::string& topic, RdKafka::Message& record);

struct TailOptions {
  KafkaOptions kafka;
  std::string topic;
  bool from_beginning = false;                   // else only records that arrive after the start
  int64_t max_records = -1;                      // exit after this many; -1 = no limit
  std::chrono::milliseconds idle_timeout{5000};  // exit after this long without a record
};

// Prints one JSON object per line to `out`; returns how many were printed.
Result<int64_t> Tail(const TailOptions& options, std::ostream& out, const std::atomic<bool>& stop);

}  // namespace segstream::ingest
