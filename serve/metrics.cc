#include "serve/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <type_traits>

namespace segstream::serve {

namespace {

bool ValidName(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  auto head = [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (allow_colon && c == ':');
  };
  if (!head(name[0])) return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [&](char c) { return head(c) || (c >= '0' && c <= '9'); });
}

}  // namespace

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Integers (counts, epoch milliseconds) print as integers, not "7e+05".
  if (std::fabs(value) < 1e15 && value == std::trunc(value)) {
    return std::to_string(static_cast<int64_t>(value));
  }
  // Otherwise the shortest decimal that parses back to the same double (Go's ParseFloat reads
  // both forms): fixed for ordinary magnitudes, so bucket bounds read "0.0001", not "1e-04".
  char buf[64];
  const auto format = std::fabs(value) >= 1e-5 && std::fabs(value) < 1e15
                          ? std::chars_format::fixed
                          : std::chars_format::scientific;
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, format);
  return std::string(buf, end);
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<double> LatencyBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5};
}

void Counter::Increment(double by) {
  if (!(by >= 0)) return;  // also false for NaN
  value_.fetch_add(by, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  // `le` is inclusive: the first bound >= value.
  const size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                                       bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

void Histogram::SetCumulative(const std::vector<uint64_t>& cumulative, uint64_t count, double sum) {
  if (cumulative.size() != bounds_.size()) return;
  uint64_t previous = 0;
  for (uint64_t c : cumulative) {
    if (c < previous) return;
    previous = c;
  }
  if (count < previous) return;
  previous = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    buckets_[i].store(cumulative[i] - previous, std::memory_order_relaxed);
    previous = cumulative[i];
  }
  buckets_[bounds_.size()].store(count - previous, std::memory_order_relaxed);
  sum_.store(sum, std::memory_order_relaxed);
}

Histogram::Data Histogram::Collect() const {
  Data data;
  data.cumulative.resize(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    data.cumulative[i] = running;
  }
  data.count = running;
  data.sum = sum_.load(std::memory_order_relaxed);
  return data;
}

namespace detail {

FamilyBase::FamilyBase(std::string name, std::string help, std::string type,
                       std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(std::move(type)),
      label_names_(std::move(label_names)) {}

void FamilyBase::Render(std::string& out) const {
  std::lock_guard lock(mu_);
  if (Empty()) return;
  out += "# HELP " + name_ + " " + EscapeHelp(help_) + "\n";
  out += "# TYPE " + name_ + " " + type_ + "\n";
  RenderSamples(out);
}

void FamilyBase::CheckArity(const LabelValues& values) const {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + " takes " +
                                std::to_string(label_names_.size()) + " label values, got " +
                                std::to_string(values.size()));
  }
}

void FamilyBase::AppendSeries(std::string& out, std::string_view suffix, const LabelValues& values,
                              std::string_view extra_name, std::string_view extra_value) const {
  out += name_;
  out += suffix;
  if (values.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  auto label = [&](std::string_view name, std::string_view value) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    out += EscapeLabelValue(value);
    out += '"';
  };
  for (size_t i = 0; i < values.size(); ++i) label(label_names_[i], values[i]);
  if (!extra_name.empty()) label(extra_name, extra_value);
  out += '}';
}

}  // namespace detail

template <typename T>
T& Family<T>::WithLabels(const LabelValues& values) {
  CheckArity(values);
  std::lock_guard lock(mu_);
  auto it = children_.find(values);
  if (it == children_.end()) {
    std::unique_ptr<T> child;
    if constexpr (std::is_same_v<T, Histogram>) {
      child = std::make_unique<Histogram>(bounds_);
    } else {
      child = std::make_unique<T>();
    }
    it = children_.emplace(values, std::move(child)).first;
  }
  return *it->second;
}

template <typename T>
bool Family<T>::Empty() const {
  return children_.empty();
}

template <typename T>
void Family<T>::RenderSamples(std::string& out) const {
  for (const auto& [values, child] : children_) {
    if constexpr (std::is_same_v<T, Histogram>) {
      const Histogram::Data data = child->Collect();
      for (size_t i = 0; i <= bounds_.size(); ++i) {
        const std::string le = i < bounds_.size() ? FormatMetricValue(bounds_[i]) : "+Inf";
        AppendSeries(out, "_bucket", values, "le", le);
        out += ' ' + std::to_string(data.cumulative[i]) + '\n';
      }
      AppendSeries(out, "_sum", values);
      out += ' ' + FormatMetricValue(data.sum) + '\n';
      AppendSeries(out, "_count", values);
      out += ' ' + std::to_string(data.count) + '\n';
    } else {
      AppendSeries(out, "", values);
      out += ' ' + FormatMetricValue(child->value()) + '\n';
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

void MetricsRegistry::CheckNewFamily(const std::string& name,
                                     const std::vector<std::string>& label_names) const {
  if (!ValidName(name, /*allow_colon=*/true)) {
    throw std::invalid_argument("invalid metric name '" + name + "'");
  }
  for (size_t i = 0; i < label_names.size(); ++i) {
    const std::string& label = label_names[i];
    // Names starting with "__" are reserved for Prometheus itself.
    if (!ValidName(label, /*allow_colon=*/false) || label.rfind("__", 0) == 0) {
      throw std::invalid_argument("invalid label name '" + label + "' for metric " + name);
    }
    if (std::find(label_names.begin(), label_names.begin() + i, label) != label_names.begin() + i) {
      throw std::invalid_argument("duplicate label name '" + label + "' for metric " + name);
    }
  }
  for (const auto& family : families_) {
    if (family->name() == name) throw std::invalid_argument("duplicate metric " + name);
  }
}

Family<Counter>& MetricsRegistry::AddCounter(std::string name, std::string help,
                                             std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  CheckNewFamily(name, label_names);
  auto family = std::make_unique<Family<Counter>>(std::move(name), std::move(help), "counter",
                                                  std::move(label_names));
  auto& ref = *family;
  families_.push_back(std::move(family));
  return ref;
}

Family<Gauge>& MetricsRegistry::AddGauge(std::string name, std::string help,
                                         std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  CheckNewFamily(name, label_names);
  auto family = std::make_unique<Family<Gauge>>(std::move(name), std::move(help), "gauge",
                                                std::move(label_names));
  auto& ref = *family;
  families_.push_back(std::move(family));
  return ref;
}

Family<Histogram>& MetricsRegistry::AddHistogram(std::string name, std::string help,
                                                 std::vector<std::string> label_names,
                                                 std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  CheckNewFamily(name, label_names);
  if (std::find(label_names.begin(), label_names.end(), "le") != label_names.end()) {
    throw std::invalid_argument("histogram " + name + " may not use the label name 'le'");
  }
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
      throw std::invalid_argument("histogram " + name +
                                  " needs finite, strictly increasing bucket bounds");
    }
  }
  auto family = std::make_unique<Family<Histogram>>(std::move(name), std::move(help), "histogram",
                                                    std::move(label_names));
  family->bounds_ = std::move(bounds);
  auto& ref = *family;
  families_.push_back(std::move(family));
  return ref;
}

std::string MetricsRegistry::Render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& family : families_) family->Render(out);
  return out;
}

}  // namespace segstream::serve
