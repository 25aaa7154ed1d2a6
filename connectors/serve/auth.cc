#include "connectors/serve/auth.h"

#include <jwt.h>
#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <fstream>
#include <sstream>

#include "connectors/serve/base64url.h"

namespace samordna::serve {
namespace {

struct JwtFree {
  void operator()(jwt_t* j) const { jwt_free(j); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// The JWS algorithm a key signs with: ES256 for an EC P-256 key, RS256 for RSA, else none.
Result<int> alg_of(EVP_PKEY* key) {
  const int id = EVP_PKEY_get_base_id(key);
  if (id == EVP_PKEY_RSA) return int{JWT_ALG_RS256};
  if (id == EVP_PKEY_EC) {
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &len) != 1 ||
        std::string(group) != "prime256v1") {
      return fail(Errc::kInvalidArgument, "an EC key must be on P-256 (ES256)");
    }
    return int{JWT_ALG_ES256};
  }
  return fail(Errc::kInvalidArgument, "the key is neither EC P-256 nor RSA");
}

std::string pem_of_public(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), key);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<Verifier::Key> key_from_pem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return fail(Errc::kInvalidArgument, "not a PEM public key");
  SAMORDNA_TRY(alg, alg_of(key.get()));
  return Verifier::Key{pem_of_public(key.get()), alg};
}

std::optional<std::string> b64url(const std::string& in) { return base64url_decode(in); }

// A JWK (RFC 7517) to a public key, through OpenSSL's parameter builder.
// A string member of a JWK, or "" when absent or not a string: json::value() throws on a member of
// another type (the fuzzer's `"e": 199001`), and a JWKS file is outside input.
std::string member(const nlohmann::json& jwk, const char* name) {
  const auto it = jwk.find(name);
  return it != jwk.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<Verifier::Key> key_from_jwk(const nlohmann::json& jwk) {
  const std::string kty = member(jwk, "kty");
  struct BldFree {
    void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
  };
  struct ParamFree {
    void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
  };
  struct CtxFree {
    void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
  };
  struct BnFree {
    void operator()(BIGNUM* b) const { BN_free(b); }
  };
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  std::unique_ptr<BIGNUM, BnFree> n_bn, e_bn;
  std::string pub;
  const char* type = nullptr;
  if (kty == "RSA") {
    auto n = b64url(member(jwk, "n"));
    auto e = b64url(member(jwk, "e"));
    if (!n || !e || n->empty() || e->empty())
      return fail(Errc::kInvalidArgument, "RSA JWK without n/e");
    n_bn.reset(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                         static_cast<int>(n->size()), nullptr));
    e_bn.reset(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                         static_cast<int>(e->size()), nullptr));
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n_bn.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e_bn.get());
    type = "RSA";
  } else if (kty == "EC") {
    if (member(jwk, "crv") != "P-256") return fail(Errc::kInvalidArgument, "EC JWK not on P-256");
    auto x = b64url(member(jwk, "x"));
    auto y = b64url(member(jwk, "y"));
    if (!x || !y || x->size() != 32 || y->size() != 32) {
      return fail(Errc::kInvalidArgument, "EC JWK x/y are not 32 bytes");
    }
    pub = std::string(1, '\x04') + *x + *y;  // uncompressed point
    OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.data(), pub.size());
    type = "EC";
  } else {
    return fail(Errc::kInvalidArgument, "JWK type is neither RSA nor EC");
  }
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return fail(Errc::kInvalidArgument, "JWK is not a valid public key");
  }
  PkeyPtr key(raw);
  SAMORDNA_TRY(alg, alg_of(key.get()));
  return Verifier::Key{pem_of_public(key.get()), alg};
}

Error bad_token(const std::string& what) { return Error{Errc::kInvalidArgument, "token: " + what}; }

}  // namespace

const char* role_name(Role r) {
  switch (r) {
    case Role::kCaseworker:
      return "caseworker";
    case Role::kCoordinator:
      return "coordinator";
    case Role::kAuditor:
      return "auditor";
    case Role::kOperator:
      return "operator";
  }
  return "?";
}

