// One Register*Command per `segstream` subcommand (DESIGN §6); each lives in app/cmd_<name>.cc.
#pragma once

#include <CLI/CLI.hpp>

namespace segstream::app {

void RegisterVersionCommand(CLI::App& root);
void RegisterReplayCommand(CLI::App& root);
void RegisterWorkerCommand(CLI::App& root);
void RegisterServeCommand(CLI::App& root);
void RegisterTailCommand(CLI::App& root);
void RegisterRunCommand(CLI::App& root);
void RegisterBrokerCommand(CLI::App& root);
void RegisterClusterCommand(CLI::App& root);
void RegisterGenerateCommand(CLI::App& root);
void RegisterSketchCommand(CLI::App& root);
void RegisterBenchCommand(CLI::App& root);

}  // namespace segstream::app
