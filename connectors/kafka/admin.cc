#include "connectors/kafka/admin.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

namespace samordna::kafka {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// "2 s", "0.5 s": the timeout as a person reads it.
std::string seconds_text(milliseconds timeout) {
  char text[32];
  if (timeout.count() % 1000 == 0) {
    std::snprintf(text, sizeof text, "%lld s", static_cast<long long>(timeout.count() / 1000));
  } else {
    std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(timeout.count()) / 1000.0);
  }
  return text;
}

// One call's client and its deadline. A producer handle is the cheapest client: no group, and it
// talks to the cluster only when asked.
class Session {
 public:
  static Result<Session> open(const KafkaConfig& config, milliseconds timeout) {
    SAMORDNA_TRY(conf, make_conf(config, {}));
    std::string detail;
    std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), detail));
    if (!producer) return fail(Errc::kInvalidArgument, "cannot create a Kafka client: " + detail);
    return Session(config, timeout, std::move(producer));
  }

  rd_kafka_t* rk() const { return producer_->c_ptr(); }

  // What is left of the call's timeout, at least 1 ms (0 would mean "do not wait" to librdkafka).
  milliseconds remaining() const {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline_ - Clock::now());
    return std::max(left, milliseconds(1));
  }
  bool expired() const { return Clock::now() >= deadline_; }

  Error unreachable(rd_kafka_resp_err_t err) const {
    std::string message =
        "cannot reach Kafka at " + config_.bootstrap + " within " + seconds_text(timeout_);
    if (err != RD_KAFKA_RESP_ERR__TIMED_OUT && err != RD_KAFKA_RESP_ERR__TRANSPORT) {
      message += std::string(" (") + rd_kafka_err2str(err) + ")";
    }
    return Error{Errc::kUnavailable, std::move(message)};
  }

  // name -> partition count, of every topic the cluster reports without error.
  Result<std::map<std::string, int>> topics() const {
    const rd_kafka_metadata_t* md = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(rk(), /*all_topics=*/1, nullptr, &md,
                                                      static_cast<int>(remaining().count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return boost::outcome_v2::failure(unreachable(err));
    std::map<std::string, int> out;
    for (int i = 0; i < md->topic_cnt; ++i) {
      const rd_kafka_metadata_topic_t& t = md->topics[i];
      // A topic just created may report LEADER_NOT_AVAILABLE for a moment: it exists.
      if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || t.partition_cnt == 0) continue;
      out.emplace(t.topic, t.partition_cnt);
    }
    rd_kafka_metadata_destroy(md);
    return out;
  }

  const KafkaConfig& config() const { return config_; }
  milliseconds timeout() const { return timeout_; }

 private:
  Session(const KafkaConfig& config, milliseconds timeout,
          std::unique_ptr<RdKafka::Producer> producer)
      : config_(config),
        timeout_(timeout),
        deadline_(Clock::now() + timeout),
        producer_(std::move(producer)) {}

  const KafkaConfig& config_;
  milliseconds timeout_;
  Clock::time_point deadline_;
  std::unique_ptr<RdKafka::Producer> producer_;
};

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Creates `topics` with one CreateTopics request; an already existing topic is fine.
Result<void> create(const Session& s, const std::vector<TopicSpec>& topics) {
  char detail[512];
  std::vector<rd_kafka_NewTopic_t*> news;
  auto free_news = [&] {
    for (auto* t : news) rd_kafka_NewTopic_destroy(t);
  };
  for (const auto& t : topics) {
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(
        t.name.c_str(), t.partitions, s.config().replication_factor, detail, sizeof detail);
    if (nt == nullptr) {
      free_news();
      return fail(Errc::kInvalidArgument, "cannot create topic " + t.name + ": " + detail);
    }
    news.push_back(nt);
    if (t.compact) {
      if (rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact") !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        free_news();
        return fail(Errc::kInvalidArgument, "cannot set cleanup.policy on topic " + t.name);
      }
    }
    for (const auto& [name, value] : t.configs) {
      if (rd_kafka_NewTopic_set_config(nt, name.c_str(), value.c_str()) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        free_news();
        return fail(Errc::kInvalidArgument, "cannot set " + name + " on topic " + t.name);
      }
    }
  }

  rd_kafka_AdminOptions_t* options =
      rd_kafka_AdminOptions_new(s.rk(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
  const int ms = static_cast<int>(s.remaining().count());
  // The request waits for the controller; the operation timeout lets the broker wait until the
  // topics are fully created before it answers.
  (void)rd_kafka_AdminOptions_set_request_timeout(options, ms, detail, sizeof detail);
  (void)rd_kafka_AdminOptions_set_operation_timeout(options, ms, detail, sizeof detail);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(s.rk());
  rd_kafka_CreateTopics(s.rk(), news.data(), news.size(), options, queue);
  free_news();
  rd_kafka_AdminOptions_destroy(options);

  // The request's own timeout fires first; the margin only guards against a lost event.
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, ms + 1000);
  rd_kafka_queue_destroy(queue);
  if (event == nullptr) {
    return fail(Errc::kUnavailable, "creating Kafka topics timed out after " +
                                        seconds_text(s.timeout()) + " at " + s.config().bootstrap);
  }
  std::unique_ptr<rd_kafka_event_t, decltype(&rd_kafka_event_destroy)> guard(
      event, &rd_kafka_event_destroy);
  if (const rd_kafka_resp_err_t err = rd_kafka_event_error(event);
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* why = rd_kafka_event_error_string(event);
    const bool timeout = err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT;
    return fail(timeout ? Errc::kUnavailable : Errc::kInvalidArgument,
                "cannot create Kafka topics at " + s.config().bootstrap + " within " +
                    seconds_text(s.timeout()) + ": " + (why ? why : rd_kafka_err2str(err)));
  }
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event);
  if (result == nullptr) {
    return fail(Errc::kUnavailable, "cannot create Kafka topics at " + s.config().bootstrap +
                                        ": no CreateTopics result");
  }
  size_t n = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &n);
  std::vector<std::string> problems;
  bool timed_out = false;
  for (size_t i = 0; i < n; ++i) {
    const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
      continue;
    timed_out = timed_out || err == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT ||
                err == RD_KAFKA_RESP_ERR__TIMED_OUT;
    const char* why = rd_kafka_topic_result_error_string(results[i]);
    problems.push_back(std::string(rd_kafka_topic_result_name(results[i])) + ": " +
                       rd_kafka_err2name(err) + (why && *why ? std::string(" (") + why + ")" : ""));
  }
  if (!problems.empty()) {
    return fail(timed_out ? Errc::kUnavailable : Errc::kInvalidArgument,
                "cannot create Kafka topics: " + join(problems));
  }
  return ok();
}

