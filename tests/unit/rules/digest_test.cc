// Rule sets pinned by content (rules/digest.h): the digest follows what the engine uses and
// nothing else, and check_in_use refuses a book whose set under an in-use id changed or is gone.

#include "rules/digest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "tests/unit/rules/test_util.h"

namespace samordna::rules {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A fresh folder with one rule file; removed at the end.
class RuleDir {
 public:
  RuleDir() {
    path_ = fs::temp_directory_path() /
            ("samordna-digest-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~RuleDir() { fs::remove_all(path_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(path_ / name) << text;
  }
  RuleBook load() {
    LoadedRules loaded = load_rule_book(path_);
    for (const auto& e : loaded.errors) ADD_FAILURE() << to_string(e);
    return loaded.book;
  }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

const char* kPlain = R"(ruleSets:
  - id: se-test
    title: "A test set"
    regions: ["03", "01"]
    validFrom: 2018-01-01
    admissionNoticeWindowHours: 24
    sipInvitationDays: 3
    liability: {graceDays: 3, counting: calendar, cutoff: "12:00", dailyRateSek: {2019: 7800}}
    reminders: {SIP_INVITATION: 24h}
)";

// The same rules: comments, blank lines, another title, other key order and quoting, block style,
// regions in another order, 24h written as 1440m.
const char* kSameRules = R"(# A comment that was added
ruleSets:

