#include "rules/rule_set.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/rules/test_util.h"

namespace samordna::rules {
namespace {

using testing::day;

RuleSet make(std::string id, std::vector<std::string> regions, std::optional<v1::CareType> care,
             const char* from, const char* to = nullptr) {
  RuleSet s;
  s.id = std::move(id);
  s.regions = std::move(regions);
  s.care_type = care;
  s.valid_from = day(from);
  if (to != nullptr) s.valid_to = day(to);
  return s;
}

std::string selected(const RuleBook& book, std::string_view region, v1::CareType care,
                     const char* on) {
  const RuleSet* s = book.select(region, care, day(on));
  return s == nullptr ? "none" : s->id;
}

TEST(RulesRuleSet, InForceOnIsInclusiveAtBothEnds) {
  const RuleSet s = make("a", {}, std::nullopt, "2018-01-01", "2018-12-31");
  EXPECT_FALSE(s.in_force_on(day("2017-12-31")));
  EXPECT_TRUE(s.in_force_on(day("2018-01-01")));
  EXPECT_TRUE(s.in_force_on(day("2018-12-31")));
  EXPECT_FALSE(s.in_force_on(day("2019-01-01")));
  const RuleSet open = make("b", {}, std::nullopt, "2018-01-01");
  EXPECT_TRUE(open.in_force_on(day("2099-12-31")));
}

TEST(RulesRuleSet, AppliesToRegionAndCareType) {
  const RuleSet all = make("a", {}, std::nullopt, "2018-01-01");
  EXPECT_TRUE(all.applies_to("01", v1::SOMATIC));
  EXPECT_TRUE(all.applies_to("", v1::CARE_TYPE_UNSPECIFIED));
  const RuleSet sthlm_psych = make("b", {"01", "03"}, v1::PSYCHIATRIC, "2018-01-01");
  EXPECT_TRUE(sthlm_psych.applies_to("03", v1::PSYCHIATRIC));
  EXPECT_FALSE(sthlm_psych.applies_to("04", v1::PSYCHIATRIC));
  EXPECT_FALSE(sthlm_psych.applies_to("01", v1::SOMATIC));
  EXPECT_FALSE(sthlm_psych.applies_to("01", v1::CARE_TYPE_UNSPECIFIED));
}

TEST(RulesRuleSet, PrecedenceRegionThenCareType) {
  // Listed least specific last, so the order in the book cannot be what decides.
  const RuleBook book({
      make("region-care", {"01"}, v1::PSYCHIATRIC, "2018-01-01"),
      make("region", {"01"}, std::nullopt, "2018-01-01"),
      make("care", {}, v1::PSYCHIATRIC, "2018-01-01"),
      make("default", {}, std::nullopt, "2018-01-01"),
  });
  EXPECT_EQ(selected(book, "01", v1::PSYCHIATRIC, "2020-01-01"), "region-care");
  EXPECT_EQ(selected(book, "01", v1::SOMATIC, "2020-01-01"), "region");
  EXPECT_EQ(selected(book, "05", v1::PSYCHIATRIC, "2020-01-01"), "care");
  EXPECT_EQ(selected(book, "05", v1::SOMATIC, "2020-01-01"), "default");
  EXPECT_EQ(selected(book, "05", v1::SOMATIC, "2017-12-31"), "none");

  const RuleBook reversed({
      make("default", {}, std::nullopt, "2018-01-01"),
      make("care", {}, v1::PSYCHIATRIC, "2018-01-01"),
      make("region", {"01"}, std::nullopt, "2018-01-01"),
  });
  // A regional set for every care type beats the default's care-type exception.
  EXPECT_EQ(selected(reversed, "01", v1::PSYCHIATRIC, "2020-01-01"), "region");
}

TEST(RulesRuleSet, SelectHonoursValidity) {
  const RuleBook book({
      make("default", {}, std::nullopt, "2018-01-01"),
      make("psych-2018", {}, v1::PSYCHIATRIC, "2018-01-01", "2018-12-31"),
  });
  EXPECT_EQ(selected(book, "03", v1::PSYCHIATRIC, "2018-12-31"), "psych-2018");
  EXPECT_EQ(selected(book, "03", v1::PSYCHIATRIC, "2019-01-01"), "default");
}

TEST(RulesRuleSet, FindById) {
  const RuleBook book(
      {make("a", {}, std::nullopt, "2018-01-01"), make("b", {"01"}, std::nullopt, "2018-01-01")});
  ASSERT_NE(book.find("b"), nullptr);
  EXPECT_EQ(book.find("b")->regions, std::vector<std::string>{"01"});
  EXPECT_EQ(book.find("c"), nullptr);
  EXPECT_EQ(RuleBook().find("a"), nullptr);
  EXPECT_EQ(RuleBook().select("01", v1::SOMATIC, day("2020-01-01")), nullptr);
}

TEST(RulesRuleSet, ErrorToString) {
  EXPECT_EQ(to_string(RuleError{"sets/a.yaml", 7, "unknown key 'x'"}),
            "sets/a.yaml:7: unknown key 'x'");
}

}  // namespace
}  // namespace samordna::rules
