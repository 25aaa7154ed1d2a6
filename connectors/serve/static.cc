#include "connectors/serve/static.h"

#include <openssl/evp.h>

#include <array>
#include <fstream>
#include <sstream>

namespace samordna::serve {
namespace {

namespace fs = std::filesystem;

// A short content hash as the ETag (SHA-256, first 16 bytes in hex).
std::string etag_of(const std::string& body) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int n = 0;
  EVP_Digest(body.data(), body.size(), md.data(), &n, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned int i = 0; i < 16 && i < n; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out + "\"";
}

bool hidden(const fs::path& relative) {
  for (const auto& part : relative) {
    const auto s = part.string();
    if (!s.empty() && s[0] == '.') return true;
  }
  return false;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> browser_security_headers() {
  // connect-src 'self': the app talks only to the API it came from. style-src without
  // 'unsafe-inline': styles come from style.css; the charts set SVG attributes, not styles.
  return {{"Content-Security-Policy",
           "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
           "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
           "form-action 'self'; frame-ancestors 'none'"},
          {"X-Content-Type-Options", "nosniff"},
          {"Referrer-Policy", "no-referrer"},
          {"X-Frame-Options", "DENY"},
          {"Cross-Origin-Opener-Policy", "same-origin"}};
}

std::optional<std::string> safe_relative(std::string_view url_path) {
  if (url_path.empty() || url_path.front() != '/') return std::nullopt;
  url_path.remove_prefix(1);
  if (url_path.empty()) return std::string("index.html");
  std::string out;
  size_t start = 0;
  while (start <= url_path.size()) {
    const size_t end = std::min(url_path.find('/', start), url_path.size());
    const auto seg = url_path.substr(start, end - start);
    if (seg.empty() || seg.front() == '.') return std::nullopt;  // "", ".", "..", ".hidden"
    for (const char c : seg) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || c == '\\' || c == ':' || u == 0x7f) return std::nullopt;
    }
    if (!out.empty()) out += '/';
    out.append(seg);
    if (end == url_path.size()) break;
    start = end + 1;
  }
  return out;
}

std::string content_type_for(std::string_view name) {
  static const std::array<std::pair<std::string_view, std::string_view>, 10> kTypes = {{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".json", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".txt", "text/plain; charset=utf-8"},
      {".ico", "image/x-icon"},
  }};
  for (const auto& [ext, type] : kTypes) {
    if (name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext) {
      return std::string(type);
    }
  }
  return "application/octet-stream";
}

Result<StaticFiles> StaticFiles::load(const fs::path& dir) {
  std::error_code ec;
  const auto root = fs::weakly_canonical(dir, ec);
  if (ec || !fs::is_regular_file(root / "index.html", ec)) {
    return fail(Errc::kInvalidArgument,
                "--web-dir " + dir.string() + ": no index.html there (the repository's web/)");
  }
  StaticFiles out;
  // Symlinks are not followed (the iterator's default), so nothing outside `dir` is read.
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const auto rel = fs::relative(it->path(), root, ec);
    if (ec) break;
    if (hidden(rel)) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || it->is_symlink()) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in.good() && !in.eof()) {
      return fail(Errc::kIo, "--web-dir: cannot read " + rel.generic_string());
    }
    File f;
    f.body = body.str();
    f.content_type = content_type_for(rel.filename().string());
    f.etag = etag_of(f.body);
    out.files_.emplace("/" + rel.generic_string(), std::move(f));
  }
  if (ec) return fail(Errc::kIo, "--web-dir " + dir.string() + ": " + ec.message());
  return out;
}

std::vector<std::string> StaticFiles::paths() const {
  std::vector<std::string> out{"/"};
  for (const auto& [path, file] : files_) out.push_back(path);
  return out;
}

HttpResponse StaticFiles::get(std::string_view url_path, std::string_view if_none_match) const {
  HttpResponse r;
  r.headers = browser_security_headers();
  const auto rel = safe_relative(url_path);
  const auto it = rel ? files_.find("/" + *rel) : files_.end();
  if (it == files_.end()) {
    r.status = 404;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "not found\n";
    return r;
  }
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("ETag", it->second.etag);
  if (!if_none_match.empty() && if_none_match == it->second.etag) {
    r.status = 304;
    r.content_type = it->second.content_type;
    return r;
  }
  r.content_type = it->second.content_type;
  r.body = it->second.body;
  return r;
}

}  // namespace samordna::serve
