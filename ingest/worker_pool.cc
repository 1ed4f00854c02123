// RunWorkers (worker.h): several consumers of one group in one process, one thread each.
#include <thread>
#include <vector>

#include "ingest/worker.h"

namespace segstream::ingest {

Status RunWorkers(const WorkerOptions& options, int threads, const std::atomic<bool>& stop) {
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < threads; ++i) {
    WorkerOptions mine = options;
    for (int32_t p = i; p < options.static_partitions; p += threads) {
      mine.owned_partitions.push_back(p);
    }
    if (options.static_partitions > 0 && mine.owned_partitions.empty()) continue;
    auto w = Worker::Create(mine);
    if (!w.ok()) return w.status();
    workers.push_back(std::move(*w));
  }
  // One worker failing stops them all, so the process exits with its reason.
  std::atomic<bool> local_stop{false};
  std::vector<Status> results(workers.size());
  std::vector<std::thread> pool;
  for (size_t i = 0; i < workers.size(); ++i) {
    pool.emplace_back([&, i] {
      results[i] = workers[i]->Run(local_stop);
      if (!results[i].ok()) local_stop = true;
    });
  }
  while (!local_stop.load()) {
    if (stop.load()) local_stop = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& t : pool) t.join();
  for (const Status& s : results) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace segstream::ingest
