// The generator's outputs besides the simulation: file sinks (plain and gzip) and the ground-truth
// JSON sidecar.
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "ingest/generator.h"

namespace segstream::ingest {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f != nullptr) std::fclose(f);
  }
};
struct GzCloser {
  void operator()(gzFile_s* f) const {
    if (f != nullptr) gzclose(f);
  }
};

class FileSink : public ByteSink {
 public:
  FileSink(std::string path, std::FILE* f) : path_(std::move(path)), file_(f) {}
  Status Write(std::string_view bytes) override {
    if (std::fwrite(bytes.data(), 1, bytes.size(), file_.get()) != bytes.size()) {
      return Status::IoError("writing '" + path_ + "': " + std::strerror(errno));
    }
    return {};
  }
  Status Close() override {
    if (!file_) return {};
    const int rc = std::fclose(file_.release());
    if (rc != 0) return Status::IoError("closing '" + path_ + "': " + std::strerror(errno));
    return {};
  }

 private:
  std::string path_;
  std::unique_ptr<std::FILE, FileCloser> file_;
};

class GzSink : public ByteSink {
 public:
  GzSink(std::string path, gzFile f) : path_(std::move(path)), file_(f) {}
  Status Write(std::string_view bytes) override {
    // gzwrite takes an unsigned count: feed it in pieces well under 4 GiB.
    while (!bytes.empty()) {
      const auto n = static_cast<unsigned>(std::min<size_t>(bytes.size(), 1 << 30));
      if (gzwrite(file_.get(), bytes.data(), n) != static_cast<int>(n)) {
        int code = 0;
        const char* message = gzerror(file_.get(), &code);
        return Status::IoError("writing '" + path_ +
                               "': " + (code == Z_ERRNO ? std::strerror(errno) : message));
      }
      bytes.remove_prefix(n);
    }
    return {};
  }
  Status Close() override {
    if (!file_) return {};
    const int rc = gzclose(file_.release());
    if (rc != Z_OK)
      return Status::IoError("closing '" + path_ + "': zlib error " + std::to_string(rc));
    return {};
  }

 private:
  std::string path_;
  std::unique_ptr<gzFile_s, GzCloser> file_;
};

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string DriftDescription(const GeneratorOptions& o, const DriftSpec& d, int64_t new_count,
                             size_t switched) {
  char buf[256];
  const std::string when =
      FormatDate(o.start_day + d.at_day) + " (day " + std::to_string(d.at_day) + ")";
  switch (d.kind) {
    case DriftKind::kNone:
      return "stationary: no drift";
    case DriftKind::kSpend:
      std::snprintf(buf, sizeof buf, "from %s persona %s pays %gx unit prices", when.c_str(),
                    d.persona.c_str(), d.factor);
      return buf;
    case DriftKind::kFrequency:
      std::snprintf(buf, sizeof buf, "from %s persona %s buys %gx as often", when.c_str(),
                    d.persona.c_str(), d.factor);
      return buf;
    case DriftKind::kNewPersona:
      std::snprintf(buf, sizeof buf, "from %s %lld new customers of persona %s start buying",
                    when.c_str(), static_cast<long long>(new_count), d.persona.c_str());
      return buf;
    case DriftKind::kShares:
      std::snprintf(buf, sizeof buf, "from %s %zu customers of persona %s (p=%g) behave as %s",
                    when.c_str(), switched, d.persona.c_str(), d.factor, d.target.c_str());
      return buf;
  }
  return "";
}

}  // namespace

std::string FormatDate(int64_t day) {
  // Howard Hinnant's civil_from_days (public domain).
  const int64_t z = day + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
  return buf;
}

Result<std::unique_ptr<ByteSink>> OpenFileSink(const std::string& path, int gzip_level) {
  if (EndsWith(path, ".gz")) {
    const std::string mode = "wb" + std::to_string(gzip_level);
    gzFile f = gzopen(path.c_str(), mode.c_str());
    if (f == nullptr) {
      return Status::IoError("cannot open '" + path + "' for writing: " + std::strerror(errno));
    }
    // zlib's default 8 KiB input buffer makes one deflate call per few rows; 1 MiB batches them.
    gzbuffer(f, 1 << 20);
    return std::unique_ptr<ByteSink>(std::make_unique<GzSink>(path, f));
  }
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return Status::IoError("cannot open '" + path + "' for writing: " + std::strerror(errno));
  }
  return std::unique_ptr<ByteSink>(std::make_unique<FileSink>(path, f));
}

