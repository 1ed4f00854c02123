// Text codecs of stream/segments.h: what stage 1 and the model lease holder write to Redis and the
// serving side reads back. Readable with redis-cli; every decoder treats its input as untrusted
// (field counts, ranges, finiteness, bounded k) and answers kCorruption instead of crashing.
// Doubles are written in the shortest form that reads back to the same bits (std::to_chars), so
// Decode(Encode(x)) == x exactly and a model compared by its encoding is stable.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "stream/segments.h"

namespace segstream::stream {

namespace {

constexpr std::string_view kCustomerTag = "c1";
constexpr std::string_view kStatsTag = "s1";
constexpr std::string_view kModelTag = "m1";
constexpr int kMaxK = 64;
// CustomerState::quantized is QuantizeVector output; anything larger cannot come from it and would
// put the integer sums at risk when the customer is removed from its segment.
constexpr int64_t kMaxQuantized = 1'000'000'000;
// Members of one segment in one partition's statistics: far above any real customer base.
constexpr int64_t kMaxMembers = 1'000'000'000;

void AppendInt(std::string* out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, end);
}

void AppendDouble(std::string* out, double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) {  // cannot happen for 32 bytes; keep the output parseable regardless
    out->append("nan");
    return;
  }
  out->append(buf, end);
}

bool ParseInt(std::string_view s, int64_t* v) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && end == s.data() + s.size();
}

// Finite doubles only: from_chars also reads "inf" and "nan", which no encoder writes.
bool ParseFinite(std::string_view s, double* v) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && end == s.data() + s.size() && std::isfinite(*v);
}

// Splits on single spaces. With max_fields > 0 the last field is the rest of the line, spaces
// included (labels). Empty fields are kept so that "a  b" fails field validation.
std::vector<std::string_view> Split(std::string_view line, char sep, size_t max_fields = 0) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    if (max_fields > 0 && fields.size() + 1 == max_fields) {
      fields.push_back(line.substr(start));
      break;
    }
    const size_t pos = line.find(sep, start);
    if (pos == std::string_view::npos) {
      fields.push_back(line.substr(start));
      break;
    }
    fields.push_back(line.substr(start, pos - start));
    start = pos + 1;
  }
  return fields;
}

// Lines of a multi-line encoding; one trailing newline is allowed (every encoder writes it).
std::vector<std::string_view> Lines(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  return Split(text, '\n');
}

Status Bad(std::string_view what, std::string_view detail) {
  std::string m(what);
  m += ": ";
  m += detail;
  return Status::Corruption(std::move(m));
}

// Labels are free text ("Big spenders"): '%', control bytes and DEL are percent-escaped so a
// label can never break the line structure; spaces stay readable.
std::string EscapeLabel(std::string_view label) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : label) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '%' || c < 0x20 || c == 0x7f) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool UnescapeLabel(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x20 || c == 0x7f) return false;  // must have been escaped
    if (c != '%') {
      *out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    *out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return !out->empty();
}

}  // namespace

// ---- CustomerState ----------------------------------------------------------------------------

// c1 first_sale last_sale sale_checkouts sales returns units returned_units distinct_items
//    segment distance q0..q5 model_version as_of
std::string EncodeCustomer(const CustomerState& c) {
  std::string out(kCustomerTag);
  for (int64_t v :
       {c.first_sale_ms, c.last_sale_ms, c.sale_checkouts, c.sales_micros, c.returns_micros,
        c.units, c.returned_units, c.distinct_items, int64_t{c.segment}}) {
    out += ' ';
    AppendInt(&out, v);
  }
  out += ' ';
  AppendDouble(&out, c.distance);
  for (int64_t q : c.quantized) {
    out += ' ';
    AppendInt(&out, q);
  }
  out += ' ';
  AppendInt(&out, c.model_version);
  out += ' ';
  AppendInt(&out, c.as_of_ms);
  return out;
}