std::optional<Role> parse_role(std::string_view s) {
  if (s == "caseworker") return Role::kCaseworker;
  if (s == "coordinator") return Role::kCoordinator;
  if (s == "auditor") return Role::kAuditor;
  if (s == "operator") return Role::kOperator;
  return std::nullopt;
}

Result<OrgRef> parse_org(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon + 1 >= text.size()) {
    return fail(Errc::kInvalidArgument, "an organisation is KIND:ID, e.g. MUNICIPALITY:0180");
  }
  OrgRef org;
  if (!v1::Organisation::Kind_Parse(std::string(text.substr(0, colon)), &org.kind) ||
      org.kind == v1::Organisation::KIND_UNSPECIFIED) {
    return fail(Errc::kInvalidArgument,
                "organisation kind must be MUNICIPALITY, OUTPATIENT_UNIT, WARD or REGION");
  }
  org.id = std::string(text.substr(colon + 1));
  if (org.id.size() > 256) return fail(Errc::kInvalidArgument, "organisation id over 256 bytes");
  return org;
}

Result<Verifier> Verifier::from_pem(const std::string& pem, AuthConfig config) {
  SAMORDNA_TRY(key, key_from_pem(pem));
  return Verifier({std::move(key)}, std::move(config));
}

Result<Verifier> Verifier::from_jwks(const std::string& json, AuthConfig config) {
  const auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("keys") || !j["keys"].is_array()) {
    return fail(Errc::kInvalidArgument, "JWKS: not a JSON object with a \"keys\" array");
  }
  std::vector<Key> keys;
  for (const auto& jwk : j["keys"]) {
    if (!jwk.is_object()) continue;
    if (jwk.contains("use") && jwk["use"] != "sig") continue;
    auto key = key_from_jwk(jwk);
    if (key) keys.push_back(std::move(key).value());
  }
  if (keys.empty()) return fail(Errc::kInvalidArgument, "JWKS: no usable RS256/ES256 key");
  return Verifier(std::move(keys), std::move(config));
}

Result<Verifier> Verifier::from_file(const std::filesystem::path& file, AuthConfig config) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(Errc::kInvalidArgument, "cannot read key file " + file.string());
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const auto first = text.find_first_not_of(" \t\r\n");
  auto v = (first != std::string::npos && text[first] == '{') ? from_jwks(text, std::move(config))
                                                              : from_pem(text, std::move(config));
  if (!v) return fail(v.error().code, file.string() + ": " + v.error().message);
  return v;
}

Verifier::Keys Verifier::keys() const {
  std::lock_guard lock(*mu_);
  return keys_;
}

size_t Verifier::key_count() const { return keys()->size(); }

void Verifier::replace_keys(const Verifier& fresh) {
  Keys k = fresh.keys();
  std::lock_guard lock(*mu_);
  keys_ = std::move(k);
}

