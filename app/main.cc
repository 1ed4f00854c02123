// segstream: one binary, one subcommand per job (DESIGN §6). Wiring only; each command lives in
// app/cmd_<name>.cc.
#include <CLI/CLI.hpp>

#include "app/cli.h"
#include "app/commands.h"

int main(int argc, char** argv) {
  using namespace segstream::app;
  CLI::App root{"segstream: real-time retail stream engine (Kafka -> Redis -> HTTP)"};
  root.require_subcommand(1);
  RegisterVersionCommand(root);
  RegisterSketchCommand(root);
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
