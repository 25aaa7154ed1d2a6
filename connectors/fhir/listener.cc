#include "connectors/fhir/listener.h"

#include <memory>

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

void handle(const ListenerOptions& options, const Publish& publish, SnapshotMemory& memory,
            const http::Request& req, const http::Responder& respond, bool is_bundle,
            int ok_status) {
  if (!json_content(req)) {
    respond(outcome(415, {{Issue::Severity::kError, "not-supported",
                           "Content-Type must be application/fhir+json", ""}}));
    return;
  }
  auto w = std::make_shared<Work>();
  Known known = [&memory](const std::string& episode, const std::string& event_id) {
    return memory.has(episode, event_id);
  };
  w->mapped = is_bundle ? map_bundle(req.body, options.config, known)
                        : map_encounter(req.body, options.config,
                                        req.param("id").value_or(std::string_view{}), known);
  if (!w->mapped.ok()) {
    std::vector<Issue> issues = w->mapped.issues;
    if (issues.empty() && !w->mapped.encounters.empty()) {
      issues = w->mapped.encounters.front().issues;
    }
    respond(outcome(w->mapped.status, issues));
    return;
  }
  for (const auto& r : w->mapped.encounters) {
    std::vector<v1::Event> fresh;
    if (r.status < 300) fresh = new_events(r.events, memory.known(r.episode_id));
    w->published.push_back(fresh.size());
    for (auto& e : fresh) w->events.push_back(std::move(e));
  }
  if (w->events.empty()) {
    answer(w, is_bundle, ok_status, respond);
    return;
  }
  int retry_after = options.retry_after_seconds;
  std::vector<v1::Event> events = w->events;
  publish(
      std::move(events), [w, is_bundle, ok_status, respond, &memory, retry_after](bool durable) {
        if (!durable) {
          http::Response res = outcome(
              503, {{Issue::Severity::kError, "transient",
                     "the events could not be made durable in time; send the request again", ""}});
          res.set("Retry-After", std::to_string(retry_after));
          respond(std::move(res));
          return;
        }
        memory.commit(w->events);
        answer(w, is_bundle, ok_status, respond);
      });
}

}  // namespace

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

void add_routes(http::Router& router, const ListenerOptions& options, Publish publish,
                SnapshotMemory& memory) {
  // The body limit: the resource limit, plus room for a Bundle's envelope.
  http::RouteOptions limits{.max_body_bytes = options.config.max_resource_bytes};
  auto opts = std::make_shared<ListenerOptions>(options);
  auto pub = std::make_shared<Publish>(std::move(publish));
  SnapshotMemory* mem = &memory;
  router.add("GET", "/fhir/metadata", [](const http::Request&) {
    return http::Response::with(200, kFhirJson, capability_statement());
  });
  router.add_async(
      "POST", "/fhir/Encounter",
      [opts, pub, mem](http::Request req, http::Responder respond) {
        handle(*opts, *pub, *mem, req, respond, false, 201);
      },
      limits);
  router.add_async(
      "PUT", "/fhir/Encounter/{id}",
      [opts, pub, mem](http::Request req, http::Responder respond) {
        handle(*opts, *pub, *mem, req, respond, false, 200);
      },
      limits);
  router.add_async(
      "POST", "/fhir",
      [opts, pub, mem](http::Request req, http::Responder respond) {
        handle(*opts, *pub, *mem, req, respond, true, 200);
      },
      limits);
  router.set_error_formatter("/fhir", error_response);
}

}  // namespace samordna::fhir
