#pragma once

// The web app's files (the repository's `web/` folder), served by `samordna serve` at `/`.
// Loaded once at start into memory: only the files found then are served, each under its own
// route, so a request can never reach outside the folder (no path is ever joined with what a
// client sent). `safe_relative` is the second fence, for anyone who serves from a path.
//
// Every answer carries a strict Content-Security-Policy (scripts, styles, fetches only from this
// origin; no inline script, no framing), nosniff, no referrer, and `Cache-Control: no-cache` with
// an ETag: there is no build step and no hashed file names, so a browser revalidates each file
// (one 304 round trip) and never runs yesterday's script against today's API.
//
// Threads: load() once; get() from any thread.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/serve/api.h"
#include "engine/core/result.h"

namespace samordna::serve {

class StaticFiles {
 public:
  // Reads every regular file under `dir` (not following symlinks out of it; hidden files and
  // folders skipped). Fails when `dir` has no index.html.
  static Result<StaticFiles> load(const std::filesystem::path& dir);

  // The URL paths served: "/" (index.html) and "/" + each file's relative path.
  std::vector<std::string> paths() const;

  // The answer for `url_path`: 200 with the file, 304 when `if_none_match` names its ETag, 404
  // (a short text) for anything else.
  HttpResponse get(std::string_view url_path, std::string_view if_none_match = {}) const;

  struct File {
    std::string content_type;
    std::string etag;
    std::string body;
  };

 private:
  std::map<std::string, File, std::less<>> files_;  // by URL path
};

// The headers every response of serve carries for the browser (CSP and friends).
std::vector<std::pair<std::string, std::string>> browser_security_headers();

// The relative file path a URL path names, or nullopt for anything that could leave the folder or
// is not a plain name: "..", ".", empty segments, a leading dot, backslashes, NUL, ':'.
std::optional<std::string> safe_relative(std::string_view url_path);

// "text/html; charset=utf-8" for .html, and so on; application/octet-stream when unknown.
std::string content_type_for(std::string_view file_name);

}  // namespace samordna::serve
