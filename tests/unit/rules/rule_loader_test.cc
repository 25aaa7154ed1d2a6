#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "rules/deadlines.h"
#include "rules/rule_set.h"
#include "tests/unit/rules/test_util.h"

namespace samordna::rules {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using testing::at;
using testing::day;

std::string all(const std::vector<RuleError>& errors) {
  std::string out;
  for (const RuleError& e : errors) out += "  " + to_string(e) + "\n";
  return out;
}

// One expected error: file name (not path), line, and a piece of the reason.
struct Expected {
  std::string file;
  int line;
  std::string reason;
};

// Loads testdata/<dir> and checks that the errors are exactly `expected`, in order.
void expect_errors(const std::string& dir, const std::vector<Expected>& expected) {
  const LoadedRules loaded = load_rule_book(testing::testdata_dir() / dir);
  SCOPED_TRACE("errors of " + dir + ":\n" + all(loaded.errors));
  ASSERT_EQ(loaded.errors.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const RuleError& e = loaded.errors[i];
    EXPECT_EQ(fs::path(e.file).filename().string(), expected[i].file) << i;
    EXPECT_EQ(fs::path(e.file).parent_path().filename().string(), dir) << i;
    EXPECT_EQ(e.line, expected[i].line) << i;
    EXPECT_THAT(e.reason, ::testing::HasSubstr(expected[i].reason)) << i;
  }
}

// --- The shipped rule files ------------------------------------------------------------------

class RulesShipped : public ::testing::Test {
 protected:
  void SetUp() override {
    loaded_ = load_rule_book(testing::shipped_rules_dir());
    ASSERT_TRUE(loaded_.errors.empty()) << all(loaded_.errors);
  }
  const RuleSet& get(const char* id) {
    const RuleSet* s = loaded_.book.find(id);
    if (s == nullptr) ADD_FAILURE() << "no rule set " << id;
    static const RuleSet kEmpty{};
    return s != nullptr ? *s : kEmpty;
  }
  std::string select(const char* region, v1::CareType care, const char* on) {
    const RuleSet* s = loaded_.book.select(region, care, day(on));
    return s == nullptr ? "none" : s->id;
  }
  LoadedRules loaded_;
};

TEST_F(RulesShipped, LoadWithoutErrors) {
  std::vector<std::string> ids;
  for (const RuleSet& s : loaded_.book.sets()) ids.push_back(s.id);
  EXPECT_THAT(ids, ::testing::UnorderedElementsAre(
                       "se-statutory", "se-statutory-psychiatric-2018", "se-01-stockholm-somatic",
                       "se-01-stockholm-psychiatric", "example-07-working-days"));
}

TEST_F(RulesShipped, StatutoryDefault) {
  const RuleSet& s = get("se-statutory");
  EXPECT_EQ(s.source, "statutory.yaml:8");
  EXPECT_TRUE(s.regions.empty());
  EXPECT_FALSE(s.care_type.has_value());
  EXPECT_EQ(s.valid_from, day("2018-01-01"));
  EXPECT_FALSE(s.valid_to.has_value());
  EXPECT_EQ(s.admission_notice_window, hours{24});
  EXPECT_EQ(s.sip_invitation_days, 3);
  EXPECT_EQ(s.liability.grace_days, 3);
  EXPECT_EQ(s.liability.counting, DayCounting::kCalendar);
  EXPECT_EQ(s.liability.cutoff, hours{12});
  EXPECT_EQ(s.liability.daily_rate_sek,
            (std::map<int, int64_t>{{2019, 7800}, {2020, 8200}, {2022, 9300}}));
  EXPECT_EQ(s.reminder_lead.at(v1::SIP_INVITATION), hours{24});
  EXPECT_EQ(s.reminder_lead.at(v1::INFORMATION_TRANSFER), hours{4});
  EXPECT_EQ(s.reminder_lead.count(v1::CARE_CONTACT), 0u);
}

TEST_F(RulesShipped, PsychiatryHadThirtyDaysIn2018Only) {
  const RuleSet& s = get("se-statutory-psychiatric-2018");
  EXPECT_EQ(s.care_type, v1::PSYCHIATRIC);
  EXPECT_EQ(s.valid_to, day("2018-12-31"));
  EXPECT_EQ(s.liability.grace_days, 30);
  EXPECT_EQ(select("03", v1::PSYCHIATRIC, "2018-01-01"), "se-statutory-psychiatric-2018");
  EXPECT_EQ(select("03", v1::PSYCHIATRIC, "2018-12-31"), "se-statutory-psychiatric-2018");
  EXPECT_EQ(select("03", v1::PSYCHIATRIC, "2019-01-01"), "se-statutory");
  EXPECT_EQ(select("03", v1::SOMATIC, "2018-06-01"), "se-statutory");
  EXPECT_EQ(select("03", v1::SOMATIC, "2017-12-31"), "none");
}

TEST_F(RulesShipped, StockholmAgreement) {
  EXPECT_EQ(select("01", v1::SOMATIC, "2025-03-03"), "se-01-stockholm-somatic");
  EXPECT_EQ(select("01", v1::PSYCHIATRIC, "2025-03-03"), "se-01-stockholm-psychiatric");
  // The regional agreement beats the statutory 2018 psychiatry exception.
  EXPECT_EQ(select("01", v1::PSYCHIATRIC, "2018-06-01"), "se-01-stockholm-psychiatric");
  EXPECT_EQ(select("01", v1::CARE_TYPE_UNSPECIFIED, "2025-03-03"), "se-statutory");
  const LiabilityRule& somatic = get("se-01-stockholm-somatic").liability;
  EXPECT_EQ(first_liable_date(at("2025-03-03T12:00:00+01:00"), somatic).date, day("2025-03-06"));
  EXPECT_EQ(first_liable_date(at("2025-03-03T12:00:01+01:00"), somatic).date, day("2025-03-07"));
  const LiabilityRule& psych = get("se-01-stockholm-psychiatric").liability;
  EXPECT_EQ(first_liable_date(at("2025-03-03T11:00:00+01:00"), psych).date, day("2025-03-08"));
}

TEST_F(RulesShipped, IllustrativeWorkingDayAgreement) {
  const RuleSet& s = get("example-07-working-days");
  EXPECT_THAT(s.title, ::testing::HasSubstr("ILLUSTRATIVE"));
  EXPECT_EQ(s.regions, std::vector<std::string>{"07"});
  EXPECT_EQ(s.liability.counting, DayCounting::kWorking);
  EXPECT_EQ(s.liability.cutoff, hours{14});
  EXPECT_EQ(select("07", v1::SOMATIC, "2025-04-17"), "example-07-working-days");
  EXPECT_EQ(select("07", v1::PSYCHIATRIC, "2018-06-01"), "example-07-working-days");
  EXPECT_EQ(first_liable_date(at("2025-04-17T13:59:00+02:00"), s.liability).date,
            day("2025-04-24"));
  EXPECT_EQ(first_liable_date(at("2025-04-17T14:01:00+02:00"), s.liability).date,
            day("2025-04-25"));
}

TEST_F(RulesShipped, SipDueAcrossDstFromTheShippedSet) {
  EXPECT_EQ(
      format_local(sip_invitation_due(at("2025-03-28T15:00:00+01:00"), get("se-statutory")).due),
      "2025-03-31T23:59:59+02:00");
}

// --- Broken files ----------------------------------------------------------------------------

TEST(RulesLoader, MinimalFileLoads) {
  const LoadedRules loaded = load_rule_book(testing::testdata_dir() / "valid");
  ASSERT_TRUE(loaded.errors.empty()) << all(loaded.errors);
  ASSERT_EQ(loaded.book.sets().size(), 1u);
  const RuleSet& s = loaded.book.sets()[0];
  EXPECT_EQ(s.source, "minimal.yaml:3");
  EXPECT_EQ(s.liability.cutoff, hours{12});  // unquoted 12:00 is a string to yaml-cpp too
  EXPECT_TRUE(s.reminder_lead.empty());
  EXPECT_TRUE(s.liability.daily_rate_sek.empty());
}

TEST(RulesLoader, SyntaxError) {
  expect_errors("syntax_error", {{"broken.yaml", 12, "YAML syntax error: "}});
  // The good file beside it still loads.
  const LoadedRules loaded = load_rule_book(testing::testdata_dir() / "syntax_error");
  EXPECT_NE(loaded.book.find("fine"), nullptr);
}

TEST(RulesLoader, UnknownKeysAreErrors) {
  expect_errors(
      "unknown_keys",
      {
          {"typos.yaml", 2, "missing required key 'validFrom' in rule set"},
          {"typos.yaml", 4, "unknown key 'validfrom' in rule set (did you mean 'validFrom'?)"},
          {"typos.yaml", 7, "missing required key 'graceDays' in liability"},
          {"typos.yaml", 8, "unknown key 'graceDay' in liability (did you mean 'graceDays'?)"},
          {"typos.yaml", 11, "unknown key 'penalty' in liability (known keys: graceDays, "},
          {"typos.yaml", 14, "unknown key 'comment' in rule set"},
      });
}

TEST(RulesLoader, WrongTypes) {
  expect_errors(
      "wrong_types",
      {
          {"types.yaml", 3, "'title' must be a single value, not a list or mapping"},
          {"types.yaml", 4, "'regions' must be a list of two-digit county codes"},
          {"types.yaml", 6, "'admissionNoticeWindowHours' must be a whole number, got '24.5'"},
          {"types.yaml", 7,
           "'sipInvitationDays' must be a number, not quoted text: write 3, not \"3\""},
          {"types.yaml", 9, "'graceDays' must be a whole number, got 'three'"},
          {"types.yaml", 12, "'dailyRateSek' must be a mapping of year to kronor"},
          {"types.yaml", 18, "'liability' must be a mapping"},
          {"types.yaml", 19, "'reminders' must be a mapping of deadline kind to lead time"},
          {"types.yaml", 20, "a rule set must be a mapping"},
      });
}

TEST(RulesLoader, MissingRequiredKeys) {
  expect_errors("missing_keys",
                {
                    {"missing.yaml", 2, "missing required key 'id' in rule set"},
                    {"missing.yaml", 6, "missing required key 'graceDays' in liability"},
                    {"missing.yaml", 9, "missing required key 'validFrom' in rule set"},
                });
}

TEST(RulesLoader, LiabilityModelErrors) {
  expect_errors(
      "liability_model",
      {
          {"models.yaml", 9, "unknown liability model 'average' (expected per_patient or"},
          {"models.yaml", 15, "'averageDays' belongs to the monthly_average model"},
          {"models.yaml", 21, "missing required key 'averageDays' in liability"},
          {"models.yaml", 23, "'graceDays' belongs to the per_patient model"},
          {"models.yaml", 31, "the monthly_average model counts calendar days"},
          {"models.yaml", 37,
           "'averageDays' must be a number of days with at most one decimal, e.g. 3.0, got "
           "'3.25'"},
          {"models.yaml", 43, "'averageDays' must be a number, not quoted text"},
          {"models.yaml", 49, "'averageDays' must be at most 365, got 400"},
      });
}

TEST(RulesLoader, MonthlyAverageSetLoads) {
  const LoadedRules loaded = load_rule_book(testing::testdata_dir() / "valid_monthly");
  ASSERT_TRUE(loaded.errors.empty()) << all(loaded.errors);
  const RuleSet* m = loaded.book.find("monthly");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->liability.model, LiabilityModel::kMonthlyAverage);
  EXPECT_EQ(m->liability.average_days_tenths, 25);
  EXPECT_EQ(m->liability.grace_days, 0);  // a stay's days count from day 0
  EXPECT_EQ(m->liability.cutoff, hours{24});
  const RuleSet* p = loaded.book.find("per-patient");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->liability.model, LiabilityModel::kPerPatient);
  EXPECT_EQ(p->liability.grace_days, 3);
  EXPECT_EQ(p->liability.average_days_tenths, 0);
}

