// samordna_open_txn: leaves a transaction open on every partition of a topic, as a dead instance
// with another transactional id does, until told to end it (eos/restore_behind.sh).
//
//   samordna_open_txn BOOTSTRAP TOPIC TRANSACTIONAL_ID
//
// Writes one record to each partition inside a transaction, prints "open" on stdout once they
// are on the broker, then waits for SIGTERM (abort the transaction, exit 0) or SIGUSR1 (exit at
// once, leaving it open for the broker to abort on its timeout). Gives up after 10 minutes.
#include <librdkafka/rdkafkacpp.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

namespace {

int die(const std::string& what) {
  std::fprintf(stderr, "samordna_open_txn: %s\n", what.c_str());
  return 2;
}

bool check(RdKafka::Error* raw, const char* what) {
  std::unique_ptr<RdKafka::Error> e(raw);
  if (!e) return true;
  std::fprintf(stderr, "samordna_open_txn: %s: %s\n", what, e->str().c_str());
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return die("usage: samordna_open_txn BOOTSTRAP TOPIC TRANSACTIONAL_ID");
  const std::string topic = argv[2];
  // The signals are taken with sigwait, so block them before librdkafka starts its threads.
  sigset_t wanted;
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGTERM);
  sigaddset(&wanted, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &wanted, nullptr);

  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  // Long enough that only this program ends the transaction while the test runs.
  for (const auto& [k, v] : {std::pair<std::string, std::string>{"bootstrap.servers", argv[1]},
                             {"transactional.id", argv[3]},
                             {"transaction.timeout.ms", "600000"}}) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) return die(k + ": " + err);
  }
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  if (!producer) return die("producer: " + err);
  RdKafka::Metadata* raw_metadata = nullptr;
  std::unique_ptr<RdKafka::Topic> handle(
      RdKafka::Topic::create(producer.get(), topic, nullptr, err));
  if (!handle) return die("topic: " + err);
  if (producer->metadata(false, handle.get(), &raw_metadata, 30000) != RdKafka::ERR_NO_ERROR) {
    return die("no metadata for " + topic);
  }
  std::unique_ptr<RdKafka::Metadata> metadata(raw_metadata);
  if (metadata->topics()->empty() || metadata->topics()->at(0)->partitions()->empty()) {
    return die("no partitions for " + topic);
  }
  const auto partitions = metadata->topics()->at(0)->partitions()->size();
  if (!check(producer->init_transactions(30000), "init_transactions")) return 1;
  if (!check(producer->begin_transaction(), "begin_transaction")) return 1;
  const std::string key = "samordna-open-txn";  // never committed, so never read
  for (size_t p = 0; p < partitions; ++p) {
    const auto code = producer->produce(
        topic, static_cast<int32_t>(p), RdKafka::Producer::RK_MSG_COPY,
        const_cast<char*>(key.data()), key.size(), key.data(), key.size(), 0, nullptr);
    if (code != RdKafka::ERR_NO_ERROR) return die("produce: " + RdKafka::err2str(code));
  }
  if (producer->flush(30000) != RdKafka::ERR_NO_ERROR) return die("flush timed out");
  std::printf("open %zu\n", partitions);
  std::fflush(stdout);

  const timespec limit{600, 0};
  const int sig = sigtimedwait(&wanted, nullptr, &limit);
  if (sig == SIGTERM) {
    if (!check(producer->abort_transaction(30000), "abort_transaction")) return 1;
    std::printf("aborted\n");
    return 0;
  }
  // SIGUSR1 or the time limit: leave without a word to the broker, as a SIGKILL would.
  std::fflush(stdout);
  _exit(0);
}
