#pragma once

// Key rotation without a restart: the `--auth-public-key` file (a PEM key or the identity
// provider's JWKS) is read again on SIGHUP and whenever the file changes (engine/app/cmd_serve.cc
// polls `changed()`), and the Verifier's keys are swapped. A file that does not load (half
// written, a bad key) leaves the keys as they were: a rotation never locks every caller out.
//
// Threads: reload() and changed() from one thread (the app's reload thread); the Verifier may
// verify on any number of threads meanwhile.

#include <filesystem>
#include <optional>
#include <string>

#include "connectors/serve/auth.h"
#include "engine/core/result.h"

namespace samordna::serve {

class KeyFileReloader {
 public:
  // `verifier` was built from `file` with `config`; it must outlive this.
  KeyFileReloader(Verifier& verifier, std::filesystem::path file, AuthConfig config);

  // Reads the file again and, when it loads, replaces the keys: the number of keys now in use.
  // On failure the keys stay and the error says why (the file name, never its contents).
  Result<size_t> reload();

  // True when the file's modification time, size or inode differ from what the last reload() (or
  // the constructor) saw: a new file moved into place, or one rewritten.
  bool changed() const;

 private:
  struct Stamp {
    std::filesystem::file_time_type mtime{};
    uintmax_t size = 0;
    uint64_t inode = 0;
    bool operator==(const Stamp&) const = default;
  };
  std::optional<Stamp> stamp() const;

  Verifier& verifier_;
  std::filesystem::path file_;
  AuthConfig config_;
  std::optional<Stamp> seen_;
};

}  // namespace samordna::serve