TEST(RulesLoader, BadDatesAndValidToBeforeValidFrom) {
  expect_errors(
      "bad_dates",
      {
          {"dates.yaml", 4, "bad date '2025-02-30' in 'validFrom': no such calendar date"},
          {"dates.yaml", 10, "bad date '2018-1-1' in 'validFrom': expected YYYY-MM-DD"},
          {"dates.yaml", 17, "validTo 2018-12-31 is before validFrom 2019-01-01"},
      });
}

TEST(RulesLoader, BadCutoff) {
  expect_errors("bad_cutoff", {
                                  {"cutoff.yaml", 7, "bad cut-off '12:60'"},
                                  {"cutoff.yaml", 14, "bad cut-off '1200'"},
                                  {"cutoff.yaml", 21, "bad cut-off '25:00'"},
                              });
}

TEST(RulesLoader, NegativeDays) {
  expect_errors("negative_days",
                {
                    {"negative.yaml", 5, "'admissionNoticeWindowHours' must be at least 1, got 0"},
                    {"negative.yaml", 6, "'sipInvitationDays' must not be negative, got -2"},
                    {"negative.yaml", 8, "'graceDays' must not be negative, got -1"},
                    {"negative.yaml", 11, "the daily rate must not be negative, got -7800"},
                });
}

