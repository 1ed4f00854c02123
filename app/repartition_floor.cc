#include "app/repartition_floor.h"

#include <memory>
#include <string>
#include <vector>

#include "ingest/item_sales.h"
#include "ingest/validate.h"
#include "segstream.pb.h"
#include "storage/keys.h"

namespace segstream::app {

namespace {

using Clock = std::chrono::steady_clock;

constexpr char kScratchTopic[] = "bench-item-sales";

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// A consumer reading every partition of `topic` from its start, without joining a group (the
// mock's first join waits 3 s, which is not what is measured here).
Result<std::unique_ptr<RdKafka::KafkaConsumer>> AssignedFromStart(ingest::KafkaOptions kafka,
                                                                  const std::string& topic,
                                                                  int partitions) {
  kafka.group = "segstream-bench-floor";
  auto consumer = ingest::CreateConsumer(kafka, nullptr);
  if (!consumer.ok()) return consumer.status();
  std::vector<RdKafka::TopicPartition*> all;
  for (int p = 0; p < partitions; ++p) {
    all.push_back(RdKafka::TopicPartition::create(topic, p, RdKafka::Topic::OFFSET_BEGINNING));
  }
  RdKafka::ErrorCode err = (*consumer)->assign(all);
  RdKafka::TopicPartition::destroy(all);
  if (err != RdKafka::ERR_NO_ERROR) return Status::Unavailable("assign: " + RdKafka::err2str(err));
  return consumer;
}

}  // namespace

Result<RepartitionFloor> MeasureRepartitionFloor(const ingest::KafkaOptions& kafka,
                                                 ingest::MockBroker* broker, int partitions,
                                                 int64_t total, std::chrono::seconds timeout,
                                                 const std::atomic<bool>& stop) {
  if (Status s = broker->CreateTopic(kScratchTopic, partitions); !s.ok()) return s;
  auto producer = ingest::Producer::Create(kafka);
  if (!producer.ok()) return producer.status();
  auto checkouts = AssignedFromStart(kafka, std::string(storage::kCheckoutsTopic), partitions);
  if (!checkouts.ok()) return checkouts.status();

  RepartitionFloor out;
  v1::Checkout checkout;
  std::vector<v1::ItemSale> sales;
  std::string buffer;
  auto start = Clock::now();
  auto deadline = start + timeout;
  while (out.checkouts < total && !stop.load() && Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m((*checkouts)->consume(100));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    ++out.checkouts;
    // Stage 1 decodes and validates too; a dead-lettered record is one record out (not split).
    const std::string_view value(static_cast<const char*>(m->payload()), m->len());
    if (ingest::DecodeAndValidate(value, &checkout) != ingest::DlqReason::kOk) continue;
    ingest::SplitIntoItemSales(checkout, m->partition(), m->offset(), &sales);
    for (const auto& sale : sales) {
      sale.SerializeToString(&buffer);
      if (Status s = (*producer)->Produce(kScratchTopic, sale.sku(), buffer); !s.ok()) return s;
    }
    out.item_sales += static_cast<int64_t>(sales.size());
  }
  (*checkouts)->close();
  if (out.checkouts < total) {
    return Status::Timeout("floor read " + std::to_string(out.checkouts) + " of " +
                           std::to_string(total) + " checkouts");
  }
  if (Status s = (*producer)->Flush(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
      !s.ok()) {
    return s;
  }
  out.split_seconds = Seconds(Clock::now() - start);
  for (int p = 0; p < partitions; ++p) {
    int64_t low = -1, high = -1;
    (*producer)->raw()->query_watermark_offsets(kScratchTopic, p, &low, &high, 5000);
    if (low != 0) {
      return Status::InvalidArgument(
          "the broker dropped item-sales of the floor's topic (5 MiB "
          "per partition): use fewer --events or more --partitions");
    }
  }

  auto item_sales = AssignedFromStart(kafka, kScratchTopic, partitions);
  if (!item_sales.ok()) return item_sales.status();
  int64_t read = 0;
  start = Clock::now();
  deadline = start + timeout;
  while (read < out.item_sales && !stop.load() && Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m((*item_sales)->consume(100));
    if (m->err() == RdKafka::ERR_NO_ERROR) ++read;
  }
  out.consume_seconds = Seconds(Clock::now() - start);
  (*item_sales)->close();
  if (read < out.item_sales) {
    return Status::Timeout("floor read back " + std::to_string(read) + " of " +
                           std::to_string(out.item_sales) + " item-sales");
  }
  return out;
}

}  // namespace segstream::app
