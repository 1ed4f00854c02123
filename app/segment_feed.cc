#include "app/segment_feed.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "ingest/kafka.h"
#include "ingest/tail.h"
#include "storage/keys.h"

namespace segstream::app {

namespace {

using Clock = std::chrono::steady_clock;

// A consumer with every partition of `segment-changes` assigned at its current end offset, read
// synchronously (OFFSET_END would be resolved later, silently skipping what arrives meanwhile).
Result<std::unique_ptr<RdKafka::KafkaConsumer>> AssignAtEnd(const std::string& brokers) {
  ingest::KafkaOptions kafka;
  kafka.brokers = brokers;
  // Never joined (assign, not subscribe) and never committed: the id only has to be unique.
  kafka.group = "segstream-serve-feed-" + std::to_string(::getpid());
  kafka.extra["auto.offset.reset"] = "latest";  // a truncated log: skip ahead, never replay
  auto consumer = ingest::CreateConsumer(kafka, nullptr);
  if (!consumer.ok()) return consumer.status();
  const std::string topic(storage::kSegmentChangesTopic);
  auto partitions = ingest::PartitionCount(consumer->get(), topic, std::chrono::seconds(5));
  if (!partitions.ok()) return partitions.status();
  std::vector<RdKafka::TopicPartition*> tps;
  for (int32_t p = 0; p < *partitions; ++p) {
    int64_t low = -1, high = -1;
    RdKafka::ErrorCode err = (*consumer)->query_watermark_offsets(topic, p, &low, &high, 5000);
    if (err != RdKafka::ERR_NO_ERROR) {
      for (auto* tp : tps) delete tp;
      return Status::Unavailable("end offset of " + topic + ":" + std::to_string(p) + ": " +
                                 RdKafka::err2str(err));
    }
    tps.push_back(RdKafka::TopicPartition::create(topic, p, high));
  }
  RdKafka::ErrorCode err = (*consumer)->assign(tps);
  for (auto* tp : tps) delete tp;
  if (err != RdKafka::ERR_NO_ERROR) return Status::Unavailable("assign: " + RdKafka::err2str(err));
  return consumer;
}

}  // namespace

SegmentChangeFeed::SegmentChangeFeed(SegmentFeedOptions options, serve::SseHub* hub)
    : options_(std::move(options)), publisher_(hub, options_.limits) {}

SegmentChangeFeed::~SegmentChangeFeed() { Stop(); }

void SegmentChangeFeed::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void SegmentChangeFeed::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_flag_.store(true);
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool SegmentChangeFeed::Sleep(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !wake_.wait_for(lock, d, [this] { return stopping_; });
}

void SegmentChangeFeed::Run() {
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  bool warned = false;
  while (!stop_flag_.load()) {
    auto assigned = AssignAtEnd(options_.brokers);
    if (assigned.ok()) {
      consumer = std::move(*assigned);
      break;
    }
    if (!warned) {
      spdlog::warn("segment feed: {} (retrying every {} ms)", assigned.status().message(),
                   options_.retry.count());
      warned = true;
    }
    if (!Sleep(options_.retry)) return;
  }
  if (!consumer) return;
  ready_.store(true);
  spdlog::info("segment feed: publishing {} on /v1/events", storage::kSegmentChangesTopic);
  const std::string topic(storage::kSegmentChangesTopic);
  Clock::time_point last_warning{};
  while (!stop_flag_.load()) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(static_cast<int>(options_.poll.count())));
    const auto now = Clock::now();
    if (m->err() == RdKafka::ERR_NO_ERROR) {
      consumed_.fetch_add(1);
      publisher_.OnChange(ingest::RecordToJson(topic, *m), now);
    } else if (m->err() != RdKafka::ERR__TIMED_OUT && m->err() != RdKafka::ERR__PARTITION_EOF &&
               now - last_warning > std::chrono::seconds(10)) {
      // librdkafka reconnects by itself; say so at most every 10 s.
      spdlog::warn("segment feed: {}", m->errstr());
      last_warning = now;
    }
    publisher_.Tick(now);
  }
  consumer->close();
}

}  // namespace segstream::app
