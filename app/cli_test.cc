// BindConfigAndEnv on a small command tree: `<command> --config FILE` reads the file's top-level
// keys for that command (CLI11 2.1 alone reads config files for the root app only), with the
// precedence command line > file > env, and a misspelt key fails.
#include "app/cli.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <string>

namespace segstream::app {
namespace {

struct Tree {
  CLI::App root{"test"};
  std::string brokers, serve_http = "127.0.0.1:8080";
  int threads = 1, events = 0;
  std::vector<double> psi = {0.1, 0.25};

  Tree() {
    root.require_subcommand(1);
    CLI::App* worker = root.add_subcommand("worker");
    worker->add_option("--brokers", brokers);
    worker->add_option("--threads", threads)->check(CLI::Range(1, 64));
    worker->add_option("--drift-psi", psi)->expected(2)->delimiter(',');
    CLI::App* serve = root.add_subcommand("serve");
    serve->add_option("--http", serve_http);
    CLI::App* bench = root.add_subcommand("bench");
    bench->add_subcommand("e2e")->add_option("--events", events);
    BindConfigAndEnv(root);
  }
};

std::string WriteFile(const std::string& name, const std::string& text) {
  std::string path = testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(CliConfig, TopLevelKeysGoToTheCommandGiven) {
  Tree t;
  std::string file =
      WriteFile("w.toml", "brokers = \"kafka:9092\"\nthreads = 4\ndrift-psi = [0.2, 0.3]\n");
  t.root.parse("worker --config " + file, false);
  EXPECT_EQ(t.brokers, "kafka:9092");
  EXPECT_EQ(t.threads, 4);
  EXPECT_EQ(t.psi, (std::vector<double>{0.2, 0.3}));
}

TEST(CliConfig, CommandLineBeatsFileBeatsEnv) {
  Tree t;
  std::string file = WriteFile("p.toml", "threads = 4\n");
  ::setenv("SEGSTREAM_THREADS", "7", 1);
  ::setenv("SEGSTREAM_BROKERS", "env:1", 1);
  t.root.parse("worker --config " + file + " --threads 2", false);
  ::unsetenv("SEGSTREAM_THREADS");
  ::unsetenv("SEGSTREAM_BROKERS");
  EXPECT_EQ(t.threads, 2);        // command line over the file's 4 and the env's 7
  EXPECT_EQ(t.brokers, "env:1");  // not in the file: the env var

  Tree u;
  ::setenv("SEGSTREAM_THREADS", "7", 1);
  u.root.parse("worker --config " + file, false);
  ::unsetenv("SEGSTREAM_THREADS");
  EXPECT_EQ(u.threads, 4);  // the file over the env
}

TEST(CliConfig, SectionsNamedAfterCommandsShareOneFile) {
  Tree t;
  std::string file = WriteFile("s.toml",
                               "[worker]\nbrokers = \"a:1\"\nthreads = 3\n"
                               "[serve]\nhttp = \"0.0.0.0:9\"\n");
  t.root.parse("worker --config " + file, false);
  EXPECT_EQ(t.brokers, "a:1");
  EXPECT_EQ(t.threads, 3);
  EXPECT_TRUE(t.root.got_subcommand("worker"));
  EXPECT_FALSE(t.root.got_subcommand("serve"));  // its section is read, the command is not run
}

TEST(CliConfig, NestedCommand) {
  Tree t;
  std::string file = WriteFile("n.toml", "events = 12\n");
  t.root.parse("bench e2e --config " + file, false);
  EXPECT_EQ(t.events, 12);
}

TEST(CliConfig, MisspeltKeyAndBadValueFail) {
  Tree t;
  std::string typo = WriteFile("typo.toml", "thread = 4\n");
  EXPECT_THROW(t.root.parse("worker --config " + typo, false), CLI::ConfigError);
  Tree u;
  std::string range = WriteFile("range.toml", "threads = 100\n");
  EXPECT_THROW(u.root.parse("worker --config " + range, false), CLI::ValidationError);
  Tree v;
  EXPECT_THROW(v.root.parse("worker --config /nonexistent/x.toml", false), CLI::FileError);
}

TEST(CliConfig, EnvNames) {
  Tree t;
  CLI::App* worker = t.root.get_subcommand("worker");
  EXPECT_EQ(worker->get_option("--drift-psi")->get_envname(), "SEGSTREAM_DRIFT_PSI");
  ::setenv("SEGSTREAM_DRIFT_PSI", "0.3,0.6", 1);
  t.root.parse("worker", false);
  ::unsetenv("SEGSTREAM_DRIFT_PSI");
  EXPECT_EQ(t.psi, (std::vector<double>{0.3, 0.6}));
}

}  // namespace
}  // namespace segstream::app
