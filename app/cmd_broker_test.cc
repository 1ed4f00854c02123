// Runs the real `segstream broker` binary: first stdout line, topics over the Kafka protocol,
// clean exit on SIGTERM, one-line errors on bad flags.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

extern char** environ;

namespace segstream::app {
namespace {

struct Child {
  pid_t pid = -1;
  int out = -1;  // read ends
  int err = -1;
};

Child Spawn(std::vector<std::string> args) {
  args.insert(args.begin(), SEGSTREAM_BIN);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2], err[2];
  EXPECT_EQ(::pipe(out), 0);
  EXPECT_EQ(::pipe(err), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  posix_spawn_file_actions_addclose(&actions, err[0]);
  Child child;
  EXPECT_EQ(posix_spawn(&child.pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(err[1]);
  child.out = out[0];
  child.err = err[0];
  return child;
}

std::string ReadLine(int fd) {
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

std::string ReadAll(int fd) {
  std::string all;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) all.append(buf, static_cast<size_t>(n));
  return all;
}

int Wait(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(CmdBrokerTest, PrintsBootstrapServesTopicsAndStopsOnSigterm) {
  Child child = Spawn({"broker", "--port", "0", "--partitions", "2"});
  const std::string first = ReadLine(child.out);
  ASSERT_EQ(first.rfind("bootstrap=127.0.0.1:", 0), 0u) << first;
  const std::string bootstrap = first.substr(std::string("bootstrap=").size());

  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, err);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  ASSERT_TRUE(producer) << err;
  RdKafka::Metadata* raw = nullptr;
  ASSERT_EQ(producer->metadata(true, nullptr, &raw, 10000), RdKafka::ERR_NO_ERROR);
  std::unique_ptr<RdKafka::Metadata> md(raw);
  std::map<std::string, size_t> partitions;
  for (const auto* t : *md->topics()) partitions[t->topic()] = t->partitions()->size();
  for (const char* topic :
       {"checkouts", "item-sales", "segment-changes", "segment-drift", "checkouts.dlq"}) {
    EXPECT_EQ(partitions[topic], 2u) << topic;
  }
  producer.reset();

  ASSERT_EQ(::kill(child.pid, SIGTERM), 0);
  EXPECT_EQ(Wait(child.pid), 0);
  EXPECT_EQ(ReadAll(child.out), "");  // nothing but the bootstrap line on stdout
  ::close(child.out);
  ::close(child.err);
}

TEST(CmdBrokerTest, BadFlagsFailWithOneLine) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"broker", "--port", "70000"},
                                                                {"broker", "--port", "x1"},
                                                                {"broker", "--partitions", "0"}}) {
    Child child = Spawn(args);
    const std::string out = ReadAll(child.out);
    const std::string err = ReadAll(child.err);
    EXPECT_NE(Wait(child.pid), 0) << args[2];
    EXPECT_EQ(out, "");
    ASSERT_FALSE(err.empty());
    EXPECT_EQ(err.find('\n'), err.size() - 1) << err;  // exactly one line
    EXPECT_NE(err.find(args[1]), std::string::npos) << err;
    ::close(child.out);
    ::close(child.err);
  }
}

}  // namespace
}  // namespace segstream::app