// Format "segstream-generate-truth/1": one JSON object. `personas[i]` describes persona index i;
// `customer_persona[j]` is the persona index of CustomerID first_customer_id + j (new-persona
// customers are the last drift.new_customers entries); `switched` lists [CustomerID, persona
// index from the drift instant] for the shares drift.
Status WriteTruthJson(const std::string& path, const GeneratorOptions& o,
                      const GenerateResult& result) {
  using Json = nlohmann::ordered_json;
  const GenerateTruth& t = result.truth;
  Json j;
  j["format"] = "segstream-generate-truth/1";
  j["seed"] = o.seed;
  j["customers"] = o.customers;
  j["days"] = o.days;
  j["start"] = FormatDate(o.start_day);
  j["start_ms"] = o.start_day * int64_t{86'400'000};
  j["end_ms"] = (o.start_day + o.days) * int64_t{86'400'000};
  j["items"] = o.items;
  j["zipf_exponent"] = o.zipf_exponent;
  j["anonymous_share"] = o.anonymous_share;
  j["weekend_factor"] = o.weekend_factor;
  j["return_window_days"] = o.return_window_days;
  j["malformed_rate"] = o.malformed_rate;
  j["first_customer_id"] = o.first_customer_id;
  j["first_invoice_no"] = o.first_invoice_no;
  std::vector<int64_t> counts(o.personas.size(), 0);
  for (uint8_t p : t.persona) ++counts[p];
  Json personas = Json::array();
  for (size_t i = 0; i < o.personas.size(); ++i) {
    const auto& p = o.personas[i];
    personas.push_back({{"index", i},
                        {"name", p.name},
                        {"share", p.share},
                        {"mean_gap_days", p.mean_gap_days},
                        {"gap_shape", p.gap_shape},
                        {"mean_items", p.mean_items},
                        {"mean_quantity", p.mean_quantity},
                        {"price_level", p.price_level},
                        {"return_rate", p.return_rate},
                        {"customers", counts[i]}});
  }
  j["personas"] = std::move(personas);
  const DriftSpec& d = t.drift;
  j["drift"] = {{"kind", DriftKindName(d.kind)},
                {"at_day", d.kind == DriftKind::kNone ? Json() : Json(d.at_day)},
                {"at_ms", d.kind == DriftKind::kNone ? Json() : Json(t.drift_ms)},
                {"persona", d.persona},
                {"factor", d.factor},
                {"target", d.target},
                {"new_customers", t.new_customers},
                {"switched_customers", t.switched.size()},
                {"description", DriftDescription(o, d, t.new_customers, t.switched.size())}};
  const GenerateStats& s = result.stats;
  j["stats"] = {{"checkouts", s.checkouts},
                {"purchase_checkouts", s.purchase_checkouts},
                {"return_checkouts", s.return_checkouts},
                {"anonymous_checkouts", s.anonymous_checkouts},
                {"malformed_checkouts", s.malformed_checkouts},
                {"malformed_zero_quantity", s.malformed_zero_quantity},
                {"malformed_negative_price", s.malformed_negative_price},
                {"malformed_empty_sku", s.malformed_empty_sku},
                {"lines", s.lines},
                {"bytes", s.bytes},
                {"first_ms", s.first_ms},
                {"last_ms", s.last_ms}};
  Json switched = Json::array();
  for (const auto& [index, persona] : t.switched) {
    switched.push_back({o.first_customer_id + static_cast<int64_t>(index), persona});
  }
  j["switched"] = std::move(switched);
  // The per-customer array can hold millions of entries: written by hand rather than as a
  // million json values.
  std::string text = j.dump();
  text.pop_back();  // the closing '}'
  text += ",\"customer_persona\":[";
  for (size_t i = 0; i < t.persona.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(t.persona[i]);
  }
  text += "]}\n";

  auto sink = OpenFileSink(path, 6);
  if (!sink.ok()) return sink.status();
  if (Status w = (*sink)->Write(text); !w.ok()) return w;
  return (*sink)->Close();
}

}  // namespace segstream::ingest
