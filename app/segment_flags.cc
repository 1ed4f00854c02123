#include "app/segment_flags.h"

#include <spdlog/fmt/fmt.h>

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

  // Drift monitors (stream/drift.h documents each default and why).
  stream::DriftOptions* drift = &options->drift;
  auto days = [cmd](const char* flag, int64_t* ms, const char* help) {
    cmd->add_option_function<int64_t>(
           flag, [ms](int64_t d) { *ms = d * stream::DriftOptions::kDayMs; }, help)
        ->default_str(std::to_string(*ms / stream::DriftOptions::kDayMs))
        ->check(CLI::Range(int64_t{1}, int64_t{365}));
  };
  days("--drift-recent-days", &drift->recent_ms, "Drift: recent window, event-time days");
  days("--drift-reference-days", &drift->reference_ms,
       "Drift: reference window before the recent one, days");
  cmd->add_option("--drift-cold-start-days", options->drift_cold_start_days,
                  "Drift: the stream's first days, which never enter a window (a cold start)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{365}));
  days("--drift-warmup-days", &drift->warmup_ms,
       "Drift: no alert before this many days of panes after the cold start");
  days("--drift-cooldown-days", &drift->cooldown_ms,
       "Drift: days before the same alert on the same segment is sent again");
  auto threshold = [cmd](const char* flag, stream::DriftThresholds* t, const char* help) {
    cmd->add_option_function<std::vector<double>>(
           flag,
           [t, flag](const std::vector<double>& v) {
             if (v[0] > v[1]) throw CLI::ValidationError(flag, "warn must not exceed alert");
             t->warn = v[0];
             t->alert = v[1];
           },
           help)
        ->default_str(fmt::format("{},{}", t->warn, t->alert))
        ->expected(2)
        ->delimiter(',')
        ->check(CLI::PositiveNumber);
  };
  threshold("--drift-centroid-shift", &drift->centroid_shift,
            "Drift: warn,alert centroid shift in reference RMS radii");
  threshold("--drift-cost-ratio", &drift->cost_ratio,
            "Drift: warn,alert ratio of recent to reference mean squared distance");
  threshold("--drift-psi", &drift->share_psi, "Drift: warn,alert PSI of segment shares");
}

}  // namespace segstream::app
