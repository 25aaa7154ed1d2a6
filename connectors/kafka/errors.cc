#include "connectors/kafka/errors.h"

#include <string>

namespace samordna::kafka {

const char* error_class_name(ErrorClass c) {
  switch (c) {
    case ErrorClass::kRetriable:
      return "retriable";
    case ErrorClass::kAbortable:
      return "abortable";
    case ErrorClass::kFatal:
      return "fatal";
  }
  return "fatal";
}

ErrorClass classify(RdKafka::ErrorCode code) {
  switch (code) {
    // The network or the cluster is (for now) not there; librdkafka reconnects and retries.
    case RdKafka::ERR__TRANSPORT:
    case RdKafka::ERR__ALL_BROKERS_DOWN:
    case RdKafka::ERR__RESOLVE:
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__TIMED_OUT_QUEUE:
    case RdKafka::ERR__QUEUE_FULL:
    case RdKafka::ERR__RETRY:
    case RdKafka::ERR__WAIT_COORD:
    case RdKafka::ERR__IN_PROGRESS:
    case RdKafka::ERR__PREV_IN_PROGRESS:
    case RdKafka::ERR__ISR_INSUFF:
    case RdKafka::ERR__NODE_UPDATE:
    case RdKafka::ERR__UNKNOWN_PARTITION:  // metadata not there yet
    case RdKafka::ERR_LEADER_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_LEADER_FOR_PARTITION:
    case RdKafka::ERR_REQUEST_TIMED_OUT:
    case RdKafka::ERR_BROKER_NOT_AVAILABLE:
    case RdKafka::ERR_REPLICA_NOT_AVAILABLE:
    case RdKafka::ERR_NETWORK_EXCEPTION:
    case RdKafka::ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RdKafka::ERR_COORDINATOR_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_COORDINATOR:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RdKafka::ERR_REBALANCE_IN_PROGRESS:
    case RdKafka::ERR_CONCURRENT_TRANSACTIONS:
    case RdKafka::ERR_KAFKA_STORAGE_ERROR:
    case RdKafka::ERR_OFFSET_NOT_AVAILABLE:
    case RdKafka::ERR_UNSTABLE_OFFSET_COMMIT:
      return ErrorClass::kRetriable;

    // The client is done for: fenced, refused, or its guarantees broken.
    case RdKafka::ERR__FATAL:
    case RdKafka::ERR__FENCED:
    case RdKafka::ERR__AUTHENTICATION:
    case RdKafka::ERR__SSL:
    case RdKafka::ERR__INVALID_ARG:
    case RdKafka::ERR__NOT_CONFIGURED:
    case RdKafka::ERR__GAPLESS_GUARANTEE:
    case RdKafka::ERR__INCONSISTENT:
    case RdKafka::ERR__DESTROY:
    case RdKafka::ERR_PRODUCER_FENCED:
    case RdKafka::ERR_INVALID_PRODUCER_EPOCH:
    case RdKafka::ERR_TRANSACTION_COORDINATOR_FENCED:
    case RdKafka::ERR_FENCED_INSTANCE_ID:
    case RdKafka::ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR_GROUP_AUTHORIZATION_FAILED:
    case RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RdKafka::ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RdKafka::ERR_SASL_AUTHENTICATION_FAILED:
    case RdKafka::ERR_UNSUPPORTED_SASL_MECHANISM:
    case RdKafka::ERR_ILLEGAL_SASL_STATE:
    case RdKafka::ERR_SECURITY_DISABLED:
    case RdKafka::ERR_UNSUPPORTED_VERSION:
    case RdKafka::ERR_INVALID_REQUIRED_ACKS:
    case RdKafka::ERR_INVALID_TRANSACTION_TIMEOUT:
      return ErrorClass::kFatal;

    default:
      // Everything else fails the record, batch or transaction at hand: a message timeout
      // (ERR__MSG_TIMED_OUT), too large, invalid, purged, an unknown topic after its wait, a
      // transaction the broker no longer knows (ERR_INVALID_TXN_STATE, ERR_UNKNOWN_PRODUCER_ID).
      return ErrorClass::kAbortable;
  }
}

ErrorClass classify(const RdKafka::Error& error) {
  if (error.is_fatal()) return ErrorClass::kFatal;
  if (error.txn_requires_abort()) return ErrorClass::kAbortable;
  if (error.is_retriable()) return ErrorClass::kRetriable;
  return classify(error.code());
}

namespace {

// Configuration and credentials: a person must act; a restart alone does not help.
bool needs_a_person(RdKafka::ErrorCode code) {
  switch (code) {
    case RdKafka::ERR__AUTHENTICATION:
    case RdKafka::ERR__SSL:
    case RdKafka::ERR__INVALID_ARG:
    case RdKafka::ERR__NOT_CONFIGURED:
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR_GROUP_AUTHORIZATION_FAILED:
    case RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RdKafka::ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RdKafka::ERR_SASL_AUTHENTICATION_FAILED:
    case RdKafka::ERR_UNSUPPORTED_SASL_MECHANISM:
    case RdKafka::ERR_SECURITY_DISABLED:
    case RdKafka::ERR_INVALID_REQUIRED_ACKS:
    case RdKafka::ERR_INVALID_TRANSACTION_TIMEOUT:
      return true;
    default:
      return false;
  }
}

Error make(std::string_view what, RdKafka::ErrorCode code, ErrorClass c, std::string_view text) {
  std::string message(what);
  message += ": ";
  message += text.empty() ? RdKafka::err2str(code) : std::string(text);
  message += " (";
  message += error_class_name(c);
  message += ")";
  return Error{needs_a_person(code) ? Errc::kInvalidArgument : Errc::kUnavailable,
               std::move(message)};
}

}  // namespace

Error to_error(std::string_view what, RdKafka::ErrorCode code, std::string_view detail) {
  return make(what, code, classify(code), detail);
}

Error to_error(std::string_view what, const RdKafka::Error& error) {
  return make(what, error.code(), classify(error), error.str());
}

RdKafka::ErrorCode underlying_error(RdKafka::Handle& client, RdKafka::ErrorCode code,
                                    std::string& reason) {
  reason.clear();
  if (code != RdKafka::ERR__FATAL) return code;
  const RdKafka::ErrorCode fatal = client.fatal_error(reason);
  return fatal == RdKafka::ERR_NO_ERROR ? code : fatal;
}

}  // namespace samordna::kafka
