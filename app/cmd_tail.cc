#include <iostream>

#include "app/cli.h"
#include "app/commands.h"
#include "app/signals.h"
#include "ingest/tail.h"

namespace segstream::app {

void RegisterTailCommand(CLI::App& root) {
  auto* cmd = root.add_subcommand("tail", "Print a segstream topic as JSON lines");
  struct Flags {
    std::string brokers, topic;
    bool from_beginning = false;
    int64_t max = -1;
    int64_t timeout_ms = 5000;
  };
  auto flags = std::make_shared<Flags>();
  cmd->add_option("--brokers", flags->brokers, "Kafka bootstrap servers")->required();
  cmd->add_option("--topic", flags->topic,
                  "checkouts, item-sales, segment-changes, segment-drift or checkouts.dlq")
      ->required();
  cmd->add_flag("--from-beginning", flags->from_beginning, "Print every retained record");
  cmd->add_option("--max", flags->max, "Exit after N records (-1: no limit)")
      ->capture_default_str();
  cmd->add_option("--timeout-ms", flags->timeout_ms, "Exit after this long without a new record")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{86400000}));
  cmd->callback([flags] {
    ingest::TailOptions options;
    options.kafka.brokers = flags->brokers;
    options.topic = flags->topic;
    options.from_beginning = flags->from_beginning;
    options.max_records = flags->max;
    options.idle_timeout = std::chrono::milliseconds(flags->timeout_ms);
    StopOnSignals signals;
    auto printed = ingest::Tail(options, std::cout, signals.flag());
    if (!printed.ok()) Fail("tail", printed.status().message());
  });
}

}  // namespace segstream::app
