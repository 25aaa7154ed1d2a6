#include "connectors/serve/auth.h"

#include <gtest/gtest.h>
#include <jwt.h>

#include "tests/unit/serve/serve_fixture.h"

namespace samordna::serve {
namespace {

using namespace samordna::serve::testing;

const Instant kNow = at("2026-01-01T12:00:00Z");

TokenRequest request(Role role = Role::kCaseworker) {
  TokenRequest r;
  r.subject = "SE2321000016-ABCD";
  r.org = OrgRef{v1::Organisation::MUNICIPALITY, "0180"};
  r.role = role;
  r.now = kNow;
  return r;
}

class ServeAuth : public ::testing::TestWithParam<std::string> {};

TEST_P(ServeAuth, MintedTokenVerifiesAndCarriesOrganisationAndRole) {
  const auto keys = make_keys(GetParam());
  const auto token = mint_token(keys.private_pem, request(Role::kCoordinator)).value();
  const auto v = Verifier::from_pem(keys.public_pem, AuthConfig{}).value();
  const auto p = v.verify(token, kNow).value();
  EXPECT_EQ(p.org.kind, v1::Organisation::MUNICIPALITY);
  EXPECT_EQ(p.org.id, "0180");
  EXPECT_EQ(p.role, Role::kCoordinator);
  EXPECT_EQ(p.subject, "SE2321000016-ABCD");
}

TEST_P(ServeAuth, RefusesExpiredNotYetValidWrongIssuerAudienceAndKey) {
  const auto keys = make_keys(GetParam());
  const auto v = Verifier::from_pem(keys.public_pem, AuthConfig{}).value();
  const auto token = mint_token(keys.private_pem, request()).value();
  EXPECT_FALSE(v.verify(token, kNow + std::chrono::hours{2}));    // ttl 1 h + 60 s leeway
  EXPECT_FALSE(v.verify(token, kNow - std::chrono::minutes{5}));  // nbf
  auto iss = request();
  iss.issuer = "someone-else";
  EXPECT_FALSE(v.verify(mint_token(keys.private_pem, iss).value(), kNow));
  auto aud = request();
  aud.audience = "another-api";
  EXPECT_FALSE(v.verify(mint_token(keys.private_pem, aud).value(), kNow));
  const auto other = make_keys(GetParam());
  EXPECT_FALSE(v.verify(mint_token(other.private_pem, request()).value(), kNow));
  // A flipped signature character.
  std::string tampered = token;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(v.verify(tampered, kNow));
  EXPECT_FALSE(v.verify("", kNow));
  EXPECT_FALSE(v.verify("not.a.token", kNow));
}

INSTANTIATE_TEST_SUITE_P(Algorithms, ServeAuth, ::testing::Values("EC", "RSA"));

// The classic confusion: an HS256 token whose HMAC secret is the server's public key PEM. libjwt
// verifies it with the header's algorithm; the verifier must refuse it because the key is not an
// HMAC key.
TEST(ServeAuthConfusion, HmacTokenKeyedWithThePublicKeyIsRefused) {
  const auto keys = make_keys("RSA");
  jwt_t* jwt = nullptr;
  ASSERT_EQ(jwt_new(&jwt), 0);
  const std::string claims = R"({"iss":"samordna","aud":"samordna-api","exp":9999999999,"sub":"x",)"
                             R"("org":{"kind":"REGION","id":"01"},"role":"coordinator"})";
  ASSERT_EQ(jwt_add_grants_json(jwt, claims.c_str()), 0);
  ASSERT_EQ(jwt_set_alg(jwt, JWT_ALG_HS256,
                        reinterpret_cast<const unsigned char*>(keys.public_pem.data()),
                        static_cast<int>(keys.public_pem.size())),
            0);
  char* token = jwt_encode_str(jwt);
  jwt_free(jwt);
  ASSERT_NE(token, nullptr);
  const auto v = Verifier::from_pem(keys.public_pem, AuthConfig{}).value();
  EXPECT_FALSE(v.verify(token, kNow));
  free(token);
}

TEST(ServeAuthClaims, UnknownRoleOrOrganisationKindIsRefused) {
  const auto keys = make_keys("EC");
  const auto v = Verifier::from_pem(keys.public_pem, AuthConfig{}).value();
  auto r = request();
  r.org.kind = v1::Organisation::KIND_UNSPECIFIED;
  EXPECT_FALSE(v.verify(mint_token(keys.private_pem, r).value(), kNow));
}

TEST(ServeAuthJwks, KeysOfAJwksFileVerify) {
  // An RSA public key as a JWK: n and e from the PEM through OpenSSL.
  const auto keys = make_keys("RSA");
  BIO* bio = BIO_new_mem_buf(keys.public_pem.data(), static_cast<int>(keys.public_pem.size()));
  EVP_PKEY* pk = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  EVP_PKEY_get_bn_param(pk, "n", &n);
  EVP_PKEY_get_bn_param(pk, "e", &e);
  auto b64url = [](const BIGNUM* bn) {
    std::string bytes(static_cast<size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                    reinterpret_cast<const unsigned char*>(bytes.data()),
                                    static_cast<int>(bytes.size()));
    out.resize(static_cast<size_t>(len));
    while (!out.empty() && out.back() == '=') out.pop_back();
    for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
    return out;
  };
  const std::string jwks =
      R"({"keys":[{"kty":"oct","k":"AAAA"},{"kty":"RSA","use":"sig","kid":"k1","n":")" + b64url(n) +
      R"(","e":")" + b64url(e) + R"("}]})";
  BN_free(n);
  BN_free(e);
  EVP_PKEY_free(pk);
  const auto v = Verifier::from_jwks(jwks, AuthConfig{}).value();
  EXPECT_EQ(v.key_count(), 1u);
  EXPECT_TRUE(v.verify(mint_token(keys.private_pem, request()).value(), kNow));
  EXPECT_FALSE(Verifier::from_jwks(R"({"keys":[]})", AuthConfig{}));
}

// Found by fuzz_serve: a JWK member of another type than string made nlohmann's value() throw
// out of from_jwks (and serve end at start on such a file).
TEST(ServeAuthJwks, MembersOfTheWrongTypeAreNoKeyNotAnException) {
  const auto v = Verifier::from_jwks(
      R"({"keys":[{"kty":"RSA","n":"AQAB","e":199001},{"kty":"EC","crv":7,"x":[],"y":{}},)"
      R"({"kty":1}]})",
      {});
  ASSERT_FALSE(v.has_value());
  EXPECT_NE(v.error().message.find("no usable"), std::string::npos);
}

TEST(ServeAuthOrg, ParsesKindColonId) {
  EXPECT_EQ(parse_org("WARD:ward-1").value().id, "ward-1");
  EXPECT_FALSE(parse_org("WARD"));
  EXPECT_FALSE(parse_org("HOSPITAL:1"));
  EXPECT_FALSE(parse_org("KIND_UNSPECIFIED:1"));
}

}  // namespace
}  // namespace samordna::serve
