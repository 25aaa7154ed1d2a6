// samordna deliver: notifications pushed to the recipients' systems (connectors/deliver/README.md).
// Wires the Kafka side (the notifications and replay topics in, the status and dead-letter topics
// out), the RocksDB outbox (engine/store/outbox.h), the metrics, and the scheduler
// (connectors/deliver/service.h), which does the deliveries. SIGTERM and SIGINT stop it cleanly;
// SIGKILL loses nothing (the outbox and the offsets are written in one batch before a delivery).

#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <memory>
#include <thread>

#include "connectors/deliver/config.h"
#include "connectors/deliver/service.h"
#include "connectors/kafka/admin.h"
#include "connectors/kafka/reader.h"
#include "connectors/kafka/record_producer.h"
#include "connectors/metrics/registry.h"
#include "engine/app/commands.h"
#include "engine/app/metrics_http.h"
#include "engine/store/outbox.h"

namespace samordna::app {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_deliver_signal(int) { g_stop.store(true); }

constexpr auto kAdminTimeout = std::chrono::seconds{15};

// The scheduler's outbox port over the RocksDB outbox.
class OutboxAdapter final : public deliver::Outbox {
 public:
  explicit OutboxAdapter(store::DeliveryOutbox& o) : o_(o) {}
  Result<void> update(const v1::OutboxEntry& e) override { return o_.update(e); }
  Result<void> remove(const v1::OutboxEntry& e) override { return o_.remove(e); }
  Result<void> bury(const v1::OutboxEntry& e) override { return o_.bury(e); }
  Result<void> set_disabled(const std::string& endpoint, bool disabled) override {
    return o_.set_disabled(endpoint, disabled, {});
  }

 private:
  store::DeliveryOutbox& o_;
};

// Status records go out without waiting (the topic is a view: a lost one is replaced by the next
// change), except the rare ones that may stay the last word for days (DISABLED, DEAD_LETTERED):
// those wait for the broker, so a kill -9 right after does not lose them. Dead letters are
// confirmed before the outbox lets the entry go.
class KafkaReporter final : public deliver::Reporter {
 public:
  KafkaReporter(metrics::Registry& registry, std::string status_topic)
      : status_topic_(std::move(status_topic)),
        attempts_(registry.counter("samordna_deliver_attempts_total",
                                   "Delivery attempts by endpoint and outcome (delivered, retry, "
                                   "dead_letter, disabled)",
                                   {"endpoint", "outcome"})),
        dead_(registry.counter("samordna_deliver_dead_letters_total",
                               "Deliveries dead-lettered by endpoint and code (rejected, "
                               "exhausted, unprintable; unreadable records with no endpoint)",
                               {"endpoint", "code"})),
        attempt_seconds_(registry.histogram("samordna_deliver_attempt_duration_seconds",
                                            "One HTTP attempt, connect to answer",
                                            metrics::latency_buckets(), {"endpoint"})),
        commit_to_delivery_(registry.histogram(
            "samordna_deliver_commit_to_delivery_seconds",
            "From the notification's commit to Kafka to its delivery",
            {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400},
            {"endpoint"})) {}

  Result<void> open(const kafka::KafkaConfig& config, const std::string& deadletter_topic) {
    constexpr auto kBound = std::chrono::seconds{10};
    SAMORDNA_TRY(dl, kafka::RecordProducer::create(config, deadletter_topic, kBound));
    dead_letters_ = std::move(dl);
    SAMORDNA_TRY(st, kafka::RecordProducer::create(config, status_topic_, kBound));
    statuses_ = std::move(st);
    return ok();
  }

