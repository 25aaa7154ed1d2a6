#include "connectors/fhir/listener.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>

#include "connectors/fhir/outcome.h"

namespace samordna::fhir {
namespace {

constexpr const char* kFhirJson = "application/fhir+json; charset=utf-8";

http::Response outcome(int status, const std::vector<Issue>& issues) {
  return http::Response::with(status, kFhirJson, operation_outcome(issues));
}

// FHIR's JSON media type, or plain JSON; no Content-Type at all is taken as JSON too (curl -d).
bool json_content(const http::Request& req) {
  auto ct = req.header("content-type");
  if (!ct) return true;
  std::string_view v = *ct;
  v = v.substr(0, v.find(';'));
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return v == "application/fhir+json" || v == "application/json" || v == "application/json+fhir";
}

struct Work {
  Mapped mapped;
  std::vector<size_t> published;  // per encounter, how many of its events are new
  std::vector<v1::Event> events;  // all new events, in order
};

void answer(const std::shared_ptr<Work>& w, bool is_bundle, int ok_status,
            const http::Responder& respond) {
  if (is_bundle) {
    respond(http::Response::with(200, kFhirJson, bundle_response(w->mapped, w->published)));
    return;
  }
  const auto& r = w->mapped.encounters.front();
  std::vector<Issue> issues = r.issues;
  size_t n = w->published.empty() ? 0 : w->published.front();
  issues.push_back({Issue::Severity::kInformation, "informational",
                    std::to_string(n) + " event(s) published, " +
                        std::to_string(r.events.size() - n) + " already known",
                    r.expression});
  http::Response res = outcome(ok_status, issues);
  if (!r.encounter.empty()) res.set("Location", "/fhir/Encounter/" + r.encounter);
  respond(std::move(res));
}

void handle(const ListenerOptions& options, SnapshotStore& store, const http::Request& req,
            const http::Responder& respond, bool is_bundle, int ok_status) {
  if (!json_content(req)) {
    respond(outcome(415, {{Issue::Severity::kError, "not-supported",
                           "Content-Type must be application/fhir+json", ""}}));
    return;
  }
  // The sender's settings: by the certificate the handshake verified, or by meta.source.
  std::optional<std::string> source;
  if (options.senders.uses_source()) source = meta_source(req.body);
  std::optional<std::string_view> client;
  if (req.tls_peer_subject) client = *req.tls_peer_subject;
  const SenderConfig& config = options.senders.select(client, source);
  if (req.body.size() > config.max_resource_bytes) {
    respond(outcome(413, {{Issue::Severity::kError, "too-long",
                           "the resource is larger than this sender's max_resource_bytes", ""}}));
    return;
  }
  // What each episode's memory held when read: the diff and the compare-and-set both use it.
  auto snapshots = std::make_shared<std::map<std::string, Snapshot>>();
  auto snapshot_of = [&store, &config, snapshots](const std::string& episode) -> const Snapshot& {
    const std::string key = memory_key(config, episode);
    auto it = snapshots->find(key);
    if (it == snapshots->end()) it = snapshots->emplace(key, store.known(key)).first;
    return it->second;
  };
  Known known = [&snapshot_of](const std::string& episode, const std::string& event_id) {
    return snapshot_of(episode).ids.contains(event_id);
  };
  auto w = std::make_shared<Work>();
  w->mapped = is_bundle ? map_bundle(req.body, config, known)
                        : map_encounter(req.body, config,
                                        req.param("id").value_or(std::string_view{}), known);
  if (!w->mapped.ok()) {
    std::vector<Issue> issues = w->mapped.issues;
    if (issues.empty() && !w->mapped.encounters.empty()) {
      issues = w->mapped.encounters.front().issues;
    }
    respond(outcome(w->mapped.status, issues));
    return;
  }
  std::map<std::string, SnapshotUpdate> updates;
  for (const auto& r : w->mapped.encounters) {
    std::vector<v1::Event> fresh;
    if (r.status < 300) {
      const Snapshot& before = snapshot_of(r.episode_id);
      fresh = new_events(r.events, before.ids);
      if (!fresh.empty()) {
        const std::string key = memory_key(config, r.episode_id);
        auto [it, added] = updates.try_emplace(key);
        if (added) {
          it->second.episode_id = key;
          it->second.previous = before;
          it->second.ids = before.ids;
        }
        for (const auto& e : fresh) it->second.ids.insert(e.event_id());
        for (const auto& id : r.remember) it->second.ids.insert(id);
      }
    }
    w->published.push_back(fresh.size());
    for (auto& e : fresh) w->events.push_back(std::move(e));
  }
  if (w->events.empty()) {
    answer(w, is_bundle, ok_status, respond);
    return;
  }
  std::vector<SnapshotUpdate> list;
  for (auto& [_, u] : updates) list.push_back(std::move(u));
  int retry_after = options.retry_after_seconds;
  // The callback runs on the store's own thread (the intake's committer): it only answers, and
  // never calls back into the store.
  store.commit(w->events, std::move(list),
               [w, is_bundle, ok_status, respond, retry_after](SnapshotStore::Status status) {
                 if (status == SnapshotStore::Status::kConflict) {
                   // Another request for the same encounter was written meanwhile: the sender
                   // resends, and the diff then sees what that one made.
                   http::Response res = outcome(
                       503, {{Issue::Severity::kError, "conflict",
                              "another request for the same encounter was written meanwhile; "
                              "send the request again",
                              ""}});
                   res.set("Retry-After", "1");
                   respond(std::move(res));
                   return;
                 }
                 if (status != SnapshotStore::Status::kDurable) {
                   http::Response res = outcome(
                       503, {{Issue::Severity::kError, "transient",
                              "the events could not be made durable in time; send the request "
                              "again",
                              ""}});
                   res.set("Retry-After", std::to_string(retry_after));
                   respond(std::move(res));
                   return;
                 }
                 answer(w, is_bundle, ok_status, respond);
               });
}

}  // namespace

std::string memory_key(const SenderConfig& sender, const std::string& episode_id) {
  return sender.sender + "/" + episode_id;
}

http::Response error_response(const http::ServerError& error) {
  std::string code = error.status == 404   ? "not-found"
                     : error.status == 405 ? "not-supported"
                     : error.status == 408 ? "timeout"
                     : error.status == 413 ? "too-long"
                     : error.status == 431 ? "too-long"
                     : error.status >= 500 ? "exception"
                                           : "structure";
  return http::Response::with(error.status, kFhirJson,
                              operation_outcome({Issue::Severity::kError, code, error.detail, ""}));
}

void add_routes(http::Router& router, const ListenerOptions& options, SnapshotStore& store) {
  // The body limit: the resource limit, plus room for a Bundle's envelope.
  // The server's bound is the largest any sender may send; each request is held to its own.
  size_t max_body = options.senders.defaults.max_resource_bytes;
  for (const auto& o : options.senders.senders) {
    max_body = std::max(max_body, o.config.max_resource_bytes);
  }
  http::RouteOptions limits{.max_body_bytes = max_body};
  auto opts = std::make_shared<ListenerOptions>(options);
  SnapshotStore* st = &store;
  router.add("GET", "/fhir/metadata", [](const http::Request&) {
    return http::Response::with(200, kFhirJson, capability_statement());
  });
  router.add_async(
      "POST", "/fhir/Encounter",
      [opts, st](http::Request req, http::Responder respond) {
        handle(*opts, *st, req, respond, false, 201);
      },
      limits);
  router.add_async(
      "PUT", "/fhir/Encounter/{id}",
      [opts, st](http::Request req, http::Responder respond) {
        handle(*opts, *st, req, respond, false, 200);
      },
      limits);
  router.add_async(
      "POST", "/fhir",
      [opts, st](http::Request req, http::Responder respond) {
        handle(*opts, *st, req, respond, true, 200);
      },
      limits);
  router.set_error_formatter("/fhir", error_response);
}

}  // namespace samordna::fhir
