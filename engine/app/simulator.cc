#include "engine/app/simulator.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <istream>
#include <mutex>
#include <ostream>
#include <thread>
#include <vector>

#include "connectors/kafka/codec.h"
#include "engine/core/json_error.h"

namespace samordna::app {

namespace {

// One input line, parsed on the reader thread.
struct ParsedLine {
  size_t line_no = 0;
  bool parsed = false;
  v1::Event event;     // when parsed
  std::string reason;  // when not: describe_json_error's words
};

struct ParsedBatch {
  std::vector<ParsedLine> lines;  // reused batch after batch: events keep their allocations
  size_t used = 0;
};

// Reads and parses Event JSON lines on its own thread, in batches, at most kInFlight batches
// ahead of the engine. next() hands out batches in file order; done() gives one back for reuse.
class Reader {
 public:
  static constexpr size_t kBatchLines = 1024;
  static constexpr size_t kInFlight = 8;

  explicit Reader(std::istream& in) : in_(in) {
    for (auto& b : batches_) {
      b.lines.resize(kBatchLines);
      free_.push_back(&b);
    }
    thread_ = std::thread([this] { run(); });
  }
  ~Reader() { stop(); }

  // The next batch in file order; null at the end of the input.
  ParsedBatch* next() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !full_.empty() || finished_; });
    if (full_.empty()) return nullptr;
    ParsedBatch* b = full_.front();
    full_.pop_front();
    return b;
  }
  void done(ParsedBatch* b) {
    {
      std::lock_guard lock(mutex_);
      free_.push_back(b);
    }
    changed_.notify_all();
  }
  // Ends the thread (the engine stopped early, or the input is read): idempotent.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  bool bad() const { return bad_; }  // after next() returned null

 private:
  void run() {
    JsonCodec json;  // one per thread
    std::string line;
    size_t line_no = 0;
    bool eof = false;
    while (!eof) {
      ParsedBatch* b = nullptr;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return !free_.empty() || stopping_; });
        if (stopping_) break;
        b = free_.front();
        free_.pop_front();
      }
      b->used = 0;
      while (b->used < kBatchLines) {
        if (!std::getline(in_, line)) {
          eof = true;
          break;
        }
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        ParsedLine& l = b->lines[b->used++];
        l.line_no = line_no;
        std::string parser_message;
        l.parsed = json.parse(line, l.event, parser_message);
        l.reason = l.parsed ? std::string() : describe_json_error(line, parser_message);
      }
      {
        std::lock_guard lock(mutex_);
        full_.push_back(b);
      }
      changed_.notify_all();
    }
    std::lock_guard lock(mutex_);
    bad_ = in_.bad();
    finished_ = true;
    changed_.notify_all();
  }

  std::istream& in_;
  ParsedBatch batches_[kInFlight];
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<ParsedBatch*> free_, full_;  // guarded by mutex_
  bool stopping_ = false, finished_ = false, bad_ = false;
  std::thread thread_;
};

}  // namespace

// The simulator's side of a unit of work: notifications go out as JSON lines as they happen;
// nothing outside needs committing.
class Simulator::Lines final : public pipeline::Output {
 public:
  Lines(std::ostream& out, JsonCodec& json) : out_(out), json_(json) {}

  Result<void> begin() override { return ok(); }
  Result<void> notify(const v1::Notification& n) override {
    line_.clear();
    if (!json_.print(n, line_)) {
      // Validated input cannot lead here; a notification we cannot write is still never dropped.
      return fail(Errc::kIo, "a notification could not be written as JSON");
    }
    line_ += '\n';
    out_.write(line_.data(), static_cast<std::streamsize>(line_.size()));
    return checked();
  }
  Result<std::optional<std::map<pipeline::PartitionId, int64_t>>> commit(
      const pipeline::Changes&) override {
    return std::optional<std::map<pipeline::PartitionId, int64_t>>{std::in_place};
  }
  Result<void> flush() {
    out_.flush();
    return checked();
  }

