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

}  // namespace segstream::serve
