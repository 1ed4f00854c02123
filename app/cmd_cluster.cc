// `segstream cluster` (DESIGN §6): the streaming k-means over a file of raw little-endian doubles,
// one pass in file order, time = point count. JSON on stdout.
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/cli.h"
#include "app/commands.h"
#include "stream/kmeans.h"

namespace segstream::app {

namespace {

constexpr const char* kCommand = "cluster";

struct ClusterArgs {
  std::string input;
  int dim = 0;
  int k = 6;
  uint64_t seed = 1;
  std::string assignments;
  int batch = 256;
};

std::vector<double> ReadDoubles(const std::string& path, int dim) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) Fail(kCommand, "cannot open --input '" + path + "': " + std::strerror(errno));
  const std::streamoff size = in.tellg();
  const std::streamoff row = std::streamoff(dim) * 8;
  if (size % row != 0) {
    Fail(kCommand, "--input '" + path + "' has " + std::to_string(size) +
                       " bytes, not a multiple of dim x 8 = " + std::to_string(row));
  }
  if (size == 0) Fail(kCommand, "--input '" + path + "' holds no points");
  std::vector<double> values(size_t(size / 8));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(values.data()), size)) {
    Fail(kCommand, "cannot read --input '" + path + "'");
  }
  if constexpr (std::endian::native == std::endian::big) {
    for (double& v : values) {
      uint64_t bits;
      std::memcpy(&bits, &v, 8);
      bits = __builtin_bswap64(bits);
      std::memcpy(&v, &bits, 8);
    }
  }
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      Fail(kCommand, "--input point " + std::to_string(i / dim) + " coordinate " +
                         std::to_string(i % dim) + " is " +
                         (std::isnan(values[i]) ? "NaN" : "infinite"));
    }
  }
  return values;
}

void Run(const ClusterArgs& args) {
  stream::KMeansOptions options;
  options.k = args.k;
  options.dim = args.dim;
  options.seed = args.seed;
  if (std::string err = options.Validate(); !err.empty())
    Fail(kCommand, "bad --k/--dim: " + err, 2);
  if (args.batch < 1) Fail(kCommand, "--batch must be >= 1", 2);
  const std::vector<double> points = ReadDoubles(args.input, args.dim);
  const size_t n = points.size() / args.dim;

  stream::StreamingKMeans model(options);
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; i += size_t(args.batch)) {
    const size_t end = std::min(n, i + size_t(args.batch));
    Status s = model.ObserveBatch({points.data() + i * args.dim, (end - i) * args.dim}, double(i));
    if (!s.ok()) Fail(kCommand, s.message());
  }
  model.Initialize();
  const double ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();

  // Active centroids only, renumbered 0..m-1; assignments refer to this list.
  const std::vector<double> all = model.Centroids();
  std::vector<double> centroids;
  for (int c = 0; c < args.k; ++c) {
    if (!model.active(c)) continue;
    centroids.insert(centroids.end(), all.begin() + size_t(c) * args.dim,
                     all.begin() + size_t(c + 1) * args.dim);
  }
  const size_t m = centroids.size() / args.dim;
  std::vector<uint32_t> nearest(n);
  double inertia = 0;
  for (size_t i = 0; i < n; ++i) {
    double best = std::numeric_limits<double>::infinity();
    for (size_t c = 0; c < m; ++c) {
      double d2 = 0;
      for (int j = 0; j < args.dim; ++j) {
        const double t = points[i * args.dim + j] - centroids[c * args.dim + j];
        d2 += t * t;
      }
      if (d2 < best) {
        best = d2;
        nearest[i] = uint32_t(c);
      }
    }
    inertia += best;
  }
  if (!args.assignments.empty()) {
    std::ofstream out(args.assignments, std::ios::binary | std::ios::trunc);
    if (!out) {
      Fail(kCommand,
           "cannot write --assignments '" + args.assignments + "': " + std::strerror(errno));
    }
    std::string bytes(n * 4, '\0');
    for (size_t i = 0; i < n; ++i) {
      for (int b = 0; b < 4; ++b) bytes[i * 4 + b] = char((nearest[i] >> (8 * b)) & 0xff);
    }
    if (!out.write(bytes.data(), std::streamsize(bytes.size()))) {
      Fail(kCommand, "cannot write --assignments '" + args.assignments + "'");
    }
  }

  nlohmann::json centroid_rows = nlohmann::json::array();
  for (size_t c = 0; c < m; ++c) {
    centroid_rows.push_back(std::vector<double>(centroids.begin() + c * args.dim,
                                                centroids.begin() + (c + 1) * args.dim));
  }
  const stream::KMeansEvents& ev = model.events();
  nlohmann::json out = {
      {"centroids", centroid_rows},
      {"inertia", inertia},
      {"ns_per_point", ns / double(n)},
      {"points", n},
      {"dim", args.dim},
      {"k", args.k},
      {"events",
       {{"restarts", ev.restarts},
        {"history_merged", ev.history_merged},
        {"promotions", ev.promotions},
        {"pair_merges", ev.pair_merges},
        {"far_points", ev.far_points}}},
  };
  std::cout << out.dump() << std::endl;
}

}  // namespace

void RegisterClusterCommand(CLI::App& root) {
  auto args = std::make_shared<ClusterArgs>();
  CLI::App* cmd = root.add_subcommand(
      "cluster",
      "Streaming k-means over raw little-endian doubles (row-major), one pass in file order "
      "(time = point count); JSON with centroids, inertia and ns_per_point on stdout");
  cmd->add_option("--input", args->input, "File of raw little-endian doubles, row-major")
      ->required();
  cmd->add_option("--dim", args->dim, "Coordinates per point")->required();
  cmd->add_option("--k", args->k, "Number of centroids")->capture_default_str();
  cmd->add_option("--seed", args->seed, "Seed of the k-means++ initialisation")
      ->capture_default_str();
  cmd->add_option("--assignments", args->assignments,
                  "Write one little-endian uint32 per point: its nearest final centroid (index "
                  "into the printed centroids)");
  cmd->add_option("--batch", args->batch, "Points per mini-batch (Sculley 2010)")
      ->capture_default_str();
  cmd->callback([args] { Run(*args); });
}

}  // namespace segstream::app
