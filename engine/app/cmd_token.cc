// samordna token: mints a bearer JWT for `samordna serve` (tests, the demo, a first trial). In
// production the region's identity provider mints them (connectors/serve/README.md).

#include <fstream>
#include <iostream>
#include <sstream>

#include "connectors/serve/auth.h"
#include "engine/app/commands.h"

namespace samordna::app {

void add_token_command(CLI::App& app, Commands& commands) {
  struct Options {
    std::string signing_key, org, role, subject, issuer = "samordna", audience = "samordna-api";
    int64_t ttl = 3600;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "token", "mint a bearer JWT for samordna serve (ES256 with an EC P-256 key, RS256 with RSA)");
  cmd->add_option("--signing-key", opts->signing_key, "PEM private key")->required();
  cmd->add_option("--org", opts->org, "KIND:ID, e.g. MUNICIPALITY:0180, WARD:avd-30A")->required();
  cmd->add_option("--role", opts->role, "caseworker, coordinator, auditor or operator")->required();
  cmd->add_option("--ttl", opts->ttl, "seconds until it expires (default 3600)")
      ->check(CLI::Range(int64_t{1}, int64_t{366} * 24 * 3600));
  cmd->add_option("--subject", opts->subject, "the sub claim (default: the organisation)");
  cmd->add_option("--issuer", opts->issuer, "the iss claim (default samordna)");
  cmd->add_option("--audience", opts->audience, "the aud claim (default samordna-api)");
  commands.emplace_back(cmd, [opts]() -> int {
    auto org = serve::parse_org(opts->org);
    if (!org) {
      std::cerr << "samordna token: --org: " << org.error().message << '\n';
      return kExitUsage;
    }
    auto role = serve::parse_role(opts->role);
    if (!role) {
      std::cerr << "samordna token: --role must be caseworker, coordinator, auditor or operator\n";
      return kExitUsage;
    }
    std::ifstream in(opts->signing_key, std::ios::binary);
    if (!in) {
      std::cerr << "samordna token: cannot read " << opts->signing_key << '\n';
      return kExitUsage;
    }
    std::stringstream key;
    key << in.rdbuf();
    serve::TokenRequest r;
    r.org = org.value();
    r.role = *role;
    r.subject = opts->subject.empty() ? opts->org : opts->subject;
    r.ttl = std::chrono::seconds{opts->ttl};
    r.issuer = opts->issuer;
    r.audience = opts->audience;
    r.now = SystemClock().now();
    auto token = serve::mint_token(key.str(), r);
    if (!token) {
      std::cerr << "samordna token: " << opts->signing_key << ": " << token.error().message << '\n';
      return kExitUsage;
    }
    std::cout << token.value() << '\n';
    return kExitOk;
  });
}

}  // namespace samordna::app
