#include "connectors/kafka/mock_cluster.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <signal.h>

namespace samordna::kafka {

// The mock cluster lives as long as the handle that made it.
struct MockCluster::Impl {
  rd_kafka_t* handle = nullptr;
  rd_kafka_mock_cluster_t* cluster = nullptr;
  ~Impl() {
    if (handle) rd_kafka_destroy(handle);
  }
};

MockCluster::MockCluster(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  bootstrap_ = rd_kafka_mock_cluster_bootstraps(impl_->cluster);
}

MockCluster::~MockCluster() = default;

namespace {

Result<void> start_in(MockCluster::Impl& mock, const std::vector<std::string>& topics,
                      int partitions) {
  char errstr[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", errstr, sizeof errstr) !=
      RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return fail(Errc::kUnavailable, std::string("mock cluster: ") + errstr);
  }
  mock.handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!mock.handle) return fail(Errc::kUnavailable, std::string("mock cluster: ") + errstr);
  mock.cluster = rd_kafka_handle_mock_cluster(mock.handle);  // owned by the handle
  if (!mock.cluster) return fail(Errc::kUnavailable, "mock cluster could not start");
  for (const std::string& topic : topics) {
    if (rd_kafka_mock_topic_create(mock.cluster, topic.c_str(), partitions, 1) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      return fail(Errc::kUnavailable, "mock cluster: cannot create " + topic);
    }
  }
  return ok();
}

}  // namespace

Result<std::unique_ptr<MockCluster>> MockCluster::start(const std::vector<std::string>& topics,
                                                        int partitions) {
  auto impl = std::make_unique<Impl>();
  // librdkafka 2.0.2 starts the mock cluster's thread with signals unblocked (its other threads
  // block them): started so, it would take the SIGINT meant for the caller's thread.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  auto started = start_in(*impl, topics, partitions);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  SAMORDNA_TRYV(started);
  return std::unique_ptr<MockCluster>(new MockCluster(std::move(impl)));
}

}  // namespace samordna::kafka
