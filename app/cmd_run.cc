// `segstream run`: the embedded demo (DESIGN §6): mock broker + child redis-server + workers +
// API in one process, replaying the bundled Online Retail file.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli.h"
#include "app/commands.h"
#include "app/embedded.h"
#include "app/progress.h"
#include "app/segment_flags.h"
#include "app/serve_stack.h"
#include "app/signals.h"
#include "ingest/replay.h"
#include "ingest/worker.h"
#include "serve/snapshot.h"
#include "storage/snapshot_reader.h"

namespace segstream::app {

namespace {

using Clock = std::chrono::steady_clock;

struct RunFlags {
  std::string csv, http = "127.0.0.1:8080", speed = "270000", report;
  bool exit_when_done = false;
  int broker_port = 0, redis_port = 0, partitions = 6, threads = 2;
  ingest::SegmenterOptions segments;
};

bool Drained(const storage::PipelineStatus& s, int64_t replayed) {
  return s.events_processed + s.dlq_events == replayed &&
         s.item_sales_applied == s.item_sales_produced;
}

void WriteReport(const std::string& path, const serve::Snapshot& snap, double seconds,
                 const ingest::ReplayResult& replay) {
  nlohmann::json top = nlohmann::json::array();
  const serve::WindowView& all = snap.all();
  for (size_t i = 0; i < all.by_orders.size() && i < 10; ++i) {
    const auto& c = all.items[all.by_orders[i]].counts;
    top.push_back({{"sku", c.sku},
                   {"description", c.description},
                   {"orders", c.orders},
                   {"units", c.units},
                   {"returned_units", c.returned_units},
                   {"revenue_micros", c.revenue_micros}});
  }
  const auto& st = snap.status;
  nlohmann::json report = {
      {"events_processed", st.events_processed},
      {"dlq_events", st.dlq_events},
      {"dlq_by_reason", st.dlq_reasons},
      {"items", all.items.size()},
      {"watermark_ms", snap.watermark_ms},
      {"replay",
       {{"events", replay.progress.events},
        {"rows_read", replay.progress.rows_read},
        {"rows_skipped", replay.progress.rows_skipped},
        {"seconds", replay.seconds}}},
      {"wall_seconds", seconds},
      {"events_per_second",
       seconds > 0 ? static_cast<double>(replay.progress.events) / seconds : 0},
      {"rows_per_second",
       seconds > 0 ? static_cast<double>(replay.progress.rows_read) / seconds : 0},
      {"top_items", top}};
  std::ofstream out(path);
  out << report.dump(2) << "\n";
  if (!out) Fail("run", "cannot write report " + path);
}

void Run(const RunFlags& flags) {
  const auto started = Clock::now();
  const double speed = ParseSpeed("run", flags.speed);
  const std::string csv = flags.csv.empty() ? DefaultRetailCsv() : flags.csv;
  if (!std::filesystem::exists(csv)) Fail("run", "no such CSV file: " + csv, 2);
  auto [http_host, http_port] = ParseHostPort("run", "--http", flags.http);

  StopOnSignals signals;
  EmbeddedServers servers({.broker_port = flags.broker_port,
                           .redis_port = flags.redis_port,
                           .partitions = flags.partitions,
                           .redis_config = {}});
  if (Status s = servers.Start(); !s.ok()) Fail("run", s.message());
  std::cerr << "run: broker " << servers.brokers() << ", redis " << servers.redis_address() << "\n";

  const storage::RedisOptions redis_client = servers.redis_client();
  WorkerPool workers(servers.WorkerOptions(flags.segments), flags.threads);

  ServeStack stack({.redis = redis_client,
                    .brokers_shown = servers.brokers(),
                    .redis_shown = servers.redis_address(),
                    .http_host = http_host,
                    .http_port = http_port,
                    .segments_k = flags.segments.model.k,
                    .segment_feed_brokers = servers.brokers()});
  serve::SnapshotCache& cache = stack.cache();
  // On failure the destructors stop the workers and the servers.
  if (Status s = stack.Start(); !s.ok()) Fail("run", "http: " + s.message());
  std::cout << "dashboard=http://" << stack.address() << "/" << std::endl;
  std::cerr << "run: dashboard at http://" << stack.address() << "/ (Ctrl-C to stop)\n";

  ingest::KafkaOptions kafka;
  kafka.brokers = servers.brokers();
  auto producer = ingest::Producer::Create(kafka);
  if (!producer.ok()) Fail("run", producer.status().message());
  PipelineProbe probe(redis_client);
  auto progress_conn = storage::RedisConnection::Connect(redis_client);
  ProgressBar bar("run");
  ingest::ReplayOptions replay_options;
  replay_options.csv_path = csv;
  replay_options.speed = speed;
  replay_options.on_progress = [&](const ingest::ReplayProgress& p) {
    const auto& st = probe.Get();
    bar.Update(p.bytes_read, p.file_size,
               std::to_string(p.events) + " replayed, " + std::to_string(st.events_processed) +
                   " processed");
    if (progress_conn.ok()) RecordReplayProgress(&*progress_conn, p, false);
  };
  replay_options.may_continue = [&](int64_t produced) { return probe.BacklogBelowLimit(produced); };
  auto replay = ingest::Replay(producer->get(), replay_options, signals.flag());
  if (!replay.ok()) Fail("run", "replay: " + replay.status().message());
  bar.Finish();
  if (progress_conn.ok()) RecordReplayProgress(&*progress_conn, replay->progress, true);
  PrintReplaySummary(*replay, std::cerr);

  if (flags.exit_when_done) {
    // Done = every replayed checkout is committed by stage 1 and every item-sale by stage 2.
    while (!signals.stopped() && !workers.failed()) {
      if (Drained(probe.Get(), replay->progress.events)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // Refresh() must not run beside the cache's own refresh thread (they share one Redis
    // connection: seen as a bad_alloc and a SIGSEGV in `run --exit-when-done`), so stop it first.
    cache.Stop();
    if (Status s = cache.Refresh(); !s.ok()) Fail("run", "final snapshot: " + s.message());
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    auto snap = cache.Get();
    std::cerr << "run: done: " << snap->status.events_processed << " checkouts processed, "
              << snap->status.dlq_events << " dead-lettered, " << snap->all().items.size()
              << " items in " << seconds << " s\n";
    if (!flags.report.empty()) WriteReport(flags.report, *snap, seconds, *replay);
  } else {
    std::cerr << "run: replay finished; serving until Ctrl-C\n";
    while (!signals.stopped()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stack.Stop();
  if (Status s = workers.Stop(); !s.ok()) Fail("run", "workers: " + s.message());
}

}  // namespace

void RegisterRunCommand(CLI::App& root) {
  auto* cmd = root.add_subcommand(
      "run", "Embedded demo: broker + redis + workers + API, replaying the Online Retail CSV");
  auto flags = std::make_shared<RunFlags>();
  cmd->add_option("--csv", flags->csv,
                  "Input CSV (default: the bundled data/online_retail.csv.gz)");
  cmd->add_option("--http", flags->http, "API/dashboard listen address")->capture_default_str();
  cmd->add_option("--speed", flags->speed,
                  "'max', or N x event time (default plays the year in about two minutes)")
      ->capture_default_str();
  cmd->add_flag("--exit-when-done", flags->exit_when_done,
                "Stop once every event is processed (and write --report)");
  cmd->add_option("--report", flags->report, "Write a JSON report here when done");
  cmd->add_option("--broker-port", flags->broker_port, "Embedded broker port (0: a free one)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--redis-port", flags->redis_port, "Embedded redis-server port (0: a free one)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--partitions", flags->partitions, "Partitions per topic")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--threads", flags->threads, "Worker consumers")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  AddSegmentFlags(cmd, &flags->segments);
  cmd->callback([flags] { Run(*flags); });
}

}  // namespace segstream::app