Result<CustomerState> DecodeCustomer(std::string_view text) {
  constexpr std::string_view kWhat = "customer";
  constexpr size_t kFields = 1 + 8 + 1 + 1 + kFeatureCount + 2;
  const std::vector<std::string_view> f = Split(text, ' ');
  if (f[0] != kCustomerTag) return Bad(kWhat, "unknown version tag (want c1)");
  if (f.size() != kFields) return Bad(kWhat, "wrong field count");
  CustomerState c;
  int64_t* ints[] = {&c.first_sale_ms,  &c.last_sale_ms, &c.sale_checkouts, &c.sales_micros,
                     &c.returns_micros, &c.units,        &c.returned_units, &c.distinct_items};
  size_t i = 1;
  for (int64_t* p : ints) {
    if (!ParseInt(f[i++], p)) return Bad(kWhat, "not an integer");
  }
  int64_t segment = 0;
  if (!ParseInt(f[i++], &segment)) return Bad(kWhat, "segment not an integer");
  if (!ParseFinite(f[i++], &c.distance)) return Bad(kWhat, "distance not a finite number");
  for (int64_t& q : c.quantized) {
    if (!ParseInt(f[i++], &q)) return Bad(kWhat, "quantized vector not integers");
  }
  if (!ParseInt(f[i++], &c.model_version) || !ParseInt(f[i++], &c.as_of_ms)) {
    return Bad(kWhat, "model version / as_of not integers");
  }
  if (c.sale_checkouts < 0 || c.sales_micros < 0 || c.returns_micros < 0 || c.units < 0 ||
      c.returned_units < 0 || c.distinct_items < 0) {
    return Bad(kWhat, "negative total");
  }
  if (segment < -1 || segment >= kMaxK) return Bad(kWhat, "segment out of range [-1, 63]");
  c.segment = static_cast<int32_t>(segment);
  if (c.distance < 0) return Bad(kWhat, "negative distance");
  for (int64_t q : c.quantized) {
    if (q < -kMaxQuantized || q > kMaxQuantized) return Bad(kWhat, "quantized value out of range");
  }
  if (c.model_version < 0) return Bad(kWhat, "negative model version");
  return c;
}

// ---- SegmentStats -----------------------------------------------------------------------------

// s1 k
// count sum0..sum5 sum_squares      (k lines)
std::string EncodeStats(std::span<const SegmentStats> stats) {
  std::string out(kStatsTag);
  out += ' ';
  AppendInt(&out, static_cast<int64_t>(stats.size()));
  out += '\n';
  for (const SegmentStats& s : stats) {
    AppendInt(&out, s.count);
    for (int64_t v : s.sum) {
      out += ' ';
      AppendInt(&out, v);
    }
    out += ' ';
    AppendInt(&out, s.sum_squares);
    out += '\n';
  }
  return out;
}

Result<std::vector<SegmentStats>> DecodeStats(std::string_view text, int k) {
  constexpr std::string_view kWhat = "segment stats";
  if (k < 1 || k > kMaxK) return Status::InvalidArgument("DecodeStats: k must be in 1..64");
  const std::vector<std::string_view> lines = Lines(text);
  const std::vector<std::string_view> header = Split(lines[0], ' ');
  if (header[0] != kStatsTag) return Bad(kWhat, "unknown version tag (want s1)");
  int64_t n = 0;
  if (header.size() != 2 || !ParseInt(header[1], &n)) return Bad(kWhat, "bad header");
  if (n != k) return Bad(kWhat, "k does not match the model");
  if (lines.size() != size_t(k) + 1) return Bad(kWhat, "line count does not match k");
  std::vector<SegmentStats> out(static_cast<size_t>(k));
  for (int c = 0; c < k; ++c) {
    const std::vector<std::string_view> f = Split(lines[size_t(c) + 1], ' ');
    if (f.size() != 2 + kFeatureCount) return Bad(kWhat, "wrong field count");
    SegmentStats& s = out[size_t(c)];
    bool ok = ParseInt(f[0], &s.count) && ParseInt(f[1 + kFeatureCount], &s.sum_squares);
    for (int j = 0; j < kFeatureCount; ++j) ok = ok && ParseInt(f[size_t(j) + 1], &s.sum[j]);
    if (!ok) return Bad(kWhat, "not an integer");
    if (s.count < 0 || s.sum_squares < 0) return Bad(kWhat, "negative count or sum of squares");
    // What `count` members with quantized (clamped) vectors can sum to; also keeps a corrupt
    // record from overflowing the merge of the partitions' statistics.
    if (s.count > kMaxMembers) return Bad(kWhat, "count too large");
    const __int128 n = s.count;
    if (s.sum_squares > n * kMaxQuantized * kMaxQuantized * kFeatureCount / 1'000'000 + n) {
      return Bad(kWhat, "sum of squares larger than count members can have");
    }
    for (int64_t v : s.sum) {
      if (v > n * kMaxQuantized || v < -n * kMaxQuantized) {
        return Bad(kWhat, "sum larger than count members can have");
      }
    }
    if (s.count == 0 && (s.sum_squares != 0 || std::any_of(s.sum.begin(), s.sum.end(),
                                                           [](int64_t v) { return v != 0; }))) {
      return Bad(kWhat, "empty segment with non-zero sums");
    }
  }
  return out;
}

// ---- SegmentModel -----------------------------------------------------------------------------

