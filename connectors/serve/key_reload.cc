#include "connectors/serve/key_reload.h"

#include <sys/stat.h>

#include <utility>

namespace samordna::serve {

KeyFileReloader::KeyFileReloader(Verifier& verifier, std::filesystem::path file, AuthConfig config)
    : verifier_(verifier), file_(std::move(file)), config_(std::move(config)), seen_(stamp()) {}

std::optional<KeyFileReloader::Stamp> KeyFileReloader::stamp() const {
  std::error_code ec;
  Stamp s;
  s.mtime = std::filesystem::last_write_time(file_, ec);
  if (ec) return std::nullopt;
  s.size = std::filesystem::file_size(file_, ec);
  if (ec) return std::nullopt;
  // The inode too: a secret mounted by Kubernetes (or `mv new old`) can keep size and, within the
  // file system's time resolution, the modification time.
  struct stat st {};
  if (::stat(file_.c_str(), &st) == 0) s.inode = static_cast<uint64_t>(st.st_ino);
  return s;
}

bool KeyFileReloader::changed() const { return stamp() != seen_; }

Result<size_t> KeyFileReloader::reload() {
  // Take the stamp before reading: a write during the read shows as a change next time.
  seen_ = stamp();
  SAMORDNA_TRY(fresh, Verifier::from_file(file_, config_));
  verifier_.replace_keys(fresh);
  return verifier_.key_count();
}

}  // namespace samordna::serve
