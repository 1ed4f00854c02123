#include "storage/replay_progress.h"

#include "storage/keys.h"

namespace segstream::storage {

Status WriteReplayProgress(RedisConnection* redis, int64_t events, int64_t rows_skipped,
                           bool done) {
  auto reply =
      redis->Command({"HSET", ReplayStatusKey(), "events", std::to_string(events), "rows_skipped",
                      std::to_string(rows_skipped), "done", done ? "1" : "0"});
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) return Status::Internal("replay progress: " + reply->str);
  return Status::Ok();
}

}  // namespace segstream::storage