Result<Principal> Verifier::verify(std::string_view token, Instant now) const {
  if (token.empty() || token.size() > 16384) return bad_token("missing or too long");
  const std::string t(token);
  JwtPtr jwt;
  const Keys keys = this->keys();
  for (const auto& key : *keys) {
    jwt_t* raw = nullptr;
    const int rc =
        jwt_decode(&raw, t.c_str(), reinterpret_cast<const unsigned char*>(key.pem.data()),
                   static_cast<int>(key.pem.size()));
    JwtPtr candidate(raw);
    // The algorithm must be the key's own: libjwt verifies with the header's algorithm, so an
    // HS256 token keyed with the public PEM would otherwise pass.
    if (rc == 0 && candidate && static_cast<int>(jwt_get_alg(candidate.get())) == key.alg) {
      jwt = std::move(candidate);
      break;
    }
  }
  if (!jwt) return bad_token("signature not valid for any configured key");
  char* grants = jwt_get_grants_json(jwt.get(), nullptr);
  if (grants == nullptr) return bad_token("no claims");
  const auto claims = nlohmann::json::parse(grants, nullptr, false);
  free(grants);
  if (claims.is_discarded() || !claims.is_object()) return bad_token("claims are not an object");

  if (!claims.contains("iss") || claims["iss"] != config_.issuer) return bad_token("wrong issuer");
  bool aud_ok = false;
  if (claims.contains("aud")) {
    const auto& aud = claims["aud"];
    if (aud.is_string()) aud_ok = aud == config_.audience;
    if (aud.is_array()) {
      for (const auto& a : aud) aud_ok = aud_ok || (a.is_string() && a == config_.audience);
    }
  }
  if (!aud_ok) return bad_token("wrong audience");
  // Whole seconds only (RFC 7519 allows fractions; no identity provider here sends them), so a
  // huge float never reaches an integer conversion.
  if (!claims.contains("exp") || !claims["exp"].is_number_integer()) return bad_token("no expiry");
  const auto exp = claims["exp"].get<int64_t>();
  if (to_unix(now) - config_.leeway.count() >= exp) return bad_token("expired");
  if (claims.contains("nbf")) {
    if (!claims["nbf"].is_number_integer()) return bad_token("bad nbf");
    if (to_unix(now) + config_.leeway.count() < claims["nbf"].get<int64_t>()) {
      return bad_token("not yet valid");
    }
  }
  Principal p;
  p.expires = from_unix(exp);
  p.subject = claims.contains("sub") && claims["sub"].is_string() ? claims["sub"].get<std::string>()
                                                                  : std::string();
  if (!claims.contains("org") || !claims["org"].is_object()) return bad_token("no org claim");
  const auto& org = claims["org"];
  if (!org.contains("kind") || !org["kind"].is_string() || !org.contains("id") ||
      !org["id"].is_string()) {
    return bad_token("org claim needs kind and id");
  }
  auto parsed = parse_org(org["kind"].get<std::string>() + ":" + org["id"].get<std::string>());
  if (!parsed) return bad_token("org claim: unknown kind or bad id");
  p.org = std::move(parsed).value();
  if (!claims.contains("role") || !claims["role"].is_string()) return bad_token("no role claim");
  auto role = parse_role(claims["role"].get<std::string>());
  if (!role) return bad_token("unknown role");
  p.role = *role;
  return p;
}

Result<std::string> mint_token(const std::string& private_key_pem, const TokenRequest& r) {
  BioPtr bio(BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return fail(Errc::kInvalidArgument, "not a PEM private key");
  SAMORDNA_TRY(alg, alg_of(key.get()));
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return fail(Errc::kIo, "jwt_new failed");
  JwtPtr jwt(raw);
  const nlohmann::json claims = {
      {"iss", r.issuer},
      {"aud", r.audience},
      {"sub", r.subject},
      {"iat", to_unix(r.now)},
      {"nbf", to_unix(r.now)},
      {"exp", to_unix(r.now) + r.ttl.count()},
      {"org", {{"kind", v1::Organisation::Kind_Name(r.org.kind)}, {"id", r.org.id}}},
      {"role", role_name(r.role)},
  };
  if (jwt_add_grants_json(jwt.get(), claims.dump().c_str()) != 0) {
    return fail(Errc::kInvalidArgument, "cannot set the claims");
  }
  if (jwt_set_alg(jwt.get(), static_cast<jwt_alg_t>(alg),
                  reinterpret_cast<const unsigned char*>(private_key_pem.data()),
                  static_cast<int>(private_key_pem.size())) != 0) {
    return fail(Errc::kInvalidArgument, "libjwt refused the key");
  }
  char* out = jwt_encode_str(jwt.get());
  if (out == nullptr) return fail(Errc::kInvalidArgument, "libjwt could not sign with the key");
  std::string token(out);
  free(out);
  return token;
}

}  // namespace samordna::serve
