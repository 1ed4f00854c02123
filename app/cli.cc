#include "app/cli.h"

#include <cctype>
#include <cmath>
#include <iostream>

namespace segstream::app {

void Fail(const std::string& command, const std::string& reason, int exit_code) {
  std::cerr << "segstream " << command << ": " << reason << std::endl;
  throw CommandFailed(reason, exit_code);
}

namespace {

std::string EnvName(const std::string& long_name) {
  std::string env = "SEGSTREAM_";
  for (char c : long_name) {
    env += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return env;
}

void BindCommand(CLI::App* command) {
  command->set_config("--config", "", "Read options from a TOML/INI file (CLI11 config format)");
  for (CLI::Option* option : command->get_options()) {
    const auto& names = option->get_lnames();
    if (names.empty() || names.front() == "help" || names.front() == "config") continue;
    option->envname(EnvName(names.front()));
  }
  for (CLI::App* sub : command->get_subcommands({})) BindCommand(sub);
}

}  // namespace

void BindConfigAndEnv(CLI::App& root) {
  for (CLI::App* sub : root.get_subcommands({})) BindCommand(sub);
}

std::pair<std::string, int> ParseHostPort(const std::string& command, const std::string& flag,
                                          const std::string& value) {
  auto colon = value.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == value.size()) {
    Fail(command, flag + " wants HOST:PORT, got '" + value + "'", 2);
  }
  int port = 0;
  try {
    size_t used = 0;
    port = std::stoi(value.substr(colon + 1), &used);
    if (used != value.size() - colon - 1) port = -1;
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) Fail(command, flag + ": bad port in '" + value + "'", 2);
  return {value.substr(0, colon), port};
}

void AddRedisFlags(CLI::App* command, RedisFlags* flags, const std::string& what) {
  command->add_option("--redis", flags->redis, what + ": a single Redis server HOST:PORT");
  command->add_option("--redis-cluster", flags->cluster,
                      what +
                          ": a Redis Cluster, given by seed nodes HOST:PORT[,HOST:PORT...] "
                          "(instead of --redis)");
}

std::optional<storage::RedisOptions> ParseRedisFlags(const std::string& command,
                                                     const RedisFlags& flags, bool required) {
  if (!flags.redis.empty() && !flags.cluster.empty()) {
    Fail(command, "give --redis or --redis-cluster, not both", 2);
  }
  if (flags.redis.empty() && flags.cluster.empty()) {
    if (required)
      Fail(command, "--redis HOST:PORT or --redis-cluster HOST:PORT,... is required", 2);
    return std::nullopt;
  }
  auto options = flags.cluster.empty() ? storage::ParseRedisAddress(flags.redis)
                                       : storage::ParseRedisClusterSeeds(flags.cluster);
  if (!options.ok()) Fail(command, options.status().message(), 2);
  return *options;
}

double ParseSpeed(const std::string& command, const std::string& text) {
  if (text == "max") return 0;
  try {
    size_t used = 0;
    double v = std::stod(text, &used);
    if (used == text.size() && std::isfinite(v) && v > 0) return v;
  } catch (const std::exception&) {
  }
  Fail(command, "--speed wants 'max' or a positive number (N x event time), got '" + text + "'", 2);
}

}  // namespace segstream::app
