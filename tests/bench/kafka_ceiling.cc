// kafka_ceiling: the raw ceiling for the engine's end-to-end rate. It does what `samordna run` does
// with Kafka and nothing else: consume the input topic in a consumer group (read_committed),
// produce each record's key and value unchanged to an output topic, and commit the input offsets,
// either in one transaction per batch (as the service does: same batch size, batch time and client
// settings) or, with --plain, as an at-least-once copy without transactions. No protobuf, no
// RocksDB, no rules.
//
//   kafka_ceiling --bootstrap 127.0.0.1:19092 --in bench.events --out bench.ceiling --group g
//
// It stops when every assigned partition is consumed to its end (as `samordna run --exit-at-end`)
// and prints one line: records, milliseconds from the first assignment to the last commit, and
// records per second. tests/bench/run_kafka_bench.sh runs it beside the engine.

#include <CLI/CLI.hpp>
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/kafka/client.h"
#include "connectors/kafka/codec.h"
#include "connectors/kafka/config.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kTimeoutMs = 30000;

struct Options {
  std::string bootstrap = "127.0.0.1:19092";
  std::string in, out, group;
  std::string transactional_id = "kafka-ceiling";
  bool plain = false;
  size_t max_batch = 1000;  // the service's defaults (connectors/kafka/config.h)
  int max_batch_ms = 100;
};

[[noreturn]] void die(const std::string& what) {
  std::cerr << "kafka_ceiling: " << what << '\n';
  std::exit(1);
}

void check(RdKafka::Error* raw, const char* what) {
  std::unique_ptr<RdKafka::Error> e(raw);
  if (e) die(std::string(what) + ": " + e->str());
}

class Rebalance : public RdKafka::RebalanceCb {
 public:
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      if (!first_assigned) first_assigned = Clock::now();
      for (auto* tp : partitions) at_end[tp->partition()] = false;
      consumer->assign(partitions);
    } else {
      for (auto* tp : partitions) at_end.erase(tp->partition());
      consumer->unassign();
    }
  }
  std::optional<Clock::time_point> first_assigned;
  std::map<int32_t, bool> at_end;
};

