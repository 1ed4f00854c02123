#include "ingest/tail.h"

#include <google/protobuf/descriptor.h>

#include "ingest/validate.h"
#include "segstream.pb.h"
#include "storage/keys.h"

namespace segstream::ingest {

namespace pb = google::protobuf;
using nlohmann::json;

namespace {

json FieldValue(const pb::Message& m, const pb::FieldDescriptor* f, int index) {
  const pb::Reflection* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f);
    case pb::FieldDescriptor::CPPTYPE_INT64:
      return rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f);
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f);
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f);
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      return rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f);
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f);
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f);
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      return (rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f))->name();
    case pb::FieldDescriptor::CPPTYPE_STRING: {
      std::string s = rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
      return json(s);
    }
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return ProtoToJson(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
  }
  return nullptr;
}

// nlohmann::json throws on invalid UTF-8 when dumping; replace such bytes instead.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

json ProtoToJson(const pb::Message& message) {
  json out = json::object();
  const pb::Descriptor* d = message.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (f->is_repeated()) {
      json arr = json::array();
      int n = message.GetReflection()->FieldSize(message, f);
      for (int k = 0; k < n; ++k) arr.push_back(FieldValue(message, f, k));
      out[f->name()] = std::move(arr);
    } else {
      out[f->name()] = FieldValue(message, f, 0);
    }
  }
  return out;
}

json RecordToJson(const std::string& topic, RdKafka::Message& record) {
  std::string_view value(static_cast<const char*>(record.payload()), record.len());
  json out;
  bool decoded = true;
  auto parse = [&](pb::Message&& m) {
    decoded = m.ParseFromArray(value.data(), static_cast<int>(value.size()));
    if (decoded) out = ProtoToJson(m);
  };
  if (topic == storage::kItemSalesTopic) {
    parse(v1::ItemSale());
  } else if (topic == storage::kSegmentChangesTopic) {
    parse(v1::SegmentChange());
  } else if (topic == storage::kSegmentDriftTopic) {
    parse(v1::DriftAlert());
  } else {
    // `checkouts`, and DLQ records, which hold the Checkout they failed to be when it decodes.
    v1::Checkout checkout;
    decoded = !value.empty() && DecodeAndValidate(value, &checkout) != DlqReason::kUndecodable;
    if (decoded) out = ProtoToJson(checkout);
  }
  if (!decoded) {
    out = json::object();
    out["_undecodable"] = true;
    out["_value"] = std::string(value);
  }
  out["_partition"] = record.partition();
  out["_offset"] = record.offset();
  out["_key"] = record.key() ? json(*record.key()) : json(nullptr);
  if (RdKafka::Headers* headers = record.headers(); headers && headers->size() > 0) {
    json h = json::object();
    for (const auto& header : headers->get_all()) {
      h[header.key()] = header.value() ? std::string(static_cast<const char*>(header.value()),
                                                     header.value_size())
                                       : std::string();
    }
    out["_headers"] = std::move(h);
  }
  return out;
}

Result<int64_t> Tail(const TailOptions& options, std::ostream& out, const std::atomic<bool>& stop) {
  KafkaOptions kafka = options.kafka;
  // A private group per run: tail reads, it never takes partitions from the workers.
  kafka.group = "segstream-tail-" + std::to_string(::getpid()) + "-" +
                std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  kafka.extra["auto.offset.reset"] = options.from_beginning ? "earliest" : "latest";
  auto consumer = CreateConsumer(kafka, nullptr);
  if (!consumer.ok()) return consumer.status();
  auto partitions = PartitionCount(consumer->get(), options.topic, std::chrono::seconds(10));
  if (!partitions.ok()) return partitions.status();
  // Assign every partition directly: no group join delay, no rebalance.
  std::vector<RdKafka::TopicPartition*> tps;
  for (int32_t p = 0; p < *partitions; ++p) {
    tps.push_back(RdKafka::TopicPartition::create(
        options.topic, p,
        options.from_beginning ? RdKafka::Topic::OFFSET_BEGINNING : RdKafka::Topic::OFFSET_END));
  }
  RdKafka::ErrorCode err = (*consumer)->assign(tps);
  for (auto* tp : tps) delete tp;
  if (err != RdKafka::ERR_NO_ERROR) return Status::Unavailable("assign: " + RdKafka::err2str(err));
  int64_t printed = 0;
  auto last = std::chrono::steady_clock::now();
  while (!stop.load() && (options.max_records < 0 || printed < options.max_records)) {
    std::unique_ptr<RdKafka::Message> m((*consumer)->consume(100));
    if (m->err() == RdKafka::ERR_NO_ERROR) {
      out << Dump(RecordToJson(options.topic, *m)) << '\n';
      ++printed;
      last = std::chrono::steady_clock::now();
      continue;
    }
    if (m->err() != RdKafka::ERR__TIMED_OUT && m->err() != RdKafka::ERR__PARTITION_EOF) {
      return Status::Unavailable("consume " + options.topic + ": " + m->errstr());
    }
    if (std::chrono::steady_clock::now() - last > options.idle_timeout) break;
  }
  out.flush();
  (*consumer)->close();
  return printed;
}

}  // namespace segstream::ingest
