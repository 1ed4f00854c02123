#include "app/segment_flags.h"

namespace segstream::app {

void AddSegmentFlags(CLI::App* cmd, ingest::SegmenterOptions* options) {
  cmd->add_option("--segments", options->model.k, "Customer segments (k of the k-means model)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--segment-seed", options->model.seed, "Seed of the k-means++ initialisation")
      ->capture_default_str();
  cmd->add_option("--segment-init-customers", options->init_min_customers,
                  "Customers with a sale (all partitions) before the first segment model is made")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  cmd->add_option("--segment-hysteresis", options->model.hysteresis,
                  "A customer changes segment only if the new centroid is this fraction closer")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.5));
}

}  // namespace segstream::app
