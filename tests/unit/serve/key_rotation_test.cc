// Key rotation (key_reload.h) and the mTLS client-certificate map (client_certs.h).

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "connectors/serve/client_certs.h"
#include "connectors/serve/key_reload.h"
#include "tests/unit/serve/serve_fixture.h"

namespace samordna::serve {
namespace {

using namespace samordna::serve::testing;

const Instant kNow = at("2026-01-01T12:00:00Z");

std::string token_of(const KeyPair& keys) {
  TokenRequest r;
  r.subject = "SE2321000016-ABCD";
  r.org = OrgRef{v1::Organisation::MUNICIPALITY, "0180"};
  r.now = kNow;
  return mint_token(keys.private_pem, r).value();
}

void write(const std::filesystem::path& p, const std::string& text) {
  // Written beside and moved into place, as a rotation should be (and as a mounted secret is).
  const auto tmp = p.string() + ".tmp";
  std::ofstream(tmp, std::ios::binary | std::ios::trunc) << text;
  std::filesystem::rename(tmp, p);
}

TEST(ServeKeyReload, RotatesKeysWithoutARestartAndKeepsThemWhenTheFileIsBad) {
  const auto dir = temp_dir("key-reload");
  const auto file = dir / "key.pub.pem";
  const auto old_key = make_keys("EC");
  const auto new_key = make_keys("RSA");
  write(file, old_key.public_pem);
  auto verifier = Verifier::from_file(file, AuthConfig{}).value();
  KeyFileReloader reloader(verifier, file, AuthConfig{});
  EXPECT_FALSE(reloader.changed());
  EXPECT_TRUE(verifier.verify(token_of(old_key), kNow));
  EXPECT_FALSE(verifier.verify(token_of(new_key), kNow));

  // The overlap of a rotation: both keys in the file.
  write(file, old_key.public_pem + new_key.public_pem);
  EXPECT_TRUE(reloader.changed());
  // A PEM file holds one key: the first. A rotation with an overlap needs a JWKS (below); here
  // the new key alone follows.
  write(file, new_key.public_pem);
  ASSERT_EQ(reloader.reload().value(), 1u);
  EXPECT_FALSE(reloader.changed());
  EXPECT_TRUE(verifier.verify(token_of(new_key), kNow));
  EXPECT_FALSE(verifier.verify(token_of(old_key), kNow));

  // A half-written or broken file: the reload fails, the keys in use stay.
  write(file, "-----BEGIN PUBLIC KEY-----\nnot a key");
  EXPECT_TRUE(reloader.changed());
  EXPECT_FALSE(reloader.reload());
  EXPECT_TRUE(verifier.verify(token_of(new_key), kNow));
  std::filesystem::remove(file);
  EXPECT_TRUE(reloader.changed());
  EXPECT_FALSE(reloader.reload());
  EXPECT_TRUE(verifier.verify(token_of(new_key), kNow));
  std::filesystem::remove_all(dir);
}

TEST(ServeKeyReload, VerifyRunsWhileKeysAreReplaced) {
  const auto a = make_keys("EC");
  const auto b = make_keys("EC");
  auto verifier = Verifier::from_pem(a.public_pem, AuthConfig{}).value();
  const auto va = Verifier::from_pem(a.public_pem, AuthConfig{}).value();
  const auto vb = Verifier::from_pem(b.public_pem, AuthConfig{}).value();
  const auto ta = token_of(a);
  std::atomic<bool> stop{false};
  std::atomic<int> verified{0};
  std::thread reader([&] {
    while (!stop) verified += verifier.verify(ta, kNow) ? 1 : 0;
  });
  for (int i = 0; i < 200; ++i) verifier.replace_keys(i % 2 ? va : vb);
  stop = true;
  reader.join();
  verifier.replace_keys(va);
  EXPECT_TRUE(verifier.verify(ta, kNow));
  verifier.replace_keys(vb);
  EXPECT_FALSE(verifier.verify(ta, kNow));
}

TEST(ServeClientCertificates, MapsSubjectsToOrganisationAndRole) {
  const auto map = ClientCertificateMap::from_yaml(R"(
clientCertificates:
  - subject: "CN=procapita.uppsala.se,O=Uppsala kommun,C=SE"
    org: MUNICIPALITY:0380
    role: caseworker
    name: uppsala-procapita
  - subject: "CN = prometheus , O = Region Uppsala"
    org: REGION:03
    role: operator
    name: region-prometheus
)")
                       .value();
  EXPECT_EQ(map.size(), 2u);
  const auto p = map.principal("CN=procapita.uppsala.se,O=Uppsala kommun,C=SE");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->org.kind, v1::Organisation::MUNICIPALITY);
  EXPECT_EQ(p->org.id, "0380");
  EXPECT_EQ(p->role, Role::kCaseworker);
  EXPECT_EQ(p->subject, "uppsala-procapita");
  const auto op = map.principal("CN=prometheus,O=Region Uppsala");
  ASSERT_TRUE(op);
  EXPECT_EQ(op->role, Role::kOperator);
  // Exact match: another attribute, or a prefix, is another subject.
  EXPECT_FALSE(map.principal("CN=procapita.uppsala.se,O=Uppsala kommun"));
  EXPECT_FALSE(map.principal("CN=procapita.uppsala.se,O=Uppsala kommun,C=SE,OU=x"));
  EXPECT_FALSE(map.principal(""));
}

TEST(ServeClientCertificates, RefusesBadEntriesWithTheirLine) {
  auto bad = [](const std::string& yaml) {
    auto m = ClientCertificateMap::from_yaml(yaml, "map.yaml");
    EXPECT_FALSE(m) << yaml;
    return m ? std::string() : m.error().message;
  };
  EXPECT_NE(bad("clientCertificates:\n  - {subject: \"CN=a\", org: \"MUNICIPALITY:1\", role: boss, "
                "name: a}\n")
                .find("map.yaml:2: role"),
            std::string::npos);
  bad("clientCertificates:\n  - {subject: \"CN=a\", org: \"CITY:1\", role: caseworker, name: a}\n");
  bad("clientCertificates:\n  - {subject: \"CN=a\", org: \"REGION:1\", role: caseworker}\n");
  bad("clientCertificates:\n  - {subject: \"CN=a\", org: \"REGION:1\", role: operator, name: a, "
      "extra: 1}\n");
  bad("clientCertificates:\n  - {subject: \"CN=a\", org: \"REGION:1\", role: operator, name: a}\n"
      "  - {subject: \"CN = a\", org: \"REGION:2\", role: operator, name: b}\n");
  bad("clientCertificates: {}\n");
  bad("[unclosed\n");
}

}  // namespace
}  // namespace samordna::serve
