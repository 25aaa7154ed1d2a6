#pragma once

// mTLS for systems rather than people: a client certificate, verified by the TLS handshake against
// `--tls-client-ca`, authenticates as the organisation and role the deployment mapped its subject
// to (`--tls-client-map FILE`). For a region's journal system or a municipality's case system
// that reads its inbox without an identity provider in between.
//
//   clientCertificates:
//     - subject: "CN=procapita.uppsala.se,O=Uppsala kommun,C=SE"   # RFC 2253, as OpenSSL prints it
//       org: MUNICIPALITY:0380
//       role: caseworker
//       name: uppsala-procapita          # the audit log's `subject` for this caller
//
// A subject matches exactly (after the whitespace around ',' and '=' is dropped); one not in the
// map authenticates no one. Nothing here logs; errors name the file and line, never a subject.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/serve/auth.h"
#include "engine/core/result.h"

namespace samordna::serve {

class ClientCertificateMap {
 public:
  static Result<ClientCertificateMap> from_file(const std::filesystem::path& file);
  static Result<ClientCertificateMap> from_yaml(const std::string& text,
                                                const std::string& file_name = "client map");

  // The caller `subject` stands for, or nullopt when it is not mapped. `expires` stays unset: the
  // certificate's own validity was checked by the handshake.
  std::optional<Principal> principal(std::string_view subject) const;

  size_t size() const { return by_subject_.size(); }

  // "CN = a, O=b" and "CN=a,O=b" are one subject: OpenSSL's RFC 2253 form has no spaces there,
  // a hand-written config may.
  static std::string normalise(std::string_view subject);

 private:
  std::map<std::string, Principal, std::less<>> by_subject_;
};

}  // namespace samordna::serve
