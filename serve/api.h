// The JSON API of DESIGN §6 over a SnapshotCache: handlers are quick, read one snapshot each and
// never touch Redis.
#pragma once

#include <string>

#include "serve/router.h"
#include "serve/snapshot.h"

namespace segstream::serve {

struct ApiInfo {
  std::string brokers;  // addresses in use, reported by /v1/status
  std::string redis;
};

// Adds /healthz, /readyz, /v1/status, /v1/items/top, /v1/items/{sku},
// /v1/popularity/quantiles and /v1/popularity/top-percent to `router`.
void RegisterApi(Router& router, const SnapshotCache* cache, ApiInfo info);

}  // namespace segstream::serve
