#include "connectors/kafka/intake.h"

#include <librdkafka/rdkafkacpp.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "connectors/kafka/admin.h"
#include "connectors/kafka/errors.h"

namespace samordna::kafka {
namespace {

using std::chrono::milliseconds;

// Submissions waiting for a transaction beyond which new ones are refused at once (kFailed): with
// the broker away, a queue that only grows would turn into memory, not into durability.
constexpr size_t kMaxQueued = 100000;
// One attempt of commit_transaction / abort_transaction; a retriable failure is tried again.
constexpr int kCommitAttemptMs = 5000;

int64_t now_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Owns an RdKafka::Error* from a transactional call.
struct TxnError {
  std::unique_ptr<RdKafka::Error> error;
  explicit operator bool() const { return error != nullptr; }
};

// Runs `f` on a new thread that takes no signals (as librdkafka's own threads): SIGTERM and SIGINT
// must reach the application's threads.
template <class F>
std::thread unsignalled_thread(F f) {
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  std::thread t(std::move(f));
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return t;
}

}  // namespace

const char* intake_status_name(IntakeOutcome::Status s) {
  switch (s) {
    case IntakeOutcome::Status::kDurable:
      return "durable";
    case IntakeOutcome::Status::kConflict:
      return "conflict";
    case IntakeOutcome::Status::kTimedOut:
      return "timed_out";
    case IntakeOutcome::Status::kFailed:
      return "failed";
  }
  return "failed";
}

struct Intake::Impl {
  // One submit(). Guarded by mutex_.
  struct Entry {
    std::vector<v1::Event> events;
    IntakeRecord memory;
    std::vector<IntakeRecord> more;
    Clock::time_point deadline;
    Callback done;
    bool answered = false;
    std::multimap<Clock::time_point, std::shared_ptr<Entry>>::iterator in_deadlines;
  };
  struct Remembered {
    std::string value;
    int64_t at_ms = 0;  // when committed (the record's timestamp)
  };
  struct Pending {
    std::string value;  // the latest submitted
    int count = 0;      // submissions of this key not yet committed or dropped
  };
  using Answer = std::pair<Callback, IntakeOutcome>;

  KafkaConfig config;
  IntakeOptions options;
  std::unique_ptr<RdKafka::Producer> producer;
  TopicHandles known;  // learn_topics(): the first transaction need not wait for the topic scan

  mutable std::mutex mutex_;
  std::condition_variable work_;      // queue_ grew, or closing
  std::condition_variable deadline_;  // deadlines_ changed, or stopping
  std::condition_variable idle_;      // queue_ empty and no transaction running
  std::deque<std::shared_ptr<Entry>> queue_;
  std::multimap<Clock::time_point, std::shared_ptr<Entry>> deadlines_;
  std::unordered_map<std::string, Remembered> memory_;
  std::unordered_map<std::string, Pending> pending_;
  std::optional<Error> fatal_;
  IntakeStats stats_;
  bool closing_ = false;   // no new submissions
  bool stopping_ = false;  // threads end
  bool in_txn_ = false;
  int64_t last_prune_ms_ = 0;
  std::thread committer_, watcher_;

  ~Impl() { shutdown(); }

  // --- answers (under mutex_, delivered outside it) ---------------------------------------------

  void answer(const std::shared_ptr<Entry>& e, IntakeOutcome out, std::vector<Answer>& answers) {
    if (e->answered) return;
    e->answered = true;
    if (e->in_deadlines != deadlines_.end()) {
      deadlines_.erase(e->in_deadlines);
      e->in_deadlines = deadlines_.end();
    }
    switch (out.status) {
      case IntakeOutcome::Status::kDurable:
        ++stats_.durable;
        break;
      case IntakeOutcome::Status::kConflict:
        ++stats_.conflicts;
        break;
      case IntakeOutcome::Status::kTimedOut:
        ++stats_.timed_out;
        break;
      case IntakeOutcome::Status::kFailed:
        ++stats_.failed;
        break;
    }
    answers.emplace_back(std::move(e->done), std::move(out));
  }

