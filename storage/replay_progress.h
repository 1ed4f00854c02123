// The replay's progress in Redis, so `/v1/status` can say `replay: {done, events}`.
#pragma once

#include "storage/redis_client.h"

namespace segstream::storage {

Status WriteReplayProgress(RedisConnection* redis, int64_t events, int64_t rows_skipped, bool done);

}  // namespace segstream::storage