// Deletes `topics` with one DeleteTopics request; an unknown topic is fine.
Result<void> remove(const Session& s, const std::vector<std::string>& topics) {
  std::vector<rd_kafka_DeleteTopic_t*> dels;
  for (const auto& t : topics) dels.push_back(rd_kafka_DeleteTopic_new(t.c_str()));
  char detail[512];
  rd_kafka_AdminOptions_t* options =
      rd_kafka_AdminOptions_new(s.rk(), RD_KAFKA_ADMIN_OP_DELETETOPICS);
  const int ms = static_cast<int>(s.remaining().count());
  (void)rd_kafka_AdminOptions_set_request_timeout(options, ms, detail, sizeof detail);
  (void)rd_kafka_AdminOptions_set_operation_timeout(options, ms, detail, sizeof detail);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(s.rk());
  rd_kafka_DeleteTopics(s.rk(), dels.data(), dels.size(), options, queue);
  rd_kafka_DeleteTopic_destroy_array(dels.data(), dels.size());
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, ms + 1000);
  rd_kafka_queue_destroy(queue);
  if (event == nullptr) {
    return fail(Errc::kUnavailable, "deleting Kafka topics timed out after " +
                                        seconds_text(s.timeout()) + " at " + s.config().bootstrap);
  }
  std::unique_ptr<rd_kafka_event_t, decltype(&rd_kafka_event_destroy)> guard(
      event, &rd_kafka_event_destroy);
  if (const rd_kafka_resp_err_t err = rd_kafka_event_error(event);
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return fail(Errc::kUnavailable, "cannot delete Kafka topics at " + s.config().bootstrap + ": " +
                                        rd_kafka_err2str(err));
  }
  const rd_kafka_DeleteTopics_result_t* result = rd_kafka_event_DeleteTopics_result(event);
  if (result == nullptr) {
    return fail(Errc::kUnavailable, "cannot delete Kafka topics at " + s.config().bootstrap +
                                        ": no DeleteTopics result");
  }
  size_t n = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_DeleteTopics_result_topics(result, &n);
  std::vector<std::string> problems;
  for (size_t i = 0; i < n; ++i) {
    const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
      continue;
    problems.push_back(std::string(rd_kafka_topic_result_name(results[i])) + ": " +
                       rd_kafka_err2name(err));
  }
  if (!problems.empty())
    return fail(Errc::kInvalidArgument, "cannot delete Kafka topics: " + join(problems));
  return ok();
}

}  // namespace

Result<void> create_topics(const KafkaConfig& config, const std::vector<TopicSpec>& topics,
                           milliseconds timeout) {
  if (topics.empty()) return ok();
  // Once each (see delete_topics). The same name with different settings is two parts of a
  // deployment disagreeing about one topic (say, serve's audit topic named as deliver's compacted
  // status topic): refused, never settled by whichever came first.
  std::vector<TopicSpec> once;
  for (const auto& t : topics) {
    auto same = std::find_if(once.begin(), once.end(),
                             [&](const TopicSpec& o) { return o.name == t.name; });
    if (same == once.end()) {
      once.push_back(t);
    } else if (same->partitions != t.partitions || same->compact != t.compact ||
               same->configs != t.configs) {
      return fail(Errc::kInvalidArgument,
                  "topic " + t.name + " is named twice with different settings");
    }
  }
  SAMORDNA_TRY(s, Session::open(config, timeout));
  return create(s, once);
}

