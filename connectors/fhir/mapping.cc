#include "connectors/fhir/mapping.h"

#include <date/date.h>
#include <date/tz.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <optional>

#include "engine/core/personal_id.h"
#include "engine/core/time.h"

namespace samordna::fhir {
namespace {

using json = nlohmann::json;
using Severity = Issue::Severity;

// Collects what one resource says, with the FHIRPath of each problem. The first error decides the
// status: 400 for what is not FHIR (structure, types), 422 for what the mapping needs and misses.
struct Ctx {
  const SenderConfig& c;
  const Known& known;
  std::vector<Issue> issues;
  int status = 200;

  void error(int st, std::string code, std::string path, std::string text) {
    if (status < 300) status = st;
    issues.push_back({Severity::kError, std::move(code), std::move(text), std::move(path)});
  }
  void info(std::string path, std::string text) {
    issues.push_back({Severity::kInformation, "informational", std::move(text), std::move(path)});
  }
  bool failed() const { return status >= 300; }
};

const json* member(const json& o, const char* key) {
  if (!o.is_object()) return nullptr;
  auto it = o.find(key);
  return it == o.end() || it->is_null() ? nullptr : &*it;
}

// A string member, or nothing; a member of another type is an error (FHIR's JSON is typed).
std::optional<std::string> text(Ctx& x, const json& o, const char* key, const std::string& path) {
  const json* v = member(o, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    x.error(400, "structure", path + "." + key, path + "." + key + " must be a string");
    return std::nullopt;
  }
  return v->get<std::string>();
}

const json* array(Ctx& x, const json& o, const char* key, const std::string& path) {
  const json* v = member(o, key);
  if (v == nullptr) return nullptr;
  if (!v->is_array()) {
    x.error(400, "structure", path + "." + key, path + "." + key + " must be an array");
    return nullptr;
  }
  return v;
}

const json* object(Ctx& x, const json& o, const char* key, const std::string& path) {
  const json* v = member(o, key);
  if (v == nullptr) return nullptr;
  if (!v->is_object()) {
    x.error(400, "structure", path + "." + key, path + "." + key + " must be an object");
    return nullptr;
  }
  return v;
}

// A string member's value, or "" when absent or not a string (json::value would throw then).
std::string str_or(const json& o, const char* key) {
  const json* v = member(o, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool all_digits(std::string_view s, size_t n) {
  return s.size() == n &&
         std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

// FHIR dateTime: a date (midnight in the sender's zone) or a date and time with an offset. A year
// or year-month alone is too vague for a deadline.
std::optional<Instant> when(Ctx& x, const std::string& value, const std::string& path) {
  if (value.size() == 10 && value[4] == '-' && value[7] == '-') {
    int y = 0;
    unsigned m = 0, d = 0;
    bool digits = all_digits(value.substr(0, 4), 4) && all_digits(value.substr(5, 2), 2) &&
                  all_digits(value.substr(8, 2), 2);
    if (digits) {
      y = std::stoi(value.substr(0, 4));
      m = static_cast<unsigned>(std::stoi(value.substr(5, 2)));
      d = static_cast<unsigned>(std::stoi(value.substr(8, 2)));
      date::year_month_day ymd{date::year{y}, date::month{m}, date::day{d}};
      if (ymd.ok() && y >= 1) {
        try {
          const date::time_zone* tz = date::locate_zone(x.c.time_zone);
          return date::floor<std::chrono::seconds>(
              tz->to_sys(date::local_days{ymd}, date::choose::earliest));
        } catch (const std::exception&) {
          x.error(500, "exception", path, "unknown time zone in the sender's configuration");
          return std::nullopt;
        }
      }
    }
  } else if (value.size() > 10) {
    if (auto t = parse_rfc3339(value)) return t.value();
  }
  x.error(400, "value", path,
          path + " must be a FHIR date (YYYY-MM-DD) or dateTime with a time zone");
  return std::nullopt;
}

std::optional<Instant> when_at(Ctx& x, const json& o, const char* key, const std::string& path) {
  auto v = text(x, o, key, path);
  if (!v) return std::nullopt;
  return when(x, *v, path + "." + key);
}

// The first coding's code (or the CodeableConcept's text) of a CodeableConcept.
std::vector<std::string> codes(Ctx& x, const json& cc, const std::string& path) {
  std::vector<std::string> out;
  if (const json* cs = array(x, cc, "coding", path)) {
    for (size_t i = 0; i < cs->size(); ++i) {
      if (auto c = text(x, (*cs)[i], "code", path + ".coding[" + std::to_string(i) + "]")) {
        out.push_back(*c);
      }
    }
  }
  return out;
}

// Patients the Encounter may refer to: in a Bundle (by fullUrl and by "Patient/<id>") and
// contained ("#id").
struct Patients {
  std::map<std::string, std::pair<const json*, std::string>> by_ref;  // -> resource, its path
};

struct PatientData {
  v1::Patient patient;
  bool complete = false;
};

void read_patient(Ctx& x, const json& p, const std::string& path, v1::Patient& out) {
  if (const json* ids = array(x, p, "identifier", path)) {
    for (size_t i = 0; i < ids->size(); ++i) {
      std::string ip = path + ".identifier[" + std::to_string(i) + "]";
      auto sys = text(x, (*ids)[i], "system", ip);
      auto val = text(x, (*ids)[i], "value", ip);
      if (!sys || !val) continue;
      bool pnr = contains(x.c.personnummer_systems, *sys);
      bool snr = contains(x.c.samordningsnummer_systems, *sys);
      if (!pnr && !snr) continue;
      std::string id;
      for (char ch : *val) {
        if (ch != '-' && ch != '+') id.push_back(ch);
      }
      auto kind = validate_personal_id(id);
      if (!kind) {
        x.error(422, "value", ip + ".value",
                ip + ".value is not a valid " +
                    std::string(pnr ? "personnummer" : "samordningsnummer") + ": " +
                    kind.error().message);
        return;
      }
      if ((kind.value() == PersonalIdKind::kPersonnummer) != pnr) {
        x.error(422, "value", ip + ".value",
                ip + ".value does not match its system (personnummer / samordningsnummer)");
        return;
      }
      out.set_personal_id(id);
      break;
    }
  }
  if (const json* names = array(x, p, "name", path); names && !names->empty()) {
    const json* chosen = &(*names)[0];
    for (const auto& n : *names) {
      if (n.is_object() && str_or(n, "use") == "official") chosen = &n;
    }
    std::string full;
    if (const json* given = member(*chosen, "given"); given && given->is_array()) {
      for (const auto& g : *given) {
        if (g.is_string()) full += (full.empty() ? "" : " ") + g.get<std::string>();
      }
    }
    if (auto family = text(x, *chosen, "family", path + ".name")) {
      full += (full.empty() ? "" : " ") + *family;
    }
    if (full.empty()) {
      if (auto t = text(x, *chosen, "text", path + ".name")) full = *t;
    }
    out.set_name(full);
  }
  const std::string municipality_url = std::string(kProfileBase) + "home-municipality";
  auto municipality_of = [&](const json& o, const std::string& op) -> std::optional<std::string> {
    if (const json* exts = array(x, o, "extension", op)) {
      for (const auto& e : *exts) {
        if (!e.is_object() || str_or(e, "url") != municipality_url) continue;
        if (const json* s = member(e, "valueString"); s && s->is_string())
          return s->get<std::string>();
        if (const json* c = member(e, "valueCoding"); c && c->is_object()) {
          if (const json* code = member(*c, "code"); code && code->is_string()) {
            return code->get<std::string>();
          }
        }
      }
    }
    return std::nullopt;
  };
  std::optional<std::string> municipality = municipality_of(p, path);
  if (const json* addrs = array(x, p, "address", path); addrs && !addrs->empty()) {
    // The folkbokföringsadress (HL7 Sweden's SEBaseAddressPersonExtension, SNOMED CT
    // 63381000052101) when marked, else use=home, else the first.
    size_t chosen = 0;
    bool marked = false;
    for (size_t i = 0; i < addrs->size() && !marked; ++i) {
      const json& a = (*addrs)[i];
      if (!a.is_object()) continue;
      std::string dumped = a.contains("extension")
                               ? a["extension"].dump(-1, ' ', false, json::error_handler_t::replace)
                               : "";
      if (dumped.find("63381000052101") != std::string::npos) {
        chosen = i;
        marked = true;
      } else if (str_or(a, "use") == "home" && chosen == 0) {
        chosen = i;
      }
    }
    const json& a = (*addrs)[chosen];
    std::string ap = path + ".address[" + std::to_string(chosen) + "]";
    if (a.is_object()) {
      std::string line;
      if (const json* lines = member(a, "line"); lines && lines->is_array()) {
        for (const auto& l : *lines) {
          if (l.is_string()) line += (line.empty() ? "" : ", ") + l.get<std::string>();
        }
      }
      std::string place;
      if (auto pc = text(x, a, "postalCode", ap)) place = *pc;
      if (auto city = text(x, a, "city", ap)) place += (place.empty() ? "" : " ") + *city;
      if (!place.empty()) line += (line.empty() ? "" : ", ") + place;
      out.set_address(line);
      if (!municipality) municipality = municipality_of(a, ap);
      if (!municipality) {
        if (auto district = text(x, a, "district", ap); district && all_digits(*district, 4)) {
          municipality = district;
        }
      }
    }
  }
  if (municipality) out.set_home_municipality(*municipality);
}

struct Step {
  const char* code;
  v1::Event::PayloadCase payload;
};
constexpr Step kSteps[] = {
    {"needs-assessed", v1::Event::kNeedsAssessed},
    {"estimated-discharge-changed", v1::Event::kEstimatedDischargeChanged},
    {"consent-recorded", v1::Event::kConsentRecorded},
    {"care-contact-appointed", v1::Event::kCareContactAppointed},
    {"discharge-ready", v1::Event::kDischargeReady},
    {"discharge-ready-revoked", v1::Event::kDischargeReadyRevoked},
    {"information-transferred", v1::Event::kInformationTransferred},
    {"sip-invitation-sent", v1::Event::kSipInvitationSent},
    {"outpatient-services-unavailable", v1::Event::kOutpatientServicesUnavailable},
};

// The law's own steps: repeating complex extensions "coordination-step" on the Encounter
// (README.md, "Profile"). Each carries its kind and time, so the same list sent again makes the
// same event ids.
void read_steps(Ctx& x, const json& enc, const std::string& path, const std::string& episode,
                std::vector<std::pair<int, v1::Event>>& out) {
  const json* exts = array(x, enc, "extension", path);
  if (exts == nullptr) return;
  const std::string step_url = std::string(kProfileBase) + "coordination-step";
  for (size_t i = 0; i < exts->size(); ++i) {
    const json& e = (*exts)[i];
    std::string ep = path + ".extension[" + std::to_string(i) + "]";
    if (!e.is_object()) {
      x.error(400, "structure", ep, ep + " must be an object");
      continue;
    }
    if (str_or(e, "url") != step_url) continue;
    const json* parts = array(x, e, "extension", ep);
    if (parts == nullptr) {
      x.error(422, "required", ep + ".extension", ep + ": a coordination step needs its parts");
      continue;
    }
    std::optional<std::string> kind;
    std::optional<Instant> occurred;
    v1::Event ev;
    std::vector<std::string> needs;
    std::optional<std::string> unit, scope;
    std::optional<bool> flag;
    std::optional<Instant> estimate;
    for (size_t j = 0; j < parts->size(); ++j) {
      const json& part = (*parts)[j];
      std::string pp = ep + ".extension[" + std::to_string(j) + "]";
      auto url = text(x, part, "url", pp);
      if (!url) continue;
      auto str = [&](const char* key) { return text(x, part, key, pp); };
      if (*url == "kind") {
        kind = str("valueCode");
      } else if (*url == "occurred") {
        if (auto v = str("valueDateTime")) occurred = when(x, *v, pp + ".valueDateTime");
      } else if (*url == "need") {
        if (auto v = str("valueCode")) needs.push_back(*v);
      } else if (*url == "unit" || *url == "outpatientUnit") {
        unit = str("valueString");
      } else if (*url == "estimatedDischarge") {
        if (auto v = str("valueDateTime")) estimate = when(x, *v, pp + ".valueDateTime");
      } else if (*url == "scope") {
        scope = str("valueCode");
      } else if (*url == "granted" || *url == "unavailable") {
        const json* b = member(part, "valueBoolean");
        if (b == nullptr || !b->is_boolean()) {
          x.error(400, "structure", pp + ".valueBoolean", pp + ".valueBoolean must be a boolean");
        } else {
          flag = b->get<bool>();
        }
      } else {
        x.error(422, "not-supported", pp + ".url",
                pp + ".url is not a part of a coordination step");
      }
    }
    if (x.failed()) return;
    const Step* step = nullptr;
    for (const auto& s : kSteps) {
      if (kind && *kind == s.code) step = &s;
    }
    if (step == nullptr) {
      x.error(422, kind ? "value" : "required", ep,
              ep + ": kind must be one of the coordination steps");
      continue;
    }
    if (!occurred) {
      x.error(422, "required", ep, ep + ": occurred (valueDateTime) is required");
      continue;
    }
    switch (step->payload) {
      case v1::Event::kNeedsAssessed: {
        auto* n = ev.mutable_needs_assessed();
        for (const auto& need : needs) {
          if (need == "social-services") {
            n->add_needs(v1::SOCIAL_SERVICES);
          } else if (need == "municipal-health-care") {
            n->add_needs(v1::MUNICIPAL_HEALTH_CARE);
          } else if (need == "outpatient-care") {
            n->add_needs(v1::OUTPATIENT_CARE);
          } else {
            x.error(
                422, "value", ep,
                ep + ": need must be social-services, municipal-health-care or outpatient-care");
          }
        }
        if (unit) n->set_outpatient_unit(*unit);
        if (estimate) *n->mutable_estimated_discharge_at() = to_proto(*estimate);
        break;
      }
      case v1::Event::kEstimatedDischargeChanged:
        if (!estimate) {
          x.error(422, "required", ep, ep + ": estimatedDischarge is required");
          continue;
        }
        *ev.mutable_estimated_discharge_changed()->mutable_estimated_discharge_at() =
            to_proto(*estimate);
        break;
      case v1::Event::kConsentRecorded: {
        auto* cr = ev.mutable_consent_recorded();
        if (scope && *scope == "information-sharing") {
          cr->set_scope(v1::ConsentRecorded::INFORMATION_SHARING);
        } else if (scope && *scope == "sip") {
          cr->set_scope(v1::ConsentRecorded::SIP);
        } else {
          x.error(422, "value", ep, ep + ": scope must be information-sharing or sip");
          continue;
        }
        if (!flag) {
          x.error(422, "required", ep, ep + ": granted is required");
          continue;
        }
        cr->set_granted(*flag);
        break;
      }
      case v1::Event::kCareContactAppointed:
        if (!unit) {
          x.error(422, "required", ep, ep + ": unit is required");
          continue;
        }
        ev.mutable_care_contact_appointed()->set_unit(*unit);
        break;
      case v1::Event::kDischargeReady:
        ev.mutable_discharge_ready();
        break;
      case v1::Event::kDischargeReadyRevoked:
        ev.mutable_discharge_ready_revoked();
        break;
      case v1::Event::kInformationTransferred:
        ev.mutable_information_transferred();
        break;
      case v1::Event::kSipInvitationSent:
        ev.mutable_sip_invitation_sent();
        break;
      case v1::Event::kOutpatientServicesUnavailable:
        ev.mutable_outpatient_services_unavailable()->set_unavailable(flag.value_or(true));
        break;
      default:
        break;
    }
    ev.set_event_id(episode + "/" + step->code + "/" + std::to_string(to_unix(*occurred)));
    *ev.mutable_occurred_at() = to_proto(*occurred);
    out.emplace_back(1, std::move(ev));
  }
}

// The Patient `subject.reference` names: in the Bundle (fullUrl or Patient/<id>) or contained
// (#id); null when it names none of them (a logical reference, or nothing).
const json* referenced_patient(Ctx& x, const json& enc, const json& subject,
                               const std::string& path, const Patients& patients,
                               std::string& ppath) {
  auto ref = text(x, subject, "reference", path + ".subject");
  if (!ref || ref->empty()) return nullptr;
  const json* p = nullptr;
  if ((*ref)[0] == '#') {
    if (const json* contained = array(x, enc, "contained", path)) {
      for (size_t i = 0; i < contained->size(); ++i) {
        const json& cr = (*contained)[i];
        if (cr.is_object() && str_or(cr, "resourceType") == "Patient" &&
            "#" + str_or(cr, "id") == *ref) {
          p = &cr;
          ppath = path + ".contained[" + std::to_string(i) + "]";
        }
      }
    }
  } else if (auto it = patients.by_ref.find(*ref); it != patients.by_ref.end()) {
    p = it->second.first;
    ppath = it->second.second;
  }
  return p;
}

// New patient data for an admission already made (README, "Patient data"): the Patient carried
// again, dated by its meta.lastUpdated, makes patientDataUpdated with its name and address, id
// "<episode>/patient/<lastUpdated, Unix seconds>": the same version sent again makes nothing, a
// new version makes one. Without meta.lastUpdated there is no version to tell apart: nothing.
std::optional<v1::Event> patient_update(Ctx& x, const json& p, const std::string& ppath,
                                        const std::string& episode_id) {
  const json* meta = member(p, "meta");
  if (meta == nullptr || !meta->is_object()) return std::nullopt;
  std::optional<Instant> at = when_at(x, *meta, "lastUpdated", ppath + ".meta");
  if (!at || x.failed()) return std::nullopt;
  v1::Patient patient;
  read_patient(x, p, ppath, patient);
  if (x.failed() || (patient.name().empty() && patient.address().empty())) return std::nullopt;
  v1::Event ev;
  ev.set_event_id(episode_id + "/patient/" + std::to_string(to_unix(*at)));
  *ev.mutable_occurred_at() = to_proto(*at);
  auto* u = ev.mutable_patient_data_updated();
  u->set_name(patient.name());
  u->set_address(patient.address());
  return ev;
}

EncounterResult map_one(Ctx& x, const json& enc, const std::string& path, std::string_view url_id,
                        const Patients& patients) {
  EncounterResult r;
  r.expression = path;
  auto rt = text(x, enc, "resourceType", path);
  if (!enc.is_object() || !rt || *rt != "Encounter") {
    x.error(400, "invalid", path + ".resourceType", path + ".resourceType must be Encounter");
    return r;
  }
  auto id = text(x, enc, "id", path);
  r.encounter = id.value_or("");
  if (!url_id.empty() && (!id || *id != url_id)) {
    x.error(400, "invalid", path + ".id", path + ".id must equal the id in the URL");
    return r;
  }
  // The episode's key.
  std::optional<std::string> key;
  const json* ids = array(x, enc, "identifier", path);
  if (!x.c.episode_identifier_system.empty()) {
    for (size_t i = 0; ids && i < ids->size() && !key; ++i) {
      std::string ip = path + ".identifier[" + std::to_string(i) + "]";
      if (text(x, (*ids)[i], "system", ip) == x.c.episode_identifier_system) {
        key = text(x, (*ids)[i], "value", ip);
      }
    }
    if (!key) {
      x.error(422, "required", path + ".identifier",
              path + ".identifier: none with the configured episode identifier system");
      return r;
    }
  } else if (id) {
    key = id;
  } else if (ids && !ids->empty()) {
    key = text(x, (*ids)[0], "value", path + ".identifier[0]");
  }
  if (!key || key->empty()) {
    x.error(422, "required", path + ".id", path + ": an id or an identifier is required");
    return r;
  }
  r.episode_id = x.c.episode_prefix + *key;
  if (r.episode_id.size() > 200) {
    x.error(422, "too-long", path + ".id", path + ": the episode id is longer than 200 bytes");
    return r;
  }
  auto status = text(x, enc, "status", path);
  if (!status) {
    if (!x.failed()) x.error(400, "required", path + ".status", path + ".status is required");
    return r;
  }
  static const std::vector<std::string> kStatuses = {"planned",     "arrived",          "triaged",
                                                     "in-progress", "onleave",          "finished",
                                                     "cancelled",   "entered-in-error", "unknown"};
  if (!contains(kStatuses, *status)) {
    x.error(400, "value", path + ".status", path + ".status is not an Encounter status (R4)");
    return r;
  }
  bool inpatient = false;
  if (const json* cls = object(x, enc, "class", path)) {
    auto code = text(x, *cls, "code", path + ".class");
    inpatient = code && contains(x.c.inpatient_classes, *code);
  }
  if (x.failed()) return r;
  if (!inpatient) {
    x.info(path + ".class", "not an inpatient class: nothing for samordna");
    return r;
  }
  const std::string source = "fhir:" + x.c.sender;
  std::vector<std::pair<int, v1::Event>> events;  // (order rank, event)
  const json* period = object(x, enc, "period", path);
  const std::string pp = path + ".period";

  const bool active = *status == "in-progress" || *status == "onleave" || *status == "finished";
  const std::string admitted_id = r.episode_id + "/admitted";
  if (active && x.known && x.known(r.episode_id, admitted_id)) {
    // Made before: the diff drops it anyway, and the snapshot need not carry the patient again.
    v1::Event ev;
    ev.set_event_id(admitted_id);
    events.emplace_back(0, std::move(ev));
    // When it does, a new version of it may complete a held admission notice (2 kap. 2 §).
    if (const json* subject = member(enc, "subject"); subject && subject->is_object()) {
      std::string ppath;
      if (const json* p = referenced_patient(x, enc, *subject, path, patients, ppath)) {
        if (auto update = patient_update(x, *p, ppath, r.episode_id)) {
          events.emplace_back(1, std::move(*update));
        }
        if (x.failed()) return r;
      }
    }
  } else if (active) {
    std::optional<Instant> start = period ? when_at(x, *period, "start", pp) : std::nullopt;
    if (x.failed()) return r;
    if (!start) {
      x.error(422, "required", pp + ".start", pp + ".start is required for an inpatient stay");
      return r;
    }
    v1::Event ev;
    ev.set_event_id(admitted_id);
    *ev.mutable_occurred_at() = to_proto(*start);
    auto* a = ev.mutable_admitted();
    // The patient: a reference resolved in the Bundle or contained, or a logical reference with
    // the identifier alone.
    const json* subject = object(x, enc, "subject", path);
    if (subject == nullptr) {
      x.error(422, "required", path + ".subject", path + ".subject is required");
      return r;
    }
    v1::Patient patient;
    std::string ppath;
    if (const json* p = referenced_patient(x, enc, *subject, path, patients, ppath)) {
      read_patient(x, *p, ppath, patient);
      // The version the admission carries is known from now on: sent again, it is no update.
      if (!x.failed()) {
        if (const json* meta = member(*p, "meta"); meta && meta->is_object()) {
          if (auto at = when_at(x, *meta, "lastUpdated", ppath + ".meta")) {
            r.remember.push_back(r.episode_id + "/patient/" + std::to_string(to_unix(*at)));
          }
        }
      }
    }
    if (const json* ident = object(x, *subject, "identifier", path + ".subject");
        ident && patient.personal_id().empty()) {
      json wrapper = {{"identifier", json::array({*ident})}};
      v1::Patient from_ident;
      read_patient(x, wrapper, path + ".subject", from_ident);
      patient.set_personal_id(from_ident.personal_id());
    }
    if (x.failed()) return r;
    if (patient.personal_id().empty()) {
      x.error(422, "required", path + ".subject",
              path +
                  ".subject: the Patient (in the Bundle, contained, or as subject.identifier) "
                  "needs a personnummer or samordningsnummer of a configured system");
      return r;
    }
    if (!all_digits(patient.home_municipality(), 4)) {
      x.error(422, "required", path + ".subject",
              path +
                  ".subject: the Patient needs the home municipality's 4-digit kommunkod "
                  "(extension home-municipality, or Patient.address.district)");
      return r;
    }
    *a->mutable_patient() = patient;
    // The ward: the current location, the performing unit (Cambio's extension), the provider.
    std::string unit;
    if (const json* locs = array(x, enc, "location", path); locs && !locs->empty()) {
      const json& l = (*locs)[0];
      if (const json* loc = member(l, "location"); loc && loc->is_object()) {
        if (const json* li = member(*loc, "identifier"); li && li->is_object()) {
          unit = str_or(*li, "value");
        }
        if (unit.empty()) unit = str_or(*loc, "reference");
      }
    }
    if (unit.empty()) {
      if (const json* exts = member(enc, "extension"); exts && exts->is_array()) {
        for (const auto& e : *exts) {
          if (!e.is_object()) continue;
          std::string url = str_or(e, "url");
          if (url.size() >= 23 && url.substr(url.size() - 23) == "encounterPerformingUnit") {
            if (const json* vr = member(e, "valueReference"); vr && vr->is_object()) {
              if (const json* vi = member(*vr, "identifier"); vi && vi->is_object()) {
                unit = str_or(*vi, "value");
              }
            }
          }
        }
      }
    }
    if (unit.empty()) {
      if (const json* sp = member(enc, "serviceProvider"); sp && sp->is_object()) {
        if (const json* si = member(*sp, "identifier"); si && si->is_object()) {
          unit = str_or(*si, "value");
        }
        if (unit.empty()) unit = str_or(*sp, "reference");
      }
    }
    if (unit.empty()) {
      x.error(422, "required", path + ".location",
              path + ".location (or serviceProvider) is required: the ward");
      return r;
    }
    a->set_care_unit(unit);
    a->set_region(x.c.region.empty() ? patient.home_municipality().substr(0, 2) : x.c.region);
    a->set_care_type(v1::SOMATIC);
    if (const json* st = object(x, enc, "serviceType", path)) {
      for (const auto& code : codes(x, *st, path + ".serviceType")) {
        if (contains(x.c.psychiatric_service_types, code)) a->set_care_type(v1::PSYCHIATRIC);
      }
    }
    events.emplace_back(0, std::move(ev));
  }
  read_steps(x, enc, path, r.episode_id, events);
  if (x.failed()) return r;
  if (*status == "finished") {
    std::optional<Instant> end = period ? when_at(x, *period, "end", pp) : std::nullopt;
    if (x.failed()) return r;
    if (!end) {
      x.error(422, "required", pp + ".end", pp + ".end is required when the stay is finished");
      return r;
    }
    v1::Event ev;
    ev.set_event_id(r.episode_id + "/discharged");
    *ev.mutable_occurred_at() = to_proto(*end);
    auto* d = ev.mutable_discharged();
    if (const json* h = object(x, enc, "hospitalization", path)) {
      if (const json* dd = object(x, *h, "dischargeDisposition", path + ".hospitalization")) {
        std::string reason = str_or(*dd, "text");
        if (reason.empty()) {
          if (const json* cs = member(*dd, "coding"); cs && cs->is_array() && !cs->empty()) {
            const json& c0 = (*cs)[0];
            if (c0.is_object()) {
              reason = str_or(c0, "code");
              std::string display = str_or(c0, "display");
              if (!display.empty()) reason += (reason.empty() ? "" : " ") + display;
            }
          }
        }
        d->set_reason(reason);
      }
    }
    if (x.failed()) return r;
    events.emplace_back(2, std::move(ev));
  } else if (*status == "cancelled" || *status == "entered-in-error") {
    // When: meta.lastUpdated (when the sender changed it), else the stay's start.
    std::optional<Instant> at;
    if (const json* meta = object(x, enc, "meta", path))
      at = when_at(x, *meta, "lastUpdated", path + ".meta");
    if (!at && period) at = when_at(x, *period, "start", pp);
    if (x.failed()) return r;
    if (!at) {
      x.error(422, "required", path + ".meta.lastUpdated",
              path + ": meta.lastUpdated or period.start is required to date the cancellation");
      return r;
    }
    v1::Event ev;
    ev.set_event_id(r.episode_id + "/cancelled");
    *ev.mutable_occurred_at() = to_proto(*at);
    ev.mutable_admission_cancelled();
    events.emplace_back(2, std::move(ev));
  } else if (!active) {
    x.info(path + ".status", "status " + *status + ": not admitted yet, nothing for samordna");
  }
  std::stable_sort(events.begin(), events.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first && (a.first == 0 || b.first == 0)) return a.first < b.first;
    auto ta = a.second.occurred_at().seconds(), tb = b.second.occurred_at().seconds();
    if (ta != tb) return ta < tb;
    return a.first < b.first;
  });
  for (auto& [rank, ev] : events) {
    ev.set_episode_id(r.episode_id);
    ev.set_source(source);
    r.events.push_back(std::move(ev));
  }
  return r;
}

std::optional<json> parse_json(Mapped& out, std::string_view body, const SenderConfig& c) {
  if (body.size() > c.max_resource_bytes) {
    out.status = 413;
    out.issues.push_back(
        {Severity::kError, "too-long",
         "the resource is larger than " + std::to_string(c.max_resource_bytes) + " bytes", ""});
    return std::nullopt;
  }
  try {
    return json::parse(body.begin(), body.end());
  } catch (const json::parse_error& e) {
    // e.what() may quote the input: only the position is kept.
    out.status = 400;
    out.issues.push_back({Severity::kError, "structure",
                          "the body is not JSON (byte " + std::to_string(e.byte) + ")", ""});
    return std::nullopt;
  } catch (const json::exception&) {
    // A number out of range (1e999) and the like: found by fuzz_fhir.
    out.status = 400;
    out.issues.push_back(
        {Severity::kError, "structure", "the body holds a JSON value out of range", ""});
    return std::nullopt;
  }
}

void finish(Mapped& out, Ctx& x, EncounterResult r) {
  r.status = x.status;
  r.issues = std::move(x.issues);
  if (r.status >= 300) r.events.clear();
  out.encounters.push_back(std::move(r));
}

}  // namespace

static Mapped map_encounter_impl(std::string_view body, const SenderConfig& config,
                                 std::string_view url_id, const Known& known) {
  Mapped out;
  auto doc = parse_json(out, body, config);
  if (!doc) return out;
  Ctx x{config, known, {}, 200};
  EncounterResult r = map_one(x, *doc, "Encounter", url_id, Patients{});
  out.status = x.status;
  finish(out, x, std::move(r));
  return out;
}

static Mapped map_bundle_impl(std::string_view body, const SenderConfig& config,
                              const Known& known) {
  Mapped out;
  auto doc = parse_json(out, body, config);
  if (!doc) return out;
  Ctx top{config, known, {}, 200};
  auto bad = [&](int st, std::string code, std::string path, std::string msg) {
    out.status = st;
    out.issues.push_back({Severity::kError, std::move(code), std::move(msg), std::move(path)});
    return out;
  };
  if (!doc->is_object() || doc->value("resourceType", json()) != "Bundle") {
    return bad(400, "invalid", "Bundle.resourceType", "Bundle.resourceType must be Bundle");
  }
  auto type = text(top, *doc, "type", "Bundle");
  if (type == "transaction") {
    out.kind = Mapped::Kind::kTransaction;
  } else if (type == "batch") {
    out.kind = Mapped::Kind::kBatch;
  } else {
    return bad(400, "invalid", "Bundle.type", "Bundle.type must be transaction or batch");
  }
  const json* entries = array(top, *doc, "entry", "Bundle");
  if (top.failed()) return bad(400, "structure", "Bundle.entry", "Bundle.entry must be an array");
  Patients patients;
  std::vector<std::pair<size_t, const json*>> encounters;
  for (size_t i = 0; entries && i < entries->size(); ++i) {
    const json& e = (*entries)[i];
    std::string ep = "Bundle.entry[" + std::to_string(i) + "]";
    const json* res = e.is_object() ? member(e, "resource") : nullptr;
    if (res == nullptr || !res->is_object()) {
      return bad(400, "structure", ep + ".resource", ep + ".resource must be a resource");
    }
    std::string rtype = res->value("resourceType", json("")).is_string()
                            ? res->value("resourceType", std::string())
                            : std::string();
    if (rtype == "Patient") {
      std::string rp = ep + ".resource";
      if (const json* full = member(e, "fullUrl"); full && full->is_string()) {
        patients.by_ref[full->get<std::string>()] = {res, rp};
      }
      if (const json* pid = member(*res, "id"); pid && pid->is_string()) {
        patients.by_ref["Patient/" + pid->get<std::string>()] = {res, rp};
      }
    } else if (rtype == "Encounter") {
      encounters.emplace_back(i, res);
    } else if (out.kind == Mapped::Kind::kTransaction) {
      return bad(422, "not-supported", ep + ".resource.resourceType",
                 ep + ".resource: only Encounter and Patient are taken");
    } else {
      EncounterResult r;
      r.expression = ep + ".resource";
      r.status = 422;
      r.issues.push_back({Severity::kError, "not-supported",
                          r.expression + ": only Encounter and Patient are taken",
                          r.expression + ".resourceType"});
      out.encounters.push_back(std::move(r));
    }
  }
  for (auto [i, res] : encounters) {
    const json& e = (*entries)[i];
    std::string ep = "Bundle.entry[" + std::to_string(i) + "]";
    Ctx x{config, known, {}, 200};
    std::string url_id;
    if (const json* req = member(e, "request"); req && req->is_object()) {
      std::string method =
          req->value("method", json("")).is_string() ? req->value("method", std::string()) : "";
      std::string url =
          req->value("url", json("")).is_string() ? req->value("url", std::string()) : "";
      if (method == "PUT") {
        const std::string prefix = "Encounter/";
        if (url.rfind(prefix, 0) != 0 || url.size() == prefix.size()) {
          x.error(400, "invalid", ep + ".request.url",
                  ep + ".request.url must be Encounter/<id> for PUT");
        } else {
          url_id = url.substr(prefix.size());
        }
      } else if (method != "POST") {
        x.error(400, "not-supported", ep + ".request.method",
                ep + ".request.method must be POST or PUT");
      }
    }
    EncounterResult r;
    if (!x.failed()) r = map_one(x, *res, ep + ".resource", url_id, patients);
    r.expression = ep + ".resource";
    finish(out, x, std::move(r));
  }
  if (out.kind == Mapped::Kind::kTransaction) {
    for (const auto& r : out.encounters) {
      if (r.status >= 300) {
        out.status = r.status;
        for (const auto& i : r.issues) out.issues.push_back(i);
        break;
      }
    }
  }
  return out;
}

static Mapped map_any_impl(std::string_view body, const SenderConfig& config, const Known& known) {
  Mapped probe;
  auto doc = parse_json(probe, body, config);
  if (!doc) return probe;
  if (doc->is_object() && doc->value("resourceType", json()) == "Bundle") {
    return map_bundle_impl(body, config, known);
  }
  return map_encounter_impl(body, config, {}, known);
}

// A backstop: the mapping reads JSON through typed checks, but a JSON library exception must
// never leave this module (docs/errors.md). Answered 400 without its text (it may quote input).
template <class F>
static Mapped guarded(F&& f) {
  try {
    return f();
  } catch (const std::exception&) {
    Mapped out;
    out.status = 400;
    out.issues.push_back({Severity::kError, "structure", "the resource could not be read", ""});
    return out;
  }
}

Mapped map_encounter(std::string_view body, const SenderConfig& config, std::string_view url_id,
                     const Known& known) {
  return guarded([&] { return map_encounter_impl(body, config, url_id, known); });
}
Mapped map_bundle(std::string_view body, const SenderConfig& config, const Known& known) {
  return guarded([&] { return map_bundle_impl(body, config, known); });
}
Mapped map_any(std::string_view body, const SenderConfig& config, const Known& known) {
  return guarded([&] { return map_any_impl(body, config, known); });
}

std::optional<std::string> meta_source(std::string_view body) {
  // The mapping reads the body again, with its own errors: here a body that cannot be read
  // simply names no source (and gets the defaults' answer).
  auto doc = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  auto it = doc.find("meta");
  if (it == doc.end() || !it->is_object()) return std::nullopt;
  auto src = it->find("source");
  if (src == it->end() || !src->is_string()) return std::nullopt;
  return src->get<std::string>();
}

}  // namespace samordna::fhir
