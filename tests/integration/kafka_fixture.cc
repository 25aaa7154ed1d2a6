#include "tests/integration/kafka_fixture.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "connectors/kafka/admin.h"
#include "connectors/kafka/codec.h"
#include "samordna/v1/event.pb.h"
#include "samordna/v1/notification.pb.h"

extern char** environ;

namespace samordna::kafka_test {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kAdminTimeout = 30s;

kafka::KafkaConfig config_for(const std::string& bootstrap) {
  kafka::KafkaConfig config;
  config.bootstrap = bootstrap;
  return config;
}

std::string read_whole(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::filesystem::path make_temp_dir(std::string_view prefix) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
  }
  return pattern;
}

CommandResult result_of(int status) {
  CommandResult r;
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
  }
  return r;
}

std::string yaml_quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string broker_bootstrap() {
  const char* value = std::getenv("SAMORDNA_KAFKA_BOOTSTRAP");
  return value == nullptr ? std::string() : std::string(value);
}

std::string samordna_binary() { return SAMORDNA_BINARY; }

std::optional<std::string> Record::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

// --- Records -------------------------------------------------------------------------------------

Result<std::vector<Record>> read_topic(const std::string& bootstrap, const std::string& topic,
                                       const ReadOptions& options) {
  const kafka::KafkaConfig config = config_for(bootstrap);
  SAMORDNA_TRY(partitions, kafka::partition_count(config, topic, kAdminTimeout));
  static std::atomic<int> readers{0};
  std::map<std::string, std::string> properties = {
      {"group.id",
       "samordna-it-read-" + std::to_string(getpid()) + "-" + std::to_string(readers++)},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "true"},
      {"isolation.level", options.isolation_level},
  };
  for (const auto& [k, v] : options.properties) properties[k] = v;
  SAMORDNA_TRY(conf, kafka::make_conf(config, properties));
  std::string detail;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), detail));
  if (!consumer) return fail(Errc::kInvalidArgument, "cannot create a consumer: " + detail);

  std::vector<RdKafka::TopicPartition*> assignment;
  for (int p = 0; p < partitions; ++p) {
    assignment.push_back(
        RdKafka::TopicPartition::create(topic, p, RdKafka::Topic::OFFSET_BEGINNING));
  }
  const RdKafka::ErrorCode assigned = consumer->assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);
  if (assigned != RdKafka::ERR_NO_ERROR) {
    return fail(Errc::kUnavailable, "cannot assign " + topic + ": " + RdKafka::err2str(assigned));
  }

  std::vector<Record> records;
  std::set<int32_t> at_end;
  const auto started = SteadyClock::now();
  auto last = started;
  for (;;) {
    const auto now = SteadyClock::now();
    if (now - started >= options.max_wait || now - last >= options.idle) break;
    if (options.stop_at_end && static_cast<int>(at_end.size()) == partitions &&
        now - last >= options.settle) {
      break;
    }
    std::unique_ptr<RdKafka::Message> m(consumer->consume(50));
    switch (m->err()) {
      case RdKafka::ERR__TIMED_OUT:
        continue;
      case RdKafka::ERR__PARTITION_EOF:
        at_end.insert(m->partition());
        continue;
      case RdKafka::ERR_NO_ERROR:
        break;
      default:
        if (m->err() == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART || m->err() == RdKafka::ERR__FATAL) {
          consumer->close();
          return fail(Errc::kUnavailable, "reading " + topic + ": " + m->errstr());
        }
        continue;  // transient; librdkafka retries
    }
    last = SteadyClock::now();
    at_end.erase(m->partition());
    Record r;
    r.topic = m->topic_name();
    r.partition = m->partition();
    r.offset = m->offset();
    if (m->key() != nullptr) r.key = *m->key();
    if (m->payload() != nullptr) r.value.assign(static_cast<const char*>(m->payload()), m->len());
    if (RdKafka::Headers* headers = m->headers()) {
      for (const auto& h : headers->get_all()) {
        r.headers.emplace_back(
            h.key(), h.value() == nullptr
                         ? std::string()
                         : std::string(static_cast<const char*>(h.value()), h.value_size()));
      }
    }
    records.push_back(std::move(r));
  }
  consumer->close();
  std::stable_sort(records.begin(), records.end(), [](const Record& a, const Record& b) {
    return a.partition != b.partition ? a.partition < b.partition : a.offset < b.offset;
  });
  return records;
}

