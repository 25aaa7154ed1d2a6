// A rules folder as a careless deployment or a hostile hand leaves it: entries that look like rule
// files but cannot be read, and many sets at once. Issue 9, items 8 and 10.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "rules/rule_set.h"

namespace samordna::rules {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const char* kValid = R"(ruleSets:
  - id: default
    title: Default
    validFrom: 2018-01-01
    admissionNoticeWindowHours: 24
    sipInvitationDays: 3
    liability: {graceDays: 3, counting: calendar, cutoff: "12:00"}
)";

class RuleFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("samordna-rule-folder-" + std::to_string(::getpid()) + "-" +
            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  fs::path dir_;
};

std::string all(const std::vector<RuleError>& errors) {
  std::string out;
  for (const RuleError& e : errors) out += "  " + to_string(e) + "\n";
  return out;
}

// Every entry that looks like a rule file and cannot be read is an error naming the file; a FIFO
// is reported without being opened (opening one blocks until a writer comes).
TEST_F(RuleFolder, UnreadableEntriesNamedYamlAreErrors) {
  write("a-valid.yaml", kValid);
  fs::create_symlink(dir_ / "no-such-file.yaml", dir_ / "dangling.yaml");
  fs::create_symlink(dir_ / "loop.yaml", dir_ / "loop.yaml");
  ASSERT_EQ(::mkfifo((dir_ / "fifo.yaml").c_str(), 0600), 0);
  fs::create_directory(dir_ / "folder.yaml");
  write("not-a-rule-file.txt", "ignored");

  const LoadedRules loaded = load_rule_book(dir_);
  SCOPED_TRACE(all(loaded.errors));
  ASSERT_EQ(loaded.errors.size(), 4u);
  auto reason_of = [&](const std::string& name) {
    for (const RuleError& e : loaded.errors) {
      if (fs::path(e.file).filename() == name) {
        EXPECT_EQ(e.line, 0) << name;
        return e.reason;
      }
    }
    return std::string("no error for ") + name;
  };
  EXPECT_THAT(reason_of("dangling.yaml"), HasSubstr("symbolic link to nothing"));
  EXPECT_THAT(reason_of("loop.yaml"), HasSubstr("symbolic link loop"));
  EXPECT_THAT(reason_of("fifo.yaml"), HasSubstr("not a regular file"));
  EXPECT_THAT(reason_of("folder.yaml"), HasSubstr("a directory"));
  // The readable file still loads: the caller sees every problem, and decides.
  EXPECT_NE(loaded.book.find("default"), nullptr);
}

TEST_F(RuleFolder, AnUnreadableFileIsAnError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads every file";
  write("locked.yaml", kValid);
  fs::permissions(dir_ / "locked.yaml", fs::perms::none);
  const LoadedRules loaded = load_rule_book(dir_);
  ASSERT_EQ(loaded.errors.size(), 1u) << all(loaded.errors);
  EXPECT_THAT(loaded.errors[0].reason, HasSubstr("cannot read the file"));
}

// n sets that all overlap: each set after the first is reported once (against one set it
// overlaps), not once per pair, and the check is O(n log n), not O(n^2).
TEST_F(RuleFolder, ManyOverlappingSetsAreReportedOnceEach) {
  constexpr int kSets = 3000;
  std::string text = "ruleSets:\n";
  for (int i = 0; i < kSets; ++i) {
    text += "  - {id: s" + std::to_string(i) +
            ", title: t, regions: [\"01\", \"03\"], validFrom: 2018-01-01, "
            "admissionNoticeWindowHours: 24, sipInvitationDays: 3, liability: {graceDays: 3, "
            "counting: calendar, cutoff: \"12:00\"}}\n";
  }
  write("many.yaml", text);
  const auto start = std::chrono::steady_clock::now();
  const LoadedRules loaded = load_rule_book(dir_);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(loaded.errors.size(), static_cast<size_t>(kSets - 1));
  EXPECT_THAT(loaded.errors[0].reason, HasSubstr("overlaps"));
  EXPECT_THAT(loaded.errors[0].reason, HasSubstr("region 01"));
  EXPECT_LT(took, std::chrono::seconds(10));
}

// Sets that follow each other and sets that overlap only the one before the one before: the sweep
// must still find the second.
TEST_F(RuleFolder, AnOverlapBehindALongSetIsFound) {
  write("a.yaml", R"(ruleSets:
  - {id: long, title: t, validFrom: 2018-01-01, validTo: 2030-12-31, admissionNoticeWindowHours: 24, sipInvitationDays: 3, liability: {graceDays: 3, counting: calendar, cutoff: "12:00"}}
  - {id: short, title: t, validFrom: 2019-01-01, validTo: 2019-12-31, admissionNoticeWindowHours: 24, sipInvitationDays: 3, liability: {graceDays: 3, counting: calendar, cutoff: "12:00"}}
  - {id: later, title: t, validFrom: 2025-01-01, admissionNoticeWindowHours: 24, sipInvitationDays: 3, liability: {graceDays: 3, counting: calendar, cutoff: "12:00"}}
)");
  const LoadedRules loaded = load_rule_book(dir_);
  ASSERT_EQ(loaded.errors.size(), 2u) << all(loaded.errors);
  EXPECT_THAT(loaded.errors[0].reason,
              HasSubstr("rule set 'short' overlaps 'long' (a.yaml:2) for every region, every care "
                        "type from 2019-01-01 to 2019-12-31"));
  EXPECT_THAT(loaded.errors[1].reason,
              HasSubstr("rule set 'later' overlaps 'long' (a.yaml:2) for every region, every care "
                        "type from 2025-01-01 to 2030-12-31"));
}

// The text entry point (for the fuzzer) reads a file's content as load_rule_book reads a file.
TEST(RuleText, LoadsOneFilesContent) {
  const LoadedRules ok = load_rule_text(kValid, "mem.yaml");
  EXPECT_TRUE(ok.errors.empty()) << all(ok.errors);
  EXPECT_NE(ok.book.find("default"), nullptr);
  const LoadedRules bad = load_rule_text("ruleSets: [1]\n", "mem.yaml");
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(to_string(bad.errors[0]),
            "mem.yaml:1: a rule set must be a mapping (id, title, validFrom, ...)");
}

// Found by tests/fuzz/ (fuzz_rule_file): yaml-cpp's LoadAll loops forever, growing memory, on a
// stray flow indicator outside a flow collection. It is a syntax error with a line.
TEST(RuleText, AStrayCommaIsASyntaxErrorNotAHang) {
  for (const char* text : {",", "\"a\",\n", "ruleSets: []\n]\n", "}"}) {
    const LoadedRules loaded = load_rule_text(text, "mem.yaml");
    ASSERT_EQ(loaded.errors.size(), 1u) << text << all(loaded.errors);
    EXPECT_THAT(loaded.errors[0].reason, HasSubstr("YAML syntax error")) << text;
  }
}

}  // namespace
}  // namespace samordna::rules
