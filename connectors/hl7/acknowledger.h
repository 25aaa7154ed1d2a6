#pragma once

// The listener's logic for one framed message, without sockets (connectors/hl7/README.md,
// "The listener"): parse and map it with the sender's settings, make its events durable through a
// DurableStore, and answer with the acknowledgement the rules give:
//
// - a positive ACK (AA/CA) only once the events and the message's memory record are durable;
//   not confirmed within `durable_bound`: AE/CE 207, so the sender resends;
// - a message already taken (same MSH-3, MSH-4, MSH-10 and the same content) gets the ACK it got
//   the first time, byte for byte, and produces nothing; the same key with other content gets
//   AR/CR 205; the same message still in flight (a resend racing its original) gets AE/CE 207;
// - a mapping error (AE/AR) is answered at once and not remembered (nothing was taken);
// - FHS/BHS batches: every message of the batch is handled as above, on its own; the answer is a
//   batch of the ACKs, in order, inside the same envelope (FHS/BHS ... BTS/FTS).
//
// The memory record: key "hl7/" + the first 32 hex digits of SHA-256(MSH-3 | MSH-4 | MSH-10), so
// it holds no value from the message; value "hl7ack1 <SHA-256 of the content, hex>\n<the ACK>".
// The ACK holds positions and table texts, never a value from the message.
//
// Thread-safe: handle() may be called from any thread; `reply` is called exactly once, on the
// store's thread or the caller's.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/hl7/adt_mapping.h"
#include "samordna/v1/event.pb.h"

namespace samordna::hl7 {

// What the acknowledger needs of the durable intake (engine/app adapts kafka::Intake to it, the
// tests a fake): "commit these events and this memory record, unless the key is already there".
class DurableStore {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Status {
    kDurable,       // committed
    kKnown,         // the key was there already (durable or in flight): see `current`
    kNotConfirmed,  // timed out or failed: not confirmed, the sender should resend
  };
  struct Answer {
    Status status = Status::kDurable;
    std::string current;           // kKnown: the value found
    bool current_durable = false;  // kKnown: committed (else still in flight)
  };
  struct Record {
    std::string key, value;
  };
  virtual ~DurableStore() = default;
  // Commits `events` and `memory` (and `more`) in one unit if `memory.key` is absent; calls
  // `done` exactly once, by `deadline` at the latest.
  virtual void submit(std::vector<v1::Event> events, Record memory, std::vector<Record> more,
                      Clock::time_point deadline, std::function<void(Answer)> done) = 0;
  // The key's value, if any, and whether it is committed.
  virtual std::optional<std::pair<std::string, bool>> recall(const std::string& key) const = 0;
};

// The senders' settings: a default for every sender and overrides per (MSH-3.1, MSH-4.1).
struct SenderTable {
  SenderConfig defaults;
  std::map<std::pair<std::string, std::string>, SenderConfig> senders;
  // The settings of the message's sender (MSH-3.1, MSH-4.1, read from the MSH line alone).
  const SenderConfig& for_message(std::string_view bytes) const;
};

struct AcknowledgerOptions {
  // How long a message may wait for its events to be durable before it gets AE/CE 207: well
  // under the 5-10 s senders usually wait for an ACK.
  std::chrono::milliseconds durable_bound{3000};
  // Remember the estimate (PV2-9) last sent per episode, so an A08 repeating it makes no event.
  bool remember_estimates = true;
  // Remember the patient data (name and address, as a SHA-256 digest: no value on the memory
  // topic) last sent per episode, so an A08 repeating it makes no patientDataUpdated.
  bool remember_patient_data = true;
};

struct AcknowledgerStats {
  std::atomic<uint64_t> messages{0}, accepted{0}, errors{0}, rejected{0}, replayed{0},
      duplicates_205{0}, not_confirmed{0}, events{0};
};

class Acknowledger {
 public:
  using Reply = std::function<void(std::string ack)>;  // "" when the sender asked for none

  Acknowledger(DurableStore& store, SenderTable senders, AcknowledgerOptions options = {});

  // Handles one message (the bytes of one MLLP frame) and calls `reply` once with the ACK,
  // segments ended by CR, without MLLP framing.
  void handle(std::string bytes, Reply reply);

  // The AR for a frame the framer refused (too large, cut short): no control id to echo.
  std::string framing_reject(const std::string& why) const;

  const AcknowledgerStats& stats() const { return stats_; }

  // Exposed for tests.
  static std::string memory_key(const Original& o);
  static std::string content_digest(std::string_view bytes);

 private:
  void handle_one(std::string bytes, Reply reply);
  void handle_batch(std::string bytes, Reply reply);
  std::string next_control_id();

  DurableStore& store_;
  SenderTable senders_;
  AcknowledgerOptions options_;
  AcknowledgerStats stats_;
  std::string id_prefix_;
  std::atomic<uint64_t> next_id_{0};
};

}  // namespace samordna::hl7