namespace {

class Deliveries final : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() != RdKafka::ERR_NO_ERROR && error.empty()) error = message.errstr();
  }
  std::string error;
};

}  // namespace

Result<void> produce_records(const std::string& bootstrap, const std::vector<Record>& records) {
  SAMORDNA_TRY(conf, kafka::make_conf(config_for(bootstrap), {{"enable.idempotence", "true"},
                                                              {"partitioner", kafka::kPartitioner},
                                                              {"message.timeout.ms", "30000"}}));
  Deliveries deliveries;
  std::string detail;
  if (conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(&deliveries), detail) !=
      RdKafka::Conf::CONF_OK) {
    return fail(Errc::kInvalidArgument, detail);
  }
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), detail));
  if (!producer) return fail(Errc::kInvalidArgument, "cannot create a producer: " + detail);
  for (const Record& r : records) {
    RdKafka::Headers* headers = nullptr;
    if (!r.headers.empty()) {
      headers = RdKafka::Headers::create();
      for (const auto& [k, v] : r.headers) headers->add(k, v);
    }
    for (;;) {
      const RdKafka::ErrorCode err = producer->produce(
          r.topic, r.partition < 0 ? RdKafka::Topic::PARTITION_UA : r.partition,
          RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(r.value.data()), r.value.size(),
          r.key ? r.key->data() : nullptr, r.key ? r.key->size() : 0, 0, headers, nullptr);
      if (err == RdKafka::ERR__QUEUE_FULL) {
        producer->poll(50);
        continue;
      }
      if (err != RdKafka::ERR_NO_ERROR) {
        delete headers;  // not taken over on failure
        return fail(Errc::kUnavailable, "produce to " + r.topic + ": " + RdKafka::err2str(err));
      }
      break;
    }
  }
  while (producer->outq_len() > 0) producer->flush(1000);
  if (!deliveries.error.empty()) return fail(Errc::kUnavailable, "delivery: " + deliveries.error);
  return ok();
}

Result<void> produce_events(const std::string& bootstrap, const std::string& topic,
                            const std::vector<std::string>& event_json_lines) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  std::vector<Record> records;
  for (size_t i = 0; i < event_json_lines.size(); ++i) {
    v1::Event event;
    if (!google::protobuf::util::JsonStringToMessage(event_json_lines[i], &event, options).ok()) {
      return fail(Errc::kInvalidArgument, "event line " + std::to_string(i) + " is no Event");
    }
    Record r;
    r.topic = topic;
    r.key = event.episode_id();
    r.value = event.SerializeAsString();
    records.push_back(std::move(r));
  }
  return produce_records(bootstrap, records);
}

Result<std::vector<std::string>> notification_json(const std::vector<Record>& records) {
  std::vector<std::string> out;
  for (const Record& r : records) {
    v1::Notification n;
    std::string json;
    if (!n.ParseFromString(r.value) ||
        !google::protobuf::util::MessageToJsonString(n, &json, {}).ok()) {
      return fail(Errc::kInvalidArgument, "record " + r.topic + "[" + std::to_string(r.partition) +
                                              "]@" + std::to_string(r.offset) +
                                              " is no Notification");
    }
    out.push_back(std::move(json));
  }
  return out;
}