TEST(RulesLoader, UnknownEnumValues) {
  expect_errors(
      "unknown_enums",
      {
          {"enums.yaml", 4, "bad region '1'"},
          {"enums.yaml", 4, "region '01' is listed twice"},
          {"enums.yaml", 5, "unknown careType 'SOMATIK' (expected one of: SOMATIC, PSYCHIATRIC)"},
          {"enums.yaml", 11, "unknown counting 'weekdays' (expected calendar or working)"},
          {"enums.yaml", 14, "unknown deadline kind 'SIP' in 'reminders'"},
          {"enums.yaml", 15, "bad lead time '24' for INFORMATION_TRANSFER"},
          {"enums.yaml", 16, "unknown deadline kind 'DEADLINE_KIND_UNSPECIFIED' in 'reminders'"},
          {"enums.yaml", 17, "bad id 'Bad_Id'"},
          {"enums.yaml", 19, "unknown careType 'CARE_TYPE_UNSPECIFIED'"},
      });
}

TEST(RulesLoader, DuplicateIdsAcrossFilesAndDuplicateKeys) {
  expect_errors("duplicate_ids",
                {
                    {"b.yaml", 9, "duplicate id 'same' (also defined at a.yaml:2)"},
                    {"b.yaml", 16, "duplicate key 'liability' in rule set (first at line 15)"},
                });
}