Result<void> delete_topics(const KafkaConfig& config, const std::vector<std::string>& topics,
                           milliseconds timeout) {
  if (topics.empty()) return ok();
  // librdkafka refuses a request that names a topic twice, and answers it with an event that
  // carries no DeleteTopics result: once each.
  std::vector<std::string> once = topics;
  std::sort(once.begin(), once.end());
  once.erase(std::unique(once.begin(), once.end()), once.end());
  SAMORDNA_TRY(s, Session::open(config, timeout));
  return remove(s, once);
}

Result<std::map<std::string, int>> list_topics(const KafkaConfig& config, milliseconds timeout) {
  SAMORDNA_TRY(s, Session::open(config, timeout));
  return s.topics();
}

Result<int> partition_count(const KafkaConfig& config, const std::string& topic,
                            milliseconds timeout) {
  SAMORDNA_TRY(topics, list_topics(config, timeout));
  const auto it = topics.find(topic);
  if (it == topics.end()) {
    return fail(Errc::kNotFound, "Kafka topic " + topic + " does not exist at " + config.bootstrap);
  }
  return it->second;
}

Result<void> ensure_topics(const KafkaConfig& config, milliseconds timeout) {
  SAMORDNA_TRY(s, Session::open(config, timeout));
  SAMORDNA_TRY(existing, s.topics());
  const Topics& t = config.topics;

  auto find = [&](const std::string& name) -> std::optional<int> {
    const auto it = existing.find(name);
    return it == existing.end() ? std::nullopt : std::optional<int>(it->second);
  };
  auto missing_of = [&](std::initializer_list<const std::string*> names) {
    std::vector<std::string> out;
    for (const std::string* n : names) {
      if (!find(*n)) out.push_back(*n);
    }
    return out;
  };
  // Creates `specs` and waits until the metadata shows them: it lags creation by a moment.
  auto create_and_wait = [&](const std::vector<TopicSpec>& specs) -> Result<void> {
    SAMORDNA_TRYV(create(s, specs));
    for (;;) {
      SAMORDNA_TRY(now, s.topics());
      existing = std::move(now);
      std::vector<std::string> still;
      for (const auto& spec : specs) {
        if (!find(spec.name)) still.push_back(spec.name);
      }
      if (still.empty()) return ok();
      if (s.expired()) {
        return fail(Errc::kUnavailable, "created Kafka topic(s) " + join(still) +
                                            " did not show in the metadata within " +
                                            seconds_text(timeout));
      }
      std::this_thread::sleep_for(std::min(milliseconds(100), s.remaining()));
    }
  };

  const std::vector<std::string> missing =
      missing_of({&t.events, &t.notifications, &t.deadletter, &t.changelog, &t.episodes});
  if (!missing.empty() && !config.create_topics) {
    return fail(Errc::kNotFound,
                "missing Kafka topic(s) at " + config.bootstrap + ": " + join(missing) +
                    " (createTopics is false: create them, the changelog with cleanup.policy=" +
                    "compact and as many partitions as " + t.events + ")");
  }
  // The input side first, then the changelog with the events topic's actual partition count,
  // which another instance may have just chosen.
  std::vector<TopicSpec> inputs;
  for (const auto& name : missing_of({&t.events, &t.notifications, &t.deadletter})) {
    inputs.push_back(TopicSpec{name, config.partitions, false});
  }
  if (!inputs.empty()) {
    SAMORDNA_TRYV(create_and_wait(inputs));
  }
  const int events = *find(t.events);
  if (!find(t.changelog)) {
    SAMORDNA_TRYV(create_and_wait({TopicSpec{t.changelog, events, true}}));
  }

  const int changelog = *find(t.changelog);
  if (events != changelog) {
    return fail(Errc::kConflict,
                "changelog topic " + t.changelog + " has " + std::to_string(changelog) +
                    " partition(s) but events topic " + t.events + " has " +
                    std::to_string(events) +
                    ": the changelog holds partition p's state in its partition p, so the counts " +
                    "must match (recreate " + t.changelog + " with " + std::to_string(events) +
                    " partitions)");
  }
  // The views: compacted, keyed by episode like everything else (any partition count would do,
  // the read side reads them all).
  if (!find(t.episodes)) {
    SAMORDNA_TRYV(create_and_wait({TopicSpec{t.episodes, events, true}}));
  }
  return ok();
}

}  // namespace samordna::kafka