  static void deliver(std::vector<Answer>& answers) {
    for (auto& [done, out] : answers) {
      if (done) done(std::move(out));
    }
    answers.clear();
  }

  static IntakeOutcome failed(Error e) {
    IntakeOutcome out;
    out.status = IntakeOutcome::Status::kFailed;
    out.error = std::move(e);
    return out;
  }

  void add_pending(const IntakeRecord& r) {
    auto& p = pending_[r.key];
    p.value = r.value;
    ++p.count;
  }
  void drop_pending(const IntakeRecord& r) {
    auto it = pending_.find(r.key);
    if (it != pending_.end() && --it->second.count <= 0) pending_.erase(it);
  }
  // The entry will not be committed: forget its pending values. Under mutex_.
  void drop_pending(const Entry& e) {
    drop_pending(e.memory);
    for (const auto& r : e.more) drop_pending(r);
  }

  // The entry is committed. Under mutex_.
  void remember(const Entry& e, int64_t at_ms) {
    memory_[e.memory.key] = Remembered{e.memory.value, at_ms};
    for (const auto& r : e.more) memory_[r.key] = Remembered{r.value, at_ms};
    drop_pending(e);
  }

  // Forgets what is older than the retention, at most once a minute. Under mutex_.
  void prune(int64_t now) {
    if (now - last_prune_ms_ < 60000) return;
    last_prune_ms_ = now;
    const int64_t oldest = now - options.memory_retention.count();
    for (auto it = memory_.begin(); it != memory_.end();) {
      it = it->second.at_ms < oldest ? memory_.erase(it) : std::next(it);
    }
  }

  // --- the committer
  // ------------------------------------------------------------------------------

  void commit_loop() {
    std::vector<Answer> answers;
    while (true) {
      std::vector<std::shared_ptr<Entry>> batch;
      {
        std::unique_lock lock(mutex_);
        work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, nothing left
        // Group commit: wait a little for more, unless the batch is full or we are closing.
        if (!closing_) {
          work_.wait_until(lock, Clock::now() + options.linger, [this] {
            return stopping_ || closing_ || queue_.size() >= options.max_batch;
          });
        }
        while (!queue_.empty() && batch.size() < options.max_batch) {
          auto e = std::move(queue_.front());
          queue_.pop_front();
          // Answered already (its deadline passed while it waited): not worth a transaction; the
          // sender resends.
          if (e->answered) {
            drop_pending(*e);
            continue;
          }
          batch.push_back(std::move(e));
        }
        if (fatal_) {
          for (auto& e : batch) {
            drop_pending(*e);
            answer(e, failed(*fatal_), answers);
          }
          batch.clear();
        }
        in_txn_ = !batch.empty();
        if (batch.empty() && queue_.empty()) idle_.notify_all();
      }
      deliver(answers);
      if (batch.empty()) continue;
      run_transaction(batch);
      std::lock_guard lock(mutex_);
      in_txn_ = false;
      if (queue_.empty()) idle_.notify_all();
    }
  }

  // Fails the batch: aborted or never begun. `fatal` also fails every later submission.
  void fail_batch(const std::vector<std::shared_ptr<Entry>>& batch, const Error& e, bool fatal) {
    std::vector<Answer> answers;
    {
      std::lock_guard lock(mutex_);
      if (fatal && !fatal_) fatal_ = e;
      for (const auto& entry : batch) {
        drop_pending(*entry);
        answer(entry, failed(e), answers);
      }
      if (fatal) {
        for (auto& entry : queue_) {
          drop_pending(*entry);
          answer(entry, failed(e), answers);
        }
        queue_.clear();
      }
    }
    if (fatal) spdlog::error("intake: {}; every submission fails from now on", e.message);
    deliver(answers);
  }

