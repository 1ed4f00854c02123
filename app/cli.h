// Shared CLI plumbing: every command gets --config FILE and SEGSTREAM_<FLAG> env vars (DESIGN §6),
// and fails with one line on stderr and a non-zero exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "storage/redis_client.h"

namespace segstream::app {

// Thrown by a command that cannot go on; main prints nothing more and exits with `exit_code`.
struct CommandFailed : std::runtime_error {
  CommandFailed(const std::string& reason, int code)
      : std::runtime_error(reason), exit_code(code) {}
  int exit_code;
};

// Prints "segstream <command>: <reason>" on stderr and ends the command with `exit_code`.
[[noreturn]] void Fail(const std::string& command, const std::string& reason, int exit_code = 1);

// Adds --config and an env var name (SEGSTREAM_ + upper-case long flag, dashes as underscores) to
// every option of every subcommand. Call once, after every command is registered.
void BindConfigAndEnv(CLI::App& root);

// Parses "host:port"; fails the command with a clear reason otherwise.
std::pair<std::string, int> ParseHostPort(const std::string& command, const std::string& flag,
                                          const std::string& value);

// --redis HOST:PORT, or --redis-cluster HOST:PORT,... (seed nodes of a Redis Cluster).
struct RedisFlags {
  std::string redis;
  std::string cluster;
  // What /v1/status and logs show: the flag's value as given.
  std::string shown() const { return cluster.empty() ? redis : cluster; }
};
// Adds both flags; `what` says what the command uses Redis for.
void AddRedisFlags(CLI::App* command, RedisFlags* flags, const std::string& what);
// The connection options: fails the command if both flags are given, or neither and `required`;
// nullopt if neither is given and Redis is optional.
std::optional<storage::RedisOptions> ParseRedisFlags(const std::string& command,
                                                     const RedisFlags& flags, bool required);

// Parses a --speed value: "max" is 0 (as fast as possible), else a positive N (N x event time).
double ParseSpeed(const std::string& command, const std::string& text);

}  // namespace segstream::app
