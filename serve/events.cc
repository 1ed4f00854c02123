#include "serve/events.h"

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

}  // namespace segstream::serve
