#include "app/signals.h"

#include <pthread.h>
#include <signal.h>

namespace segstream::app {

namespace {

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);  // internal wake-up used by RequestStop()
  return set;
}

}  // namespace

StopOnSignals::StopOnSignals() {
  sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  waiter_ = std::thread([this, set] {
    int sig = 0;
    sigwait(&set, &sig);
    stop_ = true;
  });
}

void StopOnSignals::RequestStop() {
  stop_ = true;
  pthread_kill(waiter_.native_handle(), SIGUSR1);
}

StopOnSignals::~StopOnSignals() {
  if (!stop_.load()) RequestStop();
  waiter_.join();
}

}  // namespace segstream::app
