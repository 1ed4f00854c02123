// `segstream bench http` (issue 8): a bounded HTTP load on the API — N keep-alive clients issue a
// fixed total of GETs cycling through a list of targets, each timed from its write (or, on a fresh
// connection, its connect) to the last byte of the response. Clients are asynchronous Beast
// connections on a few threads, so 32 clients need no 32 threads on a 2-core machine.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "app/latency_stats.h"
#include "stream/status.h"

namespace segstream::app {

struct HttpLoadOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  // Request targets (path and query, already percent-encoded); request i goes to
  // targets[i % size]. Must not be empty.
  std::vector<std::string> targets;
  int clients = 32;          // concurrent keep-alive connections; default 32
  int64_t requests = 20000;  // in total over every client; default 20,000
  int threads = 2;           // threads running the clients' I/O loop; default 2
  // Bound on each connect, write and read; a request exceeding it is a transport error and its
  // connection is opened anew. Default 10 s.
  std::chrono::milliseconds timeout{10'000};
  // Called (on an I/O thread, serialized) with each answered request's index, status and body;
  // none by default (bodies are then discarded).
  std::function<void(int64_t index, int status, std::string_view body)> on_response;
};

struct HttpTargetFigures {
  std::string target;
  int64_t requests = 0;
  int64_t errors = 0;  // non-2xx or transport
  double p50_ms = 0, p99_ms = 0;
};

struct HttpLoadFigures : LatencyStats {  // of the answered requests
  int64_t requests = 0;                  // issued (== options.requests unless stopped)
  int64_t answered = 0;                  // a complete response, whatever its status
  int64_t non_2xx = 0;                   // answered with a status outside 200..299
  int64_t transport_errors = 0;          // connect/write/read failed or timed out: no response
  int64_t connections = 0;               // opened, first ones included (keep-alive: == clients)
  std::map<int, int64_t> status_counts;
  double seconds = 0;  // first request issued -> last response
  std::vector<HttpTargetFigures> per_target;
  int64_t errors() const { return non_2xx + transport_errors; }
  double requests_per_second() const {
    return seconds > 0 ? static_cast<double>(answered) / seconds : 0;
  }
};

// Runs the load to completion (or until `stop`); an error only for bad options.
Result<HttpLoadFigures> RunHttpLoad(const HttpLoadOptions& options, const std::atomic<bool>& stop);

// Percent-encodes a path segment (RFC 3986 unreserved characters stay as they are).
std::string EncodePathSegment(std::string_view segment);

// Adds `bench http` under `bench`.
void RegisterBenchHttpCommand(CLI::App* bench);

}  // namespace segstream::app
