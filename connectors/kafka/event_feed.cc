#include "connectors/kafka/event_feed.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "connectors/kafka/publisher.h"
#include "engine/core/json_codec.h"
#include "engine/core/json_error.h"
#include "samordna/v1/event.pb.h"

namespace samordna::kafka {

Result<FeedResult> produce_event_lines(
    const KafkaConfig& config, std::istream& in, const FeedOptions& options,
    const std::function<void(size_t, const std::string&)>& on_bad_line) {
  return produce_event_lines(
      config, [&in](std::string& line) { return static_cast<bool>(std::getline(in, line)); },
      options, on_bad_line);
}

Result<FeedResult> produce_event_lines(
    const KafkaConfig& config, const std::function<bool(std::string&)>& next_line,
    const FeedOptions& options,
    const std::function<void(size_t, const std::string&)>& on_bad_line) {
  SAMORDNA_TRY(publisher, Publisher::create(config, options.topic, options.properties));

  FeedResult result;
  std::mutex mutex;
  std::condition_variable answered;
  size_t open = 0;  // batches without an answer
  auto send = [&](std::vector<v1::Event>& batch) {
    if (batch.empty()) return;
    result.sent += batch.size();
    {
      std::lock_guard lock(mutex);
      ++open;
    }
    publisher->publish(std::move(batch), Publisher::Clock::now() + options.bound,
                       [&](PublishOutcome out) {
                         std::lock_guard lock(mutex);
                         const size_t durable = out.durable_count();
                         result.durable += durable;
                         result.undelivered += out.events.size() - durable;
                         if (out.status == PublishOutcome::Status::kTimedOut) {
                           result.timed_out += out.events.size() - durable;
                         }
                         if (out.error && result.first_error.empty()) {
                           result.first_error = out.error->message;
                         }
                         --open;
                         answered.notify_all();
                       });
    batch.clear();
  };

  JsonCodec json;
  std::string line, parser_message;
  std::vector<v1::Event> batch;
  size_t line_no = 0;
  while (true) {
    if (options.interrupted && options.interrupted()) {
      result.interrupted = true;
      break;
    }
    if (!next_line(line)) break;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    v1::Event event;
    if (!json.parse(line, event, parser_message)) {
      ++result.bad_lines;
      on_bad_line(line_no, describe_json_error(line, parser_message));
      continue;
    }
    batch.push_back(std::move(event));
    if (batch.size() >= options.batch_size) send(batch);
  }
  // A signal that interrupted a blocking read (a pipe, a terminal) ends the input too.
  if (!result.interrupted && options.interrupted && options.interrupted()) {
    result.interrupted = true;
  }
  send(batch);
  // Every batch is answered by its deadline at the latest.
  std::unique_lock lock(mutex);
  answered.wait(lock, [&] { return open == 0; });
  lock.unlock();
  publisher->close(std::chrono::milliseconds(0));
  return result;
}

}  // namespace samordna::kafka
