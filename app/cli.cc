#include "app/cli.h"

#include <cctype>
#include <cmath>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

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

// CLI11 2.1 reads a config file only for the option made by set_config() on the *root* app
// (App::_process_config_file runs for the main app only), so a --config set on a subcommand is
// parsed and then silently ignored. The root therefore owns the config option; each command's
// --config forwards its file there as it is parsed, and this formatter files the top-level keys
// under the command given, so `segstream worker --config worker.toml` reads `brokers = "..."`.
// Keys in a section named after a command (`[worker]`) keep that section, so one file may hold
// every command's options; the sections of commands not run are read and left unused.
class CommandConfig : public CLI::ConfigTOML {
 public:
  explicit CommandConfig(const CLI::App* root) : root_(root) {}

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    std::vector<CLI::ConfigItem> items = CLI::ConfigTOML::from_config(input);
    std::vector<std::string> path;  // the command given, e.g. {"bench", "e2e"}
    for (const CLI::App* app = root_; !app->get_subcommands().empty();) {
      app = app->get_subcommands().front();
      path.push_back(app->get_name());
    }
    for (CLI::ConfigItem& item : items) {
      bool names_command = !item.parents.empty() && IsCommand(item.parents.front());
      if (!names_command) item.parents.insert(item.parents.begin(), path.begin(), path.end());
    }
    return items;
  }

 private:
  bool IsCommand(const std::string& name) const {
    return !root_->get_subcommands([&](const CLI::App* sub) { return sub->get_name() == name; })
                .empty();
  }

  const CLI::App* root_;
};

void BindCommand(CLI::App* command, CLI::Option* root_config) {
  for (CLI::Option* option : command->get_options()) {
    const auto& names = option->get_lnames();
    if (names.empty() || names.front() == "help") continue;
    option->envname(EnvName(names.front()));
  }
  command
      ->add_option_function<std::string>(
          "--config", [root_config](const std::string& file) { root_config->add_result(file); },
          "Read options from a TOML/INI file (CLI11 config format; command line > file > env)")
      ->trigger_on_parse()
      ->configurable(false);
  for (CLI::App* sub : command->get_subcommands({})) BindCommand(sub, root_config);
}

}  // namespace

void BindConfigAndEnv(CLI::App& root) {
  CLI::Option* root_config = root.set_config("--config", "", "Read options from a TOML/INI file");
  root_config->group("");  // documented on each command, where it is given
  root.config_formatter(std::make_shared<CommandConfig>(&root));
  // A misspelt key fails the command (CLI11's default ignores it, which hides typos).
  root.allow_config_extras(CLI::config_extras_mode::error);
  for (CLI::App* sub : root.get_subcommands({})) BindCommand(sub, root_config);
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