 private:
  Result<void> checked() {
    if (out_) return ok();
    const int err = errno;
    return fail(Errc::kIo, std::string("cannot write the notifications") +
                               (err != 0 ? std::string(": ") + std::strerror(err) : ""));
  }

  std::ostream& out_;
  JsonCodec& json_;
  std::string line_;
};

namespace {

// A rejection as its JSON line (without the newline).
std::string rejection_line(size_t line, const std::string& event_id, const std::string& episode_id,
                           const std::string& code, const std::string& reason) {
  nlohmann::json j = {{"line", line}, {"code", code}, {"reason", reason}};
  // Ids are echoed so the sender can find the line, but not without bound: an oversized id is a
  // reason for rejection itself.
  auto id = [](const std::string& s) { return s.size() <= 256 ? s : s.substr(0, 64) + "..."; };
  if (!event_id.empty()) j["eventId"] = id(event_id);
  if (!episode_id.empty()) j["episodeId"] = id(episode_id);
  // The cut may split a UTF-8 character: written replaced (U+FFFD), never a throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Without a write-ahead log, a replay holds its episodes in memory (DriverOptions::write_behind),
// about this much each, parsed, within the memtable budget.
constexpr size_t kHeldEpisodeBytes = 4096;

// What one partition (or the only one) is given: a store and a drive loop on event time.
store::DbOptions store_options(const SimulationOptions& options) {
  store::DbOptions o;
  o.in_memory = !options.state_dir.has_value();
  o.write_ahead_log = options.write_ahead_log;
  o.write_buffer_bytes =
      options.memtable_bytes / static_cast<size_t>(std::max(options.partitions, 1));
  return o;
}
pipeline::DriverOptions drive_options(const SimulationOptions& options) {
  pipeline::DriverOptions o;
  o.clock = pipeline::ClockMode::kEventTime;
  // Inputs per RocksDB write. Reads go through the unit of work, so its size changes no result; a
  // simulation needs no per-input durability (the service writes per Kafka transaction).
  o.max_batch = 1024;
  o.timer_pass = 1024;
  o.retention = options.retention;
  o.changelog = false;  // the outputs print notifications; the views come from the store at the end
  if (!options.write_ahead_log) {
    o.write_behind = options.memtable_bytes / kHeldEpisodeBytes /
                     static_cast<size_t>(std::max(options.partitions, 1));
  }
  return o;
}

// One input line through the drive loop: a line that is no event is refused, an event applied or
// rejected; `reject` gets each rejection's JSON line.
Result<void> step(pipeline::Driver& d, const ParsedLine& l,
                  const std::function<void(std::string)>& reject) {
  if (!l.parsed) {
    reject(rejection_line(l.line_no, "", "", "malformed",
                          "not a samordna.v1.Event JSON line: " + l.reason));
    SAMORDNA_TRYV(d.refused());
  } else {
    SAMORDNA_TRY(outcome, d.event(0, l.event));
    if (outcome.kind == pipeline::Outcome::Kind::kRejected) {
      reject(rejection_line(l.line_no, l.event.event_id(), l.event.episode_id(),
                            state::code_name(outcome.rejection->code), outcome.rejection->reason));
    }
  }
  if (d.full()) {
    SAMORDNA_TRYV(d.commit());
  }
  return ok();
}

// After the last line: --until, the timers it makes due, the last commit, and without a
// write-ahead log the flush that makes the run durable.
Result<void> finish_feed(pipeline::Driver& d, store::Db& db, const SimulationOptions& options) {
  if (options.until) d.advance_clock(0, *options.until);
  while (d.overdue(0)) {
    SAMORDNA_TRY(fired, d.timer_pass(0));
    if (fired == 0) {
      SAMORDNA_TRYV(d.commit());  // the unit of work is full
    }
  }
  SAMORDNA_TRYV(d.spill());
  if (!options.write_ahead_log) {
    SAMORDNA_TRYV(db.flush());
  }
  return ok();
}

void add_counts(SimulationStats& stats, const pipeline::DriverCounts& c) {
  stats.applied += c.applied;
  stats.duplicates += c.duplicates;
  stats.rejected += c.rejected;
  stats.notifications += c.notified;
  stats.timers_fired += c.fired;
  stats.retired += c.retired;
  stats.spills += c.spills;
}

}  // namespace

// --- Partitions: the feed split by episode over threads, as Kafka splits a topic -----------------

namespace {

// One line of a partition's output, tagged with the input line that caused it (SIZE_MAX: the end,
// the timers --until fires), so the partitions' outputs merge back into input order.
struct Rec {
  size_t line = 0;
  int64_t at = 0;  // issued_at (Unix seconds): orders the end's timers across partitions
  bool rejection = false;
  std::string text;  // the JSON line, without the newline
};

// A batch of parsed lines handed to every partition; each takes its own episodes' lines. A job
// without a batch is the end of the input.
struct Job {
  ParsedBatch* batch = nullptr;
  std::vector<std::vector<Rec>> out;        // per partition, in line order
  std::vector<std::optional<Error>> error;  // per partition: why it stopped at or before this job
  std::atomic<size_t> left{0};              // partitions still working on it
};

// A partition's Output: notifications printed on the partition's thread into the job's records.
class RecOutput final : public pipeline::Output {
 public:
  Result<void> begin() override { return ok(); }
  Result<void> notify(const v1::Notification& n) override {
    Rec r;
    r.line = line;
    r.at = n.issued_at().seconds();
    if (!json_.print(n, r.text)) {
      return fail(Errc::kIo, "a notification could not be written as JSON");
    }
    sink->push_back(std::move(r));
    return ok();
  }
  Result<std::optional<std::map<pipeline::PartitionId, int64_t>>> commit(
      const pipeline::Changes&) override {
    return std::optional<std::map<pipeline::PartitionId, int64_t>>{std::in_place};
  }

