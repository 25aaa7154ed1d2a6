#include "engine/app/simulator.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <istream>
#include <mutex>
#include <ostream>
#include <thread>
#include <vector>

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
  static constexpr size_t kInFlight = 4;

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

Simulator::Simulator(const rules::RuleBook& rules, std::ostream& notifications,
                     std::ostream& rejections)
    : rules_(rules),
      rejections_(rejections),
      lines_(std::make_unique<Lines>(notifications, json_)) {}

Simulator::~Simulator() = default;

void Simulator::report(size_t line, const std::string& event_id, const std::string& episode_id,
                       const std::string& code, const std::string& reason) {
  nlohmann::json j = {{"line", line}, {"code", code}, {"reason", reason}};
  // Ids are echoed so the sender can find the line, but not without bound: an oversized id is a
  // reason for rejection itself.
  auto id = [](const std::string& s) { return s.size() <= 256 ? s : s.substr(0, 64) + "..."; };
  if (!event_id.empty()) j["eventId"] = id(event_id);
  if (!episode_id.empty()) j["episodeId"] = id(episode_id);
  rejections_ << j.dump() << '\n';
}

Result<SimulationStats> Simulator::run(std::istream& events, const SimulationOptions& options) {
  store::DbOptions db_options;
  db_options.in_memory = !options.state_dir.has_value();
  SAMORDNA_TRY(db, store::Db::open(options.state_dir.value_or("/samordna-sim"), db_options));
  db_ = std::move(db);
  pipeline::DriverOptions driver_options;
  driver_options.clock = pipeline::ClockMode::kEventTime;
  // Inputs per RocksDB write. Reads go through the unit of work, so its size changes no result; a
  // simulation needs no per-input durability (the service writes per Kafka transaction).
  driver_options.max_batch = 1024;
  driver_options.timer_pass = 1024;
  driver_options.retention = options.retention;
  driver_ = std::make_unique<pipeline::Driver>(*db_, rules_, *lines_, driver_options);
  SAMORDNA_TRYV(driver_->open());
  constexpr pipeline::PartitionId kPartition = 0;
  SAMORDNA_TRYV(driver_->add_partition(kPartition));

  SimulationStats stats;
  auto commit_if_full = [&]() -> Result<void> {
    if (driver_->full()) {
      SAMORDNA_TRYV(driver_->commit());
    }
    return ok();
  };
  // Reading and JSON parsing run on a thread of their own, a batch ahead of the engine: the two
  // halves of the work then use both cores. The engine still takes the lines in file order, so
  // nothing else changes.
  // An early return (a failed write) stops the thread in ~Reader, once its read returns.
  Reader reader(events);
  while (ParsedBatch* batch = reader.next()) {
    for (size_t i = 0; i < batch->used; ++i) {
      ParsedLine& l = batch->lines[i];
      ++stats.lines;
      if (!l.parsed) {
        report(l.line_no, "", "", "malformed", "not a samordna.v1.Event JSON line: " + l.reason);
        SAMORDNA_TRYV(driver_->refused());
        SAMORDNA_TRYV(commit_if_full());
        continue;
      }
      SAMORDNA_TRY(outcome, driver_->event(kPartition, l.event));
      if (outcome.kind == pipeline::Outcome::Kind::kRejected) {
        report(l.line_no, l.event.event_id(), l.event.episode_id(),
               state::code_name(outcome.rejection->code), outcome.rejection->reason);
      }
      SAMORDNA_TRYV(commit_if_full());
    }
    reader.done(batch);
  }
  if (reader.bad()) return fail(Errc::kIo, "cannot read the events");
  if (options.until) driver_->advance_clock(kPartition, *options.until);
  while (driver_->overdue(kPartition)) {
    SAMORDNA_TRY(fired, driver_->timer_pass(kPartition));
    if (fired == 0) {
      SAMORDNA_TRYV(driver_->commit());  // the unit of work is full
    }
  }
  SAMORDNA_TRYV(driver_->commit());
  SAMORDNA_TRYV(lines_->flush());
  if (options.episodes != nullptr) {
    std::ostream& out = *options.episodes;
    std::string json;
    SAMORDNA_TRYV(driver_->each_view(kPartition, [&](const v1::EpisodeView& view) -> Result<void> {
      json.clear();
      if (!json_.print(view, json)) {
        return fail(Errc::kIo, "an episode view could not be written as JSON");
      }
      json += '\n';
      out.write(json.data(), static_cast<std::streamsize>(json.size()));
      if (!out) return fail(Errc::kIo, "cannot write the episode views");
      return ok();
    }));
    out.flush();
    if (!out) return fail(Errc::kIo, "cannot write the episode views");
  }

  const auto& c = driver_->counts();
  stats.applied = c.applied;
  stats.duplicates = c.duplicates;
  stats.rejected = c.rejected;
  stats.notifications = c.notified;
  stats.timers_fired = c.fired;
  stats.retired = c.retired;
  return stats;
}

Result<std::optional<storage::v1::EpisodeState>> Simulator::episode(std::string_view id) const {
  if (!driver_) return fail(Errc::kInvalidArgument, "the simulation has not run");
  return driver_->episode(0, id);
}

Result<void> Simulator::each_episode(
    const std::function<Result<void>(const storage::v1::EpisodeState&)>& f) const {
  if (!driver_) return fail(Errc::kInvalidArgument, "the simulation has not run");
  return driver_->each_view(0, [&](const v1::EpisodeView& view) -> Result<void> {
    SAMORDNA_TRY(state, driver_->episode(0, view.episode_id()));
    if (!state) return ok();
    return f(*state);
  });
}

}  // namespace samordna::app