TEST(RulesLoader, OverlappingValidityForTheSameScope) {
  expect_errors(
      "overlap",
      {
          {"b.yaml", 2,
           "rule set 'default-2020' overlaps 'default' (a.yaml:2) for every region, every "
           "care type from 2020-01-01 to 2020-06-30"},
          {"b.yaml", 9,
           "rule set 'somatic-03' overlaps 'somatic-01-03' (a.yaml:8) for region 03, care "
           "type SOMATIC from 2020-07-01 to 2020-12-31"},
      });
}

TEST(RulesLoader, YmlFilesAreReportedNotIgnored) {
  expect_errors("yml_extension", {{"ignored.yml", 0, "rule files must end in .yaml"}});
}

TEST(RulesLoader, OneDocumentPerFile) {
  expect_errors("multi_document", {{"two.yaml", 9, "more than one YAML document"}});
}

TEST(RulesLoader, EmptyFile) {
  expect_errors("empty_file", {{"empty.yaml", 0, "the file is empty"}});
}

TEST(RulesLoader, MissingOrEmptyDirectory) {
  const LoadedRules missing = load_rule_book(testing::testdata_dir() / "no-such-dir");
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_EQ(missing.errors[0].line, 0);
  EXPECT_THAT(missing.errors[0].reason, ::testing::HasSubstr("not a directory"));

  const fs::path empty =
      fs::temp_directory_path() /
      ("samordna-rules-empty-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
       "-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  fs::create_directories(empty);
  const LoadedRules none = load_rule_book(empty);
  fs::remove_all(empty);
  ASSERT_EQ(none.errors.size(), 1u);
  EXPECT_THAT(none.errors[0].reason, ::testing::HasSubstr("no *.yaml rule files"));
}

TEST(RulesLoader, ErrorsNameThePathAsGiven) {
  const fs::path dir = testing::testdata_dir() / "bad_cutoff";
  const LoadedRules loaded = load_rule_book(dir);
  ASSERT_FALSE(loaded.errors.empty());
  EXPECT_EQ(to_string(loaded.errors[0]), (dir / "cutoff.yaml").string() +
                                             ":7: bad cut-off '12:60': expected local time HH:MM "
                                             "(00:00-23:59), or 24:00 for no cut-off");
}

}  // namespace
}  // namespace samordna::rules
