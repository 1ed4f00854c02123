#include "ingest/failpoints.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <string_view>

namespace segstream::ingest::failpoints {
namespace {

std::atomic<bool> stop_before_commit_armed{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

void ArmStopBeforeCommit(int) { stop_before_commit_armed.store(true); }

}  // namespace

void InstallFromEnvironment() {
  const char* names = std::getenv("SEGSTREAM_FAILPOINTS");
  if (names == nullptr ||
      std::string_view(names).find("stop-before-commit") == std::string_view::npos) {
    return;
  }
  struct sigaction action = {};
  action.sa_handler = ArmStopBeforeCommit;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGUSR2, &action, nullptr);
  spdlog::warn("failpoint stop-before-commit installed: SIGUSR2 arms it (testing only)");
}

void MaybeStopBeforeCommit() {
  if (!stop_before_commit_armed.exchange(false)) return;
  spdlog::warn("failpoint stop-before-commit: stopping the process before a commit");
  std::raise(SIGSTOP);
}

}  // namespace segstream::ingest::failpoints
