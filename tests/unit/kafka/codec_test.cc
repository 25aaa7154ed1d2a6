#include "connectors/kafka/codec.h"

#include <gtest/gtest.h>

namespace samordna::kafka {
namespace {

TEST(KafkaCodec, Base64MatchesRfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded) << plain;
    EXPECT_EQ(base64_decode(encoded), std::optional<std::string>(plain)) << encoded;
  }
}

TEST(KafkaCodec, Base64RoundTripsEveryByte) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  for (size_t n = 0; n <= bytes.size(); n += 37) {
    const std::string part = bytes.substr(0, n);
    EXPECT_EQ(base64_decode(base64_encode(part)), std::optional<std::string>(part));
  }
}

TEST(KafkaCodec, Base64RejectsWhatItCannotDecode) {
  EXPECT_FALSE(base64_decode("Zg="));       // not a multiple of 4
  EXPECT_FALSE(base64_decode("Z!=="));      // not in the alphabet
  EXPECT_FALSE(base64_decode("Zg==Zg=="));  // data after padding
}

// Java's Utils.murmur2 values from Kafka's UtilsTest, as toPositive(h) % n for a large n.
TEST(KafkaCodec, JavaPartitionMatchesKafkasMurmur2) {
  const std::pair<const char*, int32_t> vectors[] = {
      {"21", -973932308},
      {"foobar", -790332482},
      {"a-little-bit-long-string", -985981536},
      {"a-little-bit-longer-string", -1486304829},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
      {"abc", 479470107},
  };
  constexpr int kN = 2147483647;  // toPositive(h) % kN == toPositive(h) for every h but kN itself
  for (const auto& [key, hash] : vectors) {
    EXPECT_EQ(java_partition(key, kN), hash & 0x7fffffff) << key;
  }
  EXPECT_EQ(java_partition("21", 4), (-973932308 & 0x7fffffff) % 4);
}

}  // namespace
}  // namespace samordna::kafka