Result<std::map<int32_t, int64_t>> end_offsets(const std::string& bootstrap,
                                               const std::string& topic) {
  const kafka::KafkaConfig config = config_for(bootstrap);
  SAMORDNA_TRY(partitions, kafka::partition_count(config, topic, kAdminTimeout));
  SAMORDNA_TRY(conf, kafka::make_conf(config, {}));
  std::string detail;
  std::unique_ptr<RdKafka::Producer> client(RdKafka::Producer::create(conf.get(), detail));
  if (!client) return fail(Errc::kInvalidArgument, "cannot create a client: " + detail);
  std::map<int32_t, int64_t> out;
  for (int32_t p = 0; p < partitions; ++p) {
    int64_t low = 0;
    int64_t high = 0;
    const RdKafka::ErrorCode err = client->query_watermark_offsets(
        topic, p, &low, &high, static_cast<int>(kAdminTimeout.count()));
    if (err != RdKafka::ERR_NO_ERROR) {
      return fail(Errc::kUnavailable, "watermarks of " + topic + "[" + std::to_string(p) +
                                          "]: " + RdKafka::err2str(err));
    }
    out[p] = high;
  }
  return out;
}

// --- Processes -----------------------------------------------------------------------------------

std::string CommandResult::describe() const {
  std::string what = signal != 0
                         ? "signal " + std::to_string(signal) + (timed_out ? " (timed out)" : "")
                         : "exit " + std::to_string(exit_code);
  return what + "; stderr:\n" + err;
}

Process Process::start(const std::vector<std::string>& argv, const ProcessOptions& options) {
  if (argv.empty()) throw std::invalid_argument("Process::start: empty argv");
  Process p;
  p.dir_ = make_temp_dir("samordna-proc");
  write_file(p.dir_ / "stdin", options.input);
  const std::string in = (p.dir_ / "stdin").string();
  const std::string out = (p.dir_ / "stdout").string();
  const std::string err = (p.dir_ / "stderr").string();

  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const std::string name = entry.substr(0, entry.find('='));
    if (options.env.count(name) == 0) env_strings.push_back(entry);
  }
  for (const auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string cwd = options.cwd ? options.cwd->string() : std::string();

  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    setpgid(0, 0);
    const int fd_in = open(in.c_str(), O_RDONLY);
    const int fd_out = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int fd_err = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd_in < 0 || fd_out < 0 || fd_err < 0) _exit(126);
    dup2(fd_in, 0);
    dup2(fd_out, 1);
    dup2(fd_err, 2);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
    execve(args[0], args.data(), envp.data());
    static const char kMessage[] = "Process::start: execve failed\n";
    (void)!write(2, kMessage, sizeof kMessage - 1);
    _exit(127);
  }
  setpgid(pid, pid);  // also here, so signal() works even before the child ran
  p.pid_ = pid;
  return p;
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      ended_(other.ended_),
      status_(other.status_),
      dir_(std::move(other.dir_)) {
  other.dir_.clear();
}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    cleanup();
    pid_ = std::exchange(other.pid_, -1);
    ended_ = other.ended_;
    status_ = other.status_;
    dir_ = std::move(other.dir_);
    other.dir_.clear();
  }
  return *this;
}

Process::~Process() { cleanup(); }

