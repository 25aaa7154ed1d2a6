#pragma once

// Helpers for tests against a real Kafka broker (ctest label `integration`).
//
// The broker comes from the environment: deploy/test.sh starts deploy/kafka/kafka.sh and exports
// SAMORDNA_KAFKA_BOOTSTRAP (e.g. 127.0.0.1:19092). Without it, tests derived from KafkaTest skip
// with a message. By hand:
//
//   export SAMORDNA_KAFKA_BOOTSTRAP=$(deploy/kafka/kafka.sh start)
//   ctest --test-dir build -L integration
//
// Tests share one broker and may run in parallel (ctest -j), so every test works on its own
// topics: unique_topic() / unique_kafka_config() name them after the test and the process id.
// A test that passes deletes its topics; a failing one keeps them for a look with
// `kafka.sh tool ...ConsoleConsumer` (SAMORDNA_KEEP_TOPICS=1 keeps them always).
//
// Typical use (an exactly-once test of `samordna run`):
//
//   class ServiceTest : public kafka_test::KafkaTest {};
//   TEST_F(ServiceTest, SurvivesACrash) {
//     kafka::KafkaConfig config = unique_kafka_config(/*partitions=*/2);  // four topics, created
//     kafka_test::TempDir state;
//     auto file = kafka_test::write_config(state.path() / "samordna.yaml", config,
//                                          state.path() / "db");
//     auto run = kafka_test::Process::start(
//         {kafka_test::samordna_binary(), "run", "--config", file.string()});
//     ASSERT_TRUE(kafka_test::produce_events(bootstrap(), config.topics.events, lines));
//     ...run.signal(SIGKILL); run.wait(10s); start it again...
//     auto records = kafka_test::read_topic(bootstrap(), config.topics.notifications);
//     auto json = kafka_test::notification_json(records.value());   // compare with simulate
//     run.signal(SIGTERM);
//     EXPECT_EQ(run.wait(30s).exit_code, 0) << run.err();
//   }
//
// Everything here is for tests: failures come back as Result or CommandResult values, except in
// KafkaTest's members, which fail the running test themselves.

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/kafka/config.h"
#include "engine/core/result.h"

namespace samordna::kafka_test {

using namespace std::chrono_literals;

// SAMORDNA_KAFKA_BOOTSTRAP, or "" when it is unset.
std::string broker_bootstrap();

// The samordna binary under test (the SAMORDNA_BINARY compile definition: $<TARGET_FILE:samordna>).
std::string samordna_binary();

// --- Records -------------------------------------------------------------------------------------

struct Record {
  std::string topic;
  int32_t partition = -1;          // produce_records: -1 lets the partitioner choose (by key)
  int64_t offset = -1;             // set by read_topic
  std::optional<std::string> key;  // nullopt: a record without key
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;  // in order, repeats allowed

  // The first header called `name`, if any.
  std::optional<std::string> header(std::string_view name) const;
};

struct ReadOptions {
  // Stop once no new record has arrived for this long...
  std::chrono::milliseconds idle = 2s;
  // ...or, when set, as soon as every partition is at its end (the last stable offset under
  // read_committed: an open transaction's records are not there yet) and nothing came for
  // `settle`. Faster than idle when the writer is known to be done.
  bool stop_at_end = false;
  std::chrono::milliseconds settle = 200ms;
  // ...and in any case after this long (the result is then what was read so far).
  std::chrono::milliseconds max_wait = 60s;
  // read_committed (what downstream consumers see) or read_uncommitted (what was written).
  std::string isolation_level = "read_committed";
  // Extra librdkafka properties for the consumer.
  std::map<std::string, std::string> properties;
};

// Every record of `topic`, from the beginning, all partitions, in partition then offset order.
// Reads by assignment (no consumer group, nothing committed), so it never disturbs the group of
// the service under test.
Result<std::vector<Record>> read_topic(const std::string& bootstrap, const std::string& topic,
                                       const ReadOptions& options = {});

// Sends the records (each to its own topic and partition, or by key when partition is -1, with
// the Java-compatible partitioner samordna uses) with an idempotent producer, and waits until
// every one is acknowledged. For raw input the CLI cannot make, e.g. bytes that are no Event.
Result<void> produce_records(const std::string& bootstrap, const std::vector<Record>& records);

// Event JSON lines (the protobuf JSON mapping) sent as binary samordna.v1.Event, key episodeId,
// through produce_records: what `samordna produce` does, without a process. A line that does not
// parse is an error naming its index.
Result<void> produce_events(const std::string& bootstrap, const std::string& topic,
                            const std::vector<std::string>& event_json_lines);

// The records' values decoded as samordna.v1.Notification, as the JSON lines `samordna simulate`
// and `samordna consume` print (default JsonPrintOptions). A value that does not decode is an
// error naming its partition and offset.
Result<std::vector<std::string>> notification_json(const std::vector<Record>& records);

// Each partition's high watermark (the offset the next record will get).
Result<std::map<int32_t, int64_t>> end_offsets(const std::string& bootstrap,
                                               const std::string& topic);

// --- Processes -----------------------------------------------------------------------------------

struct CommandResult {
  int exit_code = -1;      // -1 when killed by a signal
  int signal = 0;          // the signal that ended it, 0 if it exited
  bool timed_out = false;  // the timeout passed and the process was killed (SIGKILL)
  std::string out;         // everything it wrote to stdout
  std::string err;         // ... and to stderr