  std::vector<Rec>* sink = nullptr;
  size_t line = 0;

 private:
  JsonCodec json_;
};

}  // namespace

struct Simulator::Shard {
  size_t index = 0;
  std::unique_ptr<store::Db> db;
  RecOutput output;
  std::unique_ptr<pipeline::Driver> driver;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job*> jobs;       // guarded by mu
  bool stopping = false;       // guarded by mu
  std::optional<Error> error;  // the first failure; this thread's own (jobs carry copies)
  std::thread thread;

  void push(Job* j) {
    {
      std::lock_guard lock(mu);
      jobs.push_back(j);
    }
    cv.notify_one();
  }
  void stop() {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    cv.notify_one();
    if (thread.joinable()) thread.join();
  }
};

Result<SimulationStats> Simulator::run_partitioned(std::istream& events,
                                                   const SimulationOptions& options) {
  const auto n = static_cast<size_t>(options.partitions);
  shards_.clear();
  for (size_t i = 0; i < n; ++i) {
    auto shard = std::make_unique<Shard>();
    shard->index = i;
    // Each partition's store in a folder of its own, as each Kafka partition's state is its own.
    const auto dir = options.state_dir
                         ? *options.state_dir / ("partition-" + std::to_string(i))
                         : std::filesystem::path("/samordna-sim-" + std::to_string(i));
    SAMORDNA_TRY(db, store::Db::open(dir, store_options(options)));
    shard->db = std::move(db);
    shard->driver = std::make_unique<pipeline::Driver>(*shard->db, rules_, shard->output,
                                                       drive_options(options));
    SAMORDNA_TRYV(shard->driver->open());
    SAMORDNA_TRYV(shard->driver->add_partition(0));
    shards_.push_back(std::move(shard));
  }

  std::mutex done_mu;
  std::condition_variable done_cv;
  // One partition's work on one job; errors stop the partition (the main thread reports them).
  auto work = [&](Shard& sh, Job& job) -> Result<void> {
    sh.output.sink = &job.out[sh.index];
    if (job.batch == nullptr) {  // the end
      sh.output.line = SIZE_MAX;
      return finish_feed(*sh.driver, *sh.db, options);
    }
    for (size_t i = 0; i < job.batch->used; ++i) {
      const ParsedLine& l = job.batch->lines[i];
      // A line that is no event belongs to no episode: partition 0 counts it.
      const size_t owner = l.parsed ? shard_of(l.event.episode_id()) : 0;
      if (owner != sh.index) continue;
      sh.output.line = l.line_no;
      SAMORDNA_TRYV(step(*sh.driver, l, [&](std::string text) {
        job.out[sh.index].push_back(Rec{l.line_no, 0, true, std::move(text)});
      }));
    }
    return ok();
  };
  // The jobs and the reader (whose batches the jobs hold) outlive the partitions' threads: StopAll,
  // declared last, joins them first on every way out, an error's included.
  std::deque<std::unique_ptr<Job>> jobs;
  Reader reader(events);
  struct StopAll {
    std::vector<std::unique_ptr<Shard>>& shards;
    ~StopAll() {
      for (auto& s : shards) s->stop();
    }
  } stop_all{shards_};
  for (auto& shard : shards_) {
    shard->thread = std::thread([&, sh = shard.get()] {
      for (;;) {
        Job* job = nullptr;
        {
          std::unique_lock lock(sh->mu);
          sh->cv.wait(lock, [&] { return !sh->jobs.empty() || sh->stopping; });
          if (sh->stopping) return;
          job = sh->jobs.front();
          sh->jobs.pop_front();
        }
        if (!sh->error) {
          // A throw on this thread would end the process without a word: it is an error value
          // like any other, reported by the main thread.
          try {
            if (auto r = work(*sh, *job); !r) sh->error = r.error();
          } catch (const std::exception& e) {
            sh->error = Error{
                Errc::kIo, std::string("partition ") + std::to_string(sh->index) + ": " + e.what()};
          }
        }
        job->error[sh->index] = sh->error;  // what the main thread reads, once left is 0
        {
          std::lock_guard lock(done_mu);
          job->left.fetch_sub(1);
        }
        done_cv.notify_all();
      }
    });
  }

  // Input order; the end's records (one line, every partition) by issue time, as one partition's
  // clock would fire them. Within a partition the order is kept: only the heads are compared.
  auto before = [](const Rec& a, const Rec& b) {
    if (a.line != b.line) return a.line < b.line;
    return a.line == SIZE_MAX && a.at < b.at;
  };
  // Merges one finished job's records into input order and writes them.
  auto finish = [&](Job& job) -> Result<void> {
    {
      std::unique_lock lock(done_mu);
      done_cv.wait(lock, [&] { return job.left.load() == 0; });
    }
    for (const auto& e : job.error) {
      if (e) return *e;
    }
    std::vector<size_t> at(n, 0);
    for (;;) {
      size_t best = n;
      for (size_t i = 0; i < n; ++i) {
        if (at[i] < job.out[i].size() &&
            (best == n || before(job.out[i][at[i]], job.out[best][at[best]]))) {
          best = i;
        }
      }
      if (best == n) break;
      Rec& r = job.out[best][at[best]++];
      r.text += '\n';
      std::ostream& to = r.rejection ? rejections_ : notifications_;
      to.write(r.text.data(), static_cast<std::streamsize>(r.text.size()));
    }
    if (!notifications_) return fail(Errc::kIo, "cannot write the notifications");
    return ok();
  };

  SimulationStats stats;
  auto dispatch = [&](ParsedBatch* batch) {
    auto job = std::make_unique<Job>();
    job->batch = batch;
    job->out.resize(n);
    job->error.resize(n);
    job->left.store(n);
    for (auto& shard : shards_) shard->push(job.get());
    jobs.push_back(std::move(job));
  };
  // Keep the reader a batch ahead: a job holds its batch until it is merged.
  constexpr size_t kJobsInFlight = Reader::kInFlight - 1;
  for (;;) {
    while (jobs.size() >= kJobsInFlight) {
      SAMORDNA_TRYV(finish(*jobs.front()));
      reader.done(jobs.front()->batch);
      jobs.pop_front();
    }
    ParsedBatch* batch = reader.next();
    if (batch == nullptr) break;
    stats.lines += batch->used;
    dispatch(batch);
  }
  if (reader.bad()) return fail(Errc::kIo, "cannot read the events");
  dispatch(nullptr);
  while (!jobs.empty()) {
    SAMORDNA_TRYV(finish(*jobs.front()));
    if (jobs.front()->batch != nullptr) reader.done(jobs.front()->batch);
    jobs.pop_front();
  }
  notifications_.flush();
  if (!notifications_) return fail(Errc::kIo, "cannot write the notifications");
  if (options.episodes != nullptr) {
    SAMORDNA_TRYV(write_views(*options.episodes));
  }
  for (const auto& shard : shards_) add_counts(stats, shard->driver->counts());
  return stats;
}

Simulator::Simulator(const rules::RuleBook& rules, std::ostream& notifications,
                     std::ostream& rejections)
    : rules_(rules),
      notifications_(notifications),
      rejections_(rejections),
      lines_(std::make_unique<Lines>(notifications, json_)) {}

Simulator::~Simulator() = default;

namespace {

// A state dir holds one store (one partition) or a folder per partition with a PARTITIONS file
// naming how many: episodes are placed by that count, so a run with another count would look for
// them in the wrong store. Refused (kConflict: exit 2) instead.
Result<void> check_partitions(const std::filesystem::path& dir, int partitions) {
  std::error_code ec;
  const auto marker = dir / "PARTITIONS";
  const bool single = std::filesystem::exists(dir / "CURRENT", ec);
  std::optional<int> recorded;
  if (std::filesystem::exists(marker, ec)) {
    std::ifstream in(marker);
    int n = 0;
    if (!(in >> n) || n < 2) {
      return fail(Errc::kCorruption, "state dir " + dir.string() + ": unreadable PARTITIONS file");
    }
    recorded = n;
  }
  const int found = recorded.value_or(single ? 1 : 0);
  if (found != 0 && found != partitions) {
    return fail(Errc::kConflict, "state dir " + dir.string() + " was written with " +
                                     std::to_string(found) + " partition" +
                                     (found == 1 ? "" : "s") + ": run with --partitions " +
                                     std::to_string(found) + ", or use a fresh state dir");
  }
  if (partitions > 1 && !recorded) {
    std::filesystem::create_directories(dir, ec);
    // Written aside and renamed: a kill leaves the whole file or none.
    const auto temp = dir / "PARTITIONS.tmp";
    std::ofstream out(temp, std::ios::trunc);
    out << partitions << '\n';
    out.close();
    if (!out) return fail(Errc::kIo, "cannot write " + temp.string());
    std::filesystem::rename(temp, marker, ec);
    if (ec) return fail(Errc::kIo, "cannot write " + marker.string() + ": " + ec.message());
  }
  return ok();
}

}  // namespace

Result<SimulationStats> Simulator::run(std::istream& events, const SimulationOptions& options) {
  if (options.partitions < 1) return fail(Errc::kInvalidArgument, "partitions must be 1 or more");
  if (options.state_dir) {
    SAMORDNA_TRYV(check_partitions(*options.state_dir, options.partitions));
  }
  shards_.clear();
  if (options.partitions > 1) return run_partitioned(events, options);
  SAMORDNA_TRY(
      db, store::Db::open(options.state_dir.value_or("/samordna-sim"), store_options(options)));
  db_ = std::move(db);
  driver_ = std::make_unique<pipeline::Driver>(*db_, rules_, *lines_, drive_options(options));
  SAMORDNA_TRYV(driver_->open());
  SAMORDNA_TRYV(driver_->add_partition(0));

  SimulationStats stats;
  auto reject = [&](std::string text) { rejections_ << text << '\n'; };
  // Reading and JSON parsing run on a thread of their own, a batch ahead of the engine: the two
  // halves of the work then use both cores. The engine still takes the lines in file order, so
  // nothing else changes.
  // An early return (a failed write) stops the thread in ~Reader, once its read returns.
  Reader reader(events);
  while (ParsedBatch* batch = reader.next()) {
    for (size_t i = 0; i < batch->used; ++i) {
      ++stats.lines;
      SAMORDNA_TRYV(step(*driver_, batch->lines[i], reject));
    }
    reader.done(batch);
  }
  if (reader.bad()) return fail(Errc::kIo, "cannot read the events");
  SAMORDNA_TRYV(finish_feed(*driver_, *db_, options));
  SAMORDNA_TRYV(lines_->flush());
  if (options.episodes != nullptr) {
    SAMORDNA_TRYV(write_views(*options.episodes));
  }
  add_counts(stats, driver_->counts());
  return stats;
}

Result<std::optional<storage::v1::EpisodeState>> Simulator::episode(std::string_view id) const {
  if (!shards_.empty()) return shards_[shard_of(id)]->driver->episode(0, id);
  if (!driver_) return fail(Errc::kInvalidArgument, "the simulation has not run");
  return driver_->episode(0, id);
}

Result<void> Simulator::each_episode(
    const std::function<Result<void>(const storage::v1::EpisodeState&)>& f) const {
  std::vector<pipeline::Driver*> drivers;
  for (const auto& shard : shards_) drivers.push_back(shard->driver.get());
  if (drivers.empty() && driver_) drivers.push_back(driver_.get());
  if (drivers.empty()) return fail(Errc::kInvalidArgument, "the simulation has not run");
  for (pipeline::Driver* d : drivers) {
    SAMORDNA_TRYV(d->each_view(0, [&](const v1::EpisodeView& view) -> Result<void> {
      SAMORDNA_TRY(state, d->episode(0, view.episode_id()));
      if (!state) return ok();
      return f(*state);
    }));
  }
  return ok();
}

// The views of every partition's episodes, merged into one id order.
Result<void> Simulator::write_views(std::ostream& out) {
  std::vector<pipeline::Driver*> drivers;
  for (const auto& shard : shards_) drivers.push_back(shard->driver.get());
  if (drivers.empty()) drivers.push_back(driver_.get());
  std::vector<std::pair<std::string, std::string>> lines;  // (episode id, JSON line)
  for (pipeline::Driver* d : drivers) {
    SAMORDNA_TRYV(d->each_view(0, [&](const v1::EpisodeView& view) -> Result<void> {
      std::string json;
      if (!json_.print(view, json)) {
        return fail(Errc::kIo, "an episode view could not be written as JSON");
      }
      json += '\n';
      if (drivers.size() == 1) {  // already in id order: no need to hold them
        out.write(json.data(), static_cast<std::streamsize>(json.size()));
        if (!out) return fail(Errc::kIo, "cannot write the episode views");
      } else {
        lines.emplace_back(view.episode_id(), std::move(json));
      }
      return ok();
    }));
  }
  std::sort(lines.begin(), lines.end());
  for (const auto& [id, json] : lines)
    out.write(json.data(), static_cast<std::streamsize>(json.size()));
  out.flush();
  if (!out) return fail(Errc::kIo, "cannot write the episode views");
  return ok();
}

size_t Simulator::shard_of(std::string_view episode_id) const {
  return static_cast<size_t>(
      kafka::java_partition(episode_id, static_cast<int>(std::max<size_t>(shards_.size(), 1))));
}

}  // namespace samordna::app
