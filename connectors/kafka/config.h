#pragma once

// Configuration of the Kafka side of samordna: where the broker is, which topics, and librdkafka
// properties passed through untouched (so TLS, SASL and tuning need no code). Read from a YAML
// config file, then overridden by command-line flags. connectors/kafka/README.md documents it.

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/result.h"

namespace samordna::kafka {

struct Topics {
  std::string events = "samordna.events";  // input: key episodeId, value Event
  std::string notifications =
      "samordna.notifications";                    // output: key episodeId, value Notification
  std::string deadletter = "samordna.deadletter";  // rejected input, original bytes + reason
  std::string changelog = "samordna.changelog";    // compacted: key episodeId, EpisodeState
  // Compacted: key episodeId, the public samordna.v1.EpisodeView (the read side's contract).
  std::string episodes = "samordna.episodes";
};

enum class ClockMode {
  kWall,       // live: now is the wall clock; timers fire within a second of their due time
  kEventTime,  // replay: a partition's clock is the latest event time seen on it (as in simulate)
};

struct KafkaConfig {
  std::string bootstrap = "127.0.0.1:9092";
  Topics topics;
  std::string group_id = "samordna";
  // Stable per instance across restarts: a restarted instance fences its predecessor's open
  // transaction at once. Default: derived from the host name and state directory.
  std::string instance_id;
  // librdkafka properties applied to every client (security.protocol, ssl.*, sasl.*, ...).
  std::map<std::string, std::string> properties;
  // Create missing topics at startup (with `partitions` partitions) instead of failing.
  bool create_topics = true;
  int partitions = 4;
  int replication_factor = 1;
};

// Tests only: where the process stops itself (ServiceConfig::test_stops).
struct TestStop {
  enum class Where {
    kBegun,    // the transaction begun, its first input not yet applied: nothing on the broker
    kCommit,   // in its commit, records produced (librdkafka may still hold them), offsets sent
    kFlushed,  // the same, once librdkafka has delivered the records
  };
  int64_t transaction = 0;  // numbered as `committed transaction N` in the log: 1 is the first
  Where where = Where::kCommit;
};

struct ServiceConfig {
  KafkaConfig kafka;
  std::filesystem::path state_dir = "samordna-state";
  std::filesystem::path rules_dir = "rules/sets";
  ClockMode clock = ClockMode::kWall;
  // Replay mode only: once a partition reaches its end, advance its clock to here.
  std::optional<int64_t> until_unix;
  size_t max_batch = 1000;   // inputs (events, timers fired) per transaction; replay may exceed it
  int max_batch_ms = 100;    // how long a transaction collects inputs
  size_t timer_pass = 1000;  // per round: messages taken, then timers fired per partition
  // Write-behind (pipeline::DriverOptions::write_behind): episodes held in memory between writes
  // of the state store, which is written when more are held, and at least every
  // write_behind_seconds. The changelog is written in every transaction as before; after a crash
  // or an aborted transaction the store is brought level from it. 0: the store is written after
  // every transaction.
  size_t write_behind_episodes = 20000;
  std::chrono::seconds write_behind_seconds{10};
  int transaction_timeout_ms = 30000;
  // A settled or cancelled episode leaves the state and gets a changelog tombstone this long after
  // it was settled (pipeline::DriverOptions::retention); zero keeps it forever.
  std::chrono::seconds retention{std::chrono::hours{24 * 30}};
  // Stop cleanly once every assigned partition is consumed to its end and every timer its clock
  // has passed has fired (a replay or a backfill that ends; `samordna run --exit-at-end`).
  bool exit_at_end = false;
  // Prometheus metrics over HTTP at http://<metrics_address>:<metrics_port>/metrics; 0: none.
  // The metrics carry no personal data (connectors/metrics/README.md), so listening everywhere, as
  // exporters do, is the default.
  int metrics_port = 0;
  std::string metrics_address = "0.0.0.0";
  // Tests only (eos.txn_timeout): a stall (a VM pause, a disk stall) at a chosen moment of a
  // transaction. There the process stops itself with SIGSTOP until a SIGCONT, each entry once.
  // `samordna run` reads them from the environment variable SAMORDNA_TEST_STOPS (parse_test_stops).
  std::vector<TestStop> test_stops;
};

// "1:commit,3:begun,5:flushed": stop in the commit of the first transaction this process commits,
// at the start of the third, and in the commit of the fifth once its records are delivered. An
// error names the entry that is not a positive number, a colon and one of the three places.
Result<std::vector<TestStop>> parse_test_stops(std::string_view text);

// Reads a YAML config file; unknown keys and wrong types are errors with file and line.
Result<ServiceConfig> load_service_config(const std::filesystem::path& file);
// The same for a config file's content; `file` names it in errors and anchors relative paths.
// For tools and the fuzzer (tests/fuzz/).
Result<ServiceConfig> parse_service_config(const std::string& text,
                                           const std::filesystem::path& file);

// A librdkafka configuration with `properties` applied on top of the config's own; an unknown
// property or a bad value is an error naming the property (never its value: it may be a secret).
// Also installs an event callback that sends librdkafka's log lines and errors to spdlog (set
// "event_cb" again to take them over). Callers add per-client properties (group.id, acks, ...).
Result<std::unique_ptr<RdKafka::Conf>> make_conf(
    const KafkaConfig& config, const std::map<std::string, std::string>& properties);

// The default KafkaConfig::instance_id: "<hostname>-<8 hex digits>", the digits a stable hash
// (FNV-1a) of the absolute state directory, so two instances on one host differ and a restart
// keeps its id.
std::string default_instance_id(const std::filesystem::path& state_dir);

// "wall" / "event-time", as in the config file.
const char* clock_mode_name(ClockMode mode);

}  // namespace samordna::kafka
