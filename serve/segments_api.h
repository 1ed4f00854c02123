// The customer-segment endpoints of DESIGN §6:
//
//   GET /v1/segments               the model and live membership, from the cached snapshot
//   GET /v1/customers/{id}         one customer, read through to Redis (blocking route)
//   GET /v1/export/customers.csv   every segmented customer, streamed per HSCAN page
//
// Shapes are documented in serve/README.md. The two Redis read-throughs run on the HTTP server's
// blocking pool (Router::GetBlocking, BodyStream), never on its I/O threads, with their own small
// pool of Redis connections.
#pragma once

#include <cstddef>
#include <cstdint>

#include "serve/router.h"
#include "serve/snapshot.h"
#include "storage/redis_client.h"
#include "stream/segments.h"

namespace segstream::serve {

struct SegmentsApiOptions {
  // Redis for the per-request reads (customer lookup, export).
  storage::RedisOptions redis;
  // k reported by /v1/segments before the first model exists (the workers' default).
  int default_k = stream::SegmentModelOptions{}.k;
  // HSCAN COUNT hint per export chunk: about this many customers per round trip and chunk.
  // Default 1000 (~80 KB of CSV).
  int64_t scan_count = 1000;
  // Idle Redis connections kept for reuse; more are opened when more requests run at once (at
  // most the server's blocking_threads do). Default 4.
  size_t max_idle_connections = 4;
};

// `cache` must outlive the router and every server using it.
void RegisterSegmentsApi(Router& router, const SnapshotCache* cache, SegmentsApiOptions options);

}  // namespace segstream::serve
