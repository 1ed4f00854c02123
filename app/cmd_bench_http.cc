// `segstream bench http` (issue 8): the API under a bounded keep-alive load, against a running
// server (--http) or the embedded stack after it processed the Online Retail file; a table on
// stderr and JSON on stdout (or --report).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli.h"
#include "app/embedded.h"
#include "app/http_bench.h"
#include "app/progress.h"
#include "app/serve_stack.h"
#include "app/signals.h"
#include "ingest/replay.h"

namespace segstream::app {

namespace {

using Clock = std::chrono::steady_clock;

struct HttpBenchFlags {
  std::string http, csv, report;
  int clients = 32, threads = 2, partitions = 6, workers = 2;
  int64_t requests = 20000, events = -1;
  int timeout_ms = 10000, prepare_timeout_s = 600;
  std::vector<std::string> targets = {"/v1/items/top?n=10&window=all",
                                      "/v1/items/{sku}",
                                      "/v1/popularity/quantiles?q=0.5,0.9",
                                      "/v1/popularity/top-percent?p=10",
                                      "/v1/segments",
                                      "/v1/status",
                                      "/v1/drift"};
};

// The most ordered sku, asked of the server itself so --http and the embedded stack agree.
std::string PopularSku(const std::string& host, uint16_t port, const std::atomic<bool>& stop) {
  HttpLoadOptions options;
  options.host = host;
  options.port = port;
  options.targets = {"/v1/items/top?n=1"};
  options.clients = 1;
  options.requests = 1;
  options.threads = 1;
  std::string sku, error = "no response";
  options.on_response = [&](int64_t, int status, std::string_view body) {
    auto json = nlohmann::json::parse(body, nullptr, false);
    if (status != 200 || json.is_discarded() || !json.contains("items") || json["items"].empty()) {
      error = "HTTP " + std::to_string(status) + ": " + std::string(body.substr(0, 200));
      return;
    }
    sku = json["items"][0].value("sku", "");
  };
  auto result = RunHttpLoad(options, stop);
  if (!result.ok()) Fail("bench", result.status().ToString());
  if (sku.empty()) Fail("bench", "cannot find a popular sku (/v1/items/top?n=1): " + error);
  return sku;
}

bool Drained(const storage::PipelineStatus& s, int64_t replayed) {
  return s.events_processed + s.dlq_events == replayed &&
         s.item_sales_applied == s.item_sales_produced;
}

// Replays the file into the embedded stack at full speed and waits until the API's snapshot
// reflects every checkout, so the load reads a complete, settled state.
nlohmann::json Prepare(const HttpBenchFlags& flags, const EmbeddedServers& servers,
                       ServeStack& stack, const WorkerPool& workers,
                       const std::atomic<bool>& stop) {
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(flags.prepare_timeout_s);
  ingest::KafkaOptions kafka;
  kafka.brokers = servers.brokers();
  auto producer = ingest::Producer::Create(kafka);
  if (!producer.ok()) Fail("bench", producer.status().message());
  PipelineProbe probe(servers.redis_client());
  ingest::ReplayOptions replay_options;
  replay_options.csv_path = flags.csv.empty() ? DefaultRetailCsv() : flags.csv;
  replay_options.limit = flags.events;
  replay_options.may_continue = [&](int64_t produced) { return probe.BacklogBelowLimit(produced); };
  auto replay = ingest::Replay(producer->get(), replay_options, stop);
  if (!replay.ok()) Fail("bench", "replay: " + replay.status().message());
  const int64_t events = replay->progress.events;
  while (true) {
    if (stop.load()) Fail("bench", "stopped");
    if (workers.failed()) Fail("bench", "the workers failed");
    if (Clock::now() > deadline) Fail("bench", "the pipeline did not process the file in time");
    auto snap = stack.cache().Get();
    if (snap && Drained(snap->status, events)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto snap = stack.cache().Get();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::cerr << "bench http: embedded stack processed " << events << " checkouts in " << std::fixed
            << std::setprecision(1) << seconds << " s\n";
  return {{"csv", replay_options.csv_path},
          {"checkouts", events},
          {"events_processed", snap->status.events_processed},
          {"items", snap->all().items.size()},
          {"seconds", seconds}};
}

nlohmann::json Report(const HttpBenchFlags& flags, const HttpLoadFigures& r) {
  nlohmann::json statuses = nlohmann::json::object();
  for (const auto& [code, count] : r.status_counts) statuses[std::to_string(code)] = count;
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& t : r.per_target) {
    targets.push_back({{"target", t.target},
                       {"requests", t.requests},
                       {"errors", t.errors},
                       {"p50_ms", t.p50_ms},
                       {"p99_ms", t.p99_ms}});
  }
  return {{"clients", flags.clients},
          {"client_threads", flags.threads},
          {"requests", r.requests},
          {"answered", r.answered},
          {"errors", r.errors()},
          {"non_2xx", r.non_2xx},
          {"transport_errors", r.transport_errors},
          {"connections", r.connections},
          {"status_counts", statuses},
          {"seconds", r.seconds},
          {"requests_per_second", r.requests_per_second()},
          {"latency_ms",
           {{"p50", r.p50_ms},
            {"p90", r.p90_ms},
            {"p99", r.p99_ms},
            {"max", r.max_ms},
            {"mean", r.mean_ms}}},
          {"targets", targets}};
}

void PrintTable(const HttpBenchFlags& flags, const std::string& address, const HttpLoadFigures& r) {
  std::cerr << std::fixed << std::setprecision(0) << "bench http: " << address << ", "
            << flags.clients << " keep-alive clients on " << flags.threads << " threads, "
            << r.requests << " requests in " << std::setprecision(2) << r.seconds << " s\n"
            << "  " << std::setprecision(0) << r.requests_per_second() << " requests/s, "
            << r.answered << " answered, " << r.errors() << " errors (" << r.non_2xx << " non-2xx, "
            << r.transport_errors << " transport), " << r.connections << " connections\n"
            << std::setprecision(3) << "  latency ms: p50 " << r.p50_ms << "  p90 " << r.p90_ms
            << "  p99 " << r.p99_ms << "  max " << r.max_ms << "  mean " << r.mean_ms << "\n"
            << "  " << std::left << std::setw(44) << "target" << std::right << std::setw(9)
            << "requests" << std::setw(8) << "errors" << std::setw(10) << "p50 ms" << std::setw(10)
            << "p99 ms\n";
  for (const auto& t : r.per_target) {
    std::cerr << "  " << std::left << std::setw(44) << t.target << std::right << std::setw(9)
              << t.requests << std::setw(8) << t.errors << std::setw(10) << t.p50_ms
              << std::setw(10) << t.p99_ms << "\n";
  }
}

void Run(const HttpBenchFlags& flags) {
  StopOnSignals signals;
  std::unique_ptr<EmbeddedServers> servers;
  std::unique_ptr<WorkerPool> workers;
  std::unique_ptr<ServeStack> stack;
  std::string host;
  int port = 0;
  nlohmann::json prepared;
  if (flags.http.empty()) {
    const std::string csv = flags.csv.empty() ? DefaultRetailCsv() : flags.csv;
    if (!std::filesystem::exists(csv)) Fail("bench", "no such CSV file: " + csv, 2);
    servers = std::make_unique<EmbeddedServers>(
        EmbeddedOptions{.partitions = flags.partitions, .redis_config = {}});
    if (Status s = servers->Start(); !s.ok()) Fail("bench", s.message());
    const ingest::SegmenterOptions segments;
    workers = std::make_unique<WorkerPool>(servers->WorkerOptions(segments), flags.workers);
    stack = std::make_unique<ServeStack>(ServeStackOptions{.redis = servers->redis_client(),
                                                           .brokers_shown = servers->brokers(),
                                                           .redis_shown = servers->redis_address(),
                                                           .http_host = "127.0.0.1",
                                                           .http_port = 0,
                                                           .segments_k = segments.model.k});
    if (Status s = stack->Start(); !s.ok()) Fail("bench", "http: " + s.message());
    prepared = Prepare(flags, *servers, *stack, *workers, signals.flag());
    std::tie(host, port) = ParseHostPort("bench", "--http", stack->address());
  } else {
    std::tie(host, port) = ParseHostPort("bench", "--http", flags.http);
  }

  HttpLoadOptions options;
  options.host = host;
  options.port = static_cast<uint16_t>(port);
  options.clients = flags.clients;
  options.requests = flags.requests;
  options.threads = flags.threads;
  options.timeout = std::chrono::milliseconds(flags.timeout_ms);
  std::string sku;
  for (std::string target : flags.targets) {
    if (auto at = target.find("{sku}"); at != std::string::npos) {
      if (sku.empty()) sku = PopularSku(host, options.port, signals.flag());
      target.replace(at, 5, EncodePathSegment(sku));
    }
    options.targets.push_back(target);
  }
  auto result = RunHttpLoad(options, signals.flag());
  if (!result.ok()) Fail("bench", result.status().ToString());
  const std::string address = host + ":" + std::to_string(port);
  PrintTable(flags, address, *result);
  nlohmann::json report = Report(flags, *result);
  report["server"] = flags.http.empty() ? "embedded" : address;
  if (!sku.empty()) report["sku"] = sku;
  if (!prepared.is_null()) report["prepared"] = prepared;
  if (stack) stack->Stop();
  if (workers) {
    if (Status s = workers->Stop(); !s.ok()) Fail("bench", "workers: " + s.message());
  }
  if (flags.report.empty()) {
    std::cout << report.dump(2) << std::endl;
  } else {
    std::ofstream out(flags.report);
    out << report.dump(2) << "\n";
    if (!out) Fail("bench", "cannot write report " + flags.report);
  }
  if (result->requests < flags.requests) Fail("bench", "stopped before every request was sent");
  if (result->errors() > 0) {
    Fail("bench", std::to_string(result->errors()) + " of " + std::to_string(result->requests) +
                      " requests failed (report written)");
  }
}

}  // namespace

void RegisterBenchHttpCommand(CLI::App* bench) {
  auto* cmd = bench->add_subcommand(
      "http",
      "HTTP load on the API: N keep-alive clients, a fixed number of GETs over a mix of targets; "
      "against --http, or the embedded stack once it has processed the file");
  auto flags = std::make_shared<HttpBenchFlags>();
  cmd->add_option("--http", flags->http,
                  "Server to load, HOST:PORT (IP address); empty: start the embedded stack")
      ->capture_default_str();
  cmd->add_option("--clients", flags->clients, "Concurrent keep-alive connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--requests", flags->requests, "Requests in total")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  cmd->add_option("--target", flags->targets,
                  "Request targets, cycled through in order; {sku} becomes the most ordered "
                  "item's sku (asked of the server)")
      ->capture_default_str();
  cmd->add_option("--client-threads", flags->threads, "Threads running the clients")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  cmd->add_option("--timeout-ms", flags->timeout_ms,
                  "Bound on each connect, write and read (a transport error beyond)")
      ->capture_default_str()
      ->check(CLI::Range(1, 600'000));
  cmd->add_option("--csv", flags->csv,
                  "Embedded: input CSV (default: the bundled data/online_retail.csv.gz)");
  cmd->add_option("--events", flags->events, "Embedded: checkouts to replay (-1: the whole file)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 32));
  cmd->add_option("--partitions", flags->partitions, "Embedded: partitions per topic")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--threads", flags->workers, "Embedded: worker consumers")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  cmd->add_option("--prepare-timeout-s", flags->prepare_timeout_s,
                  "Embedded: give up if the file is not processed within this long")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  cmd->add_option("--report", flags->report, "Write the JSON here instead of stdout");
  cmd->callback([flags] {
    spdlog::set_default_logger(spdlog::stderr_color_mt("bench-http"));
    Run(*flags);
  });
}

}  // namespace segstream::app