  // DISABLED and DEAD_LETTERED wait for the broker (they go before the outbox's write); the
  // others are queued, and a later status of the same delivery supersedes a lost one.
  void status(const v1::DeliveryStatus& s) override {
    if (!statuses_) return;
    const std::string key = s.notification_id() + "/" + s.endpoint();
    const std::string value = s.SerializeAsString();
    if (s.state() == v1::DeliveryStatus::DISABLED ||
        s.state() == v1::DeliveryStatus::DEAD_LETTERED) {
      if (auto r = statuses_->write(key, value); !r) {
        spdlog::warn("deliver: a status record was not confirmed: {}", r.error().message);
      }
    } else if (auto r = statuses_->send(key, value); !r) {
      spdlog::warn("deliver: a status record was not queued: {}", r.error().message);
    }
  }
  Result<void> dead_letter(const v1::DeliveryStatus& s, const v1::Notification& n) override {
    v1::DeliveryStatus record = s;
    *record.mutable_notification() = n;
    SAMORDNA_TRYV(
        dead_letters_->write(s.notification_id() + "/" + s.endpoint(), record.SerializeAsString()));
    dead_.labels({s.endpoint(), s.code()}).inc();
    return ok();
  }
  // A record that is not what its topic carries: dead-lettered with its bytes and where it was,
  // confirmed by the broker before the caller lets its offset be stored, so none is dropped unseen.
  Result<void> unreadable(const kafka::Record& rec, const std::string& what) {
    const std::string where =
        rec.topic + "[" + std::to_string(rec.partition) + "]@" + std::to_string(rec.offset);
    v1::DeliveryStatus s;
    s.set_state(v1::DeliveryStatus::DEAD_LETTERED);
    s.set_code("unreadable");
    s.set_reason("the record at " + where + " (" + std::to_string(rec.value.size()) +
                 " bytes) is not " + what);
    s.set_at_unix(std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count());
    s.set_record(rec.value);
    SAMORDNA_TRYV(dead_letters_->write("unreadable/" + where, s.SerializeAsString()));
    dead_.labels({"", "unreadable"}).inc();
    spdlog::warn("deliver: dead-lettered {}", s.reason());
    return ok();
  }
  void attempted(const std::string& endpoint, const std::string& outcome, double seconds) override {
    attempts_.labels({endpoint, outcome}).inc();
    if (seconds > 0) attempt_seconds_.labels({endpoint}).observe(seconds);
  }
  void delivered(const std::string& endpoint, double seconds) override {
    commit_to_delivery_.labels({endpoint}).observe(seconds);
  }

