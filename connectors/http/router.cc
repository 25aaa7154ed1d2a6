#include "connectors/http/router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <map>

#include "engine/core/check.h"

namespace samordna::http {

struct Responder::State {
  Fn fn;
  std::function<Response()> if_dropped;
  std::atomic<bool> answered{false};

  ~State() {
    if (!answered.exchange(true) && if_dropped) {
      try {
        fn(if_dropped());
      } catch (...) {
        // A destructor must not throw; the connection then ends without an answer.
      }
    }
  }
};

Responder::Responder(Fn fn, std::function<Response()> if_dropped)
    : state_(std::make_shared<State>()) {
  state_->fn = std::move(fn);
  state_->if_dropped = std::move(if_dropped);
}

void Responder::operator()(Response response) const {
  if (state_->answered.exchange(true)) return;
  state_->fn(std::move(response));
}

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  // "/" -> {""}; "/a/b" -> {"a","b"}; "/a/" -> {"a",""}.
  size_t start = 1;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(path.substr(start));
      break;
    }
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view in, bool plus_is_space, bool allow_slash, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      char decoded = static_cast<char>(hi * 16 + lo);
      // An encoded "/" inside a segment would change how the path splits: refused (400).
      if (decoded == '/' && !allow_slash) return false;
      out.push_back(decoded);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

}  // namespace

bool parse_target(std::string_view target, std::string& path, Fields& query) {
  path.clear();
  query.clear();
  if (target.empty() || target.front() != '/') return false;
  size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  size_t hash = raw_path.find('#');
  if (hash != std::string_view::npos) return false;
  if (!percent_decode(raw_path, false, false, path)) return false;
  if (q == std::string_view::npos) return true;
  std::string_view raw_query = target.substr(q + 1);
  while (!raw_query.empty()) {
    size_t amp = raw_query.find('&');
    std::string_view pair = raw_query.substr(0, amp);
    raw_query = amp == std::string_view::npos ? std::string_view{} : raw_query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key, value;
    if (!percent_decode(pair.substr(0, eq), true, true, key)) return false;
    if (eq != std::string_view::npos && !percent_decode(pair.substr(eq + 1), true, true, value)) {
      return false;
    }
    query.emplace_back(std::move(key), std::move(value));
  }
  return true;
}

struct Router::Impl {
  struct Entry {
    std::string method;
    std::string route;
    std::vector<std::string> segments;  // "{name}" for a parameter
    Handler handler;
    AsyncHandler async_handler;
    RouteOptions options;
  };
  std::vector<std::unique_ptr<Entry>> entries;
  std::map<std::string, ErrorFormatter> formatters;

  // Scores a template against a path: -1 when it does not match; otherwise higher for more
  // literal segments earlier (a literal beats a parameter at the same position).
  static long score(const Entry& e, const std::vector<std::string_view>& segs, Fields* params) {
    if (e.segments.size() != segs.size()) return -1;
    long s = 0;
    for (size_t i = 0; i < segs.size(); ++i) {
      const std::string& t = e.segments[i];
      bool is_param = t.size() >= 2 && t.front() == '{' && t.back() == '}';
      s <<= 1;
      if (is_param) {
        if (segs[i].empty()) return -1;
        if (params) params->emplace_back(t.substr(1, t.size() - 2), std::string(segs[i]));
      } else {
        if (t != segs[i]) return -1;
        s |= 1;
      }
    }
    return s;
  }

  void add(std::unique_ptr<Entry> entry) {
    SAMORDNA_CHECK(!entry->route.empty() && entry->route.front() == '/',
                   "a route template starts with /");
    for (std::string_view seg : split_path(entry->route)) {
      bool is_param = seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
      SAMORDNA_CHECK(is_param || (seg.find('{') == std::string_view::npos &&
                                  seg.find('}') == std::string_view::npos),
                     "a route parameter is a whole segment: {name}");
      entry->segments.emplace_back(seg);
    }
    for (const auto& e : entries) {
      SAMORDNA_CHECK(!(e->method == entry->method && e->route == entry->route),
                     "a method and route template registered twice");
    }
    entries.push_back(std::move(entry));
  }
};

