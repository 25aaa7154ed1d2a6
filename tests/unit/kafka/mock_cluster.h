#pragma once

// A one-broker librdkafka mock cluster for the connector's unit tests, owned by a producer handle
// made only to host it. No broker needed; the tests against a real one are in tests/integration.

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <string>

namespace samordna::kafka::testing {

class MockCluster {
 public:
  MockCluster() {
    char detail[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", detail, sizeof detail) !=
        RD_KAFKA_CONF_OK) {
      ADD_FAILURE() << detail;
    }
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, detail, sizeof detail);
    if (rk_ == nullptr) ADD_FAILURE() << detail;
    cluster_ = rd_kafka_handle_mock_cluster(rk_);
  }
  ~MockCluster() { rd_kafka_destroy(rk_); }
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  rd_kafka_mock_cluster_t* get() const { return cluster_; }
  std::string bootstrap() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }
  void create_topic(const std::string& name, int partitions) {
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, 1),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }

 private:
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

}  // namespace samordna::kafka::testing
