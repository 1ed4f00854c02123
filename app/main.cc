// segstream: one binary, one subcommand per job (DESIGN §6). Wiring only; each command lives in
// app/cmd_<name>.cc.
#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "app/cli.h"
#include "app/commands.h"

namespace {

// Protobuf logs an ERROR for every hostile value it refuses (e.g. invalid UTF-8); those records are
// dead-lettered and counted, so its messages go to debug level instead of flooding stderr.
void ProtobufToSpdlog(google::protobuf::LogLevel level, const char* file, int line,
                      const std::string& message) {
  if (level >= google::protobuf::LOGLEVEL_FATAL) {
    spdlog::critical("protobuf {}:{}: {}", file, line, message);
  } else {
    spdlog::debug("protobuf {}:{}: {}", file, line, message);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace segstream::app;
  google::protobuf::SetLogHandler(&ProtobufToSpdlog);
  CLI::App root{"segstream: real-time retail stream engine (Kafka -> Redis -> HTTP)"};
  root.require_subcommand(1);
  RegisterRunCommand(root);
  RegisterReplayCommand(root);
  RegisterWorkerCommand(root);
  RegisterServeCommand(root);
  RegisterTailCommand(root);
  RegisterVersionCommand(root);
  RegisterBrokerCommand(root);
  RegisterClusterCommand(root);
  RegisterGenerateCommand(root);
  RegisterSketchCommand(root);
  RegisterBenchCommand(root);
  BindConfigAndEnv(root);
  try {
    root.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return root.exit(e);
  } catch (const CommandFailed& e) {
    return e.exit_code;
  }
  return 0;
}
