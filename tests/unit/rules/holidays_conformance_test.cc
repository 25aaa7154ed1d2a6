// Conformance: the computed holidays equal the published tables in shared/data/sweden exactly,
// names included, for every year the tables cover.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#include "rules/calendar.h"
#include "tests/unit/rules/test_util.h"

namespace samordna::rules {
namespace {

namespace fs = std::filesystem;
using Table = std::set<std::pair<std::string, std::string>>;  // (date, name)

constexpr int kFirstYear = 2024;
constexpr int kLastYear = 2030;

fs::path sweden_dir() { return fs::path(SAMORDNA_SHARED_DIR) / "data" / "sweden"; }

// "date,name" rows after a header line.
Table read_csv(const fs::path& path) {
  Table rows;
  std::ifstream in(path);
  std::string line;
  EXPECT_TRUE(std::getline(in, line)) << path;
  EXPECT_EQ(line, "date,name");
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const auto comma = line.find(',');
    EXPECT_NE(comma, std::string::npos) << line;
    rows.emplace(line.substr(0, comma), line.substr(comma + 1));
  }
  return rows;
}

Table computed(bool de_facto) {
  Table rows;
  for (int y = kFirstYear; y <= kLastYear; ++y) {
    for (const Holiday& h : swedish_holidays(y)) {
      if (h.de_facto == de_facto) rows.emplace(format_date(h.date), h.name);
    }
  }
  return rows;
}

class RulesHolidayConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::is_directory(sweden_dir())) {
      GTEST_SKIP() << "no holiday tables at " << sweden_dir()
                   << " (set SAMORDNA_SHARED_DIR to the shared/ folder)";
    }
  }
};

TEST_F(RulesHolidayConformance, PublicHolidaysEqualTheTable) {
  const Table table = read_csv(sweden_dir() / "helgdagar_2024_2030.csv");
  EXPECT_EQ(table.size(), 13u * (kLastYear - kFirstYear + 1));
  EXPECT_EQ(computed(false), table);
}

TEST_F(RulesHolidayConformance, DeFactoHolidaysEqualTheTable) {
  const Table table = read_csv(sweden_dir() / "de_facto_non_working_days_2024_2030.csv");
  EXPECT_EQ(table.size(), 3u * (kLastYear - kFirstYear + 1));
  EXPECT_EQ(computed(true), table);
}

TEST_F(RulesHolidayConformance, DayByDayQueriesAgreeWithTheTables) {
  const Table pub = read_csv(sweden_dir() / "helgdagar_2024_2030.csv");
  const Table facto = read_csv(sweden_dir() / "de_facto_non_working_days_2024_2030.csv");
  auto listed = [](const Table& t, const std::string& d) {
    const auto it = t.lower_bound({d, ""});
    return it != t.end() && it->first == d;
  };
  const date::sys_days first{date::year{kFirstYear} / date::January / 1};
  const date::sys_days last{date::year{kLastYear} / date::December / 31};
  int working = 0;
  for (date::sys_days s = first; s <= last; s += date::days{1}) {
    const LocalDate d{s};
    const std::string text = format_date(d);
    ASSERT_EQ(is_public_holiday(d), listed(pub, text)) << text;
    ASSERT_EQ(is_de_facto_holiday(d), listed(facto, text)) << text;
    const date::weekday wd{s};
    const bool weekend = wd == date::Saturday || wd == date::Sunday;
    ASSERT_EQ(is_working_day(d), !weekend && !listed(pub, text) && !listed(facto, text)) << text;
    working += is_working_day(d);
  }
  // Counted independently from the tables: 249 of them in 2025.
  EXPECT_EQ(working, 1755);
}

}  // namespace
}  // namespace samordna::rules
