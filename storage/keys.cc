#include "storage/keys.h"

namespace segstream::storage {

std::string PartitionKey(std::string_view topic, int32_t partition, std::string_view suffix) {
  std::string key = "{";
  key.append(topic).append(":").append(std::to_string(partition)).append("}:").append(suffix);
  return key;
}

std::string PartitionsSetKey(std::string_view topic) {
  return "segstream:partitions:" + std::string(topic);
}

std::string ReplayStatusKey() { return "segstream:replay"; }

std::string CustomersKey(int32_t partition) {
  return PartitionKey(kCheckoutsTopic, partition, "customers");
}

std::string SegmentStatsKey(int32_t partition) {
  return PartitionKey(kCheckoutsTopic, partition, "segstats");
}

std::string SegmentMetaKey(int32_t partition) {
  return PartitionKey(kCheckoutsTopic, partition, "segmeta");
}

std::string BasketDigestKey(int32_t partition) {
  return PartitionKey(kCheckoutsTopic, partition, "basket_digest");
}

std::string DriftIndexKey(int32_t partition) {
  return PartitionKey(kCheckoutsTopic, partition, "drift");
}

std::string DriftDayKey(int32_t partition, int64_t day_start_ms) {
  return DriftIndexKey(partition) + ":" + std::to_string(day_start_ms);
}

std::string BasketsKey(int32_t partition) {
  return PartitionKey(kCheckoutsTopic, partition, "baskets");
}

std::string BasketRefsKey(int32_t item_partition, std::string_view sku) {
  return PartitionKey(kItemSalesTopic, item_partition, "basket_refs:").append(sku);
}

std::string PaneSaleCheckoutsKey(int32_t item_partition) {
  return PartitionKey(kItemSalesTopic, item_partition, "pane_sale_checkouts");
}

std::string ModelKey() { return "{model}:current"; }

std::string ModelLeaseKey() { return "{model}:lease"; }

std::string ModelVersionHistoryKey(int64_t version) {
  return "{model}:v:" + std::to_string(version);
}

std::string DriftReportKey() { return "{model}:drift"; }

std::string DriftAlertsKey() { return "{model}:drift_alerts"; }

}  // namespace segstream::storage