  Result<void> produce(const std::string& topic, const std::string& key, const std::string& value) {
    const auto give_up = Clock::now() + milliseconds(options.transaction_timeout_ms);
    while (true) {
      const auto err = producer->produce(
          topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
          const_cast<char*>(value.data()), value.size(), key.data(), key.size(), 0, nullptr);
      if (err == RdKafka::ERR_NO_ERROR) return ok();
      if (err != RdKafka::ERR__QUEUE_FULL || Clock::now() >= give_up) {
        return to_error("produce to " + topic, err);
      }
      producer->poll(10);
    }
  }

  // Aborts the open transaction after `why`; answers the batch kFailed.
  void abort(const std::vector<std::shared_ptr<Entry>>& batch, const Error& why) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      TxnError e{std::unique_ptr<RdKafka::Error>(producer->abort_transaction(kCommitAttemptMs))};
      if (!e) break;
      if (classify(*e.error) == ErrorClass::kFatal || attempt == 2) {
        fail_batch(batch, to_error("abort_transaction", *e.error), true);
        return;
      }
    }
    {
      std::lock_guard lock(mutex_);
      ++stats_.aborted;
    }
    spdlog::warn("intake: transaction of {} message(s) aborted: {}", batch.size(), why.message);
    fail_batch(batch, why, false);
  }

  void run_transaction(const std::vector<std::shared_ptr<Entry>>& batch) {
    if (TxnError e{std::unique_ptr<RdKafka::Error>(producer->begin_transaction())}) {
      fail_batch(batch, to_error("begin_transaction", *e.error),
                 classify(*e.error) == ErrorClass::kFatal);
      return;
    }
    std::string value;
    for (const auto& entry : batch) {
      for (const auto& event : entry->events) {
        value.clear();
        event.SerializeToString(&value);
        if (auto r = produce(config.topics.events, event.episode_id(), value); !r) {
          abort(batch, r.error());
          return;
        }
      }
      if (auto r = produce(options.memory_topic, entry->memory.key, entry->memory.value); !r) {
        abort(batch, r.error());
        return;
      }
      for (const auto& record : entry->more) {
        if (auto r = produce(options.memory_topic, record.key, record.value); !r) {
          abort(batch, r.error());
          return;
        }
      }
    }
    while (true) {
      TxnError e{std::unique_ptr<RdKafka::Error>(producer->commit_transaction(kCommitAttemptMs))};
      if (!e) break;
      const ErrorClass c = classify(*e.error);
      if (c == ErrorClass::kFatal) {
        fail_batch(batch, to_error("commit_transaction", *e.error), true);
        return;
      }
      if (c == ErrorClass::kAbortable || e.error->txn_requires_abort()) {
        abort(batch, to_error("commit_transaction", *e.error));
        return;
      }
      // Retriable (a timeout, a coordinator moving): the same call again. The callers' deadlines
      // are answered by the watcher meanwhile. When stopping, give up: the commit may or may not
      // have reached the coordinator, so the answer is "not confirmed", not "not written".
      spdlog::warn("intake: commit_transaction: {} (retrying)", e.error->str());
      std::vector<Answer> answers;
      {
        std::lock_guard lock(mutex_);
        if (!stopping_) continue;
        for (const auto& entry : batch) {
          drop_pending(*entry);
          IntakeOutcome out;
          out.status = IntakeOutcome::Status::kTimedOut;
          out.error = Error{Errc::kUnavailable, "intake closed while committing"};
          answer(entry, std::move(out), answers);
        }
      }
      deliver(answers);
      return;
    }
    std::vector<Answer> answers;
    {
      std::lock_guard lock(mutex_);
      const int64_t at = now_ms();
      ++stats_.transactions;
      for (const auto& entry : batch) {
        remember(*entry, at);
        answer(entry, IntakeOutcome{}, answers);
      }
      prune(at);
      stats_.memory_entries = memory_.size();
    }
    deliver(answers);
  }

  // --- the deadline watcher
  // -----------------------------------------------------------------------

  void watch_loop() {
    std::vector<Answer> answers;
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      if (deadlines_.empty()) {
        deadline_.wait(lock);
      } else {
        // A copy: the entry may be answered (and erased) while the wait has the lock released.
        const Clock::time_point next = deadlines_.begin()->first;
        deadline_.wait_until(lock, next);
      }
      const auto now = Clock::now();
      while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
        auto e = deadlines_.begin()->second;
        IntakeOutcome out;
        out.status = IntakeOutcome::Status::kTimedOut;
        out.error = Error{Errc::kUnavailable,
                          "intake: not committed within the caller's bound; it may still commit"};
        answer(e, std::move(out), answers);
      }
      lock.unlock();
      deliver(answers);
      lock.lock();
    }
  }

  // --- start and stop
  // -----------------------------------------------------------------------------

  Result<void> load_memory(Clock::time_point give_up) {
    SAMORDNA_TRY(partitions,
                 partition_count(config, options.memory_topic,
                                 std::chrono::duration_cast<milliseconds>(give_up - Clock::now())));
    SAMORDNA_TRY(consumer, make_consumer(config, [&] {
                   Properties p = options.extra;
                   p["group.id"] = "samordna-intake-reader-" + options.instance;
                   p["enable.partition.eof"] = "true";
                   p["auto.offset.reset"] = "earliest";
                   return p;
                 }()));
    // The end of each partition is its high watermark, asked read_uncommitted: the stable offset
    // a read_committed handle gets stops at the first open transaction, and another instance
    // that died with one open would hide everything committed after it until the broker aborts
    // it (connectors/kafka/README.md, "Restore on every assignment"). Reading stops there.
    SAMORDNA_TRY(ends, make_consumer(config, [&] {
                   Properties p = options.extra;
                   p["group.id"] = "samordna-intake-reader-" + options.instance;
                   p["isolation.level"] = "read_uncommitted";
                   return p;
                 }()));
    std::vector<RdKafka::TopicPartition*> assignment;
    std::map<int32_t, std::pair<int64_t, int64_t>> reading;  // partition -> (position, end)
    for (int32_t p = 0; p < partitions; ++p) {
      int64_t low = 0, high = 0;
      RdKafka::ErrorCode err;
      // A topic created a moment ago may have no leader yet: retriable, within the bound.
      while (true) {
        err = ends->query_watermark_offsets(
            options.memory_topic, p, &low, &high,
            static_cast<int>(std::max<int64_t>(
                1, std::chrono::duration_cast<milliseconds>(give_up - Clock::now()).count())));
        if (err == RdKafka::ERR_NO_ERROR || classify(err) != ErrorClass::kRetriable ||
            Clock::now() >= give_up) {
          break;
        }
        std::this_thread::sleep_for(milliseconds(100));
      }
      if (err != RdKafka::ERR_NO_ERROR) {
        for (auto* tp : assignment) delete tp;
        ends->close();
        consumer->close();
        return to_error("read " + options.memory_topic, err);
      }
      if (high <= low) continue;  // empty: nothing to wait for
      assignment.push_back(RdKafka::TopicPartition::create(options.memory_topic, p,
                                                           RdKafka::Topic::OFFSET_BEGINNING));
      reading[p] = {low, high};
    }
    ends->close();
    Result<void> result = ok();
    if (!assignment.empty()) {
      consumer->assign(assignment);
      const int64_t oldest = now_ms() - options.memory_retention.count();
      size_t remaining = reading.size();
      // Moves partition p's position on; counts it done once the position reaches its end.
      auto reached = [&](int32_t p, int64_t position) {
        auto it = reading.find(p);
        if (it == reading.end() || it->second.first >= it->second.second) return;
        it->second.first = std::max(it->second.first, position);
        if (it->second.first >= it->second.second) --remaining;
      };
      while (remaining > 0) {
        if (Clock::now() >= give_up) {
          result = fail(Errc::kUnavailable, "intake: reading " + options.memory_topic +
                                                " did not finish within the open bound");
          break;
        }
        std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
        if (m->err() == RdKafka::ERR__PARTITION_EOF) {
          // At the stable offset: short of the end while another transaction is open.
          reached(m->partition(), m->offset());
          continue;
        }
        if (m->err() == RdKafka::ERR__TIMED_OUT) continue;
        if (m->err() != RdKafka::ERR_NO_ERROR) {
          if (classify(m->err()) == ErrorClass::kRetriable) continue;
          result = to_error("read " + options.memory_topic, m->err());
          break;
        }
        reached(m->partition(), m->offset() + 1);
        if (m->key() == nullptr) continue;
        const std::string& key = *m->key();
        const int64_t at = m->timestamp().timestamp;
        if (m->payload() == nullptr || at < oldest) {
          memory_.erase(key);  // a tombstone, or older than the retention
          continue;
        }
        memory_[key] =
            Remembered{std::string(static_cast<const char*>(m->payload()), m->len()), at};
        ++stats_.memory_loaded;
      }
      consumer->unassign();
    }
    for (auto* tp : assignment) delete tp;
    consumer->close();
    stats_.memory_entries = memory_.size();
    return result;
  }

  void shutdown() {
    std::vector<Answer> answers;
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
      stopping_ = true;
    }
    work_.notify_all();
    deadline_.notify_all();
    if (committer_.joinable()) committer_.join();
    if (watcher_.joinable()) watcher_.join();
    {
      std::lock_guard lock(mutex_);
      for (auto& e : queue_) {
        drop_pending(*e);
        answer(e, failed(Error{Errc::kUnavailable, "intake closed"}), answers);
      }
      queue_.clear();
      while (!deadlines_.empty()) {
        answer(deadlines_.begin()->second, failed(Error{Errc::kUnavailable, "intake closed"}),
               answers);
      }
    }
    deliver(answers);
  }
};

