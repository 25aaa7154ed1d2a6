// The one mapping of librdkafka errors to retriable / abortable / fatal
// (connectors/kafka/errors.h). Each row is a decision the publisher, the tools and the service act
// on: a retriable error is waited out, an abortable one fails the unit of work (a batch, a
// transaction), a fatal one stops the client.

#include "connectors/kafka/errors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "connectors/kafka/client.h"

namespace samordna::kafka {
namespace {

using ::testing::HasSubstr;

struct Row {
  RdKafka::ErrorCode code;
  ErrorClass expected;
};

class KafkaErrorsTest : public ::testing::TestWithParam<Row> {};

TEST_P(KafkaErrorsTest, ClassifiesTheCode) {
  EXPECT_EQ(classify(GetParam().code), GetParam().expected)
      << RdKafka::err2str(GetParam().code) << " is " << error_class_name(GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Codes, KafkaErrorsTest,
    ::testing::Values(
        // The broker or the network comes back: wait.
        Row{RdKafka::ERR__TRANSPORT, ErrorClass::kRetriable},
        Row{RdKafka::ERR__ALL_BROKERS_DOWN, ErrorClass::kRetriable},
        Row{RdKafka::ERR__TIMED_OUT, ErrorClass::kRetriable},
        Row{RdKafka::ERR__QUEUE_FULL, ErrorClass::kRetriable},
        Row{RdKafka::ERR_LEADER_NOT_AVAILABLE, ErrorClass::kRetriable},
        Row{RdKafka::ERR_NOT_LEADER_FOR_PARTITION, ErrorClass::kRetriable},
        Row{RdKafka::ERR_NOT_ENOUGH_REPLICAS, ErrorClass::kRetriable},
        Row{RdKafka::ERR_COORDINATOR_LOAD_IN_PROGRESS, ErrorClass::kRetriable},
        Row{RdKafka::ERR_CONCURRENT_TRANSACTIONS, ErrorClass::kRetriable},
        // This record, batch or transaction failed; the client goes on.
        Row{RdKafka::ERR__MSG_TIMED_OUT, ErrorClass::kAbortable},
        Row{RdKafka::ERR_MSG_SIZE_TOO_LARGE, ErrorClass::kAbortable},
        Row{RdKafka::ERR_UNKNOWN_TOPIC_OR_PART, ErrorClass::kAbortable},
        Row{RdKafka::ERR__PURGE_QUEUE, ErrorClass::kAbortable},
        Row{RdKafka::ERR__STATE, ErrorClass::kAbortable},
        Row{RdKafka::ERR_INVALID_TXN_STATE, ErrorClass::kAbortable},
        Row{RdKafka::ERR_UNKNOWN,
            ErrorClass::kAbortable},  // unknown: fail the unit, not the client
        // The client must stop.
        Row{RdKafka::ERR__FATAL, ErrorClass::kFatal}, Row{RdKafka::ERR__FENCED, ErrorClass::kFatal},
        Row{RdKafka::ERR_PRODUCER_FENCED, ErrorClass::kFatal},
        Row{RdKafka::ERR_INVALID_PRODUCER_EPOCH, ErrorClass::kFatal},
        Row{RdKafka::ERR_FENCED_INSTANCE_ID, ErrorClass::kFatal},
        Row{RdKafka::ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, ErrorClass::kFatal},
        Row{RdKafka::ERR__AUTHENTICATION, ErrorClass::kFatal},
        Row{RdKafka::ERR_SASL_AUTHENTICATION_FAILED, ErrorClass::kFatal},
        Row{RdKafka::ERR__SSL, ErrorClass::kFatal},
        Row{RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED, ErrorClass::kFatal},
        Row{RdKafka::ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, ErrorClass::kFatal}));

TEST(KafkaErrors, ErrorObjectsOfTransactionalCalls) {
  // Real RdKafka::Error objects (librdkafka 2.0.2 exports no way to make one by hand), from a
  // broker that is not there: init_transactions times out, which librdkafka flags retriable.
  KafkaConfig config;
  config.bootstrap = "127.0.0.1:1";
  auto txn = make_transactional_producer(config, "errors-test", 10000);
  ASSERT_TRUE(txn) << txn.error().message;
  std::unique_ptr<RdKafka::Error> timed_out(txn.value()->init_transactions(200));
  ASSERT_TRUE(timed_out);
  EXPECT_EQ(classify(*timed_out), ErrorClass::kRetriable) << timed_out->str();
  EXPECT_THAT(to_error("init_transactions", *timed_out).message, HasSubstr("init_transactions: "));

  // A producer without a transactional id asked for a transaction: a setting to fix.
  auto plain = make_idempotent_producer(config);
  ASSERT_TRUE(plain) << plain.error().message;
  std::unique_ptr<RdKafka::Error> not_configured(plain.value()->begin_transaction());
  ASSERT_TRUE(not_configured);
  EXPECT_EQ(classify(*not_configured), ErrorClass::kFatal) << not_configured->str();
  EXPECT_EQ(to_error("begin_transaction", *not_configured).code, Errc::kInvalidArgument);
}

TEST(KafkaErrors, ToErrorNamesWhatTheCodeAndTheClass) {
  const Error e = to_error("publish to samordna.events", RdKafka::ERR__MSG_TIMED_OUT);
  EXPECT_EQ(e.code, Errc::kUnavailable);
  EXPECT_THAT(e.message, HasSubstr("publish to samordna.events: "));
  EXPECT_THAT(e.message, HasSubstr(RdKafka::err2str(RdKafka::ERR__MSG_TIMED_OUT)));
  EXPECT_THAT(e.message, HasSubstr("(abortable)"));
}

TEST(KafkaErrors, ACredentialOrSettingIsTheCallersToFix) {
  EXPECT_EQ(to_error("x", RdKafka::ERR_SASL_AUTHENTICATION_FAILED).code, Errc::kInvalidArgument);
  EXPECT_EQ(to_error("x", RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED).code, Errc::kInvalidArgument);
  // Fenced is fatal for this client, but a restart is the cure, not a person: unavailable.
  EXPECT_EQ(to_error("x", RdKafka::ERR__FENCED).code, Errc::kUnavailable);
}

TEST(KafkaErrors, DetailReplacesLibrdkafkasGenericText) {
  const Error e = to_error("commit", RdKafka::ERR__FATAL, "producer fenced by a newer instance");
  EXPECT_THAT(e.message, HasSubstr("commit: producer fenced by a newer instance (fatal)"));
}

}  // namespace
}  // namespace samordna::kafka
