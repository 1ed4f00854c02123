// A small Prometheus metrics registry (Debian packages no C++ client library): counters, gauges
// and fixed-bucket histograms, each a family with a fixed list of label names, rendered in the
// text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format).
//
// Instruments are lock-free atomics, so hot paths (an HTTP request, a Redis round trip) pay one or
// two atomic adds; a family takes its mutex only to find or create a child by label values and to
// render. Keep label values bounded (routes, status codes, partitions, DLQ reasons): every
// distinct set is a series that lives as long as the registry.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace segstream::serve {

// Label values, in the order of the family's label names.
using LabelValues = std::vector<std::string>;

// A monotonic total.
class Counter {
 public:
  // Negative or NaN increments are ignored: a counter never goes down.
  void Increment(double by = 1);
  // Mirrors a total kept elsewhere (e.g. a count in Redis read at scrape time). Prometheus treats
  // a decrease as a counter reset, which is what a source reset is.
  void SetTotal(double total) { value_.store(total, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Fixed upper bounds (the `le` of each bucket, inclusive), plus the implicit +Inf bucket.
class Histogram {
 public:
  // `bounds` must be finite and strictly increasing (checked by MetricsRegistry::AddHistogram).
  explicit Histogram(std::vector<double> bounds);

  // NaN is ignored (it has no bucket and would poison `_sum`).
  void Observe(double value);
  // Mirrors a histogram kept elsewhere (e.g. counts in Redis read at scrape time): cumulative
  // counts per bound, the total (the +Inf bucket) and the sum. Counts that do not fit (fewer or
  // more than the bounds, or not non-decreasing up to `count`) are ignored. A decrease reads as a
  // reset to Prometheus, as with Counter::SetTotal. Not for a histogram that also Observe()s.
  void SetCumulative(const std::vector<uint64_t>& cumulative, uint64_t count, double sum);

  struct Data {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  // A copy of the current state. `count` is the sum of the buckets, so the +Inf bucket and
  // `_count` always agree; `sum` may lag an observation that is in flight on another thread.
  Data Collect() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // not cumulative; bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Buckets for durations in seconds from 50 us (a loopback Redis PING) to 2.5 s.
std::vector<double> LatencyBuckets();

namespace detail {

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::string type,
             std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  // Appends this family in text format; nothing when it has no series yet.
  void Render(std::string& out) const;

 protected:
  virtual bool Empty() const = 0;
  virtual void RenderSamples(std::string& out) const = 0;
  // Throws std::invalid_argument when the number of values is not the number of label names.
  void CheckArity(const LabelValues& values) const;
  // `name{a="x",b="y"}` (or `name` without labels), `extra` appended as a last label when set.
  void AppendSeries(std::string& out, std::string_view suffix, const LabelValues& values,
                    std::string_view extra_name = {}, std::string_view extra_value = {}) const;

  const std::string name_, help_, type_;
  const std::vector<std::string> label_names_;
  mutable std::mutex mu_;
};

}  // namespace detail

// All series of one metric name. Children live as long as the registry, so references returned
// by WithLabels may be kept (look them up once, off the hot path, when the labels are known).
template <typename T>
class Family : public detail::FamilyBase {
 public:
  using FamilyBase::FamilyBase;

  // The series with these label values, created on first use (a histogram with the family's
  // buckets). Throws std::invalid_argument on a wrong number of values.
  T& WithLabels(const LabelValues& values);
  // The series of a family without labels.
  T& Get() { return WithLabels({}); }

 protected:
  bool Empty() const override;
  void RenderSamples(std::string& out) const override;

 private:
  friend class MetricsRegistry;
  std::vector<double> bounds_;  // histograms only
  std::map<LabelValues, std::unique_ptr<T>> children_;
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

// Owns every family. Registration (Add*) is thread-safe; names are checked against the data model
// (https://prometheus.io/docs/concepts/data_model/) and a duplicate or malformed name throws
// std::invalid_argument: these are start-up programming errors.
class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  Family<Counter>& AddCounter(std::string name, std::string help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(std::string name, std::string help,
                          std::vector<std::string> label_names = {});
  // `bounds`: finite, strictly increasing upper bounds; +Inf is added implicitly. `le` may not be
  // a label name.
  Family<Histogram>& AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> label_names, std::vector<double> bounds);

  // Every family with at least one series, in registration order, in text format 0.0.4.
  std::string Render() const;

 private:
  void CheckNewFamily(const std::string& name, const std::vector<std::string>& label_names) const;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<detail::FamilyBase>> families_;
};

// The content type of Render()'s output.
inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// Text-format helpers, exposed for tests.
// A sample value: shortest round-trip decimal, "+Inf", "-Inf" or "NaN".
std::string FormatMetricValue(double value);
// A label value with `\`, `"` and newline escaped.
std::string EscapeLabelValue(std::string_view value);
// A HELP text with `\` and newline escaped.
std::string EscapeHelp(std::string_view help);

}  // namespace segstream::serve