Result<std::unique_ptr<Intake>> Intake::open(const KafkaConfig& config, IntakeOptions options) {
  if (options.instance.empty()) return fail(Errc::kInvalidArgument, "intake: empty instance");
  if (options.max_batch == 0) options.max_batch = 1;
  const auto give_up = Clock::now() + options.open_timeout;
  auto remaining = [&] {
    return std::max(milliseconds(1),
                    std::chrono::duration_cast<milliseconds>(give_up - Clock::now()));
  };

  TopicSpec memory{options.memory_topic, options.memory_partitions, true, {}};
  memory.configs["cleanup.policy"] = "compact,delete";
  memory.configs["retention.ms"] = std::to_string(options.memory_retention.count());
  if (config.create_topics) {
    SAMORDNA_TRYV(create_topics(
        config, {TopicSpec{config.topics.events, config.partitions, false, {}}, memory},
        remaining()));
  } else {
    SAMORDNA_TRYV(partition_count(config, config.topics.events, remaining()));
  }

  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->options = options;
  SAMORDNA_TRY(producer,
               make_transactional_producer(config, "samordna-intake-" + options.instance,
                                           options.transaction_timeout_ms, options.extra, nullptr));
  impl->producer = std::move(producer);
  // Fences and aborts what this instance's predecessor left open, before the memory is read: the
  // memory then holds exactly what was committed.
  if (TxnError e{std::unique_ptr<RdKafka::Error>(
          impl->producer->init_transactions(static_cast<int>(remaining().count())))}) {
    return to_error("init_transactions", *e.error);
  }
  SAMORDNA_TRY(known, learn_topics(*impl->producer, {config.topics.events, options.memory_topic},
                                   remaining()));
  impl->known = std::move(known);
  SAMORDNA_TRYV(impl->load_memory(give_up));
  impl->last_prune_ms_ = now_ms();
  Impl* raw = impl.get();
  impl->committer_ = unsignalled_thread([raw] { raw->commit_loop(); });
  impl->watcher_ = unsignalled_thread([raw] { raw->watch_loop(); });
  return std::unique_ptr<Intake>(new Intake(std::move(impl)));
}

