// `segstream broker`: the dev Kafka-protocol broker (DESIGN §6). The first stdout line is
// `bootstrap=127.0.0.1:P`, so scripts and tests can start it with --port 0 and read the port.
#include <librdkafka/rdkafka.h>
#include <signal.h>

#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "app/cli.h"
#include "app/commands.h"
#include "ingest/mock_broker.h"

namespace segstream::app {
namespace {

struct BrokerFlags {
  std::string port = "9092";
  std::string partitions = "6";
  std::string broker_count = "1";
};

// Whole-string decimal in [lo, hi], else a one-line failure naming the flag.
int ParseIntFlag(const std::string& flag, const std::string& text, int lo, int hi) {
  long value = -1;
  size_t used = 0;
  try {
    value = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < lo || value > hi) {
    Fail("broker",
         flag + " wants an integer in " + std::to_string(lo) + ".." + std::to_string(hi) +
             ", got '" + text + "'",
         2);
  }
  return static_cast<int>(value);
}

void RunBroker(const BrokerFlags& flags) {
  ingest::MockBroker::Options options;
  options.port = ParseIntFlag("--port", flags.port, 0, 65535);
  options.partitions = ParseIntFlag("--partitions", flags.partitions, 1, 1024);
  options.broker_count = ParseIntFlag("--broker-count", flags.broker_count, 1, 16);

  // Block the stop signals before any thread starts (librdkafka's, the forwarder's): they inherit
  // the mask, so SIGTERM/SIGINT can only be taken by the sigwait() below, and no work ever runs
  // in a signal handler.
  sigset_t stop_signals, previous;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);

  ingest::MockBroker broker(options);
  if (Status s = broker.Start(); !s.ok()) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    Fail("broker",
         s.message() +
             (s.code() == StatusCode::kUnavailable ? " (--port 0 picks a free port)" : ""));
  }

  std::cout << "bootstrap=" << broker.bootstrap() << std::endl;  // first line, flushed
  std::string topics;
  for (const std::string& t : options.topics) topics += (topics.empty() ? "" : ", ") + t;
  std::cerr << "segstream broker: Kafka-protocol mock cluster (librdkafka "
            << rd_kafka_version_str() << "), " << options.broker_count << " broker(s) at "
            << broker.direct_bootstraps() << "; topics " << topics << " with " << options.partitions
            << " partitions\n"
            << "segstream broker: for demos and tests, not retention: at most 5 MiB of log per "
               "partition (older data is dropped), state lost at exit; SIGTERM or Ctrl-C stops it"
            << std::endl;

  int signal = 0;
  while (sigwait(&stop_signals, &signal) != 0) {
  }
  std::cerr << "segstream broker: got " << strsignal(signal) << ", stopping" << std::endl;
  broker.Stop();
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

}  // namespace

void RegisterBrokerCommand(CLI::App& root) {
  auto flags = std::make_shared<BrokerFlags>();
  auto* cmd = root.add_subcommand(
      "broker",
      "Dev Kafka-protocol broker (librdkafka mock cluster) on 127.0.0.1; prints "
      "bootstrap=127.0.0.1:P first, runs until SIGTERM/SIGINT");
  cmd->add_option("--port", flags->port, "Bootstrap port on 127.0.0.1 (0 = a free one)")
      ->type_name("INT")
      ->capture_default_str();
  cmd->add_option("--partitions", flags->partitions,
                  "Partitions of each pre-created topic (checkouts, item-sales, segment-changes, "
                  "segment-drift, checkouts.dlq)")
      ->type_name("INT")
      ->capture_default_str();
  cmd->add_option("--broker-count", flags->broker_count,
                  "Brokers in the mock cluster (3 for leader-move experiments)")
      ->type_name("INT")
      ->capture_default_str();
  cmd->callback([flags] { RunBroker(*flags); });
}

}  // namespace segstream::app
