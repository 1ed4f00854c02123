// Redis killed (SIGKILL, as a crash) and restarted on the same port from its AOF (`appendfsync
// always`, DESIGN §5) while two `segstream worker` processes work through 60,000 generated
// checkouts. Workers must back off, reconnect, reload their scripts, find out whether a commit
// whose reply was lost landed, and go on; the exact final counts of every item, the totals and the
// DLQ are checked against expectations computed from the generated lines.
#include <gtest/gtest.h>

#include <iostream>
#include <thread>

#include "tests/fault_support.h"

namespace segstream::tests {
namespace {

constexpr int kCheckouts = 60000;
constexpr auto kMinute = std::chrono::seconds(60);

TEST(RedisFaultTest, KilledAndRestartedFromAof) {
  FaultPipeline pipe({});
  ASSERT_TRUE(pipe.Start().ok());
  CheckoutGenerator generator(21);
  auto records = generator.Stream(kCheckouts, 97);
  const Truth truth = ComputeTruth(records);
  Status produced = pipe.ProduceInput(&records);
  ASSERT_TRUE(produced.ok()) << produced.ToString();
  pipe.StartWorker("w0");
  pipe.StartWorker("w1");

  // Down 2 s (the workers' back-off grows to its 2 s cap), 0.2 s, and restarted at once (the
  // workers may reconnect while Redis still replays its AOF and answers -LOADING).
  for (auto [at, down] : {std::pair{0.15, std::chrono::milliseconds(2000)},
                          std::pair{0.3, std::chrono::milliseconds(200)},
                          std::pair{0.45, std::chrono::milliseconds(0)}}) {
    ASSERT_TRUE(pipe.WaitCommitted(static_cast<int64_t>(kCheckouts * at), kMinute))
        << pipe.WorkerLogs();
    pipe.redis().Kill();
    std::this_thread::sleep_for(down);
    Status restarted = pipe.redis().Restart();
    ASSERT_TRUE(restarted.ok()) << restarted.ToString();
    auto took = pipe.WaitAllPartitionsAdvance(kMinute);
    ASSERT_TRUE(took.ok()) << took.status().ToString() << "\n" << pipe.WorkerLogs();
    std::cout << "[fault] redis killed for " << down.count() << " ms: all " << took->partitions
              << " partitions with work left moving again " << took->took.count()
              << " s after the restart" << std::endl;
  }
  Status drained = pipe.WaitDrained(std::chrono::seconds(120));
  ASSERT_TRUE(drained.ok()) << drained.ToString() << "\n" << pipe.WorkerLogs();
  pipe.ExpectExact(truth, records);
  EXPECT_GT(pipe.CountInLogs("redis unavailable"), 0) << "the outage went unnoticed?";
  pipe.StopWorkers();
}

}  // namespace
}  // namespace segstream::tests
