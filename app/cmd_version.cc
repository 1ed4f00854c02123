#include <iostream>

#include "app/commands.h"

namespace segstream::app {

void RegisterVersionCommand(CLI::App& root) {
  auto* cmd = root.add_subcommand("version", "Print the segstream version");
  cmd->callback([] { std::cout << "segstream 0.1.0" << std::endl; });
}

}  // namespace segstream::app
