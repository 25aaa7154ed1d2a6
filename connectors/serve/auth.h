#pragma once

// Authentication of API callers: a bearer JWT signed ES256 (ECDSA P-256) or RS256 (RSA), checked
// against the deployment's public key (a PEM file) or the keys of a JWKS file (the form an
// identity provider publishes). libjwt (Debian libjwt-dev) checks the signature; this module then
// insists that the token's algorithm is the key's own (so an HS256 token "signed" with the public
// key as a secret, or alg "none", never passes) and checks issuer, audience, expiry and not-before,
// and reads the caller: organisation (kind and id, as in samordna.v1.Organisation) and role.
//
// Claims (README "Plugging in a region's identity provider"):
//   iss, aud (string or array), exp (required), nbf (optional), sub,
//   "org": {"kind": "MUNICIPALITY", "id": "0180"}, "role": "caseworker"
//
// Nothing here logs; errors name the failed check, never a claim's value.

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/serve/read_model.h"
#include "engine/core/result.h"
#include "engine/core/time.h"

namespace samordna::serve {

enum class Role { kCaseworker, kCoordinator, kAuditor, kOperator };

const char* role_name(Role r);  // "caseworker", ...
std::optional<Role> parse_role(std::string_view s);

// "MUNICIPALITY:0180" -> {MUNICIPALITY, "0180"}.
Result<OrgRef> parse_org(std::string_view kind_colon_id);

struct Principal {
  std::string subject;
  OrgRef org;
  Role role = Role::kCaseworker;
  Instant expires{};
};

struct AuthConfig {
  std::string issuer = "samordna";
  std::string audience = "samordna-api";
  std::chrono::seconds leeway{60};  // clock skew allowed on exp and nbf
};

class Verifier {
 public:
  // `file` is a PEM public key (EC P-256 or RSA), or a JWKS (JSON {"keys": [...]}, RSA keys with
  // n/e and EC P-256 keys with x/y; other keys are skipped).
  static Result<Verifier> from_file(const std::filesystem::path& file, AuthConfig config);
  static Result<Verifier> from_pem(const std::string& pem, AuthConfig config);
  static Result<Verifier> from_jwks(const std::string& json, AuthConfig config);

  // The caller, or kInvalidArgument with the check that failed ("signature", "expired", ...).
  // Thread-safe, also against replace_keys().
  Result<Principal> verify(std::string_view token, Instant now) const;

  // Key rotation without a restart (key_reload.h): from now on the keys are `fresh`'s; the issuer
  // and audience stay. A verify() already running finishes with the keys it started with.
  void replace_keys(const Verifier& fresh);

  size_t key_count() const;

  struct Key {
    std::string pem;  // SubjectPublicKeyInfo PEM
    int alg = 0;      // jwt_alg_t: JWT_ALG_ES256 or JWT_ALG_RS256
  };

 private:
  using Keys = std::shared_ptr<const std::vector<Key>>;
  Verifier(std::vector<Key> keys, AuthConfig config)
      : keys_(std::make_shared<const std::vector<Key>>(std::move(keys))),
        config_(std::move(config)) {}
  Keys keys() const;

  // The key set is immutable; rotation swaps the pointer under `mu_` (held only for the copy of
  // the pointer, never during a signature check). unique_ptr keeps the Verifier movable.
  std::unique_ptr<std::mutex> mu_ = std::make_unique<std::mutex>();
  Keys keys_;
  AuthConfig config_;
};

struct TokenRequest {
  std::string subject;
  OrgRef org;
  Role role = Role::kCaseworker;
  std::chrono::seconds ttl{3600};
  std::string issuer = "samordna";
  std::string audience = "samordna-api";
  Instant now{};
};

// Mints a token with `private_key_pem` (EC P-256 -> ES256, RSA -> RS256): `samordna token`, the
// demo and the tests. A region's own identity provider mints them in production.
Result<std::string> mint_token(const std::string& private_key_pem, const TokenRequest& request);

}  // namespace samordna::serve
