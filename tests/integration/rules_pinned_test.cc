// Rules pinned by content, end to end through the samordna binary (no broker needed): `simulate
// --state-dir` leaves an episode in flight under se-statutory; `rules check DIR --state-dir D`
// then refuses that rule set edited in place, naming file:line, the id and what to do, accepts a
// comment-only edit, and accepts any edit when no episode is in flight under it.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/integration/kafka_fixture.h"

namespace samordna::kafka_test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string read_all(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Replaces the first `from` in the file by `to`.
void edit(const fs::path& file, const std::string& from, const std::string& to) {
  std::string text = read_all(file);
  const size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
  write_file(file, text);
}

class RulesPinned : public ::testing::Test {
 protected:
  void SetUp() override { fs::copy(fs::path(SAMORDNA_SOURCE_DIR) / "rules" / "sets", rules_); }

  CommandResult simulate(const fs::path& events, const fs::path& state) {
    return run_command({samordna_binary(), "simulate", "--rules", rules_.string(), "--events",
                        events.string(), "--state-dir", state.string()});
  }
  CommandResult check(const fs::path& state) {
    return run_command(
        {samordna_binary(), "rules", "check", rules_.string(), "--state-dir", state.string()});
  }

  TempDir dir_{"samordna-rules-pinned"};
  fs::path rules_ = dir_.path() / "rules";
  fs::path statutory_ = rules_ / "statutory.yaml";
};

TEST_F(RulesPinned, AnEditedSetIsRefusedWhileAnEpisodeIsInFlightUnderIt) {
  const fs::path state = dir_.path() / "state";
  const auto ran = simulate(
      fs::path(SAMORDNA_SOURCE_DIR) / "tests/scenario/cases/admission_notice_in_time/events.jsonl",
      state);
  ASSERT_EQ(ran.exit_code, 0) << ran.describe();
  auto before = check(state);
  EXPECT_EQ(before.exit_code, 0) << before.describe();

  // A comment and a new title: not a change of the rules.
  edit(statutory_, "    sipInvitationDays: 3             # 4 kap. 3 §",
       "    sipInvitationDays: 3   # 4 kap. 3 § (three calendar days)\n    # reviewed 2026");
  edit(statutory_, "statutory default\"", "statutory default, reviewed\"");
  auto comment_only = check(state);
  EXPECT_EQ(comment_only.exit_code, 0) << comment_only.describe();

  // The liability grace days of se-statutory, edited in place.
  edit(statutory_, "graceDays: 3", "graceDays: 4");
  auto edited = check(state);
  EXPECT_EQ(edited.exit_code, 1) << edited.describe();
  EXPECT_THAT(edited.err, HasSubstr("statutory.yaml:8: rule set se-statutory has changed since 1 "
                                    "episode(s) in flight started under it"));
  EXPECT_THAT(edited.err, HasSubstr("give the new version a new id and a validFrom"));
}

TEST_F(RulesPinned, AnEditIsAcceptedWhenNoEpisodeIsInFlightUnderTheSet) {
  const fs::path state = dir_.path() / "state";
  const fs::path events = write_file(
      dir_.path() / "cancelled.jsonl",
      R"({"eventId":"a1","episodeId":"ep-1","occurredAt":"2025-03-10T07:00:00Z","admitted":{"patient":{"personalId":"195704289999","homeMunicipality":"0380"},"careUnit":"avd-1","region":"03","careType":"SOMATIC"}})"
      "\n"
      R"({"eventId":"a2","episodeId":"ep-1","occurredAt":"2025-03-10T08:00:00Z","admissionCancelled":{}})"
      "\n");
  const auto ran = simulate(events, state);
  ASSERT_EQ(ran.exit_code, 0) << ran.describe();
  edit(statutory_, "graceDays: 3", "graceDays: 4");
  auto edited = check(state);
  EXPECT_EQ(edited.exit_code, 0) << edited.describe();
}

TEST_F(RulesPinned, AMissingStateDirIsAUsageError) {
  auto missing = check(dir_.path() / "no-such-state");
  EXPECT_EQ(missing.exit_code, 2) << missing.describe();
  EXPECT_FALSE(fs::exists(dir_.path() / "no-such-state"));
}

}  // namespace
}  // namespace samordna::kafka_test
