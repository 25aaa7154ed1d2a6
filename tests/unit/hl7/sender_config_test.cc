#include "connectors/hl7/sender_config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace samordna::hl7 {
namespace {

std::string write(const std::string& text) {
  std::string path = ::testing::TempDir() + "hl7_sender_config.yaml";
  std::ofstream(path) << text;
  return path;
}

TEST(Hl7SenderConfig, ReadsEveryKey) {
  auto c = load_sender_config(
      write("episode_prefix: 'KS/'\ninpatient_classes: [I, INPATIENT]\nregion: '01'\n"
            "municipality_component: 8\npsychiatric_services: [PSY]\nprocessing_ids: [P, T]\n"
            "time_zone: Europe/Oslo\ndefault_charset: 8859/1\nmax_message_bytes: 4096\n"
            "reserve_number_systems: [1.2.752.74.9.2]\n"));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c.value().episode_prefix, "KS/");
  EXPECT_EQ(c.value().inpatient_classes, (std::vector<std::string>{"I", "INPATIENT"}));
  EXPECT_EQ(c.value().region, "01");
  EXPECT_EQ(c.value().municipality_component, 8U);
  EXPECT_EQ(c.value().processing_ids.size(), 2U);
  EXPECT_EQ(c.value().time_zone, "Europe/Oslo");
  EXPECT_EQ(c.value().parse.default_charset, Charset::kLatin1);
  EXPECT_EQ(c.value().parse.max_message_bytes, 4096U);
  EXPECT_EQ(c.value().reserve_number_systems, std::vector<std::string>{"1.2.752.74.9.2"});
  EXPECT_EQ(c.value().personnummer_oid, "1.2.752.129.2.1.3.1");  // default kept
}

TEST(Hl7SenderConfig, EmptyFileIsAllDefaults) {
  auto c = load_sender_config(write(""));
  ASSERT_TRUE(c);
  EXPECT_EQ(c.value().inpatient_classes, std::vector<std::string>{"I"});
}

TEST(Hl7SenderConfig, ATypoIsAnErrorWithTheLine) {
  auto c = load_sender_config(write("region: '01'\ninpatient_class: [I]\n"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find(":2: unknown key inpatient_class"), std::string::npos)
      << c.error().message;
  c = load_sender_config(write("default_charset: EBCDIC\n"));
  ASSERT_FALSE(c);
  c = load_sender_config(write("municipality_component: nine\n"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("municipality_component has the wrong type"), std::string::npos);
}

}  // namespace
}  // namespace samordna::hl7
