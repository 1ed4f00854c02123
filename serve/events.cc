#include "serve/events.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace segstream::serve {

void TopItemsPublisher::OnSnapshot(const Snapshot& snapshot) {
  const WindowView& all = snapshot.all();
  nlohmann::json items = nlohmann::json::array();
  for (size_t i = 0; i < all.by_orders.size() && i < 10; ++i) {
    const auto& c = all.items[all.by_orders[i]].counts;
    items.push_back({{"sku", c.sku}, {"orders", c.orders}});
  }
  std::string top = items.dump();
  if (top == last_) return;
  last_ = std::move(top);
  nlohmann::json event = {
      {"window", "all"}, {"watermark_ms", snapshot.watermark_ms}, {"items", std::move(items)}};
  hub_->Publish("top-items", event.dump());
}

void DriftAlertPublisher::OnSnapshot(const Snapshot& snapshot) {
  const nlohmann::json& alerts = snapshot.segments.drift_alerts;  // newest first
  const std::string newest = alerts.empty() ? std::string() : alerts.front().dump();
  if (!primed_) {
    primed_ = true;
    newest_ = newest;
    return;
  }
  if (newest == newest_) return;
  // The alerts above the last one seen, oldest first.
  size_t fresh = 0;
  while (fresh < alerts.size() && alerts[fresh].dump() != newest_) ++fresh;
  for (size_t i = fresh; i-- > 0;) hub_->Publish("drift-alert", alerts[i].dump());
  newest_ = newest;
}

void SegmentChangePublisher::Tick(Clock::time_point now) {
  if (!open_ || now - window_start_ < limits_.window) return;
  if (dropped_ > 0) {
    nlohmann::json to = nlohmann::json::object();
    for (const auto& [segment, count] : dropped_to_) to[std::to_string(segment)] = count;
    nlohmann::json summary = {{"dropped", dropped_},
                              {"window_ms", limits_.window.count()},
                              {"max_per_window", limits_.max_per_window},
                              {"to_segment", std::move(to)},
                              {"min_event_time_ms", min_ms_},
                              {"max_event_time_ms", max_ms_}};
    hub_->Publish("segment-changes-summary", summary.dump());
  }
  open_ = false;
  sent_ = 0;
  dropped_ = 0;
  dropped_to_.clear();
}

void SegmentChangePublisher::OnChange(const nlohmann::json& change, Clock::time_point now) {
  Tick(now);
  if (!open_) {
    open_ = true;
    window_start_ = now;
  }
  if (sent_ < limits_.max_per_window) {
    ++sent_;
    ++published_;
    // Invalid UTF-8 (a customer id is free text) is replaced rather than thrown on.
    hub_->Publish("segment-change",
                  change.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  const int64_t event_ms = change.value("event_time_ms", int64_t{0});
  min_ms_ = dropped_ == 0 ? event_ms : std::min(min_ms_, event_ms);
  max_ms_ = dropped_ == 0 ? event_ms : std::max(max_ms_, event_ms);
  ++dropped_;
  ++dropped_total_;
  ++dropped_to_[change.value("to_segment", int64_t{-1})];
}

}  // namespace segstream::serve
