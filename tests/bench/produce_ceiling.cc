// produce_ceiling: librdkafka's own acks=all produce rate, the ceiling for `samordna hl7 listen`
// (tests/bench/run_hl7_bench.sh). samordna's idempotent producer settings (client.h: acks=all,
// linger.ms=5), records of --bytes bytes keyed like events, two ways:
//
//   --mode stream     every record handed over at once, then flush: the throughput ceiling
//   --mode sequential C chains, each producing one record and waiting for its delivery report
//                     before the next (what C senders waiting for their ACK can at best get);
//                     prints the p50 / p99 of produce -> delivery report
//
//   produce_ceiling --bootstrap 127.0.0.1:19092 --topic bench.ceiling --records 5000 --mode stream

#include <CLI/CLI.hpp>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka/admin.h"
#include "connectors/kafka/client.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Waiter : public RdKafka::DeliveryReportCb {
  std::mutex m;
  std::condition_variable cv;
  size_t done = 0, failed = 0;
  void dr_cb(RdKafka::Message& msg) override {
    std::lock_guard lock(m);
    ++done;
    if (msg.err() != RdKafka::ERR_NO_ERROR) ++failed;
    cv.notify_all();
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string bootstrap = "127.0.0.1:19092", topic, mode = "stream";
  size_t records = 5000, bytes = 300, chains = 1;
  CLI::App app{"produce_ceiling: librdkafka's acks=all produce rate"};
  app.add_option("--bootstrap", bootstrap);
  app.add_option("--topic", topic)->required();
  app.add_option("--records", records);
  app.add_option("--bytes", bytes);
  app.add_option("--mode", mode)->check(CLI::IsMember({"stream", "sequential"}));
  app.add_option("--chains", chains);
  CLI11_PARSE(app, argc, argv);

  samordna::kafka::KafkaConfig config;
  config.bootstrap = bootstrap;
  // The topic first (the broker does not create topics on produce), as many partitions as the
  // events topic has by default.
  if (auto r = samordna::kafka::create_topics(config, {{topic, config.partitions}},
                                              std::chrono::seconds(30));
      !r) {
    std::cerr << r.error().message << '\n';
    return 1;
  }
  Waiter waiter;
  auto made = samordna::kafka::make_idempotent_producer(config, {}, &waiter);
  if (!made) {
    std::cerr << made.error().message << '\n';
    return 1;
  }
  auto& producer = *made.value();
  std::string value(bytes, 'x');
  auto produce = [&](size_t i) {
    const std::string key = "episode-" + std::to_string(i % 1000);
    while (producer.produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                            value.data(), value.size(), key.data(), key.size(), 0,
                            nullptr) == RdKafka::ERR__QUEUE_FULL) {
      producer.poll(1);
    }
  };
  // Warm up: metadata, the producer id, a connection to every leader.
  produce(0);
  producer.flush(30000);
  waiter.done = 0;

  const auto start = Clock::now();
  std::vector<double> latencies_ms;
  if (mode == "stream") {
    for (size_t i = 0; i < records; ++i) {
      produce(i);
      producer.poll(0);
    }
    producer.flush(60000);
  } else {
    std::mutex lm;
    std::atomic<size_t> next{0};
    std::thread poller([&] {
      while (true) {
        producer.poll(1);
        std::lock_guard lock(waiter.m);
        if (waiter.done >= records) break;
      }
    });
    std::vector<std::thread> threads;
    for (size_t c = 0; c < chains; ++c) {
      threads.emplace_back([&] {
        while (true) {
          const size_t i = next++;
          if (i >= records) return;
          std::unique_lock lock(waiter.m);
          const size_t before = waiter.done;
          lock.unlock();
          const auto t0 = Clock::now();
          produce(i);
          // With several chains any report wakes everyone; one chain is exact, several an
          // approximation (a chain goes on when some record, perhaps another's, is delivered).
          lock.lock();
          waiter.cv.wait(lock, [&] { return waiter.done > before; });
          lock.unlock();
          std::lock_guard l2(lm);
          latencies_ms.push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        }
      });
    }
    for (auto& t : threads) t.join();
    poller.join();
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("produce_ceiling %s chains %zu: %zu records of %zu bytes in %.2f s: %.0f records/s",
              mode.c_str(), mode == "stream" ? size_t{0} : chains, records, bytes, secs,
              records / secs);
  if (!latencies_ms.empty()) {
    std::sort(latencies_ms.begin(), latencies_ms.end());
    std::printf(", p50 %.1f ms, p99 %.1f ms", latencies_ms[latencies_ms.size() / 2],
                latencies_ms[latencies_ms.size() * 99 / 100]);
  }
  std::printf(", %zu failed\n", waiter.failed);
  return waiter.failed == 0 ? 0 : 1;
}
