// `segstream sketch` (DESIGN §6): a t-digest over a file of numbers, answered as JSON, with the
// time the digest took per value. The file is read completely before the clock starts.
#include <bit>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "app/cli.h"
#include "app/commands.h"
#include "stream/tdigest.h"

namespace segstream::app {
namespace {

constexpr char kCommand[] = "sketch";

struct SketchOptions {
  std::string input;           // file of values (required)
  std::string format = "f64";  // f64: raw little-endian doubles; text
  double compression = 100;    // t-digest δ
  std::string quantiles = "0.001,0.01,0.1,0.5,0.9,0.99,0.999";  // keys of the output, as given
  int parts = 1;  // digests built on contiguous slices, then merged
};

std::vector<double> ReadF64(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) Fail(kCommand, "cannot open '" + path + "': " + std::strerror(errno));
  std::streamoff size = in.tellg();
  if (size % 8 != 0) {
    Fail(kCommand, "'" + path + "' holds " + std::to_string(size) +
                       " bytes, not a whole number of 8-byte doubles (is it --format text?)");
  }
  std::vector<double> values(static_cast<size_t>(size / 8));
  in.seekg(0);
  std::vector<unsigned char> bytes(static_cast<size_t>(size));
  if (!in.read(reinterpret_cast<char*>(bytes.data()), size)) {
    Fail(kCommand, "cannot read '" + path + "'");
  }
  for (size_t i = 0; i < values.size(); ++i) {
    uint64_t u = 0;
    for (int b = 0; b < 8; ++b) u |= static_cast<uint64_t>(bytes[8 * i + b]) << (8 * b);
    values[i] = std::bit_cast<double>(u);
  }
  return values;
}

std::vector<double> ReadText(const std::string& path) {
  std::ifstream in(path);
  if (!in) Fail(kCommand, "cannot open '" + path + "': " + std::strerror(errno));
  std::vector<double> values;
  std::string line;
  size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    size_t begin = line.find_first_not_of(" \t\r");
    if (begin == std::string::npos) continue;  // blank line
    size_t end = line.find_last_not_of(" \t\r") + 1;
    const char* first = line.data() + begin;
    const char* last = line.data() + end;
    if (*first == '+') ++first;  // from_chars takes no leading '+'
    double value = 0;
    auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || ptr != last) {
      Fail(kCommand, path + ":" + std::to_string(line_number) + ": '" +
                         line.substr(begin, end - begin) + "' is not a number");
    }
    values.push_back(value);
  }
  return values;
}

// Parses "0.001,0.5,..." keeping each q's text as given; every q must be in [0, 1].
std::vector<std::pair<std::string, double>> ParseQuantiles(const std::string& list) {
  std::vector<std::pair<std::string, double>> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    std::string text = list.substr(start, comma - start);
    size_t begin = text.find_first_not_of(' ');
    text = begin == std::string::npos ? ""
                                      : text.substr(begin, text.find_last_not_of(' ') + 1 - begin);
    double q = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), q);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || !(q >= 0) ||
        !(q <= 1)) {
      Fail(kCommand, "--quantiles: '" + text + "' is not a number in [0, 1]", 2);
    }
    bool seen = false;
    for (const auto& [key, value] : out) seen |= key == text;
    if (!seen) out.emplace_back(text, q);
    start = comma + 1;
  }
  return out;
}

double ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

void RunSketch(const SketchOptions& options) {
  if (options.format != "f64" && options.format != "text") {
    Fail(kCommand, "--format must be f64 or text, got '" + options.format + "'", 2);
  }
  if (!(options.compression >= 1 && options.compression <= 1e4)) {
    Fail(kCommand, "--compression must be in [1, 10000]", 2);
  }
  if (options.parts < 1 || options.parts > 1'000'000) {
    Fail(kCommand, "--parts must be in [1, 1000000]", 2);
  }
  const auto quantiles = ParseQuantiles(options.quantiles);
  const std::vector<double> values =
      options.format == "f64" ? ReadF64(options.input) : ReadText(options.input);
  if (values.empty()) Fail(kCommand, "'" + options.input + "' holds no values");
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isnan(values[i])) {
      Fail(kCommand, "value #" + std::to_string(i + 1) + " of '" + options.input + "' is NaN");
    }
  }

  // Timed: every insert, the merge of the parts and the final compression.
  const auto wall_start = std::chrono::steady_clock::now();
  const double cpu_start = ThreadCpuNs();
  stream::TDigest digest(options.compression);
  const size_t n = values.size();
  const size_t parts = static_cast<size_t>(options.parts);
  if (parts == 1) {
    for (double x : values) digest.Add(x);
  } else {
    for (size_t p = 0; p < parts; ++p) {
      stream::TDigest part(options.compression);
      for (size_t i = n * p / parts; i < n * (p + 1) / parts; ++i) part.Add(values[i]);
      digest.Merge(part);
    }
  }
  digest.Compress();
  const double cpu_ns = ThreadCpuNs() - cpu_start;
  const double wall_ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - wall_start)
          .count();

  // Non-finite numbers (an infinite quantile of data holding ±inf) print as null.
  nlohmann::ordered_json out;
  nlohmann::ordered_json answers = nlohmann::ordered_json::object();
  for (const auto& [text, q] : quantiles) answers[text] = digest.Quantile(q);
  out["quantiles"] = answers;
  out["centroids"] = digest.CentroidCount();
  out["bytes"] = digest.Serialize().size();
  out["ns_per_value"] = wall_ns / static_cast<double>(n);
  out["cpu_ns_per_value"] = cpu_ns / static_cast<double>(n);
  out["count"] = n;
  out["min"] = digest.Min();
  out["max"] = digest.Max();
  out["compression"] = options.compression;
  out["parts"] = options.parts;
  std::cout << out.dump() << std::endl;
}

}  // namespace

void RegisterSketchCommand(CLI::App& root) {
  auto options = std::make_shared<SketchOptions>();
  auto* cmd = root.add_subcommand(
      "sketch", "t-digest over a file of numbers; prints quantiles, size and ns per value as JSON");
  cmd->add_option("--input", options->input, "File of values (see --format)")->required();
  cmd->add_option("--format", options->format,
                  "f64: raw little-endian doubles; text: one number per line")
      ->capture_default_str();
  cmd->add_option("--compression", options->compression, "t-digest compression δ, in [1, 10000]")
      ->capture_default_str();
  cmd->add_option("--quantiles", options->quantiles,
                  "Comma-separated q in [0, 1]; each is a key of the output as written")
      ->capture_default_str();
  cmd->add_option("--parts", options->parts,
                  "Build this many digests on contiguous slices and answer from their merge")
      ->capture_default_str();
  cmd->callback([options] { RunSketch(*options); });
}

}  // namespace segstream::app
