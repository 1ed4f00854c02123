// One Register*Command per `segstream` subcommand (DESIGN §6); each lives in app/cmd_<name>.cc.
#pragma once

#include <CLI/CLI.hpp>

namespace segstream::app {

void RegisterVersionCommand(CLI::App& root);
void RegisterSketchCommand(CLI::App& root);

}  // namespace segstream::app
