#pragma once

// One place that creates samordna's Kafka clients with samordna's settings on top of
// `KafkaConfig` (config.h `make_conf`: bootstrap, the deployment's properties such as TLS and
// SASL, logs to spdlog). Every producer is idempotent with acks=all and Java's partitioner
// (codec.h kPartitioner), so an episode's records keep their order, are never duplicated by a
// retry, and land on the partition a Java client would choose. Every consumer commits nothing by
// itself and reads committed records only (read_committed). `extra` properties go on top of these;
// a bad property is an error naming it (never its value). connectors/kafka/README.md lists who
// calls what.

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "connectors/kafka/config.h"
#include "engine/core/result.h"

namespace samordna::kafka {

using Properties = std::map<std::string, std::string>;

// The properties every samordna producer has (before `extra`): enable.idempotence=true, acks=all,
// partitioner=murmur2_random, linger.ms=5.
Properties producer_properties();

// The properties every samordna consumer has (before `extra`): enable.auto.commit=false,
// enable.auto.offset.store=false, isolation.level=read_committed.
Properties consumer_properties();

// fetch.wait.max.ms for a consumer that must see a partition's end soon after its last record
// (`run`'s consumer: `--exit-at-end` and the event-time clock's advance to `until`; the bench's
// ceiling, measured as `run` is). librdkafka reports the end from an empty fetch, which the broker
// holds this long: at the default, 500 ms, the end came up to half a second late. Records are not
// delayed by it (a fetch returns as soon as there are some); an idle consumer asks 10 times a
// second.
inline constexpr const char* kEndOfInputFetchWaitMs = "100";

// A plain idempotent producer (the publisher, `samordna produce`). `delivery` (may be null)
// receives every delivery report from the thread that calls poll()/flush(); it must outlive the
// producer.
Result<std::unique_ptr<RdKafka::Producer>> make_idempotent_producer(
    const KafkaConfig& config, const Properties& extra = {},
    RdKafka::DeliveryReportCb* delivery = nullptr);

// A transactional producer (`samordna run`): the idempotent settings plus transactional.id and
// transaction.timeout.ms. Not yet initialised: the caller calls init_transactions(), which fences
// and aborts what a predecessor with the same id left open.
Result<std::unique_ptr<RdKafka::Producer>> make_transactional_producer(
    const KafkaConfig& config, const std::string& transactional_id, int transaction_timeout_ms,
    const Properties& extra = {}, RdKafka::DeliveryReportCb* delivery = nullptr);

// Asks the broker for the topics' metadata now, with the producer's own connection, until every
// partition of each has a leader (a topic created a moment ago may not yet), within `timeout`.
// Without it a producer learns of a topic it has not written to only on its one-second topic scan:
// the first record (and so the first transaction's commit, the first acknowledgement after a
// restart) waited up to a second for it (librdkafka 2.0.2; measured in `samordna run`: 0.84 s of
// its first commit). The handles keep the topics known: hold them as long as the producer.
// kNotFound names a topic the broker does not have; kUnavailable one without leaders in time.
using TopicHandles = std::vector<std::unique_ptr<RdKafka::Topic>>;
Result<TopicHandles> learn_topics(RdKafka::Producer& producer,
                                  const std::vector<std::string>& topics,
                                  std::chrono::milliseconds timeout);
// For a producer that writes to one topic and may be made before the topic exists (`produce`, the
// audit log): learn_topics within 5 s, and a warning instead of an error (the first record then
// waits for the scan, or fails as it would have).
TopicHandles learn_or_warn(RdKafka::Producer& producer, const std::string& topic);

// A consumer. `extra` must include group.id (librdkafka requires one even for assign()); a group
// member also sets its assignor, session timeout and offsets reset here. `rebalance` (may be null)
// receives assignments; it must outlive the consumer.
Result<std::unique_ptr<RdKafka::KafkaConsumer>> make_consumer(
    const KafkaConfig& config, const Properties& extra, RdKafka::RebalanceCb* rebalance = nullptr);

}  // namespace samordna::kafka