 private:
  std::string status_topic_;
  metrics::Family<metrics::Counter>& attempts_;
  metrics::Family<metrics::Counter>& dead_;
  metrics::Family<metrics::Histogram>& attempt_seconds_;
  metrics::Family<metrics::Histogram>& commit_to_delivery_;
  std::unique_ptr<kafka::RecordProducer> dead_letters_;
  std::unique_ptr<kafka::RecordProducer> statuses_;
};

// The entries of one notification: one per configured endpoint of an addressee that takes its
// kind.
std::vector<v1::OutboxEntry> route(const deliver::DeliverConfig& config, const v1::Notification& n,
                                   const std::string& bytes, int32_t partition, int64_t offset,
                                   int64_t committed_ms) {
  std::vector<v1::OutboxEntry> out;
  const std::string kind = deliver::notification_kind(n);
  for (const auto& e : config.endpoints) {
    bool addressed = false;
    for (const auto& a : n.addressees()) {
      if (a.kind() == e.organisation.kind() && a.id() == e.organisation.id()) addressed = true;
    }
    if (!addressed) continue;
    if (!e.kinds.empty() && std::find(e.kinds.begin(), e.kinds.end(), kind) == e.kinds.end())
      continue;
    v1::OutboxEntry entry;
    entry.set_endpoint(e.name);
    entry.set_episode_id(n.episode_id());
    entry.set_partition(partition);
    entry.set_offset(offset);
    entry.set_notification(bytes);
    entry.set_notification_id(n.notification_id());
    entry.set_committed_unix_ms(committed_ms);
    out.push_back(std::move(entry));
  }
  return out;
}

struct DeliverArgs {
  std::string config, bootstrap, data_dir = "samordna-deliver";
  int metrics_port = 0;
  std::string metrics_address = "127.0.0.1";
  std::vector<std::string> properties;
  int verbosity = 0;
  // Tests and the bench: exit once every partition is read to its end and the outbox is empty.
  bool exit_when_idle = false;
  // Where a partition without an offset in the outbox starts: "beginning" (every notification
  // still in the topic is delivered) or "end" (only new ones: a first start on a topic with years
  // of history).
  std::string start_at = "beginning";
  // How often the cluster is asked for partitions added to the topics since the start.
  int partition_check_seconds = 30;
};

Result<deliver::DeliverConfig> load(const std::string& file, const std::string& bootstrap,
                                    const std::vector<std::string>& properties,
                                    kafka::KafkaConfig& kafka) {
  SAMORDNA_TRY(config, deliver::load_deliver_config(file));
  kafka.bootstrap = !bootstrap.empty() ? bootstrap : config.bootstrap;
  if (kafka.bootstrap.empty()) {
    return fail(Errc::kInvalidArgument, "no Kafka bootstrap: give --bootstrap or kafka.bootstrap");
  }
  kafka.properties = config.properties;
  for (const auto& kv : properties) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return fail(Errc::kInvalidArgument, "-X expects key=value");
    kafka.properties[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  kafka.topics.notifications = config.notifications_topic;
  return config;
}

Result<void> create_topics(const kafka::KafkaConfig& kafka, const deliver::DeliverConfig& c) {
  auto n = kafka::partition_count(kafka, c.notifications_topic, kAdminTimeout);
  if (!n && n.error().code == Errc::kNotFound) {
    SAMORDNA_TRYV(kafka::ensure_topics(kafka, kAdminTimeout));
  } else if (!n) {
    return n.error();
  }
  return kafka::create_topics(kafka,
                              {{c.status_topic, kafka.partitions, true},
                               {c.deadletter_topic, kafka.partitions, false},
                               {c.replay_topic, 1, false}},
                              kAdminTimeout);
}

int run_deliver(const DeliverArgs& args) {
  if (args.verbosity == 1) spdlog::set_level(spdlog::level::info);
  if (args.verbosity >= 2) spdlog::set_level(spdlog::level::debug);
  kafka::KafkaConfig kafka;
  auto config = load(args.config, args.bootstrap, args.properties, kafka);
  if (!config) {
    std::cerr << "samordna deliver: " << config.error().message << '\n';
    return kExitUsage;
  }
  const auto& c = config.value();
  auto outbox = store::DeliveryOutbox::open(args.data_dir);
  if (!outbox) {
    std::cerr << "samordna deliver: " << outbox.error().message << '\n';
    return outbox.error().code == Errc::kCorruption ? kExitFailure : kExitUsage;
  }
  if (auto r = create_topics(kafka, c); !r) {
    std::cerr << "samordna deliver: " << r.error().message << '\n';
    return kExitFailure;
  }

  metrics::Registry registry;
  auto& depth = registry.gauge("samordna_deliver_queue_depth",
                               "Deliveries pending per endpoint (in the outbox)", {"endpoint"});
  auto& disabled_gauge =
      registry.gauge("samordna_deliver_endpoint_disabled",
                     "1 while an endpoint is disabled (it answered 410)", {"endpoint"});
  auto& read = registry
                   .counter("samordna_deliver_notifications_read_total",
                            "Notifications read from the notifications topic")
                   .labels(std::vector<std::string>{});
  auto& routed = registry
                     .counter("samordna_deliver_enqueued_total",
                              "Deliveries written to the outbox (one per endpoint)")
                     .labels(std::vector<std::string>{});
  KafkaReporter reporter(registry, c.status_topic);
  if (auto r = reporter.open(kafka, c.deadletter_topic); !r) {
    std::cerr << "samordna deliver: " << r.error().message << '\n';
    return kExitFailure;
  }
  std::unique_ptr<http::Server> metrics_server;
  if (args.metrics_port > 0) {
    auto server = start_metrics_server(registry, args.metrics_address,
                                       static_cast<uint16_t>(args.metrics_port));
    if (!server) {
      std::cerr << "samordna deliver: metrics endpoint: " << server.error().message << '\n';
      return kExitUsage;
    }
    metrics_server = std::move(server.value());
  }

  auto& box = *outbox.value();
  OutboxAdapter adapter(box);
  auto disabled = box.disabled();
  auto pending = box.pending();
  auto offsets = box.offsets();
  if (!disabled || !pending || !offsets) {
    std::cerr << "samordna deliver: cannot read the outbox in " << args.data_dir << '\n';
    return kExitFailure;
  }
  deliver::SchedulerOptions scheduler_options;
  scheduler_options.retry = c.retry;
  auto scheduler = deliver::Scheduler::start(c.endpoints, disabled.value(), adapter, reporter,
                                             deliver::https_poster_factory(), scheduler_options);
  if (!scheduler) {
    std::cerr << "samordna deliver: " << scheduler.error().message << '\n';
    return kExitUsage;
  }
  auto& sched = *scheduler.value();
  if (const size_t orphans = sched.enqueue(std::move(pending).value()); orphans > 0) {
    spdlog::warn("deliver: {} pending deliveries are for endpoints no longer configured", orphans);
  }

  // Every partition of the notifications and replay topics, from the outbox's offsets: no group,
  // nothing committed to Kafka (the offsets live with the entries).
  std::vector<kafka::PartitionStart> partitions;
  for (const auto& topic : {c.notifications_topic, c.replay_topic}) {
    // --start-at end: notifications from now on; replay requests always from the beginning.
    const int64_t from = args.start_at == "end" && topic == c.notifications_topic
                             ? kafka::kFromEnd
                             : kafka::kFromBeginning;
    auto some = kafka::every_partition(kafka, {topic}, from, kAdminTimeout, offsets.value());
    if (!some) {
      std::cerr << "samordna deliver: " << some.error().message << '\n';
      return kExitFailure;
    }
    partitions.insert(partitions.end(), some.value().begin(), some.value().end());
  }
  auto reader = kafka::Reader::assign(kafka, partitions, {{"group.id", "samordna-deliver"}});
  if (!reader) {
    std::cerr << "samordna deliver: " << reader.error().message << '\n';
    return kExitFailure;
  }
  auto& input = *reader.value();

  std::signal(SIGTERM, on_deliver_signal);
  std::signal(SIGINT, on_deliver_signal);
  spdlog::info("deliver: {} endpoints, {} partitions", c.endpoints.size(), partitions.size());

  std::vector<v1::OutboxEntry> batch;
  store::Offsets batch_offsets;
  std::set<std::pair<std::string, int>> at_end;
  int exit_code = kExitOk;
  auto flush = [&]() -> bool {
    if (batch.empty() && batch_offsets.empty()) return true;
    if (auto r = box.add(batch, batch_offsets); !r) {
      spdlog::error("deliver: {}", r.error().message);
      return false;
    }
    routed.inc(batch.size());
    sched.enqueue(std::move(batch));
    batch.clear();
    batch_offsets.clear();
    return true;
  };
  auto last_gauges = std::chrono::steady_clock::now() - std::chrono::hours{1};
  auto last_check = std::chrono::steady_clock::now();
  while (!g_stop.load()) {
    // Partitions added since the start (an operator's kafka-topics.sh --alter): read from their
    // beginning, whatever --start-at says (all they hold came after the start). Without this a
    // notification keyed to a new partition was never delivered until a restart.
    if (std::chrono::steady_clock::now() - last_check >=
        std::chrono::seconds{args.partition_check_seconds}) {
      auto added = input.grow({c.notifications_topic, c.replay_topic}, std::chrono::seconds{5},
                              offsets.value());
      if (!added) {
        spdlog::warn("deliver: cannot check the topics for new partitions: {}",
                     added.error().message);
      } else {
        for (const auto& s : added.value()) {
          spdlog::info("deliver: reading partition {} of {}, new since the start", s.partition,
                       s.topic);
          partitions.push_back(s);
        }
      }
      last_check = std::chrono::steady_clock::now();
    }
    if (auto f = sched.failure()) {
      std::cerr << "samordna deliver: " << f->message << '\n';
      exit_code = kExitFailure;
      break;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_gauges >= std::chrono::seconds{1}) {
      last_gauges = now;
      size_t total = 0;
      for (const auto& [name, d] : sched.depths()) {
        depth.labels({name}).set(static_cast<double>(d));
        disabled_gauge.labels({name}).set(sched.disabled(name) ? 1 : 0);
        total += d;
      }
      if (args.exit_when_idle && total == 0 && batch.empty() && at_end.size() == partitions.size())
        break;
    }
    auto next = input.next(std::chrono::milliseconds{100});
    if (!next) {
      std::cerr << "samordna deliver: " << next.error().message << '\n';
      exit_code = kExitFailure;
      break;
    }
    switch (next.value().kind) {
      case kafka::Reader::Next::Kind::kRecord: {
        const kafka::Record& rec = next.value().record;
        const std::string& topic = rec.topic;
        const int32_t p = rec.partition;
        at_end.erase({topic, p});
        const std::string& bytes = rec.value;
        if (topic == c.notifications_topic) {
          read.inc();
          v1::Notification n;
          // Protobuf takes an empty record and most short junk as a message with nothing set: a
          // notification without an id is no notification.
          if (!n.ParseFromString(bytes) || n.notification_id().empty()) {
            if (auto r = reporter.unreadable(rec, "a samordna.v1.Notification"); !r) {
              std::cerr << "samordna deliver: " << r.error().message << '\n';
              exit_code = kExitFailure;  // its offset is not stored: the next run reads it again
              break;
            }
          } else {
            auto entries = route(c, n, bytes, p, rec.offset, rec.timestamp_ms);
            for (auto& e : entries) batch.push_back(std::move(e));
          }
          batch_offsets[{topic, p}] = rec.offset + 1;
          if (batch.size() >= 500 && !flush()) exit_code = kExitFailure;
        } else {
          // A replay request: what came before it is stored first, then it is applied with its
          // own offset in the same write.
          if (!flush()) {
            exit_code = kExitFailure;
            break;
          }
          v1::DeliveryReplay req;
          store::Offsets next_offset{{{topic, p}, rec.offset + 1}};
          if (!req.ParseFromString(bytes)) {
            if (auto r = reporter.unreadable(rec, "a samordna.v1.DeliveryReplay"); !r) {
              std::cerr << "samordna deliver: " << r.error().message << '\n';
              exit_code = kExitFailure;
              break;
            }
            (void)box.add({}, next_offset);
          } else if (req.enable_endpoint()) {
            if (auto r = sched.enable(req.endpoint()); !r) {
              spdlog::warn("deliver: enable: {}", r.error().message);
            } else {
              spdlog::warn("deliver: endpoint {} enabled again", req.endpoint());
            }
            (void)box.add({}, next_offset);
          } else {
            auto revived = box.revive(req.all_dead() ? "" : req.notification_id(), req.endpoint(),
                                      next_offset);
            if (!revived) {
              spdlog::error("deliver: {}", revived.error().message);
              exit_code = kExitFailure;
              break;
            }
            spdlog::warn("deliver: replay: {} dead-lettered deliveries queued again",
                         revived.value().size());
            sched.enqueue(std::move(revived).value());
          }
        }
        break;
      }
      case kafka::Reader::Next::Kind::kEnd:
        at_end.insert(next.value().end);
        if (!flush()) exit_code = kExitFailure;
        break;
      case kafka::Reader::Next::Kind::kNothing:
        if (!flush()) exit_code = kExitFailure;
        break;
    }
    if (exit_code != kExitOk) break;
  }
  if (exit_code == kExitOk && !flush()) exit_code = kExitFailure;
  input.close();
  return exit_code;
}

Result<void> send_replay(const DeliverArgs& args, const v1::DeliveryReplay& req) {
  kafka::KafkaConfig kafka;
  SAMORDNA_TRY(config, load(args.config, args.bootstrap, args.properties, kafka));
  SAMORDNA_TRYV(kafka::create_topics(kafka, {{config.replay_topic, 1, false}}, kAdminTimeout));
  SAMORDNA_TRY(producer,
               kafka::RecordProducer::create(kafka, config.replay_topic, std::chrono::seconds{10}));
  return producer->write("replay", req.SerializeAsString());
}

}  // namespace

void add_deliver_command(CLI::App& app, Commands& commands) {
  auto a = std::make_shared<DeliverArgs>();
  auto* cmd = app.add_subcommand(
      "deliver", "push notifications to the recipients' systems: signed webhooks, json or FHIR");
  cmd->require_subcommand(0, 1);
  cmd->add_option("--config", a->config, "deliver's config file (endpoints, secrets, topics)")
      ->required();
  cmd->add_option("--bootstrap", a->bootstrap, "Kafka bootstrap servers H:P");
  cmd->add_option("--data-dir", a->data_dir, "the outbox's directory (default samordna-deliver)");
  cmd->add_option("--metrics-port", a->metrics_port, "serve /metrics on this port (0: none)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--metrics-address", a->metrics_address,
                  "metrics address (default 127.0.0.1; 0.0.0.0 for every interface)");
  cmd->add_option("-X", a->properties, "librdkafka property k=v (repeatable)");
  cmd->add_flag("-v", a->verbosity, "log progress (-vv: debug)");
  cmd->add_option("--partition-check-seconds", a->partition_check_seconds,
                  "how often to look for partitions added to the topics, read from their start "
                  "with no restart (default 30)")
      ->check(CLI::Range(1, 3600));
  cmd->add_option("--start-at", a->start_at,
                  "a partition never read before starts at its beginning (default) or end")
      ->check(CLI::IsMember({"beginning", "end"}));
  cmd->add_flag("--exit-when-idle", a->exit_when_idle,
                "exit once every partition is read and nothing is pending (tests, bench)");

  auto r = std::make_shared<v1::DeliveryReplay>();
  auto notification = std::make_shared<std::string>();
  auto endpoint = std::make_shared<std::string>();
  auto all_dead = std::make_shared<bool>(false);
  auto enable = std::make_shared<std::string>();
  auto* replay = cmd->add_subcommand(
      "replay", "queue dead-lettered deliveries again, or enable an endpoint a 410 disabled");
  replay->fallthrough();  // --config, --bootstrap, -X given after `replay` belong to deliver
  auto* by_id = replay->add_option("--notification", *notification, "a notification id");
  auto* all = replay->add_flag("--all-dead", *all_dead, "every dead-lettered delivery");
  replay->add_option("--endpoint", *endpoint, "only to this endpoint");
  auto* en = replay->add_option("--enable-endpoint", *enable, "enable this endpoint again");
  by_id->excludes(all);
  en->excludes(by_id)->excludes(all);
  // `deliver replay` before `deliver` in the list: both are parsed when replay is.
  commands.emplace_back(replay, [a, notification, endpoint, all_dead, enable]() -> int {
    v1::DeliveryReplay req;
    if (!enable->empty()) {
      req.set_enable_endpoint(true);
      req.set_endpoint(*enable);
    } else if (*all_dead || !notification->empty()) {
      req.set_all_dead(*all_dead);
      req.set_notification_id(*notification);
      req.set_endpoint(*endpoint);
    } else {
      std::cerr
          << "samordna deliver replay: give --notification, --all-dead or --enable-endpoint\n";
      return kExitUsage;
    }
    if (auto res = send_replay(*a, req); !res) {
      std::cerr << "samordna deliver replay: " << res.error().message << '\n';
      return res.error().code == Errc::kInvalidArgument ? kExitUsage : kExitFailure;
    }
    std::cout << "replay request sent\n";
    return kExitOk;
  });
  commands.emplace_back(cmd, [a]() { return run_deliver(*a); });
}

}  // namespace samordna::app
