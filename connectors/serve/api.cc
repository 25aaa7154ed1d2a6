#include "connectors/serve/api.h"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <set>

#include "connectors/serve/base64url.h"
#include "engine/core/json_codec.h"
#include "engine/core/personal_id.h"

namespace samordna::serve {
namespace {

using json = nlohmann::json;
using Kind = v1::Organisation;  // Kind::REGION etc.

struct Target {
  std::map<std::string, std::string> query;  // the last value of a repeated key
};

// ---------------------------------------------------------------------------------------------
// Answers. Bodies never quote the request: ids and values may be personal data.

HttpResponse json_response(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

HttpResponse error(int status, const std::string& code, const std::string& message = {}) {
  json body = {{"error", code}};
  if (!message.empty()) body["message"] = message;
  return json_response(status, body);
}

// The one answer for "absent" and "not yours".
HttpResponse not_found() { return error(404, "not_found"); }

struct BadRequest {
  std::string message;
};

// Query helpers; throw BadRequest (caught in handle) with a message naming the parameter only.
std::optional<std::string> opt(const Target& t, const std::string& k) {
  auto it = t.query.find(k);
  if (it == t.query.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

std::optional<Instant> opt_time(const Target& t, const std::string& k) {
  auto v = opt(t, k);
  if (!v) return std::nullopt;
  auto parsed = parse_rfc3339(*v);
  if (!parsed) throw BadRequest{k + " must be an RFC 3339 time, e.g. 2025-03-10T00:00:00Z"};
  return parsed.value();
}

int64_t opt_int(const Target& t, const std::string& k, int64_t def, int64_t lo, int64_t hi) {
  auto v = opt(t, k);
  if (!v) return def;
  try {
    size_t used = 0;
    const long long n = std::stoll(*v, &used);
    if (used != v->size() || n < lo || n > hi) throw BadRequest{""};
    return n;
  } catch (...) {
    throw BadRequest{k + " must be an integer from " + std::to_string(lo) + " to " +
                     std::to_string(hi)};
  }
}

std::optional<bool> opt_bool(const Target& t, const std::string& k) {
  auto v = opt(t, k);
  if (!v) return std::nullopt;
  if (*v == "true") return true;
  if (*v == "false") return false;
  throw BadRequest{k + " must be true or false"};
}

Page page_of(const Target& t) {
  return Page{opt_int(t, "limit", Api::kDefaultLimit, 1, Api::kMaxLimit),
              opt_int(t, "offset", 0, 0, 1'000'000'000)};
}

std::optional<std::string> opt_month(const Target& t, const std::string& k) {
  auto v = opt(t, k);
  if (!v) return std::nullopt;
  const bool ok = v->size() == 7 && (*v)[4] == '-' && std::all_of(v->begin(), v->end(), [](char c) {
                    return c == '-' || std::isdigit(static_cast<unsigned char>(c));
                  });
  if (!ok) throw BadRequest{k + " must be a month, YYYY-MM"};
  return v;
}

json page_json(const Page& p, size_t n) {
  json j = {{"limit", p.limit}, {"offset", p.offset}};
  if (static_cast<int64_t>(n) == p.limit) j["nextOffset"] = p.offset + p.limit;
  return j;
}

// Protobuf's JSON mapping (lowerCamelCase, RFC 3339, enums by name) as a nlohmann value.
json proto_json(const google::protobuf::Message& m) {
  thread_local JsonCodec codec;
  std::string out;
  if (!codec.print(m, out)) return json::object();
  return json::parse(out, nullptr, false);
}

std::string deadline_status(const v1::EpisodeView::Deadline& d, Instant now,
                            std::chrono::seconds within) {
  switch (d.state()) {
    case v1::EpisodeView::Deadline::OPEN:
      return to_unix(from_proto(d.due_at())) <= to_unix(now + within) ? "at_risk" : "open";
    case v1::EpisodeView::Deadline::MET:
      return "met";
    case v1::EpisodeView::Deadline::MISSED:
      return "missed";
    case v1::EpisodeView::Deadline::WAIVED:
      return "waived";
    default:
      return "unknown";
  }
}

std::string csv_field(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string random_id() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Who may use which route (README "Who sees what"). A route refused to a role is 403: that says
// nothing about any record. A record refused to an organisation is 404, as if it did not exist.

bool reads_cases(const Principal& p) {
  return p.role == Role::kCaseworker || p.role == Role::kCoordinator;
}
// Patient data (name, identity number, address) only to the organisations that act on the
// patient: the municipality, the outpatient unit and the ward. A region sees episodes without it.
bool sees_patient(const Principal& p) { return reads_cases(p) && p.org.kind != Kind::REGION; }

// One delivery as the API shows it (openapi.cc, Delivery).
json delivery_json(const DeliveryRow& d) {
  json j = {{"endpoint", d.endpoint},      {"state", d.state},   {"attempts", d.attempts},
            {"lastStatus", d.last_status}, {"reason", d.reason}, {"at", format_utc(d.at)}};
  if (!d.code.empty()) j["code"] = d.code;
  if (d.next_attempt) j["nextAttemptAt"] = format_utc(*d.next_attempt);
  return j;
}

}  // namespace

std::string ack_event_id(const std::string& notification_id, const OrgRef& org) {
  const std::string input =
      notification_id + '\n' + v1::Organisation::Kind_Name(org.kind) + '\n' + org.id;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "ack-";
  for (unsigned int i = 0; i < 16; ++i) {
    id += kHex[digest[i] >> 4];
    id += kHex[digest[i] & 15];
  }
  return id;
}

Api::Api(const ReadModel& model, const Verifier& verifier, const Clock& clock, ApiHooks hooks)
    : model_(model), verifier_(verifier), clock_(clock), hooks_(std::move(hooks)) {}

namespace {

// What one route handler returns: the answer and the episodes it showed (for the audit record).
struct Handled {
  HttpResponse response;
  std::vector<std::string> episode_ids;
  std::string outcome = "ok";
};

Handled handled(HttpResponse r, std::string outcome = "ok") {
  return Handled{std::move(r), {}, std::move(outcome)};
}

// A FHIR OperationOutcome (R4) of one issue: the FHIR route's every answer.
Handled fhir_outcome(int status, const char* severity, const char* code, const std::string& text,
                     std::string outcome) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/fhir+json";
  r.body = json{{"resourceType", "OperationOutcome"},
                {"issue",
                 json::array({{{"severity", severity}, {"code", code}, {"diagnostics", text}}})}}
               .dump();
  return Handled{std::move(r), {}, std::move(outcome)};
}

const std::string* string_at(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
}

// An error() answer of the FHIR route (a refusal before its handler: 401, 403, 405) as the
// OperationOutcome a FHIR client expects there, headers (WWW-Authenticate, Allow) kept.
HttpResponse as_operation_outcome(HttpResponse r) {
  const char* code = r.status == 401   ? "login"
                     : r.status == 403 ? "forbidden"
                     : r.status == 404 ? "not-found"
                     : r.status == 405 ? "not-supported"
                     : r.status == 413 ? "too-long"
                     : r.status >= 500 ? "exception"
                                       : "invalid";
  const json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  const std::string* message = string_at(body, "message");
  const std::string* error_code = string_at(body, "error");
  const std::string text = message != nullptr ? *message : error_code != nullptr ? *error_code : "";
  Handled h = fhir_outcome(r.status, "error", code, text, "");
  h.response.headers = std::move(r.headers);
  return std::move(h.response);
}

// POST /fhir/$process-message: a MedCom-style acknowledgement of a notice deliver sent as a FHIR
// message. Its MessageHeader.response.identifier is our MessageHeader's id (name_uuid.h), its
// code ok (the kvittens: the same noticeAcknowledged as POST .../ack), transient-error or
// fatal-error (the receiving system could not take the notice in: recorded in the audit log, not
// an acknowledgement, so the notice stays unacknowledged in the inbox and on the ward's list).
// Answers never quote the request.
Handled fhir_acknowledgement(const std::string& body, const ReadModel& model, const OrgRef& org,
                             const std::function<Handled(const InboxItem&)>& acknowledge) {
  const auto bundle = json::parse(body, nullptr, false);
  const std::string* type = string_at(bundle, "resourceType");
  const std::string* bundle_type = string_at(bundle, "type");
  if (bundle.is_discarded() || !type || *type != "Bundle" || !bundle_type ||
      *bundle_type != "message") {
    return fhir_outcome(400, "error", "structure", "a Bundle of type message is expected",
                        "bad_request");
  }
  const auto entries = bundle.find("entry");
  const json* header = nullptr;
  if (entries != bundle.end() && entries->is_array() && !entries->empty()) {
    const auto& first = (*entries)[0];
    if (first.is_object() && first.contains("resource")) header = &first["resource"];
  }
  const std::string* header_type = header ? string_at(*header, "resourceType") : nullptr;
  if (!header_type || *header_type != "MessageHeader") {
    return fhir_outcome(400, "error", "structure",
                        "the Bundle's first entry must be its MessageHeader", "bad_request");
  }
  const auto response = header->find("response");
  const std::string* identifier =
      response != header->end() ? string_at(*response, "identifier") : nullptr;
  const std::string* code = response != header->end() ? string_at(*response, "code") : nullptr;
  if (!identifier || !code) {
    return fhir_outcome(400, "error", "required",
                        "MessageHeader.response.identifier and .code are required", "bad_request");
  }
  if (*code != "ok" && *code != "transient-error" && *code != "fatal-error") {
    return fhir_outcome(400, "error", "code-invalid",
                        "MessageHeader.response.code must be ok, transient-error or fatal-error",
                        "bad_request");
  }
  auto not_found = [] {
    return fhir_outcome(404, "error", "not-found",
                        "no message of samordna to the caller's organisation has that id",
                        "not_found");
  };
  // Our ids are lower-case (name_uuid.h); RFC 9562 lets a receiver write them in either case.
  std::string message_id = *identifier;
  std::transform(message_id.begin(), message_id.end(), message_id.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto nid = model.notification_of_message(message_id);
  if (!nid) return fhir_outcome(500, "fatal", "exception", "the read model failed", "error");
  if (!nid.value()) return not_found();
  auto item = model.notification_for(org, *nid.value());
  if (!item) return fhir_outcome(500, "fatal", "exception", "the read model failed", "error");
  if (!item.value()) return not_found();  // another's notice looks absent
  const std::vector<std::string> episodes = {item.value()->notification.episode_id()};
  if (*code != "ok") {
    Handled h = fhir_outcome(
        200, "warning", "informational",
        "recorded: the receiving system reported " + *code + "; the notice is not acknowledged",
        "receiver_" + *code);
    h.episode_ids = episodes;
    return h;
  }
  Handled a = acknowledge(*item.value());
  Handled h;
  switch (a.response.status) {
    case 200:
      h = fhir_outcome(200, "information", "informational", "already acknowledged", a.outcome);
      break;
    case 202:
      h = fhir_outcome(202, "information", "informational",
                       "acknowledged: durable, shown once the engine has applied it", a.outcome);
      break;
    case 409:
      h = fhir_outcome(422, "error", "business-rule", "this notification is not acknowledged",
                       a.outcome);
      break;
    default:
      h = fhir_outcome(503, "error", "transient", "the acknowledgement could not be made durable",
                       a.outcome);
  }
  h.episode_ids = episodes;
  return h;
}

}  // namespace

HttpResponse Api::handle(const HttpRequest& req) const {
  const auto started = std::chrono::steady_clock::now();
  std::string route = "unmatched";
  auto finish = [&](HttpResponse r) {
    if (route == Api::kFhirAckRoute && r.status >= 400 && r.content_type == "application/json") {
      r = as_operation_outcome(std::move(r));  // the FHIR route answers in FHIR, refusals too
    }
    r.headers.emplace_back("Cache-Control", "no-store");
    if (hooks_.observe) {
      hooks_.observe(req.method, route, r.status, std::chrono::steady_clock::now() - started);
    }
    return r;
  };

  Target target_value;
  for (const auto& [k, v] : req.query) target_value.query[k] = v;
  const Target* target = &target_value;
  const std::string& path = req.path;
  const std::string& method = req.method;

  // Identity numbers never travel in a URL (they would land in access logs and proxies).
  if (target->query.count("personalId") || target->query.count("personal_id")) {
    return finish(error(400, "bad_request",
                        "identity numbers go in the body of POST /api/v1/episodes/search"));
  }

  // --- public routes ---
  if (path == "/healthz") {
    route = "/healthz";
    return finish(json_response(200, {{"status", "ok"}}));
  }
  if (path == "/readyz") {
    route = "/readyz";
    ReadModelStatus st{true, 0};
    if (hooks_.status) st = hooks_.status();
    return finish(json_response(st.ready ? 200 : 503, {{"ready", st.ready}, {"lag", st.lag}}));
  }
  if (path == "/openapi.json") {
    route = "/openapi.json";
    HttpResponse r;
    r.body = openapi_document();
    return finish(r);
  }

  // --- the routes that need a caller ---
  // Matched on the decoded path; an {id} is everything after its prefix, so ids may hold '/'.
  struct Match {
    std::string templ;
    std::vector<std::string> methods;
  };
  std::optional<Match> m;
  std::string id;
  auto tail = [&](std::string_view prefix) -> std::optional<std::string> {
    if (path.size() <= prefix.size() || path.compare(0, prefix.size(), prefix) != 0) {
      return std::nullopt;
    }
    return path.substr(prefix.size());
  };
  static constexpr std::string_view kAck = "/ack";
  if (path == "/metrics") {
    m = Match{"/metrics", {"GET"}};
  } else if (path == "/api/v1/notifications") {
    m = Match{"/api/v1/notifications", {"GET"}};
  } else if (auto rest = tail("/api/v1/notifications/")) {
    if (method == "POST" && rest->size() > kAck.size() &&
        rest->compare(rest->size() - kAck.size(), kAck.size(), kAck) == 0) {
      id = rest->substr(0, rest->size() - kAck.size());
      m = Match{"/api/v1/notifications/{ref}/ack", {"POST"}};
    } else {
      id = *rest;
      m = Match{"/api/v1/notifications/{ref}", {"GET"}};
    }
  } else if (path == "/api/v1/episodes") {
    m = Match{"/api/v1/episodes", {"GET"}};
  } else if (path == "/api/v1/episodes/search" && method == "POST") {
    m = Match{"/api/v1/episodes/search", {"POST"}};
  } else if (auto episode = tail("/api/v1/episodes/")) {
    id = *episode;
    m = Match{"/api/v1/episodes/{id}", {"GET"}};
  } else if (path == "/api/v1/deadlines") {
    m = Match{"/api/v1/deadlines", {"GET"}};
  } else if (path == "/api/v1/statistics/discharge-ready") {
    m = Match{"/api/v1/statistics/discharge-ready", {"GET"}};
  } else if (path == "/api/v1/statistics/missed-deadlines") {
    m = Match{"/api/v1/statistics/missed-deadlines", {"GET"}};
  } else if (path == "/api/v1/statistics/payment-liability") {
    m = Match{"/api/v1/statistics/payment-liability", {"GET"}};
  } else if (path == "/api/v1/audit") {
    m = Match{"/api/v1/audit", {"GET"}};
  } else if (path == "/api/v1/deliveries") {
    m = Match{"/api/v1/deliveries", {"GET"}};
  } else if (path == Api::kFhirAckRoute) {
    m = Match{std::string(Api::kFhirAckRoute), {"POST"}};
  }
  if (!m) return finish(not_found());
  route = m->templ;
  if (std::find(m->methods.begin(), m->methods.end(), method) == m->methods.end()) {
    auto r = error(405, "method_not_allowed");
    r.headers.emplace_back("Allow", m->methods.front());
    return finish(r);
  }

  // Authentication: a bearer token, else a client certificate the deployment mapped to an
  // organisation (mTLS, client_certs.h). A token wins: a mapped system forwarding a user's token
  // acts as that user.
  static constexpr std::string_view kBearer = "Bearer ";
  const Instant now = clock_.now();
  const bool bearer = req.authorization.size() > kBearer.size() &&
                      std::string_view(req.authorization).substr(0, kBearer.size()) == kBearer;
  std::optional<Principal> by_certificate;
  if (!bearer && req.client_certificate_subject && hooks_.client_certificate) {
    by_certificate = hooks_.client_certificate(*req.client_certificate_subject);
  }
  if (!bearer && !by_certificate) {
    auto r = error(401, "unauthorized", "a bearer token is required");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return finish(r);
  }
  auto principal =
      by_certificate
          ? Result<Principal>(std::move(*by_certificate))
          : verifier_.verify(std::string_view(req.authorization).substr(kBearer.size()), now);
  if (!principal) {
    auto r = error(401, "unauthorized", principal.error().message);
    r.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    return finish(r);
  }
  const Principal& p = principal.value();

  // Authorisation of the route for the role and organisation kind.
  const std::string& t = m->templ;
  const bool inbox_route = t.rfind("/api/v1/notifications", 0) == 0;
  const bool episode_route = t.rfind("/api/v1/episodes", 0) == 0;
  const bool stats_route = t.rfind("/api/v1/statistics", 0) == 0;
  bool allowed = false;
  if (t == "/metrics") {
    allowed = p.role == Role::kOperator && static_cast<bool>(hooks_.metrics);
    if (!hooks_.metrics) return finish(not_found());
  } else if (inbox_route || t == "/api/v1/deadlines") {
    allowed = reads_cases(p);
  } else if (t == "/api/v1/episodes/search") {
    allowed = sees_patient(p);
  } else if (episode_route) {
    allowed = sees_patient(p) || (p.org.kind == Kind::REGION && p.role == Role::kCoordinator);
  } else if (stats_route) {
    allowed = p.role == Role::kCoordinator &&
              (p.org.kind == Kind::REGION || p.org.kind == Kind::MUNICIPALITY);
  } else if (t == "/api/v1/audit") {
    allowed = p.role == Role::kAuditor;
  } else if (t == Api::kFhirAckRoute) {
    allowed = reads_cases(p);  // a receiving system's token or certificate, as for POST .../ack
  } else if (t == "/api/v1/deliveries") {
    // An organisation's own endpoints; the operator's, every endpoint (statuses and reasons only).
    allowed = reads_cases(p) || p.role == Role::kOperator;
  }
  if (!allowed) return finish(error(403, "forbidden", "this role may not use this route"));

  if (t == "/metrics") {
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = hooks_.metrics();
    return finish(r);
  }

  // The audit log too: it says who saw which patient's episode, itself personal data.
  const bool audited = inbox_route || episode_route || t == "/api/v1/deadlines" ||
                       t == "/api/v1/deliveries" || t == Api::kFhirAckRoute || t == "/api/v1/audit";
  Handled h;
  try {
    h = [&]() -> Handled {
      const auto within = std::chrono::hours{opt_int(*target, "withinHours", 24, 0, 24 * 366)};
      auto internal = [](const Error& e) {
        (void)e;
        return handled(error(500, "internal", "the read model failed"), "error");
      };

      // The kvittens of `item` by the caller's organisation: POST .../ack and a FHIR
      // acknowledgement message with code ok.
      auto acknowledge = [&](const InboxItem& item) -> Handled {
        const auto& n = item.notification;
        Handled out;
        out.episode_ids = {n.episode_id()};
        if (!is_notice(n)) {
          out.response = error(409, "not_a_notice",
                               "only admission notices, discharge-ready notices, estimated "
                               "discharge updates and admission cancellations are acknowledged");
          out.outcome = "conflict";
          return out;
        }
        const std::string event_id = ack_event_id(n.notification_id(), p.org);
        if (item.acked) {
          out.response = json_response(200, {{"notificationId", n.notification_id()},
                                             {"eventId", event_id},
                                             {"acknowledged", true},
                                             {"acknowledgedAt", format_utc(*item.acked_at)}});
          return out;
        }
        v1::Event e;
        e.set_event_id(event_id);
        e.set_episode_id(n.episode_id());
        e.set_source(Api::kAckSource);
        *e.mutable_occurred_at() = to_proto(now);
        *e.mutable_recorded_at() = to_proto(now);
        auto* ack = e.mutable_notice_acknowledged();
        ack->set_notification_id(n.notification_id());
        ack->mutable_by()->set_kind(p.org.kind);
        ack->mutable_by()->set_id(p.org.id);
        auto published = hooks_.publish ? hooks_.publish(e)
                                        : Result<void>(fail(Errc::kUnavailable, "no publisher"));
        if (!published) {
          out.response = error(503, "unavailable", "the acknowledgement could not be made durable");
          out.outcome = "unavailable";
          return out;
        }
        // Accepted: durable on the events topic; it shows as acknowledged once the engine has
        // applied it and the episode's view comes back to the read model.
        out.response = json_response(202, {{"notificationId", n.notification_id()},
                                           {"eventId", event_id},
                                           {"acknowledged", false},
                                           {"published", true}});
        return out;
      };

      if (t == Api::kFhirAckRoute)
        return fhir_acknowledgement(req.body, model_, p.org, acknowledge);

      if (t == "/api/v1/notifications") {
        InboxFilter f;
        f.kind = opt(*target, "kind");
        f.from = opt_time(*target, "from");
        f.to = opt_time(*target, "to");
        f.acked = opt_bool(*target, "acknowledged");
        f.unit = opt(*target, "unit");
        if (auto service = opt(*target, "service")) {
          v1::Service parsed;
          if (!v1::Service_Parse(*service, &parsed) || parsed == v1::SERVICE_UNSPECIFIED) {
            throw BadRequest{
                "service must be SOCIAL_SERVICES, MUNICIPAL_HEALTH_CARE or OUTPATIENT_CARE"};
          }
          f.service = *service;
        }
        const Page page = page_of(*target);
        auto items = model_.inbox(p.org, f, page);
        if (!items) return internal(items.error());
        auto summary = model_.inbox_summary(p.org, f);
        if (!summary) return internal(summary.error());
        Handled out;
        json list = json::array();
        std::set<std::string> eps;
        for (const auto& it : items.value()) {
          json item = {{"ref", base64url_encode(it.notification.notification_id())},
                       {"notification", proto_json(it.notification)},
                       {"acknowledged", it.acked}};
          if (it.acked_at) item["acknowledgedAt"] = format_utc(*it.acked_at);
          list.push_back(std::move(item));
          eps.insert(it.notification.episode_id());
        }
        json body = page_json(page, items.value().size());
        body["total"] = summary.value().total;
        body["unacknowledged"] = summary.value().unacknowledged;
        body["units"] = summary.value().units;
        body["services"] = summary.value().services;
        body["items"] = std::move(list);
        out.response = json_response(200, body);
        out.episode_ids.assign(eps.begin(), eps.end());
        return out;
      }

      if (t == "/api/v1/deliveries") {
        DeliveryFilter f;
        if (auto st = opt(*target, "state")) {
          static const std::set<std::string> kStates = {"delivered", "retrying", "dead_lettered",
                                                        "disabled"};
          if (!kStates.count(*st)) {
            throw BadRequest{"state must be delivered, retrying, dead_lettered or disabled"};
          }
          f.state = *st;
        }
        const Page page = page_of(*target);
        const OrgRef scope = p.role == Role::kOperator ? OrgRef{} : p.org;
        auto rows = model_.deliveries(scope, f, page);
        if (!rows) return internal(rows.error());
        Handled out;
        json list = json::array();
        std::set<std::string> eps;
        for (const auto& d : rows.value()) {
          json item = delivery_json(d);
          item["ref"] = base64url_encode(d.notification_id);
          item["notificationId"] = d.notification_id;
          item["organisation"] = {{"kind", v1::Organisation::Kind_Name(d.org.kind)},
                                  {"id", d.org.id}};
          list.push_back(std::move(item));
          if (!d.episode_id.empty()) eps.insert(d.episode_id);
        }
        json body = page_json(page, rows.value().size());
        body["items"] = std::move(list);
        out.response = json_response(200, body);
        out.episode_ids.assign(eps.begin(), eps.end());
        return out;
      }

      if (t == "/api/v1/notifications/{ref}" || t == "/api/v1/notifications/{ref}/ack") {
        // {id} is the notification's ref: the base64url of its id (ids hold '/').
        const auto nid = base64url_decode(id);
        if (!nid) return handled(not_found(), "not_found");
        auto item = model_.notification_for(p.org, *nid);
        if (!item) return internal(item.error());
        if (!item.value()) return handled(not_found(), "not_found");
        const auto& n = item.value()->notification;
        Handled out;
        out.episode_ids = {n.episode_id()};
        if (t == "/api/v1/notifications/{ref}") {
          json body = {
              {"ref", id}, {"notification", proto_json(n)}, {"acknowledged", item.value()->acked}};
          if (item.value()->acked_at) body["acknowledgedAt"] = format_utc(*item.value()->acked_at);
          // Its delivery to the caller's own systems (samordna deliver), when it has endpoints.
          auto deliveries = model_.deliveries_of(p.org, n.notification_id());
          if (!deliveries) return internal(deliveries.error());
          json delivery = json::array();
          for (const auto& d : deliveries.value()) delivery.push_back(delivery_json(d));
          body["delivery"] = std::move(delivery);
          out.response = json_response(200, body);
          return out;
        }
        return acknowledge(*item.value());
      }

      if (t == "/api/v1/episodes" || t == "/api/v1/episodes/{id}" ||
          t == "/api/v1/episodes/search") {
        std::vector<v1::EpisodeView> views;
        Page page;
        if (t == "/api/v1/episodes/{id}") {
          auto v = model_.episode_for(p.org, id);
          if (!v) return internal(v.error());
          if (!v.value()) return handled(not_found(), "not_found");
          views.push_back(*v.value());
        } else if (t == "/api/v1/episodes") {
          page = page_of(*target);
          auto v = model_.episodes(p.org, page);
          if (!v) return internal(v.error());
          views = std::move(v).value();
        } else {
          page = page_of(*target);
          const auto body = json::parse(req.body, nullptr, false);
          if (body.is_discarded() || !body.is_object() || !body.contains("personalId") ||
              !body["personalId"].is_string()) {
            return handled(error(400, "bad_request", "the body must be {\"personalId\": \"...\"}"),
                           "bad_request");
          }
          const std::string pid = body["personalId"].get<std::string>();
          if (!validate_personal_id(pid)) {
            return handled(error(400, "bad_request", "personalId is not a valid identity number"),
                           "bad_request");
          }
          auto v = model_.episodes_by_personal_id(p.org, pid, page);
          if (!v) return internal(v.error());
          views = std::move(v).value();
        }
        Handled out;
        json list = json::array();
        for (auto& v : views) {
          out.episode_ids.push_back(v.episode_id());
          if (!sees_patient(p)) v.clear_patient();
          // A notice secrecy holds back is the ward's to know (proto/README.md, noticeHeld): its
          // would-be recipients must not learn of it from the episode either.
          if (p.org.kind != Kind::WARD) {
            auto* notices = v.mutable_notices();
            notices->erase(std::remove_if(notices->begin(), notices->end(),
                                          [](const auto& n) { return n.held(); }),
                           notices->end());
          }
          json j = proto_json(v);
          if (j.contains("deadlines")) {
            for (int i = 0; i < v.deadlines_size(); ++i) {
              j["deadlines"][static_cast<size_t>(i)]["status"] =
                  deadline_status(v.deadlines(i), now, within);
            }
          }
          list.push_back(std::move(j));
        }
        if (t == "/api/v1/episodes/{id}") {
          out.response = json_response(200, list.at(0));
        } else {
          json body = page_json(page, views.size());
          body["items"] = std::move(list);
          out.response = json_response(200, body);
        }
        return out;
      }

      if (t == "/api/v1/deadlines") {
        DeadlineFilter f;
        f.state = opt(*target, "state");
        if (auto k = opt(*target, "kind")) {
          v1::DeadlineKind kind;
          if (!v1::DeadlineKind_Parse(*k, &kind) || kind == v1::DEADLINE_KIND_UNSPECIFIED) {
            throw BadRequest{
                "kind must be ADMISSION_NOTICE, CARE_CONTACT, INFORMATION_TRANSFER "
                "or SIP_INVITATION"};
          }
          f.kind = kind;
        }
        f.unit = opt(*target, "unit");
        f.municipality = opt(*target, "municipality");
        f.from = opt_time(*target, "from");
        f.to = opt_time(*target, "to");
        f.within = within;
        const Page page = page_of(*target);
        auto rows = model_.deadlines(p.org, f, now, page);
        if (!rows) {
          if (rows.error().code == Errc::kInvalidArgument) throw BadRequest{rows.error().message};
          return internal(rows.error());
        }
        Handled out;
        json list = json::array();
        std::set<std::string> eps;
        for (const auto& r : rows.value()) {
          json d = proto_json(r.deadline);
          d["episodeId"] = r.episode_id;
          d["careUnit"] = r.care_unit;
          d["homeMunicipality"] = r.home_municipality;
          d["region"] = r.region;
          d["status"] = deadline_status(r.deadline, now, within);
          list.push_back(std::move(d));
          eps.insert(r.episode_id);
        }
        json body = page_json(page, rows.value().size());
        body["items"] = std::move(list);
        out.response = json_response(200, body);
        out.episode_ids.assign(eps.begin(), eps.end());
        return out;
      }

      if (stats_route) {
        StatsFilter f;
        if (p.org.kind == Kind::REGION) {
          f.region = p.org.id;
          f.municipality = opt(*target, "municipality");
        } else {
          f.municipality = p.org.id;
        }
        f.from_month = opt_month(*target, "from");
        f.to_month = opt_month(*target, "to");
        const bool csv = opt(*target, "format") == std::optional<std::string>("csv") ||
                         req.accept.find("text/csv") != std::string::npos;
        json items = json::array();
        std::string text;
        if (t == "/api/v1/statistics/discharge-ready") {
          auto rows = model_.discharge_ready_stats(f);
          if (!rows) return internal(rows.error());
          text = "municipality,month,stays,days,meanDays\n";
          for (const auto& r : rows.value()) {
            items.push_back({{"municipality", r.municipality},
                             {"month", r.month},
                             {"stays", r.stays},
                             {"days", r.days},
                             {"meanDays", r.mean_days}});
            char mean[32];
            std::snprintf(mean, sizeof mean, "%.2f", r.mean_days);
            text += csv_field(r.municipality) + "," + r.month + "," + std::to_string(r.stays) +
                    "," + std::to_string(r.days) + "," + mean + "\n";
          }
        } else if (t == "/api/v1/statistics/missed-deadlines") {
          const auto period = opt(*target, "period").value_or("month");
          if (period != "month" && period != "week") {
            throw BadRequest{"period must be month or week"};
          }
          const bool weekly = period == "week";
          auto rows =
              model_.missed_deadline_stats(f, weekly ? StatsPeriod::kWeek : StatsPeriod::kMonth);
          if (!rows) return internal(rows.error());
          text = std::string("unitKind,unit,deadline,municipality,") + period + ",missed\n";
          for (const auto& r : rows.value()) {
            items.push_back({{"unitKind", r.unit_kind},
                             {"unit", r.unit},
                             {"deadline", r.deadline_kind},
                             {"municipality", r.municipality},
                             {period, r.period},
                             {"missed", r.missed}});
            text += r.unit_kind + "," + csv_field(r.unit) + "," + r.deadline_kind + "," +
                    csv_field(r.municipality) + "," + r.period + "," + std::to_string(r.missed) +
                    "\n";
          }
        } else {
          auto rows = model_.liability_stats(f);
          if (!rows) return internal(rows.error());
          text = "municipality,month,liableStays,days,amountSek,staysWithoutAmount\n";
          for (const auto& r : rows.value()) {
            // No stay of the row had a daily rate (the rule set lacks the year's): no amount is
            // known, which is not 0 kronor. null in JSON, an empty field in CSV.
            const bool unknown = r.liable_stays > 0 && r.stays_without_amount >= r.liable_stays;
            items.push_back({{"municipality", r.municipality},
                             {"month", r.month},
                             {"liableStays", r.liable_stays},
                             {"days", r.days},
                             {"amountSek", unknown ? json(nullptr) : json(r.amount_sek)},
                             {"staysWithoutAmount", r.stays_without_amount}});
            text += csv_field(r.municipality) + "," + r.month + "," +
                    std::to_string(r.liable_stays) + "," + std::to_string(r.days) + "," +
                    (unknown ? std::string() : std::to_string(r.amount_sek)) + "," +
                    std::to_string(r.stays_without_amount) + "\n";
          }
        }
        if (csv) {
          HttpResponse r;
          r.content_type = "text/csv; charset=utf-8";
          r.body = std::move(text);
          return handled(std::move(r));
        }
        return handled(json_response(200, {{"items", std::move(items)}}));
      }

      if (t == "/api/v1/audit") {
        // A region's auditors also see every access to the region's episodes (read_model.h).
        const Page page = page_of(*target);
        auto rows = model_.audit(p.org, opt_time(*target, "from"), opt_time(*target, "to"), page);
        if (!rows) return internal(rows.error());
        json list = json::array();
        std::set<std::string> shown;  // the episodes the records name: this read's audit record
        for (const auto& r : rows.value()) {
          json record = json::parse(r.record, nullptr, false);
          if (const auto ids = record.find("episodeIds"); ids != record.end() && ids->is_array()) {
            for (const auto& named : *ids) {
              if (named.is_string()) shown.insert(named.get<std::string>());
            }
          }
          list.push_back(std::move(record));
        }
        json body = page_json(page, rows.value().size());
        body["items"] = std::move(list);
        Handled out = handled(json_response(200, body));
        out.episode_ids.assign(shown.begin(), shown.end());
        return out;
      }
      return handled(not_found(), "not_found");
    }();
  } catch (const BadRequest& e) {
    h = handled(error(400, "bad_request", e.message), "bad_request");
  }

  if (audited) {
    AuditRecord rec;
    rec.request_id = random_id();
    rec.at = now;
    rec.subject = p.subject;
    rec.org_kind = p.org.kind;
    rec.org_id = p.org.id;
    rec.role = role_name(p.role);
    rec.method = method;
    rec.route = t;
    rec.episode_ids = h.episode_ids;
    rec.status = h.response.status;
    rec.outcome = h.outcome;
    // The regions of the episodes, for the regions' auditors; a record without them is incomplete,
    // so a failed lookup fails the request as an unwritable record does.
    Result<void> written = ok();
    if (auto regions = model_.regions_of(h.episode_ids); !regions) {
      written = regions.error();
    } else {
      rec.regions = std::move(regions).value();
      written = hooks_.audit ? hooks_.audit(audit_key(rec), to_json(rec))
                             : Result<void>(fail(Errc::kUnavailable, "no audit sink"));
    }
    if (!written) {
      // Nothing is answered that was not audited first (Patientdatalagen 4 kap. 3 §).
      return finish(error(503, "audit_unavailable", "the access could not be audited; try again"));
    }
  }
  return finish(std::move(h.response));
}

}  // namespace samordna::serve
