#pragma once

// One mapping of librdkafka's errors to what samordna does about them, for every Kafka client here
// (the publisher, the tools, the exactly-once service). librdkafka reports a failure three ways: an
// RdKafka::ErrorCode from a call or a delivery report, an RdKafka::Error object (transactional
// calls) that carries its own fatal / abortable / retriable flags, and a fatal error on the client
// (ERR__FATAL, then `fatal_error()` gives the underlying one). They all come out as one of three
// classes, and as a samordna Error (engine/core/result.h) whose message names the code and never
// quotes a record (connectors/kafka/README.md, "Errors").

#include <librdkafka/rdkafkacpp.h>

#include <string>
#include <string_view>

#include "engine/core/result.h"

namespace samordna::kafka {

enum class ErrorClass {
  // Transient: the broker or the network will recover; the same call, or librdkafka's own retry
  // of the record, may succeed (timeouts, transport, leader moving, coordinator loading).
  kRetriable,
  // This unit of work failed for good, the client lives on: a transaction must be aborted (and its
  // input rewound), a non-transactional record or batch is reported failed to its caller. Records
  // too large or refused, a message timeout, a purge.
  kAbortable,
  // The client cannot go on: fenced (another instance took this transactional id or group
  // instance id), authentication or authorisation refused, an idempotence guarantee broken, a
  // configuration the broker does not accept. Stop (exit 3 in the CLI); a restart may fence and
  // recover, a person must fix a credential or a setting.
  kFatal,
};

const char* error_class_name(ErrorClass c);  // "retriable", "abortable", "fatal"

// The class of a bare error code (a call's return value, a delivery report, a consumed message).
// Codes this table does not know are kAbortable: fail the unit of work, keep the client.
ErrorClass classify(RdKafka::ErrorCode code);

// The class of an RdKafka::Error from a transactional call: its own flags first (is_fatal,
// txn_requires_abort, is_retriable), then the code.
ErrorClass classify(const RdKafka::Error& error);

// The samordna Error for a failure of `what` ("produce to samordna.events", "commit_transaction"):
// "what: <librdkafka's text> (<class>)". kUnavailable for retriable and abortable, and for fatal
// ones a broker or a restart can cure; kInvalidArgument for configuration and authentication, which
// a person must fix. `detail` replaces librdkafka's generic text when given (e.g. fatal_error()).
Error to_error(std::string_view what, RdKafka::ErrorCode code, std::string_view detail = {});
Error to_error(std::string_view what, const RdKafka::Error& error);

// When `code` is ERR__FATAL, the client's underlying fatal error and its reason (librdkafka keeps
// it on the handle); otherwise `code` and an empty reason.
RdKafka::ErrorCode underlying_error(RdKafka::Handle& client, RdKafka::ErrorCode code,
                                    std::string& reason);

}  // namespace samordna::kafka