  // "exit 1" / "signal 9 (timed out)" plus stderr, for assertion messages.
  std::string describe() const;
};

struct ProcessOptions {
  std::string input;                         // fed to stdin (then EOF); empty: /dev/null
  std::map<std::string, std::string> env;    // added to (or replacing in) the inherited env
  std::optional<std::filesystem::path> cwd;  // default: the test's working directory
};

// A child process in its own process group, its stdout and stderr going to files (never a full
// pipe), its stdin from a file. For a service under test: start it, poke it, signal it (SIGTERM
// for a clean stop, SIGKILL for a crash), wait for it. The destructor SIGKILLs and reaps a child
// still running, so a failing test leaves nothing behind.
class Process {
 public:
  static Process start(const std::vector<std::string>& argv, const ProcessOptions& options = {});

  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  pid_t pid() const { return pid_; }
  // False once it has ended (and been reaped by this call or wait()).
  bool running();
  // Sends `sig` to the process group.
  void signal(int sig);
  // Waits for the end; after `timeout` SIGKILLs it (timed_out = true). Output is complete.
  CommandResult wait(std::chrono::milliseconds timeout);
  // What it has written so far.
  std::string out() const;
  std::string err() const;

 private:
  Process() = default;
  void reap(int status);
  void cleanup();

  pid_t pid_ = -1;
  bool ended_ = false;
  int status_ = 0;
  std::filesystem::path dir_;  // holds stdin, stdout and stderr files
};

// Runs argv to the end, or SIGKILLs it after `timeout`. argv[0] is a path (no PATH lookup).
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = 60s,
                          const ProcessOptions& options = {});

// --- Small things --------------------------------------------------------------------------------

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "samordna-it");
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Polls `condition` every `every` until it holds (true) or `timeout` passes (false).
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds every = 100ms);

// Writes `text` to `path` (creating folders); returns the path.
std::filesystem::path write_file(const std::filesystem::path& path, std::string_view text);

// Splits text into its non-empty lines.
std::vector<std::string> lines_of(std::string_view text);

// A samordna config file (connectors/kafka/README.md) with `config`'s kafka section, the state dir
// and the repo's rule sets; `extra` is appended as is (e.g. "clock: event-time\n").
std::filesystem::path write_config(const std::filesystem::path& path,
                                   const kafka::KafkaConfig& config,
                                   const std::filesystem::path& state_dir,
                                   std::string_view extra = {});

// A broker of the test's own (deploy/kafka/kafka.sh with a data dir in a temp dir), which the test
// may kill or pause; killing the shared one would break the other tests. Its port is
// $PORT_VARIABLE, else `default_port` (the controller takes the next one): tests that may run at
// the same time use different defaults, all below Linux's ephemeral range (32768-60999): a port in
// it can be taken by any outgoing connection of a concurrent test, and the broker then fails to
// bind. Stopped when destroyed.
class PrivateBroker {
 public:
  PrivateBroker(std::string source_dir, const char* port_variable, int default_port);
  ~PrivateBroker();
  PrivateBroker(const PrivateBroker&) = delete;
  PrivateBroker& operator=(const PrivateBroker&) = delete;

  std::string bootstrap() const { return "127.0.0.1:" + std::to_string(port_); }
  CommandResult start();
  // kill -9: no goodbye to the clients, no flush. Returns once the process is gone.
  void kill();
  // SIGSTOP / SIGCONT: a broker that accepts connections and answers nothing (a GC pause, a
  // stalled disk), then goes on.
  void pause();
  void resume();

 private:
  CommandResult script(std::vector<std::string> args, std::chrono::milliseconds timeout);
  pid_t pid() const;

  std::string source_dir_;
  TempDir dir_;
  int port_;
  std::map<std::string, std::string> env_;
};

// --- The fixture ---------------------------------------------------------------------------------

class KafkaTest : public ::testing::Test {
 protected:
  // Skips the test when SAMORDNA_KAFKA_BOOTSTRAP is unset.
  void SetUp() override;
  // Deletes the topics this test created, if it passed (and SAMORDNA_KEEP_TOPICS is unset).
  void TearDown() override;

  const std::string& bootstrap() const { return bootstrap_; }

  // "<Suite>.<Test>.<pid>.<suffix>", with what Kafka does not allow in a name replaced by '_'.
  std::string unique_topic(std::string_view suffix) const;

  // Creates a topic (an existing one is left as is) and waits until the metadata shows it; fails
  // the test on error.
  void create_topic(const std::string& name, int partitions, bool compact = false);
  // Grows a topic to `total` partitions (librdkafka's CreatePartitions, as an operator's
  // kafka-topics.sh --alter would) and waits until a fresh client sees them.
  void add_partitions(const std::string& topic, int total);

  // A KafkaConfig on this broker with this test's own topics (events, notifications, deadletter,
  // changelog), group id and instance id. With `create`, the topics are made through
  // kafka::ensure_topics, as `samordna run` would.
  kafka::KafkaConfig unique_kafka_config(int partitions = 2, bool create = true);

 private:
  std::string bootstrap_;
  std::vector<std::string> created_;
};

}  // namespace samordna::kafka_test