// m1 version k as_of_ms inertia
// log1p f0..f5                        (0/1)
// center c0..c5
// scale s0..s5
// segment id size x0..x5 label        (k lines; the label is the rest of the line, escaped)
std::string SegmentModel::Encode() const {
  std::string out(kModelTag);
  out += ' ';
  AppendInt(&out, version);
  out += ' ';
  AppendInt(&out, k);
  out += ' ';
  AppendInt(&out, as_of_ms);
  out += ' ';
  AppendDouble(&out, inertia);
  out += "\nlog1p";
  for (bool b : transform.log1p) out += b ? " 1" : " 0";
  out += "\ncenter";
  for (double v : transform.center) {
    out += ' ';
    AppendDouble(&out, v);
  }
  out += "\nscale";
  for (double v : transform.scale) {
    out += ' ';
    AppendDouble(&out, v);
  }
  out += '\n';
  for (size_t c = 0; c < centroids.size(); ++c) {
    out += "segment ";
    AppendInt(&out, static_cast<int64_t>(c));
    out += ' ';
    AppendInt(&out, c < sizes.size() ? sizes[c] : 0);
    for (double v : centroids[c]) {
      out += ' ';
      AppendDouble(&out, v);
    }
    out += ' ';
    out += EscapeLabel(c < labels.size() ? labels[c] : std::string());
    out += '\n';
  }
  return out;
}

Result<SegmentModel> SegmentModel::Decode(std::string_view text) {
  constexpr std::string_view kWhat = "segment model";
  const std::vector<std::string_view> lines = Lines(text);
  const std::vector<std::string_view> header = Split(lines[0], ' ');
  if (header[0] != kModelTag) return Bad(kWhat, "unknown version tag (want m1)");
  if (header.size() != 5) return Bad(kWhat, "bad header field count");
  SegmentModel m;
  int64_t k = 0;
  if (!ParseInt(header[1], &m.version) || !ParseInt(header[2], &k) ||
      !ParseInt(header[3], &m.as_of_ms) || !ParseFinite(header[4], &m.inertia)) {
    return Bad(kWhat, "bad header numbers");
  }
  if (m.version < 0) return Bad(kWhat, "negative version");
  if (k < 1 || k > kMaxK) return Bad(kWhat, "k out of range 1..64");
  if (m.inertia < 0) return Bad(kWhat, "negative inertia");
  m.k = static_cast<int>(k);
  if (lines.size() != 4 + size_t(k)) return Bad(kWhat, "line count does not match k");

  // A "name v0..v5" line of the transform.
  auto vector_line = [&](std::string_view line, std::string_view name, FeatureVector* out) {
    const std::vector<std::string_view> f = Split(line, ' ');
    if (f.size() != 1 + kFeatureCount || f[0] != name) return false;
    for (int j = 0; j < kFeatureCount; ++j) {
      if (!ParseFinite(f[size_t(j) + 1], &(*out)[j])) return false;
    }
    return true;
  };
  FeatureVector flags{};
  if (!vector_line(lines[1], "log1p", &flags)) return Bad(kWhat, "bad log1p line");
  for (int j = 0; j < kFeatureCount; ++j) {
    if (flags[j] != 0 && flags[j] != 1) return Bad(kWhat, "log1p flags must be 0 or 1");
    m.transform.log1p[j] = flags[j] == 1;
  }
  if (!vector_line(lines[2], "center", &m.transform.center)) return Bad(kWhat, "bad center line");
  if (!vector_line(lines[3], "scale", &m.transform.scale)) return Bad(kWhat, "bad scale line");
  for (double s : m.transform.scale) {
    if (!(s > 0)) return Bad(kWhat, "scale must be > 0");
  }

  std::set<std::string, std::less<>> seen;
  for (int c = 0; c < m.k; ++c) {
    constexpr size_t kFields = 3 + kFeatureCount + 1;
    const std::vector<std::string_view> f = Split(lines[4 + size_t(c)], ' ', kFields);
    if (f.size() != kFields || f[0] != "segment") return Bad(kWhat, "bad segment line");
    int64_t id = 0, size = 0;
    if (!ParseInt(f[1], &id) || id != c) return Bad(kWhat, "segment ids must be 0..k-1 in order");
    if (!ParseInt(f[2], &size) || size < 0) return Bad(kWhat, "bad segment size");
    FeatureVector x{};
    for (int j = 0; j < kFeatureCount; ++j) {
      if (!ParseFinite(f[3 + size_t(j)], &x[j])) return Bad(kWhat, "centroid not finite numbers");
    }
    std::string label;
    if (!UnescapeLabel(f.back(), &label)) return Bad(kWhat, "bad or empty label");
    if (!seen.insert(label).second) return Bad(kWhat, "duplicate label");
    m.sizes.push_back(size);
    m.centroids.push_back(x);
    m.labels.push_back(std::move(label));
  }
  return m;
}

}  // namespace segstream::stream
