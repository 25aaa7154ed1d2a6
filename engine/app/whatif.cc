#include "engine/app/whatif.h"

#include <nlohmann/json.hpp>
#include <stdlib.h>

#include <cstdio>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <streambuf>
#include <system_error>

#include "engine/state/episode_machine.h"
#include "rules/deadlines.h"
#include "rules/liability.h"

namespace samordna::app::whatif {
namespace {

using storage::v1::DeadlineRecord;
using storage::v1::EpisodeState;

std::string month_of(rules::LocalDate d) {
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u", static_cast<int>(d.year()),
                static_cast<unsigned>(d.month()));
  return text;
}

// Tenths of a day as people write days: "12", "7.5", "-3.5".
std::string days_text(int64_t tenths) {
  const bool negative = tenths < 0;
  const int64_t t = negative ? -tenths : tenths;
  std::string out = (negative ? "-" : "") + std::to_string(t / 10);
  if (t % 10 != 0) out += "." + std::to_string(t % 10);
  return out;
}

std::string amount_text(const Figures& f) {
  return f.amount_complete ? std::to_string(f.amount_sek) : std::string();
}

// The difference B - A of an amount, only when both are known.
std::optional<int64_t> amount_diff(const Figures& a, const Figures& b) {
  if (!a.amount_complete || !b.amount_complete) return std::nullopt;
  return b.amount_sek - a.amount_sek;
}

nlohmann::ordered_json figures_json(const Figures& f) {
  nlohmann::ordered_json j = {{"liableDays", static_cast<double>(f.liable_tenths) / 10.0},
                              {"missedDeadlines", f.missed}};
  j["amountSek"] =
      f.amount_complete ? nlohmann::ordered_json(f.amount_sek) : nlohmann::ordered_json(nullptr);
  nlohmann::ordered_json by_kind = nlohmann::ordered_json::object();
  for (const auto& [kind, n] : f.missed_by_kind) {
    by_kind[v1::DeadlineKind_Name(static_cast<v1::DeadlineKind>(kind))] = n;
  }
  j["missedByKind"] = by_kind;
  if (f.stays > 0) {
    j["averageStays"] = f.stays;
    j["averageStayDays"] = f.stay_days;
  }
  return j;
}

Figures total_of(const std::vector<Row>& rows, bool b_side) {
  Figures t;
  for (const Row& r : rows) {
    const Figures& f = b_side ? r.b : r.a;
    t.liable_tenths += f.liable_tenths;
    t.amount_sek += f.amount_sek;
    t.amount_complete = t.amount_complete && f.amount_complete;
    t.missed += f.missed;
    for (const auto& [kind, n] : f.missed_by_kind) t.missed_by_kind[kind] += n;
    t.stays += f.stays;
    t.stay_days += f.stay_days;
  }
  return t;
}

}  // namespace

void Tally::add(const EpisodeState& st) {
  ++episodes_;
  if (st.phase() == EpisodeState::CANCELLED) return;  // no obligations (domain.md)
  const std::string& municipality = st.admission().patient().home_municipality();

  for (const DeadlineRecord& d : st.deadlines()) {
    if (d.status() != DeadlineRecord::MISSED) continue;
    const Instant due = from_unix(d.due_at());
    if (!range_.contains(due)) continue;
    Figures& f = sheet_[{municipality, month_of(rules::local_date(due))}];
    ++f.missed;
    ++f.missed_by_kind[static_cast<int>(d.kind())];
  }

  // Liability is settled when the stay ends (phase CLOSED): an episode still open owes nothing
  // yet, under either model.
  if (st.phase() != EpisodeState::CLOSED) return;
  ++settled_;
  const rules::RuleSet* set = state::rules_for(st, book_);
  if (set == nullptr) return;
  const rules::LiabilityFacts facts = state::liability_facts(st);
  if (rules::unmet_condition(facts)) return;

  switch (set->liability.model) {
    case rules::LiabilityModel::kPerPatient:
      // Each liable date in its own month, at its own year's rate: the per-patient settlement's
      // days, split by month (rules::period_days is what the settlement counts).
      for (const auto& period : facts.periods) {
        const rules::PeriodDays days = rules::period_days(facts, period, *set);
        for (const rules::LocalDate day : days.liable) {
          if (!range_.contains(rules::start_of_local_day(day))) continue;
          Figures& f = sheet_[{municipality, month_of(day)}];
          f.liable_tenths += 10;
          const auto rate = rules::daily_rate(set->liability, day);
          if (rate) {
            f.amount_sek += *rate;
          } else {
            f.amount_complete = false;
          }
        }
      }
      break;
    case rules::LiabilityModel::kMonthlyAverage: {
      // The stay counts in the month of its discharge (docs/domain-decisions.md).
      const Instant end =
          st.has_discharged_at() ? from_unix(st.discharged_at()) : facts.periods.back().ended_at;
      if (!range_.contains(end)) break;
      averages_[{municipality, month_of(rules::local_date(end)), set->id}].push_back(
          rules::stay_days(facts, *set));
      break;
    }
  }
}