  - title: "Another title, for people only"   # titles are not rules
    validFrom: 2018-01-01
    id: se-test
    regions:
      - "01"
      - "03"
    sipInvitationDays: 3
    admissionNoticeWindowHours: 24
    liability:
      dailyRateSek:
        2019: 7800
      cutoff: "12:00:00"
      counting: calendar
      graceDays: 3
    reminders:
      SIP_INVITATION: 1440m
)";

std::string digest_of(const char* text) {
  RuleDir dir;
  dir.write("set.yaml", text);
  const RuleBook book = dir.load();
  const RuleSet* set = book.find("se-test");
  EXPECT_NE(set, nullptr);
  return set ? set->digest : "";
}

TEST(RulesDigest, IsTheSha256OfTheCanonicalForm) {
  const std::string d = digest_of(kPlain);
  EXPECT_THAT(d, ::testing::MatchesRegex("sha256:[0-9a-f]{64}"));
}

TEST(RulesDigest, CommentsLayoutTitleAndOrderDoNotChangeIt) {
  EXPECT_EQ(digest_of(kPlain), digest_of(kSameRules));
}

TEST(RulesDigest, TheCanonicalFormIsPinned) {
  // Persisted with every episode: changing this text changes every digest, and every episode in
  // flight would then be refused at the next start. Change it only with a new version line and a
  // migration.
  RuleDir dir;
  dir.write("set.yaml", kPlain);
  const RuleBook book = dir.load();
  ASSERT_EQ(book.sets().size(), 1u);
  EXPECT_EQ(canonical_form(book.sets()[0]),
            "samordna-rule-set/1\n"
            "regions=01,03\n"
            "careType=*\n"
            "validFrom=2018-01-01\n"
            "validTo=-\n"
            "admissionNoticeWindowSeconds=86400\n"
            "sipInvitationDays=3\n"
            "liability.graceDays=3\n"
            "liability.counting=calendar\n"
            "liability.cutoffSeconds=43200\n"
            "liability.dailyRateSek.2019=7800\n"
            "reminder.SIP_INVITATION=86400\n");
  // `printf '<the text above>' | sha256sum`
  EXPECT_EQ(book.sets()[0].digest,
            "sha256:f53591585dff3ae6dff7352ad30ed731e829a770be9c53de865e55b321a8067e");
}

// Every rule the engine reads changes the digest.
TEST(RulesDigest, EveryRuleChangesIt) {
  RuleDir dir;
  dir.write("set.yaml", kPlain);
  const RuleSet base = dir.load().sets().at(0);
  const std::string d0 = content_digest(base);
  const std::vector<std::pair<std::string, std::function<void(RuleSet&)>>> edits = {
      {"regions", [](RuleSet& s) { s.regions.push_back("04"); }},
      {"careType", [](RuleSet& s) { s.care_type = v1::PSYCHIATRIC; }},
      {"validFrom", [](RuleSet& s) { s.valid_from = testing::day("2018-01-02"); }},
      {"validTo", [](RuleSet& s) { s.valid_to = testing::day("2030-12-31"); }},
      {"admissionNoticeWindow",
       [](RuleSet& s) { s.admission_notice_window = std::chrono::hours(48); }},
      {"sipInvitationDays", [](RuleSet& s) { s.sip_invitation_days = 4; }},
      {"graceDays", [](RuleSet& s) { s.liability.grace_days = 5; }},
      {"counting", [](RuleSet& s) { s.liability.counting = DayCounting::kWorking; }},
      {"cutoff", [](RuleSet& s) { s.liability.cutoff = std::chrono::hours(14); }},
      {"dailyRate", [](RuleSet& s) { s.liability.daily_rate_sek[2019] = 7801; }},
      {"dailyRate year", [](RuleSet& s) { s.liability.daily_rate_sek[2020] = 8200; }},
      {"reminder lead",
       [](RuleSet& s) { s.reminder_lead[v1::SIP_INVITATION] = std::chrono::hours(12); }},
      {"reminder kind",
       [](RuleSet& s) { s.reminder_lead[v1::ADMISSION_NOTICE] = std::chrono::hours(4); }},
      {"liability model", [](RuleSet& s) { s.liability.model = LiabilityModel::kMonthlyAverage; }},
  };
  for (const auto& [what, edit] : edits) {
    RuleSet changed = base;
    edit(changed);
    EXPECT_NE(content_digest(changed), d0) << what;
  }
  // The agreed average of a monthly-average set.
  RuleSet average = base;
  average.liability.model = LiabilityModel::kMonthlyAverage;
  average.liability.average_days_tenths = 30;
  RuleSet other_average = average;
  other_average.liability.average_days_tenths = 25;
  EXPECT_NE(content_digest(average), content_digest(other_average));
  // Titles, ids and positions are not rules.
  RuleSet renamed = base;
  renamed.title = "x";
  renamed.source = "other.yaml:99";
  EXPECT_EQ(content_digest(renamed), d0);
}

RuleBook book_of(const char* text, RuleDir& dir) {
  dir.write("set.yaml", text);
  return dir.load();
}

TEST(RulesInUse, AChangedSetUnderAnIdInFlightIsRefusedWithFileLineIdAndWhatToDo) {
  RuleDir before_dir, after_dir;
  const RuleBook before = book_of(kPlain, before_dir);
  std::string edited = kPlain;
  edited.replace(edited.find("graceDays: 3"), 12, "graceDays: 5");
  const RuleBook after = book_of(edited.c_str(), after_dir);

  const std::vector<RuleSetInUse> in_use = {{"se-test", before.sets()[0].digest, 12}};
  const auto errors = check_in_use(after, in_use);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(fs::path(errors[0].file).filename(), "set.yaml");
  EXPECT_EQ(errors[0].line, 2);  // the "- id:" line of the set
  EXPECT_THAT(errors[0].reason, HasSubstr("rule set se-test has changed since 12 episode(s)"));
  EXPECT_THAT(errors[0].reason, HasSubstr("give the new version a new id and a validFrom"));
  EXPECT_THAT(errors[0].reason, HasSubstr("put the old file back"));
  // The same book as then: fine.
  EXPECT_TRUE(check_in_use(before, in_use).empty());
}

TEST(RulesInUse, ACommentOnlyEditIsAccepted) {
  RuleDir before_dir, after_dir;
  const RuleBook before = book_of(kPlain, before_dir);
  const RuleBook after = book_of(kSameRules, after_dir);
  EXPECT_TRUE(check_in_use(after, {{"se-test", before.sets()[0].digest, 3}}).empty());
}

TEST(RulesInUse, ARemovedSetUnderAnIdInFlightIsRefused) {
  RuleDir dir;
  const RuleBook book = book_of(kPlain, dir);
  const auto errors = check_in_use(book, {{"se-gone", "sha256:00", 1}});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0].reason, HasSubstr("rule set se-gone is no longer in the rules directory"));
}

TEST(RulesInUse, EpisodesFromBeforeDigestsAreNotChecked) {
  RuleDir dir;
  const RuleBook book = book_of(kPlain, dir);
  EXPECT_TRUE(check_in_use(book, {{"se-test", "", 5}, {"se-gone", "", 1}}).empty());
}

}  // namespace
}  // namespace samordna::rules
