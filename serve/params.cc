#include "serve/params.h"

#include <spdlog/fmt/fmt.h>

#include <charconv>
#include <cmath>
#include <set>

namespace segstream::serve {
namespace {

// Echo at most this much of a client's value in an error message.
std::string Quote(std::string_view value) {
  constexpr size_t kMax = 64;
  std::string out = "'";
  out += value.size() <= kMax ? value : value.substr(0, kMax);
  out += value.size() <= kMax ? "'" : "...'";
  return out;
}

std::string Param(std::string_view name) { return "parameter '" + std::string(name) + "'"; }

}  // namespace

bool DoubleRange::Contains(double v) const {
  const bool above_lo = lo_open ? v > lo : v >= lo;
  const bool below_hi = hi_open ? v < hi : v <= hi;
  return above_lo && below_hi;
}

std::string DoubleRange::ToString() const {
  return fmt::format("{}{}, {}{}", lo_open ? '(' : '[', lo, hi, hi_open ? ')' : ']');
}

std::optional<int64_t> ParseInt64(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::optional<double> ParseFiniteDouble(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value, std::chars_format::general);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value)) return std::nullopt;
  return value;
}

Result<std::optional<std::string>> StringParam(const Request& request, std::string_view name) {
  std::optional<std::string> found;
  for (const auto& [key, value] : request.query) {
    if (key != name) continue;
    if (found) return Status::InvalidArgument(Param(name) + " given more than once");
    found = value;
  }
  return found;
}

Status CheckParams(const Request& request, std::initializer_list<std::string_view> allowed) {
  std::set<std::string_view> seen;
  for (const auto& [key, value] : request.query) {
    bool known = false;
    for (std::string_view a : allowed) known = known || a == key;
    if (!known) {
      std::string list;
      for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return Status::InvalidArgument(
          "unknown parameter " + Quote(key) +
          (list.empty() ? "; this endpoint takes none" : "; allowed: " + list));
    }
    if (!seen.insert(key).second) {
      return Status::InvalidArgument(Param(key) + " given more than once");
    }
  }
  return Status::Ok();
}

Result<int64_t> IntParam(const Request& request, std::string_view name, int64_t min, int64_t max,
                         std::optional<int64_t> fallback) {
  auto raw = StringParam(request, name);
  if (!raw.ok()) return raw.status();
  const std::string expected = fmt::format("an integer in [{}, {}]", min, max);
  if (!raw.value()) {
    if (fallback) return *fallback;
    return Status::InvalidArgument("missing " + Param(name) + ": " + expected);
  }
  const std::string& text = *raw.value();
  const auto value = ParseInt64(text);
  if (!value || *value < min || *value > max) {
    return Status::InvalidArgument(Param(name) + " must be " + expected + ", got " + Quote(text));
  }
  return *value;
}

Result<double> DoubleParam(const Request& request, std::string_view name, DoubleRange range,
                           std::optional<double> fallback) {
  auto raw = StringParam(request, name);
  if (!raw.ok()) return raw.status();
  const std::string expected = "a number in " + range.ToString();
  if (!raw.value()) {
    if (fallback) return *fallback;
    return Status::InvalidArgument("missing " + Param(name) + ": " + expected);
  }
  const std::string& text = *raw.value();
  const auto value = ParseFiniteDouble(text);
  if (!value || !range.Contains(*value)) {
    return Status::InvalidArgument(Param(name) + " must be " + expected + ", got " + Quote(text));
  }
  return *value;
}

Result<std::vector<DoubleParamValue>> DoubleListParam(const Request& request, std::string_view name,
                                                      DoubleRange range,
                                                      std::vector<double> fallback,
                                                      size_t max_items) {
  auto raw = StringParam(request, name);
  if (!raw.ok()) return raw.status();
  const std::string expected =
      fmt::format("a comma-separated list of 1 to {} numbers in {}", max_items, range.ToString());
  std::vector<DoubleParamValue> out;
  if (!raw.value()) {
    if (fallback.empty())
      return Status::InvalidArgument("missing " + Param(name) + ": " + expected);
    for (double v : fallback) out.push_back({fmt::format("{}", v), v});
    return out;
  }
  std::string_view rest = *raw.value();
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    const auto value = ParseFiniteDouble(item);
    if (!value || !range.Contains(*value)) {
      return Status::InvalidArgument(Param(name) + " must be " + expected + "; bad item " +
                                     Quote(item));
    }
    if (out.size() == max_items) {
      return Status::InvalidArgument(Param(name) + " must be " + expected + "; too many items");
    }
    out.push_back({std::string(item), *value});
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

Result<std::string> EnumParam(const Request& request, std::string_view name,
                              std::initializer_list<std::string_view> allowed,
                              std::optional<std::string_view> fallback) {
  auto raw = StringParam(request, name);
  if (!raw.ok()) return raw.status();
  std::string list;
  for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  if (!raw.value()) {
    if (fallback) return std::string(*fallback);
    return Status::InvalidArgument("missing " + Param(name) + ": one of " + list);
  }
  for (std::string_view a : allowed) {
    if (a == *raw.value()) return std::string(a);
  }
  return Status::InvalidArgument(Param(name) + " must be one of " + list + ", got " +
                                 Quote(*raw.value()));
}

}  // namespace segstream::serve