void Process::cleanup() {
  if (pid_ > 0 && !ended_) {
    kill(-pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    reap(status);
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
}

void Process::reap(int status) {
  ended_ = true;
  status_ = status;
}

bool Process::running() {
  if (pid_ <= 0 || ended_) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    reap(status);
    return false;
  }
  return true;
}

void Process::signal(int sig) {
  if (pid_ > 0 && !ended_) kill(-pid_, sig);
}

CommandResult Process::wait(milliseconds timeout) {
  bool timed_out = false;
  const auto deadline = SteadyClock::now() + timeout;
  while (running()) {
    if (SteadyClock::now() >= deadline) {
      timed_out = true;
      kill(-pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
      reap(status);
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  CommandResult r = ended_ ? result_of(status_) : CommandResult{};
  r.timed_out = timed_out;
  r.out = out();
  r.err = err();
  return r;
}

std::string Process::out() const { return dir_.empty() ? "" : read_whole(dir_ / "stdout"); }
std::string Process::err() const { return dir_.empty() ? "" : read_whole(dir_ / "stderr"); }

CommandResult run_command(const std::vector<std::string>& argv, milliseconds timeout,
                          const ProcessOptions& options) {
  Process p = Process::start(argv, options);
  return p.wait(timeout);
}

// --- Small things --------------------------------------------------------------------------------

TempDir::TempDir(std::string_view prefix) : path_(make_temp_dir(prefix)) {}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool wait_until(const std::function<bool()>& condition, milliseconds timeout, milliseconds every) {
  const auto deadline = SteadyClock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (SteadyClock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

std::filesystem::path write_file(const std::filesystem::path& path, std::string_view text) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::filesystem::path write_config(const std::filesystem::path& path,
                                   const kafka::KafkaConfig& config,
                                   const std::filesystem::path& state_dir, std::string_view extra) {
  std::ostringstream y;
  y << "kafka:\n"
    << "  bootstrap: " << yaml_quoted(config.bootstrap) << "\n"
    << "  groupId: " << yaml_quoted(config.group_id) << "\n";
  if (!config.instance_id.empty()) y << "  instanceId: " << yaml_quoted(config.instance_id) << "\n";
  y << "  createTopics: " << (config.create_topics ? "true" : "false") << "\n"
    << "  partitions: " << config.partitions << "\n"
    << "  replicationFactor: " << config.replication_factor << "\n"
    << "  topics:\n"
    << "    events: " << yaml_quoted(config.topics.events) << "\n"
    << "    notifications: " << yaml_quoted(config.topics.notifications) << "\n"
    << "    deadletter: " << yaml_quoted(config.topics.deadletter) << "\n"
    << "    changelog: " << yaml_quoted(config.topics.changelog) << "\n"
    << "    episodes: " << yaml_quoted(config.topics.episodes) << "\n";
  if (!config.properties.empty()) {
    y << "  properties:\n";
    for (const auto& [k, v] : config.properties) y << "    " << k << ": " << yaml_quoted(v) << "\n";
  }
  y << "stateDir: " << yaml_quoted(std::filesystem::absolute(state_dir).string()) << "\n"
    << "rulesDir: " << yaml_quoted(std::string(SAMORDNA_SOURCE_DIR) + "/rules/sets") << "\n"
    << extra;
  return write_file(path, y.str());
}

// --- The fixture ---------------------------------------------------------------------------------

void KafkaTest::SetUp() {
  bootstrap_ = broker_bootstrap();
  if (bootstrap_.empty()) {
    GTEST_SKIP() << "SAMORDNA_KAFKA_BOOTSTRAP is not set; start a broker with "
                    "`export SAMORDNA_KAFKA_BOOTSTRAP=$(deploy/kafka/kafka.sh start)`";
  }
}

void KafkaTest::TearDown() {
  if (bootstrap_.empty() || created_.empty() || HasFailure() ||
      std::getenv("SAMORDNA_KEEP_TOPICS") != nullptr) {
    return;
  }
  if (auto deleted = kafka::delete_topics(config_for(bootstrap_), created_, kAdminTimeout);
      !deleted) {
    std::cerr << "KafkaTest: could not delete this test's topics: " << deleted.error().message
              << '\n';
  }
}

std::string KafkaTest::unique_topic(std::string_view suffix) const {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "." + info->name() + "." +
                     std::to_string(getpid()) + "." + std::string(suffix);
  for (char& c : name) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!allowed) c = '_';
  }
  if (name.size() > 249) name = name.substr(name.size() - 249);
  return name;
}

void KafkaTest::create_topic(const std::string& name, int partitions, bool compact) {
  auto created =
      kafka::create_topics(config_for(bootstrap_), {{name, partitions, compact}}, kAdminTimeout);
  ASSERT_TRUE(created) << created.error().message;
  created_.push_back(name);
  // The broker answers CreateTopics before every metadata cache knows the topic: wait until a
  // fresh client sees it, so the test's next step does.
  ASSERT_TRUE(wait_until(
      [&] { return bool(kafka::partition_count(config_for(bootstrap_), name, kAdminTimeout)); },
      kAdminTimeout))
      << "topic " << name << " did not show in the metadata";
}

void KafkaTest::add_partitions(const std::string& topic, int total) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  ASSERT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap_.c_str(), err, sizeof err),
            RD_KAFKA_CONF_OK)
      << err;
  std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)> rk(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err), &rd_kafka_destroy);
  ASSERT_TRUE(rk) << err;
  rd_kafka_NewPartitions_t* grow =
      rd_kafka_NewPartitions_new(topic.c_str(), static_cast<size_t>(total), err, sizeof err);
  ASSERT_NE(grow, nullptr) << err;
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk.get());
  rd_kafka_CreatePartitions(rk.get(), &grow, 1, nullptr, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, static_cast<int>(kAdminTimeout.count()));
  std::string failure = event == nullptr ? "no answer" : "";
  if (event != nullptr) {
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(event), &n);
    if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      failure = rd_kafka_event_error_string(event);
    } else if (n != 1 || rd_kafka_topic_result_error(results[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      failure = n == 1 ? rd_kafka_err2str(rd_kafka_topic_result_error(results[0])) : "no result";
    }
    rd_kafka_event_destroy(event);
  }
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewPartitions_destroy(grow);
  ASSERT_EQ(failure, "") << "add partitions to " << topic;
  ASSERT_TRUE(wait_until(
      [&] {
        auto count = kafka::partition_count(config_for(bootstrap_), topic, kAdminTimeout);
        return count && count.value() == total;
      },
      kAdminTimeout))
      << topic << " did not show " << total << " partitions";
}

