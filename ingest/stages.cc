#include "ingest/stages.h"

#include <spdlog/spdlog.h>

#include "storage/keys.h"
#include "stream/together.h"

namespace segstream::ingest {

namespace {

std::string_view Payload(const RdKafka::Message& m) {
  return {static_cast<const char*>(m.payload()), m.len()};
}

std::string_view Key(const RdKafka::Message& m) {
  const std::string* key = m.key();
  return key ? std::string_view(*key) : std::string_view();
}

}  // namespace

Status CheckoutStage::Process(int32_t partition, const MessageBatch& batch,
                              storage::CheckoutsCommit* commit, Segmenter* segmenter,
                              SegmentBatch* segments) {
  for (const auto& message : batch) {
    const int64_t offset = message->offset();
    DlqReason reason = DecodeAndValidate(Payload(*message), &checkout_);
    if (reason != DlqReason::kOk) {
      const char* name = DlqReasonName(reason);
      std::vector<RecordHeader> headers = {
          {"segstream.error.reason", name},
          {"segstream.error.topic", std::string(storage::kCheckoutsTopic)},
          {"segstream.error.partition", std::to_string(partition)},
          {"segstream.error.offset", std::to_string(offset)}};
      std::string_view value = Payload(*message);
      if (reason == DlqReason::kTooLarge) {
        // Over the cap the original may be any size the source topic allowed: more than any
        // producer or topic limit would take, so producing it failed on every restart (a poison
        // record). Dead-letter a prefix and say how big the original was.
        headers.push_back({"segstream.error.original_size", std::to_string(value.size())});
        value = value.substr(0, kDlqTooLargePrefixBytes);
      }
      Status s = producer_->Produce(storage::kDlqTopic, Key(*message), value, headers);
      if (!s.ok()) return s;
      ++commit->dlq;
      ++commit->dlq_reasons[name];
    } else {
      ++commit->events;
      commit->max_event_ms = std::max(commit->max_event_ms, checkout_.event_time_ms());
      SplitIntoItemSales(checkout_, partition, offset, &sales_, options_);
      for (const auto& sale : sales_) {
        sale.SerializeToString(&buffer_);
        if (Status s = producer_->Produce(storage::kItemSalesTopic, sale.sku(), buffer_); !s.ok()) {
          return s;
        }
      }
      commit->item_sales += static_cast<int64_t>(sales_.size());
      basket_.clear();
      for (const auto& sale : sales_) {
        if (sale.orders() > 0) basket_.push_back(sale.sku());
      }
      if (static_cast<int64_t>(basket_.size()) > options_.max_basket_for_pairs) {
        ++commit->baskets_capped;
      } else if (basket_.size() >= 2) {
        commit->baskets.emplace_back(offset,
                                     stream::EncodeBasket(checkout_.event_time_ms(), basket_));
      }
      if (segmenter != nullptr) {
        if (Status s = segmenter->OnCheckout(segments, checkout_.customer_id(),
                                             SummarizeCheckout(checkout_), offset);
            !s.ok()) {
          return s;
        }
      }
    }
    commit->next_offset = offset + 1;
  }
  return Status::Ok();
}

Status ItemStage::Process(const MessageBatch& batch, ItemPartitionState* state,
                          storage::ItemSalesCommit* commit) {
  for (const auto& message : batch) {
    commit->next_offset = message->offset() + 1;
    std::string_view payload = Payload(*message);
    if (!sale_.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      // item-sales is written only by stage 1, so this is a bug or a foreign producer: skip it
      // loudly rather than block the partition.
      spdlog::error("item-sales offset {}: undecodable record skipped", message->offset());
      continue;
    }
    storage::HighWaterMark& mark = state->hwm[sale_.source_partition()];
    if (mark.Covers(sale_.source_offset(), sale_.seq())) {
      ++commit->duplicates;
      continue;
    }
    mark = {sale_.source_offset(), sale_.seq()};
    commit->source_hwm[sale_.source_partition()] = mark;
    ++commit->applied;
    storage::ItemDelta& delta = commit->items[sale_.sku()];
    delta.orders += sale_.orders();
    delta.units += sale_.units();
    delta.returned_units += sale_.returned_units();
    delta.revenue_micros += sale_.revenue_micros();
    if (delta.description.empty()) delta.description = sale_.description();

    state->max_event_ms = std::max(state->max_event_ms, sale_.event_time_ms());
    const int64_t pane = stream::PaneStart(sale_.event_time_ms(), windows_.pane_ms);
    const bool late = pane < stream::RetentionCutoff(state->max_event_ms, windows_);
    if (sale_.orders() > 0) {
      stream::AppendBasketRef(&commit->basket_refs[sale_.sku()],
                              {sale_.source_partition(), sale_.source_offset(), late});
    }
    // Stage 1 fills `basket` on seq 0 only, non-empty iff the checkout has a sale line.
    const bool sale_checkout = sale_.seq() == 0 && sale_.basket_size() > 0;
    commit->sale_checkouts += sale_checkout ? 1 : 0;
    if (late) {
      ++commit->late_events;  // older than every window: counted in `all` only (DESIGN §3)
      continue;
    }
    storage::ItemDelta& pane_delta = commit->panes[pane][sale_.sku()];
    if (sale_checkout) ++commit->pane_sale_checkouts[pane];
    pane_delta.orders += sale_.orders();
    pane_delta.units += sale_.units();
    pane_delta.returned_units += sale_.returned_units();
    pane_delta.revenue_micros += sale_.revenue_micros();
  }
  commit->max_event_ms = state->max_event_ms;
  commit->retention_cutoff = stream::RetentionCutoff(state->max_event_ms, windows_);
  return Status::Ok();
}

}  // namespace segstream::ingest
