// The OpenAPI 3.0 document of the API, served at GET /openapi.json and checked by a validator in
// tests/integration/serve/ (openapi-spec-validator). Built with nlohmann::json so that it is valid
// JSON by construction; keep it in step with api.cc's routes (the access-matrix test walks both).

#include <nlohmann/json.hpp>

#include "connectors/serve/api.h"

namespace samordna::serve {
namespace {

using json = nlohmann::json;

json ref(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }

json param(const std::string& name, const std::string& in, const json& schema,
           const std::string& description, bool required = false) {
  return {{"name", name},
          {"in", in},
          {"required", required},
          {"schema", schema},
          {"description", description}};
}

json str() { return {{"type", "string"}}; }
json date_time() { return {{"type", "string"}, {"format", "date-time"}}; }
json integer() { return {{"type", "integer"}}; }

json json_content(const json& schema) { return {{"application/json", {{"schema", schema}}}}; }

json ok(const std::string& description, const json& schema) {
  return {{"description", description}, {"content", json_content(schema)}};
}

json errors(json responses, bool audited) {
  responses["400"] = {{"$ref", "#/components/responses/BadRequest"}};
  responses["401"] = {{"$ref", "#/components/responses/Unauthorized"}};
  responses["403"] = {{"$ref", "#/components/responses/Forbidden"}};
  if (audited) responses["503"] = {{"$ref", "#/components/responses/AuditUnavailable"}};
  return responses;
}

json paged(const std::string& item) {
  return {{"type", "object"},
          {"required", {"items", "limit", "offset"}},
          {"properties",
           {{"items", {{"type", "array"}, {"items", ref(item)}}},
            {"limit", integer()},
            {"offset", integer()},
            {"nextOffset", integer()}}}};
}

json page_params() {
  return json::array(
      {param("limit", "query", {{"type", "integer"}, {"minimum", 1}, {"maximum", 500}},
             "page size (default 50)"),
       param("offset", "query", {{"type", "integer"}, {"minimum", 0}}, "rows to skip")});
}

json stats_op(const std::string& summary, const std::string& item) {
  json params = json::array(
      {param("from", "query", str(), "first month, YYYY-MM"),
       param("to", "query", str(), "last month, YYYY-MM"),
       param("municipality", "query", str(), "one municipality (a region coordinator only)"),
       param("format", "query", {{"type", "string"}, {"enum", {"json", "csv"}}},
             "csv for text/csv (or Accept: text/csv)")});
  json content = json_content(
      {{"type", "object"}, {"properties", {{"items", {{"type", "array"}, {"items", ref(item)}}}}}});
  content["text/csv"] = {{"schema", str()}};
  return {{"get",
           {{"summary", summary},
            {"tags", {"statistics"}},
            {"parameters", params},
            {"responses",
             errors({{"200", {{"description", summary}, {"content", content}}}}, false)}}}};
}

}  // namespace

std::string openapi_document() {
  json episode_id = param("id", "path", str(), "episode id", true);
  json notification_id = param("ref", "path", str(),
                               "the notification's ref: base64url (RFC 4648 section 5, no padding) "
                               "of its notificationId, as inbox items carry it",
                               true);
  json within = param("withinHours", "query", {{"type", "integer"}, {"minimum", 0}},
                      "an open deadline due within this many hours is at_risk (default 24)");

  json inbox_params = page_params();
  inbox_params.push_back(param("kind", "query", str(),
                               "notification kind: admissionNotice, dischargeReadyNotice, "
                               "deadlineMissed, paymentLiability, ..."));
  inbox_params.push_back(param("from", "query", date_time(), "issued at or after"));
  inbox_params.push_back(param("to", "query", date_time(), "issued before"));
  inbox_params.push_back(param("acknowledged", "query", {{"type", "boolean"}},
                               "only acknowledged (true) or unacknowledged (false)"));
  inbox_params.push_back(param("unit", "query", str(),
                               "only notices to this recipient unit (kommunkod or the outpatient "
                               "unit's id), one of the page's units"));
  inbox_params.push_back(
      param("service", "query",
            {{"type", "string"},
             {"enum", {"SOCIAL_SERVICES", "MUNICIPAL_HEALTH_CARE", "OUTPATIENT_CARE"}}},
            "only notices to this service of the recipient (socialtjänst, kommunal hälso- och "
            "sjukvård, öppen vård)"));
  json inbox_page = paged("InboxItem");
  inbox_page["required"].push_back("total");
  inbox_page["required"].push_back("unacknowledged");
  inbox_page["required"].push_back("units");
  inbox_page["required"].push_back("services");
  inbox_page["properties"]["services"] = {
      {"type", "array"},
      {"items", str()},
      {"description", "the recipient services of the caller's inbox: the service filter's values"}};
  inbox_page["properties"]["total"] = {{"type", "integer"},
                                       {"description", "notifications matching the filter"}};
  inbox_page["properties"]["unacknowledged"] = {
      {"type", "integer"},
      {"description",
       "the caller's acknowledgeable notices not yet acknowledged, whatever the filter"}};
  inbox_page["properties"]["units"] = {
      {"type", "array"},
      {"items", str()},
      {"description",
       "the recipient units of the caller's inbox, sorted: the unit filter's values"}};

  json deadline_params = page_params();
  deadline_params.push_back(param(
      "state", "query",
      {{"type", "string"}, {"enum", {"open", "at_risk", "missed", "met", "waived"}}}, "state"));
  deadline_params.push_back(param(
      "kind", "query",
      {{"type", "string"},
       {"enum", {"ADMISSION_NOTICE", "CARE_CONTACT", "INFORMATION_TRANSFER", "SIP_INVITATION"}}},
      "deadline kind"));
  deadline_params.push_back(param("unit", "query", str(), "the responsible unit's id"));
  deadline_params.push_back(param("municipality", "query", str(), "home municipality (kommunkod)"));
  deadline_params.push_back(param("from", "query", date_time(), "due at or after"));
  deadline_params.push_back(param("to", "query", date_time(), "due before"));
  deadline_params.push_back(within);

  json episodes_params = page_params();
  episodes_params.push_back(within);

  json doc = {
      {"openapi", "3.0.3"},
      {"info",
       {{"title", "samordna API"},
        {"version", "1"},
        {"description",
         "Read model of samordna (Lag (2017:612)): notices, episodes, deadlines and statistics per "
         "organisation. Every /api/v1 route needs a bearer JWT; something of another "
         "organisation is answered exactly like something absent (404). Requests to routes that "
         "can carry personal data are audited before they are answered (503 when the audit log "
         "is unavailable)."}}},
      {"security", json::array({{{"bearer", json::array()}}})},
      {"paths",
       {{"/healthz",
         {{"get",
           {{"summary", "liveness"},
            {"security", json::array()},
            {"responses", {{"200", ok("alive", {{"type", "object"}})}}}}}}},
        {"/readyz",
         {{"get",
           {{"summary", "ready once the read model has caught up with the topics"},
            {"security", json::array()},
            {"responses",
             {{"200", ok("caught up", ref("Readiness"))},
              {"503", ok("catching up", ref("Readiness"))}}}}}}},
        {"/openapi.json",
         {{"get",
           {{"summary", "this document"},
            {"security", json::array()},
            {"responses", {{"200", ok("OpenAPI 3 document", {{"type", "object"}})}}}}}}},
        {"/api/v1/notifications",
         {{"get",
           {{"summary", "the caller's inbox: notifications addressed to its organisation, "
                        "unacknowledged first, newest first"},
            {"tags", {"notifications"}},
            {"parameters", inbox_params},
            {"responses", errors({{"200", ok("a page of the inbox", inbox_page)}}, true)}}}}},
        {"/api/v1/notifications/{ref}",
         {{"get",
           {{"summary", "one notification addressed to the caller"},
            {"tags", {"notifications"}},
            {"parameters", {notification_id}},
            {"responses",
             errors({{"200", ok("the notification", ref("InboxItem"))},
                     {"404", {{"$ref", "#/components/responses/NotFound"}}}},
                    true)}}}}},
        {"/api/v1/notifications/{ref}/ack",
         {{"post",
           {{"summary", "acknowledge a notice (kvittens): publishes noticeAcknowledged and answers "
                        "once it is durable; idempotent"},
            {"tags", {"notifications"}},
            {"parameters", {notification_id}},
            {"responses",
             errors({{"200", ok("already acknowledged", ref("Ack"))},
                     {"202", ok("published; shows as acknowledged once the engine applied it",
                                ref("Ack"))},
                     {"404", {{"$ref", "#/components/responses/NotFound"}}},
                     {"409", {{"description", "not a notice"}, {"content", json_content(ref("Error"))}}}},
                    true)}}}}},
        {"/api/v1/episodes",
         {{"get",
           {{"summary", "episodes the caller may see, most recently changed first"},
            {"tags", {"episodes"}},
            {"parameters", episodes_params},
            {"responses", errors({{"200", ok("a page of episodes", paged("Episode"))}}, true)}}}}},
        {"/api/v1/episodes/{id}",
         {{"get",
           {{"summary", "one episode with its deadlines and their explanation"},
            {"tags", {"episodes"}},
            {"parameters", {episode_id, within}},
            {"responses",
             errors({{"200", ok("the episode", ref("Episode"))},
                     {"404", {{"$ref", "#/components/responses/NotFound"}}}},
                    true)}}}}},
        {"/api/v1/episodes/search",
         {{"post",
           {{"summary", "episodes of a patient by identity number (in the body, never the URL)"},
            {"tags", {"episodes"}},
            {"parameters", page_params()},
            {"requestBody",
             {{"required", true},
              {"content",
               json_content({{"type", "object"},
                             {"required", {"personalId"}},
                             {"properties", {{"personalId", str()}}}})}}},
            {"responses", errors({{"200", ok("matching episodes", paged("Episode"))}}, true)}}}}},
        {"/api/v1/deadlines",
         {{"get",
           {{"summary", "deadlines of the episodes the caller may see: open, at risk, missed, met"},
            {"tags", {"deadlines"}},
            {"parameters", deadline_params},
            {"responses", errors({{"200", ok("a page of deadlines", paged("DeadlineRow"))}}, true)}}}}},
        {"/api/v1/statistics/discharge-ready",
         stats_op("per municipality and month: stays with discharge-ready days, the days, the mean",
                  "DischargeReadyStat")},
        {"/api/v1/statistics/missed-deadlines",
         [&] {
           json op = stats_op(
               "missed deadlines per responsible unit, deadline kind, home municipality and month "
               "or ISO week of the due date (Europe/Stockholm)",
               "MissedDeadlineStat");
           op["get"]["parameters"].push_back(param(
               "period", "query", {{"type", "string"}, {"enum", {"month", "week"}}},
               "month (default; items carry `month`) or week (items carry `week`, e.g. 2026-W05)"));
           return op;
         }()},
        {"/api/v1/statistics/payment-liability",
         stats_op("payment liability per municipality and month: liable stays, days, amount",
                  "LiabilityStat")},
        {"/api/v1/session",
         {{"get",
           {{"summary", "who the bearer token says the caller is (the web app's login)"},
            {"tags", {"session"}},
            {"responses",
             {{"200",
               ok("the caller's organisation and role",
                  {{"type", "object"},
                   {"properties",
                    {{"org",
                      {{"type", "object"},
                       {"properties", {{"kind", str()}, {"id", str()}}}}},
                     {"role", str()},
                     {"expiresAt", date_time()}}}})},
              {"401", {{"$ref", "#/components/responses/Unauthorized"}}}}}}}}},
        {"/api/v1/events/stream",
         {{"get",
           {{"summary",
             "live: server-sent events (long poll) for notifications addressed to the caller's "
             "organisation as the read model stores them; no patient data, only kind, ref, seq"},
            {"tags", {"live"}},
            {"parameters",
             json::array({param("after", "query", integer(),
                                "the seq of the last event seen; absent: answer the current "
                                "position at once")})},
            {"responses",
             errors({{"200",
                      {{"description",
                        "text/event-stream: `event: notification` per new notification "
                        "(data {seq, kind, ref, issuedAt}), or one `event: position` (data "
                        "{seq}) after the hold time without any"},
                       {"content", {{"text/event-stream", {{"schema", str()}}}}}}}},
                    false)}}}}},
        {"/api/v1/deliveries",
         {{"get",
           {{"summary",
             "deliveries to recipient systems (samordna deliver), latest change first: the "
             "caller's own endpoints, every endpoint for an operator; states and reasons only"},
            {"tags", {"delivery"}},
            {"parameters",
             [&] {
               json p = page_params();
               p.push_back(param(
                   "state", "query",
                   {{"type", "string"},
                    {"enum", {"delivered", "retrying", "dead_lettered", "disabled"}}},
                   "only deliveries in this state"));
               return p;
             }()},
            {"responses",
             errors({{"200", ok("a page of deliveries", paged("DeliveryListItem"))}}, true)}}}}},
        {"/fhir/$process-message",
         {{"post",
           {{"summary",
             "a FHIR R4 acknowledgement message (MedCom-style) of a notice samordna deliver sent "
             "as a FHIR message: a Bundle of type message whose first entry is a MessageHeader "
             "with response.identifier (the id of samordna's MessageHeader) and response.code: ok "
             "is the kvittens (as POST /api/v1/notifications/{ref}/ack: 202 once durable, 200 if "
             "acknowledged already); transient-error and fatal-error are recorded (audit log) and "
             "acknowledge nothing (200). Every answer is an OperationOutcome."},
            {"tags", {"notifications"}},
            {"requestBody",
             {{"required", true},
              {"content", {{"application/fhir+json", {{"schema", {{"type", "object"}}}}}}}}},
            {"responses",
             [&] {
               json outcome = {{"application/fhir+json", {{"schema", ref("OperationOutcome")}}}};
               json r = errors({{"200", {{"description", "already acknowledged, or an error code recorded"}, {"content", outcome}}},
                                {"202", {{"description", "acknowledged: durable on the events topic"}, {"content", outcome}}},
                                {"404", {{"description", "no message to the caller's organisation has that id"}, {"content", outcome}}},
                                {"422", {{"description", "that notification is not acknowledged (not a notice)"}, {"content", outcome}}}},
                               true);
               r["400"] = {{"description", "not an acknowledgement message"}, {"content", outcome}};
               return r;
             }()}}}}},
        {"/api/v1/audit",
         {{"get",
           {{"summary", "audit records (role auditor): who accessed which episodes, when; a region's auditor also sees every access to its episodes"},
            {"tags", {"audit"}},
            {"parameters",
             [&] {
               json p = page_params();
               p.push_back(param("from", "query", date_time(), "at or after"));
               p.push_back(param("to", "query", date_time(), "before"));
               return p;
             }()},
            {"responses", errors({{"200", ok("a page of audit records", paged("AuditRecord"))}}, false)}}}}}}},
      {"components",
       {{"securitySchemes",
         {{"bearer", {{"type", "http"}, {"scheme", "bearer"}, {"bearerFormat", "JWT"}}}}},
        {"responses",
         {{"BadRequest", {{"description", "bad parameter"}, {"content", json_content(ref("Error"))}}},
          {"Unauthorized",
           {{"description", "no valid bearer token"}, {"content", json_content(ref("Error"))}}},
          {"Forbidden",
           {{"description", "the caller's role may not use this route"},
            {"content", json_content(ref("Error"))}}},
          {"NotFound",
           {{"description", "absent, or not the caller's (the same answer)"},
            {"content", json_content(ref("Error"))}}},
          {"AuditUnavailable",
           {{"description", "the audit log could not be written; nothing is answered"},
            {"content", json_content(ref("Error"))}}}}},
        {"schemas",
         {{"Error",
           {{"type", "object"},
            {"required", {"error"}},
            {"properties", {{"error", str()}, {"message", str()}}}}},
          {"Readiness",
           {{"type", "object"}, {"properties", {{"ready", {{"type", "boolean"}}}, {"lag", integer()}}}}},
          {"InboxItem",
           {{"type", "object"},
            {"required", {"notification", "acknowledged"}},
            {"properties",
             {{"ref", str()},
              {"notification",
               {{"type", "object"},
                {"description", "samordna.v1.Notification in protobuf's JSON mapping"}}},
              {"acknowledged", {{"type", "boolean"}}},
              {"acknowledgedAt", date_time()},
              {"delivery",
               {{"type", "array"},
                {"items", ref("Delivery")},
                {"description",
                 "one notification only: its delivery to each of the caller's endpoints"}}}}}}},
          {"Delivery",
           {{"type", "object"},
            {"required", {"endpoint", "state", "attempts", "lastStatus", "reason", "at"}},
            {"properties",
             {{"endpoint", str()},
              {"state",
               {{"type", "string"},
                {"enum", {"delivered", "retrying", "dead_lettered", "disabled"}}}},
              {"attempts", integer()},
              {"lastStatus", {{"type", "integer"}, {"description", "last HTTP status; 0 none"}}},
              {"code",
               {{"type", "string"},
                {"enum", {"rejected", "exhausted", "unprintable"}},
                {"description", "dead_lettered only"}}},
              {"reason", str()},
              {"at", date_time()},
              {"nextAttemptAt", date_time()}}}}},
          {"DeliveryListItem",
           {{"allOf",
             {ref("Delivery"),
              {{"type", "object"},
               {"properties",
                {{"ref", str()},
                 {"notificationId", str()},
                 {"organisation",
                  {{"type", "object"},
                   {"properties", {{"kind", str()}, {"id", str()}}}}}}}}}}}},
          {"OperationOutcome",
           {{"type", "object"},
            {"required", {"resourceType", "issue"}},
            {"properties",
             {{"resourceType", str()},
              {"issue",
               {{"type", "array"},
                {"items",
                 {{"type", "object"},
                  {"properties",
                   {{"severity", str()}, {"code", str()}, {"diagnostics", str()}}}}}}}}}}},
          {"Ack",
           {{"type", "object"},
            {"properties",
             {{"notificationId", str()},
              {"eventId", str()},
              {"acknowledged", {{"type", "boolean"}}},
              {"acknowledgedAt", date_time()},
              {"published", {{"type", "boolean"}}}}}}},
          {"Episode",
           {{"type", "object"},
            {"description",
             "samordna.v1.EpisodeView in protobuf's JSON mapping; each deadline also has status "
             "(open, at_risk, met, missed, waived). patient only for roles that may see it."},
            {"properties", {{"episodeId", str()}, {"deadlines", {{"type", "array"}, {"items", ref("Deadline")}}}}}}},
          {"Deadline",
           {{"type", "object"},
            {"properties",
             {{"kind", str()},
              {"dueAt", date_time()},
              {"dueLocal", str()},
              {"state", str()},
              {"status", {{"type", "string"}, {"enum", {"open", "at_risk", "met", "missed", "waived"}}}},
              {"explanation", str()}}}}},
          {"DeadlineRow",
           {{"allOf",
             {ref("Deadline"),
              {{"type", "object"},
               {"properties",
                {{"episodeId", str()},
                 {"careUnit", str()},
                 {"homeMunicipality", str()},
                 {"region", str()}}}}}}}},
          {"DischargeReadyStat",
           {{"type", "object"},
            {"properties",
             {{"municipality", str()},
              {"month", str()},
              {"stays", integer()},
              {"days", integer()},
              {"meanDays", {{"type", "number"}}}}}}},
          {"MissedDeadlineStat",
           {{"type", "object"},
            {"properties",
             {{"unitKind", str()},
              {"unit", str()},
              {"deadline", str()},
              {"municipality", str()},
              {"month", str()},
              {"week", str()},
              {"missed", integer()}}}}},
          {"LiabilityStat",
           {{"type", "object"},
            {"properties",
             {{"municipality", str()},
              {"month", str()},
              {"liableStays", integer()},
              {"days", integer()},
              {"amountSek",
               {{"type", "integer"},
                {"nullable", true},
                {"description", "null when no stay of the row had a daily rate"}}},
              {"staysWithoutAmount", integer()}}}}},
          {"AuditRecord",
           {{"type", "object"},
            {"properties",
             {{"requestId", str()},
              {"at", date_time()},
              {"subject", str()},
              {"org", {{"type", "object"}, {"properties", {{"kind", str()}, {"id", str()}}}}},
              {"role", str()},
              {"method", str()},
              {"route", str()},
              {"episodeIds", {{"type", "array"}, {"items", str()}}},
              {"status", integer()},
              {"outcome", str()}}}}}}}}}};
  return doc.dump();
}

}  // namespace samordna::serve
