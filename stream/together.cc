#include "stream/together.h"

#include <unordered_map>

namespace segstream::stream {

namespace {

void PutFixed(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetFixed(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

// A sku is at most a 10,000-line checkout's worth of bytes (1 MiB, DESIGN §2): 5 varint bytes
// (2^35) are plenty, and refusing longer ones bounds the decoder.
constexpr int kMaxVarintBytes = 5;

constexpr uint32_t kLateBit = 0x80000000u;

}  // namespace

std::string EncodeBasket(int64_t event_time_ms, const std::vector<std::string_view>& skus) {
  std::string out;
  size_t size = 8;
  for (std::string_view sku : skus) size += sku.size() + 2;
  out.reserve(size);
  PutFixed(&out, static_cast<uint64_t>(event_time_ms), 8);
  for (std::string_view sku : skus) {
    uint64_t n = sku.size();
    while (n >= 0x80) {
      out.push_back(static_cast<char>((n & 0x7f) | 0x80));
      n >>= 7;
    }
    out.push_back(static_cast<char>(n));
    out.append(sku);
  }
  return out;
}

bool DecodeBasket(std::string_view bytes, BasketView* out) {
  out->skus.clear();
  if (bytes.size() < 8) return false;
  out->event_time_ms = static_cast<int64_t>(GetFixed(bytes.data(), 8));
  size_t i = 8;
  while (i < bytes.size()) {
    uint64_t n = 0;
    int shift = 0;
    for (int k = 0;; ++k) {
      if (k == kMaxVarintBytes || i == bytes.size()) return false;
      const auto b = static_cast<unsigned char>(bytes[i++]);
      n |= uint64_t{b & 0x7fu} << shift;
      shift += 7;
      if ((b & 0x80) == 0) break;
    }
    if (n == 0 || n > bytes.size() - i) return false;
    out->skus.push_back(bytes.substr(i, n));
    i += n;
  }
  return true;
}

void AppendBasketRef(std::string* out, BasketRef ref) {
  PutFixed(out, static_cast<uint32_t>(ref.partition) | (ref.late ? kLateBit : 0), 4);
  PutFixed(out, static_cast<uint64_t>(ref.offset), 8);
}

bool DecodeBasketRefs(std::string_view bytes, std::vector<BasketRef>* out) {
  out->clear();
  if (bytes.size() % kBasketRefBytes != 0) return false;
  out->reserve(bytes.size() / kBasketRefBytes);
  for (size_t i = 0; i < bytes.size(); i += kBasketRefBytes) {
    const auto partition = static_cast<uint32_t>(GetFixed(bytes.data() + i, 4));
    BasketRef ref{static_cast<int32_t>(partition & ~kLateBit),
                  static_cast<int64_t>(GetFixed(bytes.data() + i + 4, 8)),
                  (partition & kLateBit) != 0};
    if (ref.offset < 0) return false;
    out->push_back(ref);
  }
  return true;
}

std::vector<PartnerCount> CountPartners(std::string_view sku, const std::vector<RefBasket>& baskets,
                                        const BasketFilter& filter, PartnerCountStats* stats) {
  PartnerCountStats local;
  PartnerCountStats& st = stats != nullptr ? *stats : local;
  st = {};
  // Keys point into `baskets`, which outlive the map.
  std::unordered_map<std::string_view, int64_t> counts;
  BasketView view;
  for (const auto& [encoded, late] : baskets) {
    if (!encoded) {
      ++st.missing;
      continue;
    }
    if (!DecodeBasket(*encoded, &view)) {
      ++st.undecodable;
      continue;
    }
    if (filter.panes &&
        (late || !filter.panes->Contains(PaneStart(view.event_time_ms, filter.pane_ms)))) {
      ++st.outside;
      continue;
    }
    bool holds = false;
    for (std::string_view s : view.skus) holds = holds || s == sku;
    if (!holds) {
      ++st.undecodable;
      continue;
    }
    ++st.baskets;
    // Stage 1 stores distinct skus, so each partner is counted once per basket.
    for (std::string_view s : view.skus) {
      if (s != sku) ++counts[s];
    }
  }
  std::vector<PartnerCount> out;
  out.reserve(counts.size());
  for (const auto& [s, n] : counts) out.push_back({std::string(s), n});
  return out;
}

}  // namespace segstream::stream
