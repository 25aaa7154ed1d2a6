#include "connectors/deliver/signature.h"

#include <gtest/gtest.h>

namespace samordna::deliver {
namespace {

// The Standard Webhooks specification's example (also in its reference libraries' tests), checked
// independently with Python's hmac: base64(HMAC-SHA256(b64decode(key), id.ts.body)).
constexpr std::string_view kSpecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view kSpecId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr int64_t kSpecTimestamp = 1614265330;
constexpr std::string_view kSpecBody = R"({"test": 2432232314})";
constexpr std::string_view kSpecSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

Secret secret(std::string_view text) {
  auto s = parse_secret(text);
  EXPECT_TRUE(s) << s.error().message;
  return s.value();
}

TEST(DeliverSignature, SpecVector) {
  EXPECT_EQ(sign(secret(kSpecSecret), kSpecId, kSpecTimestamp, kSpecBody), kSpecSignature);
  // Without the prefix, and with a file's trailing newline, the same key.
  EXPECT_EQ(sign(secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"), kSpecId, kSpecTimestamp, kSpecBody),
            kSpecSignature);
}

TEST(DeliverSignature, EveryPartIsSigned) {
  const Secret s = secret(kSpecSecret);
  EXPECT_NE(sign(s, "msg_other", kSpecTimestamp, kSpecBody), kSpecSignature);
  EXPECT_NE(sign(s, kSpecId, kSpecTimestamp + 1, kSpecBody), kSpecSignature);
  EXPECT_NE(sign(s, kSpecId, kSpecTimestamp, R"({"test": 2432232315})"), kSpecSignature);
}

TEST(DeliverSignature, RotationSignsWithEverySecretAndVerifiesWithEither) {
  const Secret old_secret = secret(kSpecSecret);
  const Secret new_secret = secret("whsec_" + base64_encode(std::string(32, 'k')));
  const std::string header =
      signature_header({new_secret, old_secret}, kSpecId, kSpecTimestamp, kSpecBody);
  EXPECT_EQ(header.substr(header.find(' ') + 1), kSpecSignature);
  EXPECT_TRUE(verify({old_secret}, header, kSpecId, kSpecTimestamp, kSpecBody));
  EXPECT_TRUE(verify({new_secret}, header, kSpecId, kSpecTimestamp, kSpecBody));
  const Secret other = secret("whsec_" + base64_encode(std::string(32, 'x')));
  EXPECT_FALSE(verify({other}, header, kSpecId, kSpecTimestamp, kSpecBody));
  EXPECT_FALSE(verify({old_secret}, header, kSpecId, kSpecTimestamp, "{}"));
  // Another scheme's token with the same bytes is not a v1 signature.
  EXPECT_FALSE(verify({old_secret}, "v1a," + std::string(kSpecSignature.substr(3)), kSpecId,
                      kSpecTimestamp, kSpecBody));
}

TEST(DeliverSignature, SecretsMustBeBase64OfTwentyFourToSixtyFourBytes) {
  EXPECT_FALSE(parse_secret("whsec_not base64!"));
  EXPECT_FALSE(parse_secret(""));
  EXPECT_FALSE(parse_secret("whsec_" + base64_encode(std::string(16, 'a'))));
  EXPECT_FALSE(parse_secret("whsec_" + base64_encode(std::string(65, 'a'))));
  EXPECT_TRUE(parse_secret("whsec_" + base64_encode(std::string(24, 'a'))));
  // The error never quotes the secret.
  auto bad = parse_secret("whsec_s3cr3t-value");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message.find("s3cr3t"), std::string::npos);
}

TEST(DeliverSignature, Base64RoundTrip) {
  for (const std::string s : {"", "a", "ab", "abc", "abcd", "\xff\x00\x10"}) {
    std::string back;
    const auto encoded = base64_encode(s);
    if (s.empty()) {
      EXPECT_EQ(encoded, "");
      continue;
    }
    ASSERT_TRUE(base64_decode(encoded, back)) << encoded;
    EXPECT_EQ(back, s);
  }
  std::string out;
  EXPECT_FALSE(base64_decode("abc", out));   // not whole quads
  EXPECT_FALSE(base64_decode("ab=c", out));  // padding inside
  EXPECT_FALSE(base64_decode("a===", out));  // too much padding
  EXPECT_TRUE(base64_decode("YQ==", out));
  EXPECT_EQ(out, "a");
}

}  // namespace
}  // namespace samordna::deliver
