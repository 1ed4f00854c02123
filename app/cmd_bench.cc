// `segstream bench e2e` (DESIGN §6, issue 10): throughput against the raw consume rate, or
// latency at a fixed rate; a table on stderr and JSON on stdout (or --report).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli.h"
#include "app/commands.h"
#include "app/e2e_bench.h"
#include "app/http_bench.h"
#include "app/segment_flags.h"
#include "app/signals.h"

namespace segstream::app {

namespace {

struct BenchFlags {
  std::string csv, report;
  int64_t events = -1;
  int partitions = 6, threads = 2;
  bool latency = false, no_serve = false;
  double rate = 10000;
  int duration_s = 10, timeout_s = 300;
  ingest::SegmenterOptions segments;
  std::vector<std::string> redis_config;
  std::vector<std::string> kafka_config;  // KEY=VALUE
};

// --kafka-config KEY=VALUE lines as librdkafka properties; librdkafka itself rejects unknown keys.
std::map<std::string, std::string> KafkaProperties(const std::vector<std::string>& lines) {
  std::map<std::string, std::string> properties;
  for (const std::string& line : lines) {
    const size_t eq = line.find('=');
    if (eq == 0 || eq == std::string::npos || eq + 1 == line.size()) {
      Fail("bench", "--kafka-config wants KEY=VALUE, got '" + line + "'");
    }
    properties[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return properties;
}

void Emit(const nlohmann::json& report, const std::string& path) {
  if (path.empty()) {
    std::cout << report.dump(2) << std::endl;
    return;
  }
  std::ofstream out(path);
  out << report.dump(2) << "\n";
  if (!out) Fail("bench", "cannot write report " + path);
}

nlohmann::json RateJson(const RateFigure& f) {
  return {{"events", f.events},
          {"seconds", f.seconds},
          {"join_seconds", f.join_seconds},
          {"events_per_second", f.events_per_second()}};
}

void RunThroughput(const BenchFlags& flags, const std::atomic<bool>& stop) {
  E2eBenchOptions options;
  options.csv = flags.csv;
  options.events = flags.events;
  options.partitions = flags.partitions;
  options.threads = flags.threads;
  options.serve = !flags.no_serve;
  options.segments = flags.segments;
  options.redis_config = flags.redis_config;
  options.kafka_config = KafkaProperties(flags.kafka_config);
  options.phase_timeout = std::chrono::seconds(flags.timeout_s);
  auto result = RunThroughputBench(options, stop);
  if (!result.ok()) Fail("bench", result.status().ToString());
  const E2eThroughput& r = *result;
  const auto& st = r.final_status;
  std::cerr << std::fixed << std::setprecision(3) << "bench e2e: " << r.prefilled << " checkouts, "
            << flags.partitions << " partitions, " << flags.threads << " worker threads\n"
            << "  " << std::left << std::setw(28) << "phase" << std::right << std::setw(10)
            << "events" << std::setw(10) << "seconds" << std::setw(14) << "events/s"
            << std::setw(10) << "join s\n"
            << "  " << std::left << std::setw(28) << "raw consume (limit)" << std::right
            << std::setw(10) << r.raw.events << std::setw(10) << r.raw.seconds << std::setw(14)
            << std::setprecision(0) << r.raw.events_per_second() << std::setw(9)
            << std::setprecision(2) << r.raw.join_seconds << "\n"
            << "  " << std::left << std::setw(28) << "repartition (kafka only)" << std::right
            << std::setw(10) << r.floor.checkouts << std::setw(10) << std::setprecision(3)
            << r.floor.seconds() << std::setw(14) << std::setprecision(0)
            << r.floor.checkouts_per_second() << "\n"
            << "  " << std::left << std::setw(28) << "pipeline (committed)" << std::right
            << std::setw(10) << r.pipeline.events << std::setw(10) << std::setprecision(3)
            << r.pipeline.seconds << std::setw(14) << std::setprecision(0)
            << r.pipeline.events_per_second() << std::setw(9) << std::setprecision(2)
            << r.pipeline.join_seconds << "\n"
            << "  ratio pipeline/raw: " << std::setprecision(1) << 100 * r.ratio() << "%"
            << "  pipeline/repartition: " << 100 * r.floor_ratio() << "%"
            << "  (item-sales records: " << st.item_sales_applied << ", dlq: " << st.dlq_events
            << ", prefill " << std::setprecision(2) << r.prefill_seconds << " s)\n";
  if (r.max_generation > 1) {
    std::cerr << "  warning: partitions were reassigned during the run (generation "
              << r.max_generation << ")\n";
  }
  nlohmann::json report = {
      {"mode", "throughput"},
      {"partitions", flags.partitions},
      {"threads", flags.threads},
      {"serve", !flags.no_serve},
      {"prefill",
       {{"events", r.prefilled}, {"rows", r.prefill_rows}, {"seconds", r.prefill_seconds}}},
      {"raw", RateJson(r.raw)},
      {"repartition",
       {{"checkouts", r.floor.checkouts},
        {"item_sales", r.floor.item_sales},
        {"split_seconds", r.floor.split_seconds},
        {"consume_seconds", r.floor.consume_seconds},
        {"events_per_second", r.floor.checkouts_per_second()}}},
      {"pipeline", RateJson(r.pipeline)},
      {"ratio", r.ratio()},
      {"ratio_to_repartition", r.floor_ratio()},
      {"events_processed", st.events_processed},
      {"dlq_events", st.dlq_events},
      {"item_sales_produced", st.item_sales_produced},
      {"item_sales_applied", st.item_sales_applied},
      {"max_generation", r.max_generation}};
  Emit(report, flags.report);
}

void RunLatency(const BenchFlags& flags, const std::atomic<bool>& stop) {
  LatencyBenchOptions options;
  options.csv = flags.csv;
  options.rate = flags.rate;
  options.duration = std::chrono::seconds(flags.duration_s);
  options.partitions = flags.partitions;
  options.threads = flags.threads;
  options.serve = !flags.no_serve;
  options.segments = flags.segments;
  options.redis_config = flags.redis_config;
  options.kafka_config = KafkaProperties(flags.kafka_config);
  auto result = RunLatencyBench(options, stop);
  if (!result.ok()) Fail("bench", result.status().ToString());
  const LatencyFigures& r = *result;
  std::cerr << std::fixed << std::setprecision(1) << "bench e2e --latency: " << r.produced
            << " checkouts at " << r.achieved_rate << "/s (asked " << flags.rate << "), "
            << r.measured << " seen committed\n"
            << "  event -> committed in Redis (ms): p50 " << std::setprecision(2) << r.p50_ms
            << "  p90 " << r.p90_ms << "  p99 " << r.p99_ms << "  max " << r.max_ms << "  mean "
            << r.mean_ms << "\n"
            << "  max item-sales backlog (stage 2): " << r.max_item_sales_backlog << "\n";
  if (!r.offsets_consistent) {
    std::cerr << "  warning: end offsets differ from the checkouts sent: latencies unreliable\n";
  }
  nlohmann::json report = {{"mode", "latency"},
                           {"partitions", flags.partitions},
                           {"threads", flags.threads},
                           {"serve", !flags.no_serve},
                           {"rate_asked", flags.rate},
                           {"rate_achieved", r.achieved_rate},
                           {"produced", r.produced},
                           {"measured", r.measured},
                           {"latency_ms",
                            {{"p50", r.p50_ms},
                             {"p90", r.p90_ms},
                             {"p99", r.p99_ms},
                             {"max", r.max_ms},
                             {"mean", r.mean_ms}}},
                           {"max_item_sales_backlog", r.max_item_sales_backlog},
                           {"offsets_consistent", r.offsets_consistent}};
  Emit(report, flags.report);
  if (r.measured < r.produced) {
    Fail("bench", std::to_string(r.produced - r.measured) + " checkouts never seen committed");
  }
}

}  // namespace

void RegisterBenchCommand(CLI::App& root) {
  auto* bench = root.add_subcommand("bench", "Benchmarks of the whole pipeline");
  bench->require_subcommand(1);
  auto* cmd = bench->add_subcommand(
      "e2e",
      "Embedded broker + redis: pipeline events/s against a bare consumer's (the physical "
      "limit) on the same pre-filled topic, or --latency at a fixed rate");
  auto flags = std::make_shared<BenchFlags>();
  cmd->add_option("--csv", flags->csv,
                  "Input CSV (default: the bundled data/online_retail.csv.gz)");
  cmd->add_option("--events", flags->events,
                  "Checkouts to pre-fill (-1: the file once; more than the file re-reads it)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 32));
  cmd->add_option("--partitions", flags->partitions, "Partitions per topic")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--threads", flags->threads, "Worker consumers")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  cmd->add_flag("--latency", flags->latency,
                "Latency mode: send at --rate for --duration-s, time each checkout until its "
                "offset is committed in Redis");
  cmd->add_option("--rate", flags->rate, "Latency mode: checkouts per second")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e6));
  cmd->add_option("--duration-s", flags->duration_s, "Latency mode: seconds of sending")
      ->capture_default_str()
      ->check(CLI::Range(1, 600));
  cmd->add_option("--timeout-s", flags->timeout_s,
                  "Throughput mode: give up on a phase after this long")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  cmd->add_flag("--no-serve", flags->no_serve,
                "Do not run the API's snapshot cache and HTTP server beside the workers");
  cmd->add_option("--redis-config", flags->redis_config,
                  "Extra redis.conf line for the embedded redis-server (repeatable), e.g. "
                  "'hash-max-listpack-entries 16'");
  cmd->add_option("--kafka-config", flags->kafka_config,
                  "Extra librdkafka property of the workers' clients, KEY=VALUE (repeatable), e.g. "
                  "'batch.num.messages=100000'");
  cmd->add_option("--report", flags->report, "Write the JSON here instead of stdout");
  AddSegmentFlags(cmd, &flags->segments);
  cmd->callback([flags] {
    // stdout carries only the JSON report; logs go to stderr with the table.
    spdlog::set_default_logger(spdlog::stderr_color_mt("bench"));
    StopOnSignals signals;
    if (flags->latency) {
      RunLatency(*flags, signals.flag());
    } else {
      RunThroughput(*flags, signals.flag());
    }
  });
  RegisterBenchHttpCommand(bench);
}

}  // namespace segstream::app
