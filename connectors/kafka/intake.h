#pragma once

// Intake: the durable, exactly-once front door of every listener (HL7 v2 over MLLP, FHIR, HTTP).
//
// A listener hands over "the events of one inbound message + one memory record (key, value)" and
// is told, within a bound it sets, whether all of it is durable. The events go to the events topic
// and the memory record to a compacted memory topic (default `samordna.intake.memory`) in ONE Kafka
// transaction, so after any crash the memory says exactly which messages made their events: a
// sender's resend is recognised by its memory key and produces nothing, and every message is on
// the events topic exactly once (connectors/kafka/README.md, "The intake").
//
// Group commit: submissions from many connections and threads are queued, and one committer thread
// puts everything queued (up to `max_batch`, waiting at most `linger` for more) into one
// transaction. While a transaction commits, the next one fills.
//
// Memory. At open() the intake fences its predecessor (transactional.id
// "samordna-intake-<instance>": a restarted instance aborts what the killed one left open) and then
// reads the memory topic from the start with read_committed, so a restart, or a second machine,
// remembers what was committed and nothing else. The memory is bounded: the topic has
// cleanup.policy=compact,delete with retention.ms = `memory_retention` (one record per key, none
// older than the retention once the broker cleans a segment), and the intake forgets entries older
// than the retention in memory too. A sender that resends a message later than that gets it
// processed again; the engine still drops a repeated event by (source, eventId).
//
// What the memory holds is the caller's business (the HL7 listener: a content digest and the ACK
// it gave; FHIR: the last state of an encounter). Keys and values must not hold patient data: the
// topic has a different retention and audience than the events. A `Precondition` makes a submit
// conditional on the key's latest value (compare-and-set), which is how a listener refuses a
// second copy of a message that is still in flight.
//
// Threads: submit(), recall() and close() may be called from any thread. Callbacks run on the
// intake's own threads (committer or deadline watcher), exactly once per submit, and must be quick
// and must not call back into the intake synchronously in a way that waits (post to your own
// executor).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/kafka/client.h"
#include "connectors/kafka/config.h"
#include "engine/core/result.h"
#include "samordna/v1/event.pb.h"

namespace samordna::kafka {

struct IntakeOptions {
  // Names this listener instance; stable across restarts (transactional.id
  // "samordna-intake-<instance>"). Two live processes with the same instance fence each other.
  std::string instance = "default";
  std::string memory_topic = "samordna.intake.memory";
  int memory_partitions = 1;
  // How long a memory record is kept (topic retention.ms and the in-process map).
  std::chrono::milliseconds memory_retention{std::chrono::hours(24 * 7)};
  // Submissions per transaction, and how long a transaction waits for more after the first.
  size_t max_batch = 500;
  std::chrono::milliseconds linger{5};
  int transaction_timeout_ms = 10000;
  // Bound on open(): reaching the broker, creating topics, fencing, reading the memory.
  std::chrono::milliseconds open_timeout{30000};
  // librdkafka properties for the intake's clients, on top of KafkaConfig's.
  Properties extra;
};

// The memory record a submission writes. `value` empty is allowed (a marker).
struct IntakeRecord {
  std::string key;
  std::string value;
};

// A condition on the key's latest value (durable or still in an open transaction), checked
// atomically with the submit.
struct Precondition {
  enum class Kind { kNone, kAbsent, kEquals };
  Kind kind = Kind::kNone;
  std::string value;  // kEquals
  static Precondition none() { return {}; }
  static Precondition absent() { return {Kind::kAbsent, {}}; }
  static Precondition equals(std::string v) { return {Kind::kEquals, std::move(v)}; }
};

// One inbound message's worth: its events, its memory record (the one the precondition is about)
// and, optionally, more memory records (e.g. per-episode state the listener keeps), all committed
// in one transaction or not at all.
struct Submission {
  std::vector<v1::Event> events;  // to config.topics.events, key episodeId, binary protobuf
  IntakeRecord memory;
  Precondition when;
  std::vector<IntakeRecord> more;
};

// What the key's memory holds.
struct Recalled {
  std::string value;
  // False while the record is in a transaction not yet committed (it may still be aborted).
  bool durable = false;
};

struct IntakeOutcome {
  enum class Status {
    kDurable,   // the events and the memory record are committed
    kConflict,  // the precondition failed; nothing was written; `current` is the key's value
    kTimedOut,  // not committed within the bound; it may still commit (then the memory has it)
    kFailed,    // not written (transaction aborted, intake closed or fatal); resending may help
  };
  Status status = Status::kDurable;
  std::optional<Recalled> current;  // kConflict: the value found (nullopt: the key was absent)
  std::optional<Error> error;       // kTimedOut / kFailed: why
};

const char* intake_status_name(IntakeOutcome::Status s);  // "durable", "conflict", ...

struct IntakeStats {
  uint64_t submitted = 0;
  uint64_t durable = 0;
  uint64_t conflicts = 0;
  uint64_t timed_out = 0;
  uint64_t failed = 0;
  uint64_t transactions = 0;  // committed
  uint64_t aborted = 0;
  size_t memory_entries = 0;
  uint64_t memory_loaded = 0;  // records read from the memory topic at open()
};

class Intake {
 public:
  using Clock = std::chrono::steady_clock;
  using Callback = std::function<void(IntakeOutcome)>;

  // Creates the events and memory topics when `config.create_topics` (else they must exist),
  // fences this instance's predecessor, reads the memory. Errors: kUnavailable when the broker
  // does not answer within options.open_timeout, kInvalidArgument for a bad property.
  static Result<std::unique_ptr<Intake>> open(const KafkaConfig& config, IntakeOptions options);

  // Answers every submission still open with kFailed ("intake closed"). Call close() first.
  ~Intake();
  Intake(const Intake&) = delete;
  Intake& operator=(const Intake&) = delete;

  // Queues the submission for the next transaction if `s.when` holds for s.memory.key, and calls
  // `done` exactly once: kDurable once committed, kConflict at once, kTimedOut at `deadline`,
  // kFailed when the transaction was aborted or the intake is closed or fenced. Never blocks.
  void submit(Submission s, Clock::time_point deadline, Callback done);

  // The key's latest value: committed (durable) or in a transaction not yet committed.
  std::optional<Recalled> recall(const std::string& key) const;

  // Stops taking submissions (they are answered kFailed), commits what is queued and waits up to
  // `bound` for it. Idempotent.
  void close(std::chrono::milliseconds bound);

  // Set once the producer cannot go on (fenced by another process with the same instance,
  // authorisation): every submission fails from then on; the process should exit.
  std::optional<Error> fatal() const;

  IntakeStats stats() const;

  struct Impl;

 private:
  explicit Intake(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace samordna::kafka