FigureSheet Tally::finish() const {
  FigureSheet sheet = sheet_;
  for (const auto& [key, stays] : averages_) {
    const rules::RuleSet* set = book_.find(key.rule_set);
    if (set == nullptr) continue;
    const int year = std::stoi(key.month.substr(0, 4));
    const rules::MonthlyAverage m = rules::monthly_average(stays, *set, year);
    Figures& f = sheet[{key.municipality, key.month}];
    f.stays += m.stays;
    f.stay_days += m.days;
    if (!m.liable) continue;
    f.liable_tenths += m.liable_tenths;
    if (m.amount_sek) {
      f.amount_sek += *m.amount_sek;
    } else {
      f.amount_complete = false;
    }
  }
  return sheet;
}

std::vector<Row> compare(const FigureSheet& a, const FigureSheet& b) {
  std::map<Key, Row> rows;
  for (const auto& [key, f] : a) {
    rows[key].key = key;
    rows[key].a = f;
  }
  for (const auto& [key, f] : b) {
    rows[key].key = key;
    rows[key].b = f;
  }
  std::vector<Row> out;
  out.reserve(rows.size());
  for (auto& [key, row] : rows) out.push_back(std::move(row));
  return out;
}

std::string format_table(const std::vector<Row>& rows, const Labels& labels) {
  std::ostringstream out;
  out << "A = " << labels.a << "\nB = " << labels.b << "\n";
  if (labels.range.from || labels.range.until) {
    out << "from " << (labels.range.from ? rules::format_local(*labels.range.from) : "the start")
        << " until " << (labels.range.until ? rules::format_local(*labels.range.until) : "the end")
        << "\n";
  }
  out << "liable days and amounts (SEK) by the month of the liable day (per patient) or of the "
         "discharge (monthly average); missed deadlines by the month they were due\n\n";
  const char* heads[] = {"municipality", "month",    "A days",   "A SEK",   "A missed",  "B days",
                         "B SEK",        "B missed", "B-A days", "B-A SEK", "B-A missed"};
  constexpr int kColumns = 11;
  std::vector<std::vector<std::string>> cells;
  auto add = [&](const std::string& municipality, const std::string& month, const Figures& a,
                 const Figures& b) {
    const auto diff = amount_diff(a, b);
    cells.push_back({municipality, month, days_text(a.liable_tenths),
                     a.amount_complete ? std::to_string(a.amount_sek) : "n/a",
                     std::to_string(a.missed), days_text(b.liable_tenths),
                     b.amount_complete ? std::to_string(b.amount_sek) : "n/a",
                     std::to_string(b.missed), days_text(b.liable_tenths - a.liable_tenths),
                     diff ? std::to_string(*diff) : "n/a", std::to_string(b.missed - a.missed)});
  };
  for (const Row& r : rows) add(r.key.municipality, r.key.month, r.a, r.b);
  add("total", "", total_of(rows, false), total_of(rows, true));
  size_t width[kColumns];
  for (int c = 0; c < kColumns; ++c) {
    width[c] = std::string(heads[c]).size();
    for (const auto& line : cells)
      width[c] = std::max(width[c], line[static_cast<size_t>(c)].size());
  }
  auto print = [&](const std::vector<std::string>& line) {
    for (int c = 0; c < kColumns; ++c) {
      const auto w = static_cast<int>(width[c]);
      out << (c == 0 ? "" : "  ");
      if (c < 2) {
        out << std::left << std::setw(w) << line[static_cast<size_t>(c)];
      } else {
        out << std::right << std::setw(w) << line[static_cast<size_t>(c)];
      }
    }
    out << "\n";
  };
  print(std::vector<std::string>(std::begin(heads), std::end(heads)));
  for (const auto& line : cells) print(line);
  if (rows.empty()) out << "(no liable day and no missed deadline under either)\n";
  return out.str();
}

std::string format_csv(const std::vector<Row>& rows) {
  // Municipality codes and months are digits and dashes: no field needs quoting.
  std::string out =
      "municipality,month,a_liable_days,a_amount_sek,a_missed_deadlines,b_liable_days,"
      "b_amount_sek,b_missed_deadlines,diff_liable_days,diff_amount_sek,diff_missed_deadlines\n";
  for (const Row& r : rows) {
    const auto diff = amount_diff(r.a, r.b);
    out += r.key.municipality + "," + r.key.month + "," + days_text(r.a.liable_tenths) + "," +
           amount_text(r.a) + "," + std::to_string(r.a.missed) + "," +
           days_text(r.b.liable_tenths) + "," + amount_text(r.b) + "," +
           std::to_string(r.b.missed) + "," + days_text(r.b.liable_tenths - r.a.liable_tenths) +
           "," + (diff ? std::to_string(*diff) : "") + "," +
           std::to_string(r.b.missed - r.a.missed) + "\n";
  }
  return out;
}