Intake::Intake(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Intake::~Intake() = default;

void Intake::submit(Submission s, Clock::time_point deadline, Callback done) {
  Impl& im = *impl_;
  const Precondition when = std::move(s.when);
  auto e = std::make_shared<Impl::Entry>();
  e->events = std::move(s.events);
  e->memory = std::move(s.memory);
  e->more = std::move(s.more);
  e->deadline = deadline;
  e->done = std::move(done);
  std::vector<Impl::Answer> answers;
  {
    std::lock_guard lock(im.mutex_);
    e->in_deadlines = im.deadlines_.end();
    ++im.stats_.submitted;
    std::optional<Recalled> current;
    if (auto p = im.pending_.find(e->memory.key); p != im.pending_.end()) {
      current = Recalled{p->second.value, false};
    } else if (auto m = im.memory_.find(e->memory.key); m != im.memory_.end()) {
      current = Recalled{m->second.value, true};
    }
    const bool holds =
        when.kind == Precondition::Kind::kNone ||
        (when.kind == Precondition::Kind::kAbsent && !current) ||
        (when.kind == Precondition::Kind::kEquals && current && current->value == when.value);
    const bool empty_key =
        e->memory.key.empty() ||
        std::any_of(e->more.begin(), e->more.end(), [](const auto& r) { return r.key.empty(); });
    if (empty_key) {
      im.answer(e, Impl::failed(Error{Errc::kInvalidArgument, "intake: empty memory key"}),
                answers);
    } else if (im.fatal_) {
      im.answer(e, Impl::failed(*im.fatal_), answers);
    } else if (im.closing_) {
      im.answer(e, Impl::failed(Error{Errc::kUnavailable, "intake closed"}), answers);
    } else if (!holds) {
      IntakeOutcome out;
      out.status = IntakeOutcome::Status::kConflict;
      out.current = std::move(current);
      im.answer(e, std::move(out), answers);
    } else if (im.queue_.size() >= kMaxQueued) {
      im.answer(e,
                Impl::failed(Error{Errc::kUnavailable,
                                   "intake: too many submissions waiting for the broker"}),
                answers);
    } else {
      im.add_pending(e->memory);
      for (const auto& r : e->more) im.add_pending(r);
      const bool earliest = im.deadlines_.empty() || deadline < im.deadlines_.begin()->first;
      e->in_deadlines = im.deadlines_.emplace(deadline, e);
      im.queue_.push_back(e);
      im.work_.notify_one();
      if (earliest) im.deadline_.notify_one();
    }
  }
  Impl::deliver(answers);
}

std::optional<Recalled> Intake::recall(const std::string& key) const {
  std::lock_guard lock(impl_->mutex_);
  if (auto p = impl_->pending_.find(key); p != impl_->pending_.end()) {
    return Recalled{p->second.value, false};
  }
  if (auto m = impl_->memory_.find(key); m != impl_->memory_.end()) {
    return Recalled{m->second.value, true};
  }
  return std::nullopt;
}

void Intake::close(std::chrono::milliseconds bound) {
  Impl& im = *impl_;
  std::unique_lock lock(im.mutex_);
  im.closing_ = true;
  im.work_.notify_all();
  im.idle_.wait_for(lock, bound, [&im] { return im.queue_.empty() && !im.in_txn_; });
}

std::optional<Error> Intake::fatal() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->fatal_;
}

IntakeStats Intake::stats() const {
  std::lock_guard lock(impl_->mutex_);
  IntakeStats s = impl_->stats_;
  s.memory_entries = impl_->memory_.size();
  return s;
}

}  // namespace samordna::kafka