kafka::KafkaConfig KafkaTest::unique_kafka_config(int partitions, bool create) {
  kafka::KafkaConfig config = config_for(bootstrap_);
  config.topics.events = unique_topic("events");
  config.topics.notifications = unique_topic("notifications");
  config.topics.deadletter = unique_topic("deadletter");
  config.topics.changelog = unique_topic("changelog");
  config.topics.episodes = unique_topic("episodes");
  config.group_id = unique_topic("group");
  config.instance_id = unique_topic("instance");
  config.partitions = partitions;
  if (create) {
    if (auto ensured = kafka::ensure_topics(config, kAdminTimeout); !ensured) {
      ADD_FAILURE() << "ensure_topics: " << ensured.error().message;
    }
    for (const auto* t :
         {&config.topics.events, &config.topics.notifications, &config.topics.deadletter,
          &config.topics.changelog, &config.topics.episodes}) {
      created_.push_back(*t);
    }
  }
  return config;
}

// --- PrivateBroker -------------------------------------------------------------------------------

PrivateBroker::PrivateBroker(std::string source_dir, const char* port_variable, int default_port)
    : source_dir_(std::move(source_dir)), dir_("samordna-private-broker") {
  const char* port = std::getenv(port_variable);
  port_ = port != nullptr ? std::atoi(port) : default_port;
  env_ = {{"KAFKA_DATA_DIR", (dir_.path() / "kafka").string()},
          {"KAFKA_PORT", std::to_string(port_)},
          {"KAFKA_CONTROLLER_PORT", std::to_string(port_ + 1)}};
}

PrivateBroker::~PrivateBroker() {
  resume();  // a paused broker cannot be stopped
  (void)script({"stop"}, 60s);
}

CommandResult PrivateBroker::start() { return script({"start"}, 180s); }

void PrivateBroker::kill() {
  const pid_t p = pid();
  ASSERT_GT(p, 0);
  ASSERT_EQ(::kill(p, SIGKILL), 0);
  wait_until([p] { return ::kill(p, 0) != 0; }, 30s);
}

void PrivateBroker::pause() {
  const pid_t p = pid();
  ASSERT_GT(p, 0);
  ASSERT_EQ(::kill(p, SIGSTOP), 0);
}

void PrivateBroker::resume() {
  if (const pid_t p = pid(); p > 0) (void)::kill(p, SIGCONT);
}

CommandResult PrivateBroker::script(std::vector<std::string> args,
                                    std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {"/bin/bash", source_dir_ + "/deploy/kafka/kafka.sh"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions options;
  options.env = env_;
  return run_command(argv, timeout, options);
}

pid_t PrivateBroker::pid() const {
  std::ifstream pid_file(dir_.path() / "kafka" / "kafka.pid");
  pid_t p = 0;
  pid_file >> p;
  return p;
}

}  // namespace samordna::kafka_test
