#include "connectors/hl7/adt_mapping.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>

#include "engine/core/personal_id.h"
#include "engine/core/time.h"

namespace samordna::hl7 {
namespace {

namespace v1 = samordna::v1;

bool contains(const std::vector<std::string>& set, const std::string& value) {
  return std::find(set.begin(), set.end(), value) != set.end();
}

bool all_digits(std::string_view s, std::size_t n) {
  return s.size() == n &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Mapped answer(AckCode code, ErrorCode error, std::string text,
              std::optional<ErrorLocation> where = std::nullopt) {
  return Mapped{Outcome{code, error, std::move(text), std::move(where)}, {}};
}

// Taken, nothing for the engine: the reason goes back as an informational ERR (v2.5+) or MSA-3.
Mapped nothing(std::string text) {
  return answer(AckCode::kAccept, ErrorCode::kNone, std::move(text));
}

// A content error the sender must fix (AE, table 0357 code, where).
Mapped content_error(ErrorCode error, std::string text, const char* segment, int field) {
  return answer(AckCode::kError, error, std::move(text), ErrorLocation{segment, 1, field});
}

struct Context {
  const Message& m;
  const SenderConfig& c;
  std::string trigger;
  std::string episode_id;
  std::string source;
  std::string control_id;
};

// The first timestamp present among `candidates` (segment, field), parsed.
struct TimeSource {
  const char* segment;
  int field;
};

Result<std::optional<std::chrono::sys_seconds>> first_time(const Context& x,
                                                           std::initializer_list<TimeSource> list,
                                                           TimeSource& used) {
  for (const auto& ts : list) {
    std::string v = x.m.get(ts.segment, static_cast<std::size_t>(ts.field), 0, 1);
    if (v.empty()) continue;
    used = ts;
    SAMORDNA_TRY(t, parse_timestamp(v, x.c.time_zone));
    return std::optional<std::chrono::sys_seconds>(t);
  }
  return std::optional<std::chrono::sys_seconds>();
}

// occurred_at from the trigger-specific list, recorded_at from EVN-2 (Recorded Date/Time) or MSH-7.
std::optional<Mapped> stamp(const Context& x, std::initializer_list<TimeSource> occurred,
                            v1::Event& e) {
  TimeSource used{"MSH", 7};
  auto at = first_time(x, occurred, used);
  if (!at) {
    return content_error(ErrorCode::kDataType,
                         std::string(used.segment) + "-" + std::to_string(used.field) +
                             ": not an HL7 timestamp (" + at.error().message + ")",
                         used.segment, used.field);
  }
  if (!at.value()) {
    return content_error(ErrorCode::kRequiredFieldMissing, "no event time (EVN-6, EVN-2 or MSH-7)",
                         "MSH", 7);
  }
  *e.mutable_occurred_at() = to_proto(*at.value());
  TimeSource rec_used{"MSH", 7};
  auto rec = first_time(x, {{"EVN", 2}, {"MSH", 7}}, rec_used);
  // A recorded time before the event time would be refused by the engine; it is optional.
  if (rec && rec.value() && *rec.value() >= *at.value()) {
    *e.mutable_recorded_at() = to_proto(*rec.value());
  }
  return std::nullopt;
}

v1::Event base(const Context& x, std::size_t index) {
  v1::Event e;
  // Deterministic from the control id: a resent message makes the same ids, the engine drops it.
  e.set_event_id(x.control_id + "#" + std::to_string(index));
  e.set_episode_id(x.episode_id);
  e.set_source(x.source);
  return e;
}

std::string join(std::initializer_list<std::string> parts, const char* sep) {
  std::string out;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

// PID-5 (XPN): given name(s) then family name; PID-11 (XAD): street, postal code and city.
std::string name_of(const Message& m, const Segment& pid) {
  return join({m.get(pid, 5, 0, 2), m.get(pid, 5, 0, 3), m.get(pid, 5, 0, 1)}, " ");
}
std::string address_of(const Message& m, const Segment& pid) {
  return join({m.get(pid, 11, 0, 1), join({m.get(pid, 11, 0, 5), m.get(pid, 11, 0, 3)}, " ")},
              ", ");
}

// Admitted from PID and PV1 (A01; A04/A06 when inpatient).
Mapped admitted(const Context& x, const PreviousEstimate& previous) {
  const Message& m = x.m;
  const Segment* pid = m.find("PID");
  if (pid == nullptr)
    return content_error(ErrorCode::kSegmentSequence, "PID segment missing", "PID", 0);

  v1::Event e = base(x, 1);
  if (auto bad = stamp(x, {{"EVN", 6}, {"PV1", 44}, {"EVN", 2}, {"MSH", 7}}, e)) return *bad;
  auto* a = e.mutable_admitted();
  auto* p = a->mutable_patient();

  // PID-3: the first repetition with a value whose assigning authority (CX-4, namespace or
  // universal id) is the personnummer or samordningsnummer system; failing that, a reserve number
  // system. None: no personalId, the engine flags the patient NO_PERSONAL_ID.
  auto find_id = [&](auto&& kind_of) {
    for (std::size_t r = 0; r < m.repetitions(*pid, 3); ++r) {
      std::string value = m.get(*pid, 3, r, 1);
      if (value.empty()) continue;
      for (std::size_t sub : {1U, 2U}) {
        std::string system = m.get(*pid, 3, r, 4, sub);
        if (!system.empty() && kind_of(system)) {
          value.erase(std::remove(value.begin(), value.end(), '-'), value.end());
          return value;
        }
      }
    }
    return std::string();
  };
  std::optional<PersonalIdKind> expected;
  std::string id = find_id([&](const std::string& system) {
    if (system == x.c.personnummer_oid) expected = PersonalIdKind::kPersonnummer;
    if (system == x.c.samordningsnummer_oid) expected = PersonalIdKind::kSamordningsnummer;
    return expected.has_value();
  });
  if (expected) {
    auto kind = validate_personal_id(id);
    if (!kind)
      return content_error(ErrorCode::kDataType, "PID-3: " + kind.error().message, "PID", 3);
    if (kind.value() != *expected) {
      return content_error(ErrorCode::kDataType,
                           "PID-3: the number's kind does not match its identifier system", "PID",
                           3);
    }
    p->set_personal_id(id);
  } else if (std::string reserve = find_id([&](const std::string& system) {
               return contains(x.c.reserve_number_systems, system);
             });
             !reserve.empty()) {
    // The engine's rule for a reserve number: 1 to 20 ASCII letters and digits.
    bool ok =
        reserve.size() <= 20 && std::all_of(reserve.begin(), reserve.end(), [](char ch) {
          return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
        });
    if (!ok) {
      return content_error(ErrorCode::kDataType,
                           "PID-3: a reserve number is 1 to 20 letters and digits", "PID", 3);
    }
    p->set_personal_id(reserve);
    p->set_personal_id_kind(v1::Patient::RESERVE_NUMBER);
  }
  p->set_name(name_of(m, *pid));
  p->set_address(address_of(m, *pid));
  std::string municipality = m.get(*pid, 11, 0, x.c.municipality_component);
  if (!all_digits(municipality, 4)) {
    return content_error(ErrorCode::kRequiredFieldMissing,
                         "PID-11." + std::to_string(x.c.municipality_component) +
                             ": the home municipality's 4-digit kommunkod is required",
                         "PID", 11);
  }
  p->set_home_municipality(municipality);

  std::string unit = m.get("PV1", 3, 0, 1);
  if (unit.empty()) {
    return content_error(ErrorCode::kRequiredFieldMissing,
                         "PV1-3.1: the ward (point of care) is required", "PV1", 3);
  }
  a->set_care_unit(unit);
  a->set_region(x.c.region.empty() ? municipality.substr(0, 2) : x.c.region);
  a->set_care_type(contains(x.c.psychiatric_services, m.get("PV1", 10)) ? v1::PSYCHIATRIC
                                                                        : v1::SOMATIC);
  Mapped out;
  out.events.push_back(std::move(e));

  // An estimate already on the admission (PV2-9) travels as its own event after it.
  std::string estimate = m.get("PV2", 9);
  if (!estimate.empty()) {
    auto at = parse_timestamp(estimate, x.c.time_zone);
    if (!at) return content_error(ErrorCode::kDataType, "PV2-9: not an HL7 timestamp", "PV2", 9);
    if (!previous || previous(x.episode_id) != at.value()) {
      v1::Event c = base(x, 2);
      *c.mutable_occurred_at() = out.events[0].occurred_at();
      if (out.events[0].has_recorded_at()) *c.mutable_recorded_at() = out.events[0].recorded_at();
      *c.mutable_estimated_discharge_changed()->mutable_estimated_discharge_at() =
          to_proto(at.value());
      out.events.push_back(std::move(c));
    }
  }
  return out;
}

// A08 (update patient information): a new estimate (PV2-9) makes estimatedDischargeChanged
// (`<MSH-10>#1`), a name or address (PID-5, PID-11) makes patientDataUpdated (`<MSH-10>#2`, the
// index fixed so the ids do not depend on the listener's memory); each only when it differs from
// what the listener remembers sending for the episode. The engine releases an admission notice
// held for want of a name or address when this completes it (docs/domain-decisions.md).
Mapped update(const Context& x, v1::Event& e, const PreviousEstimate& previous,
              const SamePatientData& same_patient) {
  const Message& m = x.m;
  Mapped out;
  std::string estimate = m.get("PV2", 9);
  std::optional<std::chrono::sys_seconds> new_estimate;
  if (!estimate.empty()) {
    auto at = parse_timestamp(estimate, x.c.time_zone);
    if (!at) return content_error(ErrorCode::kDataType, "PV2-9: not an HL7 timestamp", "PV2", 9);
    if (!previous || previous(x.episode_id) != at.value()) new_estimate = at.value();
  }
  // Patient data only for an inpatient stay (PV1-2, as for the admission): a PAS sends A08 for
  // every visit, and the outpatient ones have no episode to complete.
  std::string name, address;
  const Segment* pid = contains(x.c.inpatient_classes, m.get("PV1", 2)) ? m.find("PID") : nullptr;
  if (pid != nullptr) {
    name = name_of(m, *pid);
    address = address_of(m, *pid);
  }
  const bool patient_data = !name.empty() || !address.empty();
  const bool new_patient_data =
      patient_data && (!same_patient || !same_patient(x.episode_id, name, address));
  if (!new_estimate && !new_patient_data) {
    if (estimate.empty() && !patient_data) {
      return nothing("A08 without PV2-9 (estimated discharge) or patient data; no event");
    }
    return nothing("A08: PV2-9 and patient data unchanged; no event");
  }
  if (auto bad = stamp(x, {{"EVN", 6}, {"EVN", 2}, {"MSH", 7}}, e)) return *bad;
  if (new_estimate) {
    v1::Event c = e;
    *c.mutable_estimated_discharge_changed()->mutable_estimated_discharge_at() =
        to_proto(*new_estimate);
    out.events.push_back(std::move(c));
  }
  if (new_patient_data) {
    v1::Event p = e;
    p.set_event_id(x.control_id + "#2");
    auto* u = p.mutable_patient_data_updated();
    u->set_name(name);
    u->set_address(address);
    out.events.push_back(std::move(p));
  }
  return out;
}

// A message type or trigger as an answer may name it: three letters or digits, as the standard's
// codes are. Anything else is not quoted (a sender's mistake may put any value there).
std::string code_or(const std::string& v, const char* otherwise) {
  bool code = v.size() == 3 && std::all_of(v.begin(), v.end(), [](char ch) {
                return (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
              });
  return code ? v : otherwise;
}

bool yes_no(const std::string& v, bool& out) {
  if (v != "Y" && v != "N") return false;
  out = v == "Y";
  return true;
}

// ZSM^Z01..Z08: the law's own steps (README, "The law's own steps over HL7 v2"), one event each.
Mapped steps(const Context& x) {
  const Message& m = x.m;
  const Segment* z = m.find("ZSM");
  const std::string& t = x.trigger;
  auto zsm = [&](std::size_t field, std::size_t rep = 0) {
    return z == nullptr ? std::string() : m.get(*z, field, rep);
  };
  auto missing = [&](int field, const std::string& what) {
    return content_error(ErrorCode::kRequiredFieldMissing,
                         "ZSM-" + std::to_string(field) + ": " + what + " is required", "ZSM",
                         field);
  };
  auto bad_value = [&](int field, const std::string& what) {
    return content_error(ErrorCode::kTableValueNotFound,
                         "ZSM-" + std::to_string(field) + ": " + what, "ZSM", field);
  };
  v1::Event e = base(x, 1);
  if (auto bad = stamp(x, {{"EVN", 6}, {"EVN", 2}, {"MSH", 7}}, e)) return *bad;
  if (t == "Z01") {  // needs assessed (2 kap. 3 §)
    auto* n = e.mutable_needs_assessed();
    std::size_t reps = z == nullptr ? 0 : m.repetitions(*z, 1);
    for (std::size_t r = 0; r < reps; ++r) {
      v1::Service s{};
      if (!v1::Service_Parse(zsm(1, r), &s) || s == v1::SERVICE_UNSPECIFIED) {
        return bad_value(1, "not SOCIAL_SERVICES, MUNICIPAL_HEALTH_CARE or OUTPATIENT_CARE");
      }
      n->add_needs(s);
    }
    n->set_outpatient_unit(zsm(2));
    if (std::string at = zsm(3); !at.empty()) {
      auto when = parse_timestamp(at, x.c.time_zone);
      if (!when)
        return content_error(ErrorCode::kDataType, "ZSM-3: not an HL7 timestamp", "ZSM", 3);
      *n->mutable_estimated_discharge_at() = to_proto(when.value());
    }
  } else if (t == "Z02") {  // consent (3 kap. 1-2 §§, 4 kap. 1 §)
    v1::ConsentRecorded::Scope scope{};
    if (!v1::ConsentRecorded::Scope_Parse(zsm(1), &scope) ||
        scope == v1::ConsentRecorded::SCOPE_UNSPECIFIED) {
      return zsm(1).empty() ? missing(1, "the scope")
                            : bad_value(1, "not INFORMATION_SHARING or SIP");
    }
    bool granted = false;
    if (!yes_no(zsm(2), granted)) return missing(2, "Y or N");
    e.mutable_consent_recorded()->set_scope(scope);
    e.mutable_consent_recorded()->set_granted(granted);
  } else if (t == "Z03") {  // discharge-ready (3 kap. 1 §)
    e.mutable_discharge_ready();
  } else if (t == "Z04") {
    e.mutable_discharge_ready_revoked();
  } else if (t == "Z05") {  // care contact appointed (2 kap. 5 §)
    if (zsm(1).empty()) return missing(1, "the outpatient unit");
    e.mutable_care_contact_appointed()->set_unit(zsm(1));
  } else if (t == "Z06") {  // information transferred (3 kap. 2 §)
    e.mutable_information_transferred();
  } else if (t == "Z07") {  // SIP invitation sent (4 kap. 1 §)
    e.mutable_sip_invitation_sent();
  } else if (t == "Z08") {  // outpatient services unavailable (5 kap. 5 §)
    bool unavailable = false;
    if (!yes_no(zsm(1), unavailable)) return missing(1, "Y or N");
    e.mutable_outpatient_services_unavailable()->set_unavailable(unavailable);
  } else {
    return answer(AckCode::kReject, ErrorCode::kUnsupportedEventCode, "ZSM triggers are Z01 to Z08",
                  ErrorLocation{"MSH", 1, 9});
  }
  Mapped out;
  out.events.push_back(std::move(e));
  return out;
}

}  // namespace

Result<std::chrono::sys_seconds> parse_timestamp(std::string_view text, const std::string& zone) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits < 8 || digits > 14 || digits % 2 != 0) {
    return fail(Errc::kInvalidArgument, "expected YYYYMMDD[HH[MM[SS]]]");
  }
  auto num = [&](std::size_t pos, std::size_t len) {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) v = v * 10 + (text[i] - '0');
    return v;
  };
  std::size_t i = digits;
  if (i < text.size() && text[i] == '.') {
    ++i;
    std::size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == start || digits != 14) return fail(Errc::kInvalidArgument, "malformed fraction");
  }
  std::optional<int> offset_minutes;
  if (i < text.size()) {
    if ((text[i] != '+' && text[i] != '-') || text.size() - i != 5 ||
        !all_digits(text.substr(i + 1), 4)) {
      return fail(Errc::kInvalidArgument, "malformed time zone offset");
    }
    int hhmm = num(i + 1, 4);
    offset_minutes = (hhmm / 100 * 60 + hhmm % 100) * (text[i] == '-' ? -1 : 1);
  }
  date::year_month_day ymd{date::year{num(0, 4)}, date::month{static_cast<unsigned>(num(4, 2))},
                           date::day{static_cast<unsigned>(num(6, 2))}};
  if (!ymd.ok()) return fail(Errc::kInvalidArgument, "no such date");
  int hh = digits >= 10 ? num(8, 2) : 0, mm = digits >= 12 ? num(10, 2) : 0,
      ss = digits >= 14 ? num(12, 2) : 0;
  if (hh > 23 || mm > 59 || ss > 59) return fail(Errc::kInvalidArgument, "no such time of day");
  auto local = date::local_days{ymd} + std::chrono::hours{hh} + std::chrono::minutes{mm} +
               std::chrono::seconds{ss};
  if (offset_minutes) {
    return std::chrono::sys_seconds{local.time_since_epoch()} -
           std::chrono::minutes{*offset_minutes};
  }
  const date::time_zone* tz = nullptr;
  try {
    tz = date::locate_zone(zone);
  } catch (const std::exception&) {
    return fail(Errc::kInvalidArgument, "unknown time zone in the sender's configuration");
  }
  // A local time skipped or repeated by a daylight-saving change: the earlier instant.
  return date::floor<std::chrono::seconds>(tz->to_sys(local, date::choose::earliest));
}