int run(const Options& o) {
  samordna::kafka::KafkaConfig kafka;
  kafka.bootstrap = o.bootstrap;
  std::map<std::string, std::string> pprops{{"linger.ms", "5"},
                                            {"partitioner", samordna::kafka::kPartitioner}};
  if (!o.plain) {
    pprops.insert({{"transactional.id", o.transactional_id}, {"enable.idempotence", "true"}});
  }
  auto pconf = samordna::kafka::make_conf(kafka, pprops);
  if (!pconf) die(pconf.error().message);
  std::string errstr;
  std::unique_ptr<RdKafka::Producer> producer(
      RdKafka::Producer::create(pconf.value().get(), errstr));
  if (!producer) die("producer: " + errstr);
  if (!o.plain) check(producer->init_transactions(kTimeoutMs), "init_transactions");
  // As the service does (client.h): without it the first commit waits up to a second for the
  // producer's topic scan, which made this ceiling anywhere from 85,000 to 108,000 records/s.
  auto known =
      samordna::kafka::learn_topics(*producer, {o.out}, std::chrono::milliseconds(kTimeoutMs));
  if (!known) die(known.error().message);

  Rebalance rebalance;
  auto cconf = samordna::kafka::make_conf(
      kafka, {{"group.id", o.group},
              {"enable.auto.commit", "false"},
              {"auto.offset.reset", "earliest"},
              {"isolation.level", "read_committed"},
              {"enable.partition.eof", "true"},
              {"fetch.wait.max.ms", samordna::kafka::kEndOfInputFetchWaitMs},
              {"partition.assignment.strategy", "range"}});
  if (!cconf) die(cconf.error().message);
  if (cconf.value()->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(&rebalance), errstr) !=
      RdKafka::Conf::CONF_OK) {
    die(errstr);
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(cconf.value().get(), errstr));
  if (!consumer) die("consumer: " + errstr);
  if (consumer->subscribe({o.in}) != RdKafka::ERR_NO_ERROR) die("subscribe");

  std::map<int32_t, int64_t> next;  // offsets to commit
  bool in_txn = false;
  size_t batch = 0;
  uint64_t records = 0, transactions = 0;
  Clock::time_point started;
  auto commit = [&] {
    if (batch == 0 && !in_txn) return;
    std::vector<std::unique_ptr<RdKafka::TopicPartition>> owned;
    std::vector<RdKafka::TopicPartition*> offsets;
    for (auto [p, n] : next) {
      owned.emplace_back(RdKafka::TopicPartition::create(o.in, p, n));
      offsets.push_back(owned.back().get());
    }
    if (o.plain) {
      producer->flush(kTimeoutMs);  // at least once: outputs before offsets
      if (!offsets.empty() && consumer->commitSync(offsets) != RdKafka::ERR_NO_ERROR) {
        die("commitSync");
      }
    } else {
      std::unique_ptr<RdKafka::ConsumerGroupMetadata> group(consumer->groupMetadata());
      if (!offsets.empty()) {
        check(producer->send_offsets_to_transaction(offsets, group.get(), kTimeoutMs),
              "send_offsets_to_transaction");
      }
      check(producer->commit_transaction(kTimeoutMs), "commit_transaction");
      in_txn = false;
    }
    ++transactions;
    batch = 0;
  };
  while (true) {
    int wait_ms = 200;
    if (batch > 0) {
      const auto elapsed =
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
      wait_ms = static_cast<int>(std::max<int64_t>(0, o.max_batch_ms - elapsed.count()));
    }
    std::unique_ptr<RdKafka::Message> m(consumer->consume(wait_ms));
    if (m->err() == RdKafka::ERR_NO_ERROR) {
      if (batch == 0) started = Clock::now();
      if (!o.plain && !in_txn) {
        check(producer->begin_transaction(), "begin_transaction");
        in_txn = true;
      }
      rebalance.at_end[m->partition()] = false;
      while (true) {
        const auto err =
            producer->produce(o.out, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                              m->payload(), m->len(), m->key_pointer(), m->key_len(), 0, nullptr);
        if (err == RdKafka::ERR_NO_ERROR) break;
        if (err != RdKafka::ERR__QUEUE_FULL) die("produce: " + RdKafka::err2str(err));
        producer->poll(50);
      }
      next[m->partition()] = m->offset() + 1;
      ++records;
      ++batch;
      producer->poll(0);
    } else if (m->err() == RdKafka::ERR__PARTITION_EOF) {
      rebalance.at_end[m->partition()] = true;
    } else if (m->err() != RdKafka::ERR__TIMED_OUT) {
      die("consume: " + m->errstr());
    }
    if (batch > 0 && (batch >= o.max_batch ||
                      Clock::now() - started >= std::chrono::milliseconds(o.max_batch_ms))) {
      commit();
    }
    bool done = !rebalance.at_end.empty();
    for (auto [p, end] : rebalance.at_end) done = done && end;
    if (done) {
      commit();
      break;
    }
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      Clock::now() - rebalance.first_assigned.value_or(Clock::now()))
                      .count();
  consumer->close();
  producer->flush(kTimeoutMs);
  std::printf("%s: %llu records in %lld ms (%.0f records/s), %llu %s\n",
              o.plain ? "plain" : "transactional", static_cast<unsigned long long>(records),
              static_cast<long long>(ms),
              ms > 0 ? 1000.0 * static_cast<double>(records) / static_cast<double>(ms) : 0.0,
              static_cast<unsigned long long>(transactions), o.plain ? "commits" : "transactions");
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  Options o;
  CLI::App app{"kafka_ceiling: consume + produce of the same records, no engine (the raw ceiling)"};
  app.add_option("--bootstrap", o.bootstrap, "Kafka bootstrap servers");
  app.add_option("--in", o.in, "input topic")->required();
  app.add_option("--out", o.out, "output topic")->required();
  app.add_option("--group", o.group, "consumer group")->required();
  app.add_option("--transactional-id", o.transactional_id, "transactional.id");
  app.add_option("--max-batch", o.max_batch, "records per transaction (service default 1000)");
  app.add_option("--max-batch-ms", o.max_batch_ms, "ms per transaction (service default 100)");
  app.add_flag("--plain", o.plain, "no transactions: produce, flush, commit offsets");
  CLI11_PARSE(app, argc, argv);
  return run(o);
} catch (const std::exception& e) {
  std::cerr << "kafka_ceiling: " << e.what() << '\n';
  return 1;
}
