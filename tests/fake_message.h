// A Kafka message made in a test, for the stages (ingest/stages.h), which read only its
// payload, offset and (stage 1) key.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <string>

namespace segstream::testing_support {

// The stages read only payload, offset and (stage 1) key from a message.
class FakeMessage : public RdKafka::Message {
 public:
  FakeMessage(std::string payload, int64_t offset)
      : payload_(std::move(payload)), offset_(offset) {}
  std::string errstr() const override { return ""; }
  RdKafka::ErrorCode err() const override { return RdKafka::ERR_NO_ERROR; }
  RdKafka::Topic* topic() const override { return nullptr; }
  std::string topic_name() const override { return ""; }
  int32_t partition() const override { return 0; }
  void* payload() const override { return const_cast<char*>(payload_.data()); }
  size_t len() const override { return payload_.size(); }
  const std::string* key() const override { return &key_; }
  const void* key_pointer() const override { return key_.data(); }
  size_t key_len() const override { return key_.size(); }
  int64_t offset() const override { return offset_; }
  RdKafka::MessageTimestamp timestamp() const override { return {}; }
  void* msg_opaque() const override { return nullptr; }
  int64_t latency() const override { return 0; }
  rd_kafka_message_s* c_ptr() override { return nullptr; }
  Status status() const override { return MSG_STATUS_PERSISTED; }
  RdKafka::Headers* headers() override { return nullptr; }
  RdKafka::Headers* headers(RdKafka::ErrorCode* err) override {
    *err = RdKafka::ERR_NO_ERROR;
    return nullptr;
  }
  int32_t broker_id() const override { return -1; }

 private:
  std::string payload_;
  std::string key_ = "k";
  int64_t offset_;
};

}  // namespace segstream::testing_support