Mapped map_adt(const Message& m, const SenderConfig& c, const PreviousEstimate& previous,
               const SamePatientData& same_patient) {
  const Segment& msh = m.segments().front();
  std::string type = m.get(msh, 9, 0, 1);
  const bool zsm = type == "ZSM";
  if (type != "ADT" && !zsm) {
    return answer(
        AckCode::kReject, ErrorCode::kUnsupportedMessageType,
        "MSH-9: message type " + code_or(type, "(not a code)") + " is not taken (ADT and ZSM only)",
        ErrorLocation{"MSH", 1, 9});
  }
  std::string version = m.get(msh, 12);
  if (version.size() < 3 || version.substr(0, 2) != "2.") {
    return answer(AckCode::kReject, ErrorCode::kUnsupportedVersionId,
                  "MSH-12: HL7 v2.x versions only", ErrorLocation{"MSH", 1, 12});
  }
  if (!contains(c.processing_ids, m.get(msh, 11))) {
    return answer(AckCode::kReject, ErrorCode::kUnsupportedProcessingId,
                  "MSH-11: processing id not taken from this sender", ErrorLocation{"MSH", 1, 11});
  }
  Context x{m, c, m.get(msh, 9, 0, 2), {}, {}, m.get(msh, 10)};
  if (x.trigger.empty()) x.trigger = m.get("EVN", 1);  // v2.2 senders may name it in EVN-1 only
  if (x.control_id.empty()) {
    return answer(AckCode::kReject, ErrorCode::kRequiredFieldMissing,
                  "MSH-10: the message control id is required", ErrorLocation{"MSH", 1, 10});
  }
  const std::string& t = x.trigger;

  // Triggers that make no event: the answer says why (README, "The ADT mapping").
  if (zsm) {
    // The law's own steps: mapped once the episode is known.
  } else if (t == "A40") {
    return answer(AckCode::kReject, ErrorCode::kUnsupportedEventCode,
                  "A40 (merge patient): episodes are not merged; correct by hand",
                  ErrorLocation{"MSH", 1, 9});
  } else if (t == "A21" || t == "A22") {
    return nothing(code_or(t, "A2x") + " (leave of absence): the stay goes on; no event");
  } else if (t != "A01" && t != "A02" && t != "A03" && t != "A04" && t != "A06" && t != "A08" &&
             t != "A11" && t != "A13") {
    return nothing(code_or(t, "the trigger") + " is not used by samordna; no event");
  }

  const Segment* pv1 = m.find("PV1");
  if (pv1 == nullptr) {
    return content_error(ErrorCode::kSegmentSequence, "PV1 segment missing", "PV1", 0);
  }
  const std::string inpatient_class = m.get(*pv1, 2);
  if ((t == "A01" || t == "A04" || t == "A06") && !contains(c.inpatient_classes, inpatient_class)) {
    return nothing(t + ": PV1-2 patient class is not inpatient for this sender; no event");
  }
  std::string visit = m.get(*pv1, 19, 0, 1);
  if (visit.empty()) {
    return content_error(ErrorCode::kRequiredFieldMissing, "PV1-19: the visit number is required",
                         "PV1", 19);
  }
  std::string facility = m.get(msh, 4, 0, 1);
  std::string application = m.get(msh, 3, 0, 1);
  x.episode_id = (c.episode_prefix.empty() ? (facility.empty() ? application : facility) + ":"
                                           : c.episode_prefix) +
                 visit;
  x.source = "hl7:" + application + "^" + facility;
  if (zsm) return steps(x);

  if (t == "A01" || t == "A04" || t == "A06") return admitted(x, previous);

  v1::Event e = base(x, 1);
  if (t == "A03") {
    if (auto bad = stamp(x, {{"EVN", 6}, {"PV1", 45}, {"EVN", 2}, {"MSH", 7}}, e)) return *bad;
    e.mutable_discharged()->set_reason(m.get(*pv1, 36));  // discharge disposition, table 0112
  } else if (t == "A11") {
    if (auto bad = stamp(x, {{"EVN", 6}, {"EVN", 2}, {"MSH", 7}}, e)) return *bad;
    e.mutable_admission_cancelled();
  } else if (t == "A13") {  // cancel discharge: the same episode (PV1-19) as its A03
    if (auto bad = stamp(x, {{"EVN", 6}, {"EVN", 2}, {"MSH", 7}}, e)) return *bad;
    e.mutable_discharge_cancelled();
  } else if (t == "A02") {  // transfer: PV1-3 is the new assigned location (the new ward)
    // Outpatient and emergency visits are transferred too; only an inpatient stay is an episode.
    if (!contains(c.inpatient_classes, m.get(*pv1, 2))) {
      return nothing("A02: PV1-2 patient class is not inpatient for this sender; no event");
    }
    std::string unit = m.get(*pv1, 3, 0, 1);
    if (unit.empty()) {
      return content_error(ErrorCode::kRequiredFieldMissing,
                           "PV1-3.1: the new ward (point of care) is required", "PV1", 3);
    }
    if (auto bad = stamp(x, {{"EVN", 6}, {"EVN", 2}, {"MSH", 7}}, e)) return *bad;
    e.mutable_ward_changed()->set_care_unit(unit);
  } else {  // A08
    return update(x, e, previous, same_patient);
  }
  Mapped out;
  out.events.push_back(std::move(e));
  return out;
}

Processed process(std::string_view bytes, const SenderConfig& config,
                  const PreviousEstimate& previous, const SamePatientData& same_patient) {
  auto m = parse(bytes, config.parse);
  if (!m) {
    // The reject still echoes MSH (above all MSH-10, which the sender matches the ACK by) when the
    // MSH segment alone reads: the fault is further in.
    Original original = unknown_original();
    if (bytes.size() <= config.parse.max_message_bytes) {
      if (auto msh = parse(bytes.substr(0, bytes.find_first_of("\r\n")), config.parse)) {
        original = original_of(msh.value());
      }
    }
    return Processed{std::move(original),
                     answer(AckCode::kReject, ErrorCode::kSegmentSequence, m.error().message)};
  }
  return Processed{original_of(m.value()), map_adt(m.value(), config, previous, same_patient)};
}

}  // namespace samordna::hl7