Router::Router() : impl_(std::make_unique<Impl>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

void Router::add(std::string method, std::string_view path_template, Handler handler,
                 RouteOptions options) {
  auto e = std::make_unique<Impl::Entry>();
  e->method = std::move(method);
  e->route = std::string(path_template);
  e->handler = std::move(handler);
  e->options = options;
  impl_->add(std::move(e));
}

void Router::add_async(std::string method, std::string_view path_template, AsyncHandler handler,
                       RouteOptions options) {
  auto e = std::make_unique<Impl::Entry>();
  e->method = std::move(method);
  e->route = std::string(path_template);
  e->async_handler = std::move(handler);
  e->options = options;
  impl_->add(std::move(e));
}

void Router::set_error_formatter(std::string prefix, ErrorFormatter formatter) {
  impl_->formatters[std::move(prefix)] = std::move(formatter);
}

Router::Match Router::match(std::string_view method, std::string_view path) const {
  Match m;
  if (path.empty() || path.front() != '/') return m;
  auto segs = split_path(path);
  long best = -1;
  const Impl::Entry* found = nullptr;
  std::vector<std::string> allowed;
  long best_any = -1;
  for (const auto& e : impl_->entries) {
    long s = Impl::score(*e, segs, nullptr);
    if (s < 0) continue;
    if (s > best_any) best_any = s;
    if (e->method == method && s > best) {
      best = s;
      found = e.get();
    }
  }
  if (found != nullptr) {
    // The method decides first; among the routes of this method the most literal wins.
    m.kind = Match::Kind::kFound;
    m.route = found->route;
    Impl::score(*found, segs, &m.params);
    m.max_body_bytes = found->options.max_body_bytes;
    m.entry = found;
    return m;
  }
  if (best_any < 0) return m;
  for (const auto& e : impl_->entries) {
    if (Impl::score(*e, segs, nullptr) >= 0 &&
        std::find(allowed.begin(), allowed.end(), e->method) == allowed.end()) {
      allowed.push_back(e->method);
    }
  }
  std::sort(allowed.begin(), allowed.end());
  m.kind = Match::Kind::kMethodNotAllowed;
  for (const auto& a : allowed) {
    if (!m.allow.empty()) m.allow += ", ";
    m.allow += a;
  }
  return m;
}

Response Router::error(std::string_view path, const ServerError& error) const {
  const ErrorFormatter* best = nullptr;
  size_t best_len = 0;
  for (const auto& [prefix, fmt] : impl_->formatters) {
    bool under = path.substr(0, prefix.size()) == prefix &&
                 (path.size() == prefix.size() || prefix.empty() || prefix.back() == '/' ||
                  path[prefix.size()] == '/');
    if (under && (best == nullptr || prefix.size() >= best_len)) {
      best = &fmt;
      best_len = prefix.size();
    }
  }
  if (best != nullptr && *best) {
    try {
      Response r = (*best)(error);
      r.status = error.status;
      return r;
    } catch (...) {
      // fall through to the plain answer
    }
  }
  Response r = Response::with(error.status, "text/plain; charset=utf-8",
                              std::string(error.code) + ": " + error.detail + "\n");
  return r;
}

void Router::dispatch(Request request, std::function<void(Response)> done) const {
  Match m = match(request.method, request.path);
  if (m.kind == Match::Kind::kNotFound) {
    done(error(request.path, {404, "not_found", "no resource at this path"}));
    return;
  }
  if (m.kind == Match::Kind::kMethodNotAllowed) {
    Response r = error(request.path,
                       {405, "method_not_allowed", "this path does not take " + request.method});
    r.set("Allow", m.allow);
    done(std::move(r));
    return;
  }
  const auto* entry = static_cast<const Impl::Entry*>(m.entry);
  request.route = m.route;
  request.path_params = std::move(m.params);
  std::string path = request.path;
  std::string route = request.route;
  auto failed = [this, path, route](std::string_view what) {
    spdlog::error("http: handler for {} {}", route, what);
    return error(path, {500, "handler_failed", "the server failed to answer this request"});
  };
  if (entry->handler) {
    Response r;
    try {
      r = entry->handler(request);
    } catch (...) {
      r = failed("threw");
    }
    done(std::move(r));
    return;
  }
  Responder responder(std::move(done), [failed] { return failed("dropped its responder"); });
  try {
    entry->async_handler(std::move(request), responder);
  } catch (...) {
    responder(failed("threw"));
  }
}

Response Router::handle(Request request) const {
  auto promise = std::make_shared<std::promise<Response>>();
  auto future = promise->get_future();
  dispatch(std::move(request), [promise](Response r) { promise->set_value(std::move(r)); });
  return future.get();
}

}  // namespace samordna::http