std::string format_json(const std::vector<Row>& rows, const Labels& labels) {
  auto diff_json = [](const Figures& a, const Figures& b) {
    const auto diff = amount_diff(a, b);
    return nlohmann::ordered_json{
        {"liableDays", static_cast<double>(b.liable_tenths - a.liable_tenths) / 10.0},
        {"amountSek", diff ? nlohmann::ordered_json(*diff) : nlohmann::ordered_json(nullptr)},
        {"missedDeadlines", b.missed - a.missed}};
  };
  nlohmann::ordered_json j;
  j["a"] = {{"rules", labels.a}};
  j["b"] = {{"rules", labels.b}};
  j["from"] = labels.range.from ? nlohmann::ordered_json(format_utc(*labels.range.from))
                                : nlohmann::ordered_json(nullptr);
  j["until"] = labels.range.until ? nlohmann::ordered_json(format_utc(*labels.range.until))
                                  : nlohmann::ordered_json(nullptr);
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const Row& r : rows) {
    list.push_back({{"municipality", r.key.municipality},
                    {"month", r.key.month},
                    {"a", figures_json(r.a)},
                    {"b", figures_json(r.b)},
                    {"diff", diff_json(r.a, r.b)}});
  }
  j["rows"] = list;
  const Figures ta = total_of(rows, false);
  const Figures tb = total_of(rows, true);
  j["total"] = {{"a", figures_json(ta)}, {"b", figures_json(tb)}, {"diff", diff_json(ta, tb)}};
  return j.dump(2) + "\n";
}

// --- The replays -------------------------------------------------------------------------------

namespace {

// Reads a file and counts the bytes read, for the progress line (read by another thread).
class CountingBuf final : public std::streambuf {
 public:
  CountingBuf(std::atomic<uint64_t>& count) : count_(count) {}
  bool open(const std::filesystem::path& path) {
    return file_.open(path, std::ios::in | std::ios::binary) != nullptr;
  }

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    const std::streamsize n = file_.sgetn(buffer_, sizeof buffer_);
    if (n <= 0) return traits_type::eof();
    count_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    setg(buffer_, buffer_, buffer_ + n);
    return traits_type::to_int_type(*gptr());
  }

 private:
  std::filebuf file_;
  std::atomic<uint64_t>& count_;
  char buffer_[1 << 16];
};

// Swallows what is written: the replay's notifications and rejections are not kept (the rejected
// lines are counted; `samordna simulate` shows them).
class NullBuf final : public std::streambuf {
 protected:
  int_type overflow(int_type c) override { return traits_type::not_eof(c); }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

// A directory of our own under the system's temporary directory, removed when it goes.
class TempDir {
 public:
  static Result<TempDir> make() {
    std::error_code ec;
    std::string pattern =
        (std::filesystem::temp_directory_path(ec) / "samordna-whatif-XXXXXX").string();
    if (ec) return fail(Errc::kIo, "no temporary directory: " + ec.message());
    if (::mkdtemp(pattern.data()) == nullptr) {
      return fail(Errc::kIo, "cannot create a temporary directory under " +
                                 std::filesystem::temp_directory_path(ec).string());
    }
    return TempDir(pattern);
  }
  TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  explicit TempDir(std::filesystem::path p) : path_(std::move(p)) {}
  std::filesystem::path path_;
};

}  // namespace

Result<Side> replay(const std::filesystem::path& events, const rules::RuleBook& book,
                    const Range& range, std::optional<Instant> until, Progress& progress) {
  struct Done {
    Progress& p;
    ~Done() { p.done = true; }
  } done{progress};
  SAMORDNA_TRY(dir, TempDir::make());
  CountingBuf buf(progress.bytes_read);
  if (!buf.open(events)) return fail(Errc::kIo, "cannot read events file " + events.string());
  std::istream in(&buf);
  NullBuf null;
  std::ostream discard(&null);
  Simulator sim(book, discard, discard);
  SimulationOptions options;
  options.until = until;
  options.state_dir = dir.path() / "state";
  options.retention = std::chrono::seconds{0};  // keep every episode for the tally
  // A temporary state dir the feed rebuilds on every run: the bulk replay's write-behind, with no
  // write-ahead log (engine/README.md).
  options.write_ahead_log = false;
  SAMORDNA_TRY(stats, sim.run(in, options));
  Tally tally(book, range);
  SAMORDNA_TRYV(sim.each_episode([&](const EpisodeState& st) -> Result<void> {
    tally.add(st);
    return ok();
  }));
  Side side;
  side.sheet = tally.finish();
  side.stats = stats;
  side.episodes = tally.episodes();
  side.settled = tally.settled();
  return side;
}

}  // namespace samordna::app::whatif
