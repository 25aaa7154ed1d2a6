// The strict YAML field reader shared by the rule files and the service config.

#include "rules/yaml_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace samordna::yaml {
namespace {

using ::testing::HasSubstr;

std::string all(const Reader& r) {
  std::string out;
  for (const Problem& p : r.problems()) out += std::to_string(p.line) + ": " + p.reason + "\n";
  return out;
}

TEST(YamlReader, UnknownDuplicateAndMissingKeysHaveLines) {
  Reader r;
  const auto docs = load_documents(r, "alpha: 1\nalpah: 2\nalpha: 3\n");
  ASSERT_TRUE(docs);
  ASSERT_EQ(docs->count, 1u);
  const Fields f(r, docs->first, 1, "the file", {"alpha", "beta"}, KeyHints::kEditDistance);
  EXPECT_EQ(f.require("beta"), nullptr);
  ASSERT_NE(f.get("alpha"), nullptr);
  EXPECT_EQ(f.get("alpha")->line, 1);
  EXPECT_EQ(all(r),
            "2: unknown key 'alpah' in the file (did you mean 'alpha'?)\n"
            "3: duplicate key 'alpha' in the file (first at line 1)\n"
            "1: missing required key 'beta' in the file\n");
}

TEST(YamlReader, TheTwoHintStylesStayAsTheyWere) {
  Reader r;
  const auto docs = load_documents(r, "group_id: x\ngrupId: y\n");
  ASSERT_TRUE(docs);
  const Fields folded(r, docs->first, 1, "kafka", {"groupId"}, KeyHints::kFolded);
  const Fields edits(r, docs->first, 1, "kafka", {"groupId"}, KeyHints::kEditDistance);
  EXPECT_EQ(all(r),
            "1: unknown key 'group_id' in kafka (did you mean 'groupId'?)\n"
            "2: unknown key 'grupId' in kafka (known keys: groupId)\n"
            "1: unknown key 'group_id' in kafka (did you mean 'groupId'?)\n"
            "2: unknown key 'grupId' in kafka (did you mean 'groupId'?)\n");
}

TEST(YamlReader, ScalarsAreStrict) {
  Reader r;
  const auto docs = load_documents(r, "n: \"4\"\nb: yes\nm: 12abc\ns: [1]\n");
  ASSERT_TRUE(docs);
  const Fields f(r, docs->first, 1, "the file", {"n", "b", "m", "s"}, KeyHints::kFolded);
  EXPECT_FALSE(read_int_in_range(r, *f.get("n"), 0, 10));
  EXPECT_FALSE(read_bool(r, *f.get("b")));
  EXPECT_FALSE(read_int(r, f.get("m")->value, 3, "'m'", 0, 10));
  EXPECT_FALSE(read_string(r, *f.get("s")));
  EXPECT_EQ(all(r),
            "1: 'n' must be a whole number from 0 to 10\n"
            "2: 'b' must be true or false\n"
            "3: 'm' must be a whole number, got '12abc'\n"
            "4: 's' must be a single value, not a list or mapping\n");
}

TEST(YamlReader, DocumentsAreCountedAndAStrayCommaEnds) {
  Reader r;
  auto two = load_documents(r, "a: 1\n---\nb: 2\n---\nc: 3\n");
  ASSERT_TRUE(two);
  EXPECT_EQ(two->count, 2u);
  EXPECT_EQ(two->second_line, 3);
  EXPECT_EQ(two->first["a"].Scalar(), "1");
  auto empty = load_documents(r, "");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->count, 0u);
  EXPECT_EQ(r.count(), 0u);
  EXPECT_FALSE(load_documents(r, ","));
  EXPECT_FALSE(load_documents(r, "a: [1\n"));
  ASSERT_EQ(r.count(), 2u);
  EXPECT_THAT(r.problems()[0].reason, HasSubstr("YAML syntax error"));
  EXPECT_THAT(r.problems()[1].reason, HasSubstr("YAML syntax error"));
}

}  // namespace
}  // namespace samordna::yaml
