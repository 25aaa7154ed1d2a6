#include "engine/state/episode_machine.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/core/check.h"
#include "engine/core/personal_id.h"
#include "engine/core/wire.h"
#include "engine/state/addressees.h"
#include "engine/state/event_digest.h"
#include "rules/deadlines.h"
#include "rules/liability.h"

namespace samordna::state {
namespace {

using storage::v1::DeadlineRecord;
using storage::v1::EpisodeState;
using v1::DeadlineKind;
using v1::Notification;
using v1::Party;
using v1::Recipient;
using v1::Service;

constexpr size_t kMaxIdLength = 256;  // ids go into every store key, notification id and Kafka key
// The longest notification id (docs/domain-decisions.md, "Notification ids"): the episode id, '/',
// the cause, '/', the notification's number in its step. An event's cause is at its longest
// "s/<source, each byte percent-encoded at worst>/e/<eventId>"; a timer's,
// "t/remind/<deadline kind>/<unix seconds>", is shorter.
constexpr size_t kMaxCauseLength = 2 + 3 * kMaxIdLength + 3 + kMaxIdLength;
constexpr size_t kMaxNotificationIdLength = kMaxIdLength + 1 + kMaxCauseLength + 1 + 20;
// Clock skew tolerated between a source system and the engine before an event counts as future.
constexpr std::chrono::minutes kFutureTolerance{15};

Rejection reject(Rejection::Code code, std::string reason) { return {code, std::move(reason)}; }

// The part of a notification id that names the event behind it (docs/domain-decisions.md,
// "Notification ids"): "e/<eventId>" for the default source, as before sources existed, and
// "s/<source>/e/<eventId>" otherwise, with '%' and '/' in the source percent-encoded so that the
// source ends at the first '/' and two sources reusing an event id never share a notification id.
std::string event_cause(const v1::Event& e) {
  if (e.source().empty()) return "e/" + e.event_id();
  std::string cause = "s/";
  for (char c : e.source()) {
    if (c == '%') {
      cause += "%25";
    } else if (c == '/') {
      cause += "%2F";
    } else {
      cause += c;
    }
  }
  return cause + "/e/" + e.event_id();
}

// Checks of the fields added to the contract after validate_event was written (Event.source,
// noticeAcknowledged): a no-op for every event without them.
std::optional<Rejection> validate_additions(const v1::Event& e) {
  if (e.source().size() > kMaxIdLength) {
    return reject(Rejection::Code::kMalformed, "source is limited to 256 bytes");
  }
  if (e.payload_case() == v1::Event::kNoticeAcknowledged) {
    const auto& ack = e.notice_acknowledged();
    if (ack.notification_id().empty()) {
      return reject(Rejection::Code::kMalformed, "noticeAcknowledged.notificationId is required");
    }
    if (ack.by().kind() == v1::Organisation::KIND_UNSPECIFIED ||
        !v1::Organisation::Kind_IsValid(ack.by().kind()) || ack.by().id().empty()) {
      return reject(Rejection::Code::kMalformed,
                    "noticeAcknowledged.by needs a kind (MUNICIPALITY, OUTPATIENT_UNIT, WARD, "
                    "REGION) and an id");
    }
    // Ids are checked for length only: the reason never quotes them (the person is personal
    // data, and a malformed notification id may hold anything).
    if (ack.by().id().size() > kMaxIdLength || ack.person().size() > kMaxIdLength) {
      return reject(Rejection::Code::kMalformed, "noticeAcknowledged: by.id or person is too long");
    }
  }
  return std::nullopt;
}

int applied_events(const EpisodeState& st) { return st.seen_keys_size() + st.seen_size(); }

// Records an applied event for duplicate detection, moving the string form of records written
// before seen_keys into the compact one on the way.
void remember(EpisodeState& st, uint64_t key, uint64_t digest) {
  for (const auto& old : st.seen()) {
    st.add_seen_keys(event_key(old.source(), old.event_id()));
    st.add_seen_digests(old.digest());
  }
  st.clear_seen();
  st.add_seen_keys(key);
  st.add_seen_digests(digest);
}

bool all_digits(std::string_view s, size_t n) {
  return s.size() == n &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool has(const google::protobuf::RepeatedField<int>& needs, Service s) {
  return std::find(needs.begin(), needs.end(), s) != needs.end();
}

const char* deadline_name(DeadlineKind kind) { return v1::DeadlineKind_Name(kind).c_str(); }

// Whether two liabilities are the same: equal deterministic serializations are equal messages and
// the reverse, since PaymentLiability has no floating-point or map field (a unit test keeps it so).
// MessageDifferencer, by reflection, was 2 to 3 % of a replay (issue 14).
bool same_bytes(const v1::PaymentLiability& a, const v1::PaymentLiability& b) {
  thread_local std::string x, y;
  x.clear();
  y.clear();
  return a.AppendPartialToString(&x) && b.AppendPartialToString(&y) && x == y;
}

// The state a step starts from: the caller's own, moved, when it gave it up (apply_event and
// fire_timer on an rvalue), else a copy. One function says which happens; a conditional
// expression of the two is a const prvalue, which clang-tidy reads as a move that copies.
EpisodeState taken(EpisodeState* owned, const EpisodeState& state) {
  if (owned != nullptr) return std::move(*owned);
  return state;
}

// One step in progress: the state being built and the notifications issued, with ids derived from
// the cause so that replaying the same input yields the same ids.
class Step {
 public:
  Step(EpisodeState state, const rules::RuleBook& book, Instant now, std::string cause)
      : st_(std::move(state)), book_(book), now_(now), cause_(std::move(cause)) {}

  EpisodeState& st() { return st_; }
  Instant now() const { return now_; }
  const rules::RuleSet& rule_set() const {
    const rules::RuleSet* set = rules_for(st_, book_);
    SAMORDNA_CHECK(set != nullptr, "an admitted episode always has a rule set");
    return *set;
  }

  Transition finish() && {
    for (auto& n : out_) set_addressees(n, st_);
    st_.set_updated_at(to_unix(now_));
    Transition t;
    t.outcome = Transition::Outcome::kApplied;
    t.next = std::move(st_);
    t.notifications = std::move(out_);
    return t;
  }

  // --- parties and recipients ----------------------------------------------------------------

  Party ward() const {
    Party p;
    p.set_role(Party::INPATIENT_CARE);
    p.set_unit(st_.admission().care_unit());
    return p;
  }
  Party outpatient() const {
    Party p;
    p.set_role(Party::OUTPATIENT_CARE);
    p.set_unit(st_.care_contact_unit().empty() ? st_.outpatient_unit() : st_.care_contact_unit());
    return p;
  }

  // The units concerned (berörda enheter), in a fixed order: municipal services of the home
  // municipality for municipal needs; the outpatient unit for outpatient care, and also whenever
  // municipal health care is needed (2 kap. 1 § second paragraph).
  std::vector<Recipient> recipients() const {
    std::vector<Recipient> out;
    const auto& needs = st_.needs();
    const std::string& municipality = st_.admission().patient().home_municipality();
    auto add = [&](Service s, const std::string& unit) {
      Recipient r;
      r.set_service(s);
      r.set_unit(unit);
      out.push_back(std::move(r));
    };
    if (has(needs, v1::SOCIAL_SERVICES)) add(v1::SOCIAL_SERVICES, municipality);
    if (has(needs, v1::MUNICIPAL_HEALTH_CARE)) add(v1::MUNICIPAL_HEALTH_CARE, municipality);
    if (has(needs, v1::OUTPATIENT_CARE) || has(needs, v1::MUNICIPAL_HEALTH_CARE)) {
      add(v1::OUTPATIENT_CARE, st_.outpatient_unit());
    }
    return out;
  }

  bool notified(const Recipient& r) const {
    return std::any_of(st_.notified().begin(), st_.notified().end(), [&](const Recipient& n) {
      return n.service() == r.service() && n.unit() == r.unit();
    });
  }

  bool municipal_need() const {
    return has(st_.needs(), v1::SOCIAL_SERVICES) || has(st_.needs(), v1::MUNICIPAL_HEALTH_CARE);
  }
  // Municipal health care counts as both: outpatient care must take part (4 kap. 1 §).
  bool regional_need() const {
    return has(st_.needs(), v1::OUTPATIENT_CARE) || has(st_.needs(), v1::MUNICIPAL_HEALTH_CARE);
  }
  bool sip_required() const {
    return municipal_need() && regional_need() &&
           st_.sip_consent() != storage::v1::CONSENT_DECLINED;
  }
  // A care contact is required when an outpatient unit received an admission notice (2 kap. 5 §).
  bool care_contact_required() const {
    return std::any_of(st_.notified().begin(), st_.notified().end(),
                       [](const Recipient& r) { return r.service() == v1::OUTPATIENT_CARE; });
  }

  // --- notifications -------------------------------------------------------------------------

  Notification& emit() {
    Notification& n = out_.emplace_back();
    n.set_notification_id(st_.episode_id() + "/" + cause_ + "/" + std::to_string(out_.size()));
    n.set_episode_id(st_.episode_id());
    *n.mutable_issued_at() = to_proto(now_);
    return n;
  }

  void fill_alert(v1::DeadlineAlert& a, const DeadlineRecord& d) {
    a.set_deadline(d.kind());
    *a.mutable_due_at() = to_proto(from_unix(d.due_at()));
    a.set_due_local(rules::format_local(from_unix(d.due_at())));
    *a.mutable_responsible() = d.responsible();
    if (d.has_fulfilled_at()) *a.mutable_fulfilled_at() = to_proto(from_unix(d.fulfilled_at()));
  }

  void emit_missed(DeadlineRecord& d) {
    d.set_status(DeadlineRecord::MISSED);
    d.set_alerted(true);
    fill_alert(*emit().mutable_deadline_missed(), d);
  }

  Notification& emit_held(v1::NoticeHeld::Notice notice, v1::NoticeHeld::Reason reason,
                          const std::vector<std::string>& missing = {}) {
    Notification& n = emit();
    auto* h = n.mutable_notice_held();
    h->set_notice(notice);
    h->set_reason(reason);
    for (const auto& m : missing) h->add_missing_fields(m);
    *h->mutable_ward() = ward();
    return n;
  }

  void emit_warning(v1::Warning::Code code, const Party& to) {
    auto* w = emit().mutable_warning();
    w->set_code(code);
    *w->mutable_to() = to;
  }

  // --- notice records ------------------------------------------------------------------------

  storage::v1::NoticeRecord* unsent(storage::v1::NoticeRecord::Kind kind,
                                    const v1::Organisation& to) {
    for (auto& r : *st_.mutable_notices()) {
      if (r.kind() == kind && !r.has_issued_at() && organisation_equal(r.recipient(), to))
        return &r;
    }
    return nullptr;
  }

  // Remembers a notice just emitted (n), completing the held record for the same recipient if any.
  void record_notice(storage::v1::NoticeRecord::Kind kind, const Recipient& to,
                     const Notification& n) {
    const v1::Organisation org = organisation_of(to);
    storage::v1::NoticeRecord* r = unsent(kind, org);
    if (r == nullptr) {
      r = st_.add_notices();
      r->set_kind(kind);
      *r->mutable_recipient() = org;
    }
    r->set_notification_id(n.notification_id());
    r->set_issued_at(to_unix(now_));
  }

  // Remembers notices held for these recipients, told to the ward by `held` (a noticeHeld).
  void record_held(storage::v1::NoticeRecord::Kind kind, const std::vector<Recipient>& to,
                   v1::NoticeHeld::Reason reason, const Notification& held) {
    for (const auto& recipient : to) {
      const v1::Organisation org = organisation_of(recipient);
      storage::v1::NoticeRecord* r = unsent(kind, org);
      if (r == nullptr) {
        r = st_.add_notices();
        r->set_kind(kind);
        *r->mutable_recipient() = org;
      }
      r->set_held_reason(reason);
      r->set_held_at(to_unix(now_));
      r->set_held_notification_id(held.notification_id());
    }
  }

  // --- deadlines and timers ------------------------------------------------------------------

  DeadlineRecord* find(DeadlineKind kind, DeadlineRecord::Status status) {
    for (auto& d : *st_.mutable_deadlines()) {
      if (d.kind() == kind && d.status() == status) return &d;
    }
    return nullptr;
  }
  DeadlineRecord* latest(DeadlineKind kind) {
    DeadlineRecord* found = nullptr;
    for (auto& d : *st_.mutable_deadlines()) {
      if (d.kind() == kind) found = &d;
    }
    return found;
  }
  bool any_missed(DeadlineKind kind) const {
    return std::any_of(st_.deadlines().begin(), st_.deadlines().end(),
                       [&](const DeadlineRecord& d) {
                         return d.kind() == kind && d.status() == DeadlineRecord::MISSED;
                       });
  }

  void drop_timers(DeadlineKind kind) {
    auto* timers = st_.mutable_timers();
    timers->erase(
        std::remove_if(timers->begin(), timers->end(),
                       [&](const storage::v1::TimerRecord& t) { return t.deadline() == kind; }),
        timers->end());
  }

  // The timers of one deadline: there may be several pending of a kind (admission notices to
  // units named by different assessments), told apart by their due time.
  bool timer_of(const storage::v1::TimerRecord& t, const DeadlineRecord& d) const {
    if (t.deadline() != d.kind()) return false;
    if (t.kind() == storage::v1::TIMER_DEADLINE) return t.fire_at() == d.due_at() + 1;
    const auto& leads = rule_set().reminder_lead;
    const auto it = leads.find(d.kind());
    return it != leads.end() && t.fire_at() == to_unix(from_unix(d.due_at()) - it->second);
  }
  void drop_timers(const DeadlineRecord& d) {
    auto* timers = st_.mutable_timers();
    timers->erase(std::remove_if(timers->begin(), timers->end(),
                                 [&](const storage::v1::TimerRecord& t) { return timer_of(t, d); }),
                  timers->end());
  }

  void add_timer(storage::v1::TimerKind kind, DeadlineKind deadline, Instant fire_at) {
    auto* t = st_.add_timers();
    t->set_kind(kind);
    t->set_deadline(deadline);
    t->set_fire_at(to_unix(fire_at));
  }

  // Starts tracking a deadline. One already past when the engine learns of it (a late feed) gets
  // no timer: miss_overdue() settles it at the end of the step, after anything the same event
  // fulfilled.
  DeadlineRecord& open_deadline(DeadlineKind kind, Instant anchor, Instant due, Party responsible) {
    DeadlineRecord& d = *st_.add_deadlines();
    d.set_kind(kind);
    d.set_status(DeadlineRecord::PENDING);
    d.set_anchor(to_unix(anchor));
    d.set_due_at(to_unix(due));
    *d.mutable_responsible() = std::move(responsible);
    arm(d);
    return d;
  }

  // The timers of a pending deadline: none when it is already past (miss_overdue settles it).
  void arm(const DeadlineRecord& d) {
    const Instant due = from_unix(d.due_at());
    if (now_ > due) return;
    // The deadline timer fires one second after due_at: an action at due_at is still on time.
    add_timer(storage::v1::TIMER_DEADLINE, d.kind(), due + std::chrono::seconds{1});
    const auto& leads = rule_set().reminder_lead;
    if (auto it = leads.find(d.kind()); it != leads.end() && due - it->second > now_) {
      add_timer(storage::v1::TIMER_REMINDER, d.kind(), due - it->second);
    }
  }

  // A deadline met or no longer required: stop its clock.
  void close_deadline(DeadlineRecord& d, DeadlineRecord::Status status) {
    d.set_status(status);
    drop_timers(d);
  }

  void waive_pending(DeadlineKind kind) {
    if (DeadlineRecord* d = find(kind, DeadlineRecord::PENDING))
      close_deadline(*d, DeadlineRecord::WAIVED);
  }

  // An obligation fulfilled by an event that happened at `at`. Compliance is judged by event time;
  // alerts by the clock: a miss already alerted is retracted when the event shows it was on time.
  void fulfil(DeadlineKind kind, Instant at) {
    if (DeadlineRecord* d = latest(kind)) fulfil(*d, at);
  }
  void fulfil(DeadlineRecord& rec, Instant at) {
    DeadlineRecord* d = &rec;
    if (d->has_fulfilled_at()) return;
    d->set_fulfilled_at(to_unix(at));
    const bool in_time = to_unix(at) <= d->due_at();
    switch (d->status()) {
      case DeadlineRecord::PENDING:
        if (in_time) {
          close_deadline(*d, DeadlineRecord::MET);
        } else {
          drop_timers(*d);
          emit_missed(*d);
        }
        break;
      case DeadlineRecord::MISSED:
        if (in_time) {
          d->set_status(DeadlineRecord::MET);
          if (d->alerted()) fill_alert(*emit().mutable_deadline_miss_retracted(), *d);
        }
        break;
      default:
        break;
    }
  }

  // --- notices -------------------------------------------------------------------------------

  // What the admission notice must hold (2 kap. 2 §) and the episode lacks, by field name.
  std::vector<std::string> missing_admission_content() const {
    const v1::Patient& patient = st_.admission().patient();
    std::vector<std::string> missing;
    if (patient.name().empty()) missing.emplace_back("patient.name");
    if (patient.address().empty()) missing.emplace_back("patient.address");
    if (!st_.has_estimated_discharge_at()) missing.emplace_back("estimatedDischargeAt");
    return missing;
  }

  // Sends the admission notice to every concerned unit that has not had it, if the notice can
  // hold what the law requires (2 kap. 2 §); otherwise holds it and tells the ward once.
  void send_admission_notices() {
    std::vector<Recipient> pending;
    for (auto& r : recipients()) {
      if (!notified(r)) pending.push_back(std::move(r));
    }
    if (pending.empty()) return;

    const v1::Patient& patient = st_.admission().patient();
    const std::vector<std::string> missing = missing_admission_content();
    if (!missing.empty()) {
      if (!st_.admission_notice_held()) {
        st_.set_admission_notice_held(true);
        record_held(
            storage::v1::NoticeRecord::ADMISSION_NOTICE, pending, v1::NoticeHeld::MISSING_CONTENT,
            emit_held(v1::NoticeHeld::ADMISSION_NOTICE, v1::NoticeHeld::MISSING_CONTENT, missing));
      }
      return;
    }
    st_.set_admission_notice_held(false);
    for (const auto& r : pending) {
      Notification& n = emit();
      auto* notice = n.mutable_admission_notice();
      *notice->mutable_recipient() = r;
      *notice->mutable_patient() = patient;
      notice->set_care_unit(st_.admission().care_unit());
      *notice->mutable_admitted_at() = to_proto(from_unix(st_.admitted_at()));
      *notice->mutable_estimated_discharge_at() = to_proto(from_unix(st_.estimated_discharge_at()));
      for (int need : st_.needs()) notice->add_needs(static_cast<Service>(need));
      *st_.add_notified() = r;
      record_notice(storage::v1::NoticeRecord::ADMISSION_NOTICE, r, n);
    }
    // The notice counts as sent when the engine issues it: every unit still waiting has it now,
    // so each deadline still open is fulfilled, on time or not (2 kap. 3 §).
    for (auto& d : *st_.mutable_deadlines()) {
      if (d.kind() == v1::ADMISSION_NOTICE) fulfil(d, now_);
    }
  }

  // 2 kap. 4 §: every unit that had the admission notice is told of the new estimate at once.
  void send_estimated_discharge_updates() {
    const Instant at = from_unix(st_.estimated_discharge_at());
    for (const auto& r : st_.notified()) {
      Notification& n = emit();
      auto* u = n.mutable_estimated_discharge_update();
      *u->mutable_recipient() = r;
      *u->mutable_estimated_discharge_at() = to_proto(at);
      record_notice(storage::v1::NoticeRecord::ESTIMATED_DISCHARGE_UPDATE, r, n);
    }
  }

  // 2 kap. 1, 3 §§: every unit an assessment makes a recipient gets its admission notice within
  // 24 h of that assessment (of the admission, if assessed before it); a unit already waiting
  // keeps the deadline it has. A record without recipients (written before per-unit deadlines)
  // stands for every unit while it is open.
  void open_admission_notice_deadline(Instant assessed) {
    auto covered = [&](const Recipient& r) {
      return std::any_of(
          st_.deadlines().begin(), st_.deadlines().end(), [&](const DeadlineRecord& d) {
            if (d.kind() != v1::ADMISSION_NOTICE) return false;
            if (d.recipients().empty()) return !d.has_fulfilled_at();
            return std::any_of(d.recipients().begin(), d.recipients().end(),
                               [&](const Recipient& x) {
                                 return x.service() == r.service() && x.unit() == r.unit();
                               });
          });
    };
    std::vector<Recipient> named;
    for (auto& r : recipients()) {
      if (!notified(r) && !covered(r)) named.push_back(std::move(r));
    }
    if (named.empty()) return;
    const Instant admitted = from_unix(st_.admitted_at());
    const auto due =
        rules::admission_notice_due(admitted, assessed, rule_set(), rules::Steps::kSkipped);
    DeadlineRecord& d =
        open_deadline(v1::ADMISSION_NOTICE, std::max(admitted, assessed), due.due, ward());
    for (auto& r : named) *d.add_recipients() = std::move(r);
  }

  // Underrättelse (3 kap. 1 §): goes out now to every recipient that has not had it for this
  // declaration, if the patient consented to sharing information, else it is held and the ward is
  // told. Municipal liability counts only from a notice that reached the municipality's units
  // (5 kap. 3 § 2, 4 §): a notice to outpatient care alone starts no period.
  void send_discharge_ready_notice() {
    std::vector<Recipient> to;
    for (auto& r : recipients()) {
      const bool had = std::any_of(
          st_.discharge_ready_notified().begin(), st_.discharge_ready_notified().end(),
          [&](const Recipient& n) { return n.service() == r.service() && n.unit() == r.unit(); });
      if (!had) to.push_back(std::move(r));
    }
    if (to.empty()) return;
    if (st_.information_consent() != storage::v1::CONSENT_GRANTED) {
      if (!st_.discharge_ready_notice_held()) {
        st_.set_discharge_ready_notice_held(true);
        record_held(
            storage::v1::NoticeRecord::DISCHARGE_READY_NOTICE, to, v1::NoticeHeld::MISSING_CONSENT,
            emit_held(v1::NoticeHeld::DISCHARGE_READY_NOTICE, v1::NoticeHeld::MISSING_CONSENT));
      }
      return;
    }
    st_.set_discharge_ready_notice_held(false);
    bool reached_municipality = false;
    for (const auto& r : to) {
      Notification& n = emit();
      auto* notice = n.mutable_discharge_ready_notice();
      *notice->mutable_recipient() = r;
      *notice->mutable_patient() = st_.admission().patient();
      notice->set_care_unit(st_.admission().care_unit());
      *notice->mutable_declared_at() = to_proto(from_unix(st_.declared_at()));
      record_notice(storage::v1::NoticeRecord::DISCHARGE_READY_NOTICE, r, n);
      *st_.add_discharge_ready_notified() = r;
      reached_municipality = reached_municipality || r.service() == v1::SOCIAL_SERVICES ||
                             r.service() == v1::MUNICIPAL_HEALTH_CARE;
    }
    if (reached_municipality && open_period() == nullptr) {
      st_.add_periods()->set_notice_sent_at(to_unix(now_));
    }
    start_sip_clock();
  }

  // When the discharge-ready notice of the current declaration reached recipient `r` (its issue
  // time), or nullopt if it has not.
  std::optional<Instant> discharge_ready_notice_time(const Recipient& r) const {
    const bool had = std::any_of(
        st_.discharge_ready_notified().begin(), st_.discharge_ready_notified().end(),
        [&](const Recipient& n) { return n.service() == r.service() && n.unit() == r.unit(); });
    if (!had) return std::nullopt;
    const v1::Organisation org = organisation_of(r);
    std::optional<Instant> at;
    for (const auto& n : st_.notices()) {
      if (n.kind() == storage::v1::NoticeRecord::DISCHARGE_READY_NOTICE && n.has_issued_at() &&
          organisation_equal(n.recipient(), org)) {
        at = from_unix(n.issued_at());  // the latest one: the current declaration's
      }
    }
    return at;
  }

  // 4 kap. 1, 3 §§: the SIP invitation is due within three days of the discharge-ready notice,
  // when a SIP is required and none was sent yet. The care contact of the outpatient unit calls
  // the SIP, and it can do so only once it knows the patient is discharge-ready and that the
  // municipality takes part: the days run from the later of the notice that started the
  // municipality's period and the notice the outpatient unit got (../shared/domain.md, "When an
  // episode changes after its first notices": a SIP that becomes required later, or a unit that
  // joins later, runs from the notice it then gets). `consent_at`: the patient's SIP consent just
  // given (event time); a consent after the notice moves the start to the consent ("Consent and
  // secrecy"); no consent recorded at all is not a refusal, and the days run from the notice.
  // A deadline only ever moves later.
  void start_sip_clock(std::optional<Instant> consent_at = std::nullopt) {
    if (!sip_required() || st_.has_sip_invitation_sent_at()) return;
    const storage::v1::LiabilityPeriodRecord* period = open_period();
    if (period == nullptr) return;
    Recipient unit;
    unit.set_service(v1::OUTPATIENT_CARE);
    unit.set_unit(st_.outpatient_unit());
    std::optional<Instant> outpatient_notice = discharge_ready_notice_time(unit);
    if (!outpatient_notice) {
      // A record written before discharge_ready_notified: every recipient had the notice that
      // started the period. Otherwise the care contact's unit does not know yet.
      if (!st_.discharge_ready_notified().empty()) return;
      outpatient_notice = from_unix(period->notice_sent_at());
    }
    const Instant sent = std::max(from_unix(period->notice_sent_at()), *outpatient_notice);
    const Instant anchor = consent_at && *consent_at > sent ? *consent_at : sent;
    const Instant due =
        rules::sip_invitation_due(anchor, rule_set(), {}, rules::Steps::kSkipped).due;
    DeadlineRecord* d = latest(v1::SIP_INVITATION);
    const bool this_period = d != nullptr && d->anchor() >= period->notice_sent_at() &&
                             d->status() != DeadlineRecord::WAIVED;
    if (!this_period) {
      open_deadline(v1::SIP_INVITATION, anchor, due, outpatient());
      return;
    }
    if (d->status() == DeadlineRecord::MET || to_unix(due) <= d->due_at()) return;
    // The deadline of this period moves to the later start. A miss it had is retracted: the days
    // had not run out, counted from there (a new miss follows if these have too).
    if (d->status() == DeadlineRecord::MISSED && d->alerted()) {
      fill_alert(*emit().mutable_deadline_miss_retracted(), *d);
    }
    drop_timers(v1::SIP_INVITATION);
    d->set_status(DeadlineRecord::PENDING);
    d->set_alerted(false);
    d->clear_fulfilled_at();
    d->set_anchor(to_unix(anchor));
    d->set_due_at(to_unix(due));
    *d->mutable_responsible() = outpatient();
    arm(*d);
  }

  storage::v1::LiabilityPeriodRecord* open_period() {
    if (st_.periods_size() == 0) return nullptr;
    auto* last = st_.mutable_periods(st_.periods_size() - 1);
    return last->has_ended_at() ? nullptr : last;
  }

  void end_period(Instant at) {
    if (auto* p = open_period()) p->set_ended_at(to_unix(at));
  }

  // Ends the current declaration's period at `at` (event time), also when a late revocation comes
  // after the discharge ended it later: the period only ever gets shorter, and never ends before
  // its notice went out (a revocation that occurred before it: no liable night).
  void end_period_at(Instant at) {
    if (st_.periods_size() == 0) return;
    auto* p = st_.mutable_periods(st_.periods_size() - 1);
    const int64_t end = std::max(to_unix(at), p->notice_sent_at());
    if (!p->has_ended_at() || p->ended_at() > end) p->set_ended_at(end);
  }

  // The revocation (event time `at`) stops the SIP clock of the declaration: a pending deadline
  // is waived, and one missed after `at` (the revocation was recorded late) is retracted and
  // waived: the days had stopped before they ran out (an invitation after that is not late). A
  // miss due before `at` stands.
  void stop_sip_clock(Instant at) {
    DeadlineRecord* d = latest(v1::SIP_INVITATION);
    if (d == nullptr) return;
    if (d->status() == DeadlineRecord::PENDING) {
      close_deadline(*d, DeadlineRecord::WAIVED);
    } else if (d->status() == DeadlineRecord::MISSED && to_unix(at) <= d->due_at()) {
      if (d->alerted()) fill_alert(*emit().mutable_deadline_miss_retracted(), *d);
      close_deadline(*d, DeadlineRecord::WAIVED);
    }
  }

  // A pending deadline whose due time the clock has passed is missed now, rather than on the next
  // timer pass.
  void miss_overdue() {
    for (auto& d : *st_.mutable_deadlines()) {
      if (d.status() == DeadlineRecord::PENDING && to_unix(now_) > d.due_at()) {
        drop_timers(d);
        emit_missed(d);
      }
    }
  }

  // --- settlement ----------------------------------------------------------------------------

  // Once discharged and no deadline is pending, payment liability is settled and the episode
  // closes.
  void try_settle() {
    if (st_.phase() != EpisodeState::DISCHARGED) return;
    if (std::any_of(st_.deadlines().begin(), st_.deadlines().end(), [](const DeadlineRecord& d) {
          return d.status() == DeadlineRecord::PENDING;
        })) {
      return;
    }
    v1::PaymentLiability liability;
    settle_payment_liability(liability);
    Notification& n = emit();
    *n.mutable_payment_liability() = liability;
    st_.set_settled_liability_id(n.notification_id());
    *st_.mutable_settled_liability() = std::move(liability);
    st_.clear_timers();
    st_.set_phase(EpisodeState::CLOSED);
  }

  // After settlement, a late feed may still show an obligation met in time (or the patient
  // declining SIP): when that changes the outcome, payment liability is issued again, and the
  // latest record per episode is the one that counts.
  void resettle() {
    if (st_.phase() != EpisodeState::CLOSED) return;
    v1::PaymentLiability liability;
    settle_payment_liability(liability);
    if (same_bytes(liability, st_.settled_liability())) return;
    Notification& n = emit();
    *n.mutable_payment_liability() = liability;
    st_.set_settled_liability_id(n.notification_id());
    *st_.mutable_settled_liability() = std::move(liability);
  }

  void settle_payment_liability(v1::PaymentLiability& pl) {
    pl = rules::settle_payment_liability(liability_facts(st_), rule_set());
  }

 private:
  EpisodeState st_;
  const rules::RuleBook& book_;
  Instant now_;
  std::string cause_;
  std::vector<Notification> out_;
};

// --- event handlers ------------------------------------------------------------------------------

void on_needs_assessed(Step& s, const v1::Event& e) {
  auto& st = s.st();
  const auto& msg = e.needs_assessed();
  for (int need : msg.needs()) {
    if (!has(st.needs(), static_cast<Service>(need))) st.add_needs(static_cast<Service>(need));
  }
  if (!msg.outpatient_unit().empty()) st.set_outpatient_unit(msg.outpatient_unit());
  if (msg.has_estimated_discharge_at()) {
    const int64_t estimate = to_unix(from_proto(msg.estimated_discharge_at()));
    const bool changed =
        !st.has_estimated_discharge_at() || st.estimated_discharge_at() != estimate;
    st.set_estimated_discharge_at(estimate);
    // 2 kap. 4 §: a new estimate that comes with a reassessment reaches every unit that holds an
    // admission notice, as one on its own does, before the new units get theirs (which carry it),
    // so no two units hold different estimates.
    if (changed) s.send_estimated_discharge_updates();
  }
  if (st.needs_size() == 0) return;
  // Each assessment that names new units starts their 24-hour clock (2 kap. 3 §); assessed_at
  // keeps the first one that found needs.
  const Instant assessed = from_proto(e.occurred_at());
  if (!st.has_assessed_at()) st.set_assessed_at(to_unix(assessed));
  s.open_admission_notice_deadline(assessed);
  s.send_admission_notices();
  // A unit that becomes a recipient while the patient is discharge-ready is told so as soon as it
  // does (3 kap. 1 § "berörda enheter"), also when no need was known at the declaration.
  if (st.phase() == EpisodeState::OPEN && st.discharge_ready() &&
      !st.discharge_ready_notice_held()) {
    s.send_discharge_ready_notice();
  }
}

void on_estimated_discharge_changed(Step& s, const v1::Event& e) {
  auto& st = s.st();
  const Instant at = from_proto(e.estimated_discharge_changed().estimated_discharge_at());
  st.set_estimated_discharge_at(to_unix(at));
  s.send_estimated_discharge_updates();
  if (st.admission_notice_held()) s.send_admission_notices();
}

// New patient data (HL7 A08, a FHIR Patient update): the name or registered address the admission
// notice must hold (2 kap. 2 §). A notice held for want of them goes out now if this completes
// it, to every unit still waiting; its deadline is the one the assessment opened (2 kap. 3 §:
// 24 h from the assessment, not from this update), so a notice completed after it is late. What
// was sent stays sent: the law asks for no correction of a notice, and the units get the new data
// with their next notice that carries the patient (the discharge-ready notice).
void on_patient_data_updated(Step& s, const v1::Event& e) {
  auto& st = s.st();
  const auto& msg = e.patient_data_updated();
  auto* patient = st.mutable_admission()->mutable_patient();
  if (!msg.name().empty()) patient->set_name(msg.name());
  if (!msg.address().empty()) patient->set_address(msg.address());
  if (st.admission_notice_held()) s.send_admission_notices();
}

// A transfer (HL7 A02): the new ward is the episode's ward from now on. Who is "the ward" decides
// where the engine's messages to inpatient care go (proto/README.md, Addressees): the ward's
// pending deadlines (a held admission notice, the information transfer) become the new ward's, so
// their reminders and misses reach it; a notice still held is told to the new ward, which must now
// complete it (the old ward's noticeHeld stays its own). Notices already sent keep the ward they
// named; met and missed deadlines keep the ward that had them.
void on_ward_changed(Step& s, const v1::Event& e) {
  auto& st = s.st();
  const std::string& unit = e.ward_changed().care_unit();
  if (unit == st.admission().care_unit()) return;
  st.mutable_admission()->set_care_unit(unit);
  for (auto& d : *st.mutable_deadlines()) {
    if (d.status() == DeadlineRecord::PENDING && d.responsible().role() == Party::INPATIENT_CARE) {
      d.mutable_responsible()->set_unit(unit);
    }
  }
  if (st.admission_notice_held()) {
    s.emit_held(v1::NoticeHeld::ADMISSION_NOTICE, v1::NoticeHeld::MISSING_CONTENT,
                s.missing_admission_content());
  }
  if (st.discharge_ready_notice_held()) {
    s.emit_held(v1::NoticeHeld::DISCHARGE_READY_NOTICE, v1::NoticeHeld::MISSING_CONSENT);
  }
}

void on_consent(Step& s, const v1::Event& e) {
  auto& st = s.st();
  const auto& msg = e.consent_recorded();
  const auto value = msg.granted() ? storage::v1::CONSENT_GRANTED : storage::v1::CONSENT_DECLINED;
  if (msg.scope() == v1::ConsentRecorded::INFORMATION_SHARING) {
    const bool withdrawn =
        st.information_consent() == storage::v1::CONSENT_GRANTED && !msg.granted();
    st.set_information_consent(value);
    if (withdrawn && st.phase() != EpisodeState::CLOSED) {
      // What depended on the consent stops from now on; what was sent stays sent.
      s.waive_pending(v1::INFORMATION_TRANSFER);
      s.emit_warning(v1::Warning::CONSENT_WITHDRAWN, s.ward());
    }
    if (msg.granted() && st.phase() == EpisodeState::OPEN && st.discharge_ready() &&
        st.discharge_ready_notice_held()) {
      s.send_discharge_ready_notice();
    }
    return;
  }
  // Only a consent that was not already in force moves the SIP clock (a repeat changes nothing).
  const bool newly_granted = msg.granted() && st.sip_consent() != storage::v1::CONSENT_GRANTED;
  st.set_sip_consent(value);
  if (msg.granted()) {
    s.start_sip_clock(newly_granted ? std::optional<Instant>(from_proto(e.occurred_at()))
                                    : std::nullopt);
  } else {
    s.waive_pending(v1::SIP_INVITATION);
  }
}

void on_care_contact(Step& s, const v1::Event& e) {
  auto& st = s.st();
  // 2 kap. 5 §: the care contact is appointed by "den enheten", the outpatient unit that received
  // the admission notice. One appointed by another unit does not count; the ward is warned.
  const std::string& unit = e.care_contact_appointed().unit();
  if (std::none_of(st.notified().begin(), st.notified().end(), [&](const Recipient& r) {
        return r.service() == v1::OUTPATIENT_CARE && r.unit() == unit;
      })) {
    s.emit_warning(v1::Warning::CARE_CONTACT_FROM_UNIT_WITHOUT_ADMISSION_NOTICE, s.ward());
    return;
  }
  st.set_care_contact_unit(unit);
  if (!st.has_care_contact_at()) st.set_care_contact_at(to_unix(from_proto(e.occurred_at())));
  s.fulfil(v1::CARE_CONTACT, from_proto(e.occurred_at()));
}

void on_discharge_ready(Step& s, const v1::Event& e) {
  auto& st = s.st();
  st.set_discharge_ready(true);
  st.set_declared_at(to_unix(from_proto(e.occurred_at())));
  if (s.care_contact_required() && !st.has_care_contact_at()) {
    s.emit_warning(v1::Warning::DISCHARGE_READY_WITHOUT_CARE_CONTACT, s.outpatient());
  }
  s.send_discharge_ready_notice();
}

void on_discharge_ready_revoked(Step& s, const v1::Event& e) {
  auto& st = s.st();
  const Instant at = from_proto(e.occurred_at());
  st.set_discharge_ready(false);
  st.set_discharge_ready_notice_held(false);
  st.clear_discharge_ready_notified();
  // The clocks that hang on the notice stop, at the revocation's event time however late it is
  // recorded; a new declaration starts them again (docs/domain-decisions.md, "Late facts").
  s.end_period_at(at);
  s.stop_sip_clock(at);
}

void on_information_transferred(Step& s, const v1::Event& e) {
  auto& st = s.st();
  if (!st.has_information_transferred_at()) {
    st.set_information_transferred_at(to_unix(from_proto(e.occurred_at())));
  }
  s.fulfil(v1::INFORMATION_TRANSFER, from_proto(e.occurred_at()));
}

void on_sip_invitation_sent(Step& s, const v1::Event& e) {
  auto& st = s.st();
  if (!st.has_sip_invitation_sent_at()) {
    st.set_sip_invitation_sent_at(to_unix(from_proto(e.occurred_at())));
  }
  s.fulfil(v1::SIP_INVITATION, from_proto(e.occurred_at()));
}

void on_admission_cancelled(Step& s) {
  auto& st = s.st();
  for (const auto& r : st.notified()) {
    Notification& n = s.emit();
    *n.mutable_admission_cancellation()->mutable_recipient() = r;
    s.record_notice(storage::v1::NoticeRecord::ADMISSION_CANCELLATION, r, n);
  }
  for (auto& d : *st.mutable_deadlines()) {
    if (d.status() == DeadlineRecord::PENDING) d.set_status(DeadlineRecord::WAIVED);
  }
  st.clear_timers();
  st.set_phase(EpisodeState::CANCELLED);
}

void on_outpatient_unavailable(Step& s, const v1::Event& e) {
  auto& st = s.st();
  const int64_t at = to_unix(from_proto(e.occurred_at()));
  if (st.has_discharged_at()) {
    // Recorded after the discharge, for a time before it (5 kap. 5 §, by event time): an
    // unavailability still open at the discharge is closed by it, as one recorded in time is.
    const int64_t end = st.discharged_at();
    auto closed_by_discharge = [&](const storage::v1::IntervalRecord& i) {
      return i.has_to() && i.to() == end && i.from() <= at;
    };
    auto* intervals = st.mutable_outpatient_unavailable();
    auto it = std::find_if(intervals->begin(), intervals->end(), closed_by_discharge);
    if (e.outpatient_services_unavailable().unavailable()) {
      if (it == intervals->end()) {
        auto* i = st.add_outpatient_unavailable();
        i->set_from(at);
        i->set_to(end);
      }
    } else if (it != intervals->end()) {
      it->set_to(at);
    }
    return;
  }
  const int n = st.outpatient_unavailable_size();
  const bool open = n > 0 && !st.outpatient_unavailable(n - 1).has_to();
  if (e.outpatient_services_unavailable().unavailable() && !open) {
    st.add_outpatient_unavailable()->set_from(at);
  } else if (!e.outpatient_services_unavailable().unavailable() && open) {
    st.mutable_outpatient_unavailable(n - 1)->set_to(
        std::max(at, st.outpatient_unavailable(n - 1).from()));
  }
}

void on_discharged(Step& s, const v1::Event& e) {
  auto& st = s.st();
  const Instant at = from_proto(e.occurred_at());
  st.set_phase(EpisodeState::DISCHARGED);
  st.set_discharged_at(to_unix(at));
  s.end_period(at);
  const int n = st.outpatient_unavailable_size();
  if (n > 0 && !st.outpatient_unavailable(n - 1).has_to()) {
    st.mutable_outpatient_unavailable(n - 1)->set_to(to_unix(at));
  }

  // 2 kap. 5 §: the care contact is due by the discharge itself.
  if (s.care_contact_required()) {
    DeadlineRecord& d = *st.add_deadlines();
    d.set_kind(v1::CARE_CONTACT);
    d.set_anchor(to_unix(at));
    d.set_due_at(to_unix(at));
    *d.mutable_responsible() = s.outpatient();
    if (st.has_care_contact_at()) {
      d.set_fulfilled_at(st.care_contact_at());
      if (st.care_contact_at() <= to_unix(at)) {
        d.set_status(DeadlineRecord::MET);
      } else {
        s.emit_missed(d);
      }
    } else {
      s.emit_missed(d);
    }
  }

  // 3 kap. 2 §: information by the end of the day of discharge; secrecy applies without consent.
  if (!s.recipients().empty()) {
    const Instant due = rules::information_transfer_due(at, rules::Steps::kSkipped).due;
    if (st.has_information_transferred_at()) {
      // Transferred before the discharge was known: met, as long as it was by the due time.
      DeadlineRecord& d = *st.add_deadlines();
      d.set_kind(v1::INFORMATION_TRANSFER);
      d.set_anchor(to_unix(at));
      d.set_due_at(to_unix(due));
      d.set_fulfilled_at(st.information_transferred_at());
      *d.mutable_responsible() = s.ward();
      if (d.fulfilled_at() <= d.due_at()) {
        d.set_status(DeadlineRecord::MET);
      } else {
        s.emit_missed(d);  // a late feed brought a transfer made after the discharge day
      }
    } else if (st.information_consent() == storage::v1::CONSENT_GRANTED) {
      s.open_deadline(v1::INFORMATION_TRANSFER, at, due, s.ward());
    } else {
      s.emit_held(v1::NoticeHeld::INFORMATION_TRANSFER, v1::NoticeHeld::MISSING_CONSENT);
    }
  }
}

// HL7 A13: the discharge was registered in error and the stay goes on (docs/domain-decisions.md,
// "Cancelled discharge"). The episode returns to the state it had before the discharge: a
// discharge-ready period the discharge ended runs on (5 kap. 4 §: liability runs until the
// discharge, which has not happened), as does an unavailability of outpatient care the discharge
// closed (5 kap. 5 §). What the discharge opened (the care contact due at it, 2 kap. 5 §; the
// information due by its day, 3 kap. 2 §) is withdrawn, a miss it raised retracted; both open
// again at the real discharge. A payment liability already issued is withdrawn, and liability is
// settled again when the stay really ends.
void on_discharge_cancelled(Step& s) {
  auto& st = s.st();
  const int64_t discharged = st.discharged_at();
  const bool settled = st.phase() == EpisodeState::CLOSED;
  st.set_phase(EpisodeState::OPEN);
  st.clear_discharged_at();
  const int periods = st.periods_size();
  if (st.discharge_ready() && periods > 0 && st.periods(periods - 1).has_ended_at() &&
      st.periods(periods - 1).ended_at() == discharged) {
    st.mutable_periods(periods - 1)->clear_ended_at();
  }
  const int n = st.outpatient_unavailable_size();
  if (n > 0 && st.outpatient_unavailable(n - 1).has_to() &&
      st.outpatient_unavailable(n - 1).to() == discharged) {
    st.mutable_outpatient_unavailable(n - 1)->clear_to();
  }
  for (auto& d : *st.mutable_deadlines()) {
    const bool at_discharge = d.kind() == v1::CARE_CONTACT || d.kind() == v1::INFORMATION_TRANSFER;
    if (!at_discharge || d.anchor() != discharged || d.status() == DeadlineRecord::WAIVED) continue;
    if (d.status() == DeadlineRecord::MISSED && d.alerted()) {
      s.fill_alert(*s.emit().mutable_deadline_miss_retracted(), d);
    }
    s.close_deadline(d, DeadlineRecord::WAIVED);
  }
  if (settled) {
    auto* w = s.emit().mutable_payment_liability_withdrawn();
    w->set_municipality(st.settled_liability().municipality());
    w->set_withdrawn_notification_id(st.settled_liability_id());
    w->set_reason(v1::PaymentLiabilityWithdrawn::DISCHARGE_CANCELLED);
    st.clear_settled_liability();
    st.clear_settled_liability_id();
  }
}

// The notice an acknowledgement names, or why it cannot be acknowledged. Reasons name no ids: the
// caller knows which event it sent.
const storage::v1::NoticeRecord* acknowledged_notice(const EpisodeState& st,
                                                     const v1::NoticeAcknowledged& ack) {
  for (const auto& r : st.notices()) {
    if (!r.notification_id().empty() && r.notification_id() == ack.notification_id()) return &r;
  }
  return nullptr;
}

std::optional<Rejection> check_acknowledgement(const EpisodeState& st,
                                               const v1::NoticeAcknowledged& ack) {
  using C = Rejection::Code;
  const storage::v1::NoticeRecord* notice = acknowledged_notice(st, ack);
  if (notice == nullptr) {
    // What the episode can tell apart: a timer's alert, or the noticeHeld the ward got.
    const std::string prefix = st.episode_id() + "/";
    const bool timer = ack.notification_id().rfind(prefix + "t/", 0) == 0;
    const bool held = std::any_of(st.notices().begin(), st.notices().end(),
                                  [&](const storage::v1::NoticeRecord& r) {
                                    return r.held_notification_id() == ack.notification_id();
                                  });
    if (timer || held) {
      return reject(C::kUnknownNotice,
                    "noticeAcknowledged names a notification that is not a notice (only admission "
                    "notices, discharge-ready notices, estimated discharge updates and admission "
                    "cancellations are acknowledged)");
    }
    return reject(C::kUnknownNotice, "noticeAcknowledged names no notice this episode issued");
  }
  if (!organisation_equal(notice->recipient(), ack.by())) {
    return reject(C::kNotAddressee, "noticeAcknowledged.by is not an addressee of the notice");
  }
  return std::nullopt;
}

// Kvittens: recorded once per addressee; a repeat changes nothing.
void on_notice_acknowledged(Step& s, const v1::Event& e) {
  const auto& ack = e.notice_acknowledged();
  for (auto& r : *s.st().mutable_notices()) {
    if (r.notification_id() != ack.notification_id()) continue;
    for (const auto& a : r.acknowledgements()) {
      if (organisation_equal(a.by(), ack.by())) return;
    }
    auto* a = r.add_acknowledgements();
    *a->mutable_by() = ack.by();
    a->set_at(to_unix(from_proto(e.occurred_at())));
    a->set_person(ack.person());
    return;
  }
}

// Which events the process allows once the patient is discharged: only those that fulfil
// obligations running past discharge, or that a late feed may still bring.
bool allowed_after_discharge(v1::Event::PayloadCase payload) {
  switch (payload) {
    case v1::Event::kConsentRecorded:
    case v1::Event::kCareContactAppointed:
    case v1::Event::kInformationTransferred:
    case v1::Event::kSipInvitationSent:
    case v1::Event::kNoticeAcknowledged:  // a recipient may acknowledge late
    case v1::Event::kDischargeCancelled:  // the discharge itself was registered in error
      return true;
    default:
      return false;
  }
}

std::string payload_name(const v1::Event& e) {
  const auto* field = v1::Event::descriptor()->FindFieldByNumber(e.payload_case());
  return field != nullptr ? field->json_name() : "none";
}

// Facts of the stay that lower liability and may be recorded after the discharge (a late feed):
// they count by event time, so only when they occurred at or before the discharge
// (docs/domain-decisions.md, "Late facts").
bool late_fact_of_the_stay(v1::Event::PayloadCase payload) {
  return payload == v1::Event::kDischargeReadyRevoked ||
         payload == v1::Event::kOutpatientServicesUnavailable;
}

std::optional<Rejection> check_late_fact(const EpisodeState& st, const v1::Event& e) {
  if (to_unix(from_proto(e.occurred_at())) > st.discharged_at()) {
    return reject(Rejection::Code::kOutOfOrder, payload_name(e) + " occurred after the discharge");
  }
  return std::nullopt;
}

}  // namespace

const char* code_name(Rejection::Code code) {
  switch (code) {
    case Rejection::Code::kMalformed:
      return "malformed";
    case Rejection::Code::kInvalidPersonalId:
      return "invalid_personal_id";
    case Rejection::Code::kUnknownEpisode:
      return "unknown_episode";
    case Rejection::Code::kOutOfOrder:
      return "out_of_order";
    case Rejection::Code::kEpisodeClosed:
      return "episode_closed";
    case Rejection::Code::kConflict:
      return "conflict";
    case Rejection::Code::kNoRules:
      return "no_rules";
    case Rejection::Code::kUnknownNotice:
      return "unknown_notice";
    case Rejection::Code::kNotAddressee:
      return "not_addressee";
    case Rejection::Code::kEpisodeLimit:
      return "episode_limit";
  }
  return "unknown";
}

// The facts payment liability depends on (5 kap. 3-5 §§), for the policy in rules/liability.h.
rules::LiabilityFacts liability_facts(const storage::v1::EpisodeState& st) {
  auto municipal_need = [](const EpisodeState& e) {
    return has(e.needs(), v1::SOCIAL_SERVICES) || has(e.needs(), v1::MUNICIPAL_HEALTH_CARE);
  };
  auto any_missed = [](const EpisodeState& e, DeadlineKind kind) {
    return std::any_of(e.deadlines().begin(), e.deadlines().end(), [&](const DeadlineRecord& d) {
      return d.kind() == kind && d.status() == DeadlineRecord::MISSED;
    });
  };
  rules::LiabilityFacts f;
  f.municipality = st.admission().patient().home_municipality();
  f.municipal_need = municipal_need(st);
  f.declared_discharge_ready = st.has_declared_at();
  // 5 kap. 3 § 1: only the notices to the municipality's units decide; a late one to outpatient
  // care is the ward's missed deadline, not a condition of the municipality's liability.
  bool municipal_notice = false;
  bool municipal_in_time = true;
  for (const auto& d : st.deadlines()) {
    if (d.kind() != v1::ADMISSION_NOTICE) continue;
    const bool municipal =
        d.recipients().empty() ||
        std::any_of(d.recipients().begin(), d.recipients().end(), [](const Recipient& r) {
          return r.service() == v1::SOCIAL_SERVICES || r.service() == v1::MUNICIPAL_HEALTH_CARE;
        });
    if (!municipal) continue;
    municipal_notice = true;
    municipal_in_time = municipal_in_time && d.status() == DeadlineRecord::MET;
  }
  f.admission_notice_in_time = municipal_notice && municipal_in_time;
  // A patient who declined SIP lifts the SIP condition, also for a miss before the refusal.
  f.sip_invitation_missed =
      st.sip_consent() != storage::v1::CONSENT_DECLINED && any_missed(st, v1::SIP_INVITATION);
  for (const auto& p : st.periods()) {
    f.periods.push_back({from_unix(p.notice_sent_at()), from_unix(p.ended_at())});
  }
  for (const auto& i : st.outpatient_unavailable()) {
    f.outpatient_unavailable.push_back(
        {from_unix(i.from()),
         i.has_to() ? std::optional<Instant>(from_unix(i.to())) : std::nullopt});
  }
  return f;
}

const rules::RuleSet* rules_for(const storage::v1::EpisodeState& state,
                                const rules::RuleBook& rules) {
  if (const rules::RuleSet* set = rules.find(state.rule_set_id())) return set;
  return rules.select(state.admission().region(), state.admission().care_type(),
                      rules::local_date(from_unix(state.admitted_at())));
}

namespace {

// Size limits on the strings of an Event, in bytes of UTF-8, far above what any hospital system
// sends (proto/README.md "Size limits"): a 50 MB name would otherwise be stored, copied into
// every notice and the changelog, and could exceed Kafka's message size. eventId and episodeId
// have their own check (kMaxIdLength). Every other string, including fields added later, gets
// kDefaultStringLimit.
constexpr size_t kDefaultStringLimit = 1024;
constexpr size_t kShortestStringLimit = 256;  // the least string_limit() gives
constexpr size_t kLongestStringLimit = 4096;  // the most string_limit() gives
size_t string_limit(const google::protobuf::FieldDescriptor& f) {
  const std::string& name = f.full_name();
  if (name == "samordna.v1.Admitted.care_unit" || name == "samordna.v1.WardChanged.care_unit" ||
      name == "samordna.v1.NeedsAssessed.outpatient_unit" ||
      name == "samordna.v1.CareContactAppointed.unit") {
    return kShortestStringLimit;  // an HSA id is at most 31 characters; local unit ids are short
  }
  if (name == "samordna.v1.Discharged.reason") return kLongestStringLimit;  // free text
  // Any id the engine gives a notice, however long the sender's ids and source.
  if (name == "samordna.v1.NoticeAcknowledged.notification_id") return kMaxNotificationIdLength;
  return kDefaultStringLimit;  // names, addresses and the rest
}

}  // namespace

size_t longest_state_string(const rules::RuleBook& book) {
  // A notification id (also held_notification_id, settled_liability_id, and what an
  // acknowledgement names) is shorter than the longest string an event may carry.
  static_assert(kMaxNotificationIdLength < kLongestStringLimit);
  size_t longest = kLongestStringLimit;
  // From the rules: the episode's rule set id (also the liability's rule_set) and its digest.
  for (const auto& set : book.sets())
    longest = std::max({longest, set.id.size(), set.digest.size()});
  return longest;
}

namespace {

// What the string check needs of a message type's fields, worked out once per thread: the check
// reads the event's serialization (made once a step, for the digest too), not the message, since a
// reflection call per field was 4 to 7 % of `run` and `simulate` (issue 14).
struct StringField {
  const std::string* json_name = nullptr;
  size_t limit = 0;                        // a string's (or bytes') limit
  const struct StringPlan* sub = nullptr;  // a message's own plan
};
struct StringPlan : wire::FieldTable<StringField> {};

const StringPlan& string_plan(const google::protobuf::Descriptor* d) {
  using google::protobuf::FieldDescriptor;
  thread_local std::unordered_map<const google::protobuf::Descriptor*, std::unique_ptr<StringPlan>>
      plans;
  auto [it, inserted] = plans.try_emplace(d);
  if (!inserted) return *it->second;
  it->second = std::make_unique<StringPlan>();
  StringPlan& plan = *it->second;  // in the map before its fields: a recursive type finds it
  std::vector<const google::protobuf::Descriptor*> subs;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_STRING &&
        f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
      continue;  // numbers, enums, bools: no strings in them
    }
    StringField field;
    field.json_name = &f->json_name();
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) field.limit = string_limit(*f);
    plan.add(static_cast<uint64_t>(f->number()), field);
    subs.push_back(f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE ? f->message_type() : nullptr);
  }
  for (size_t i = 0; i < subs.size(); ++i) {
    if (subs[i] != nullptr) plan.fields()[i].sub = &string_plan(subs[i]);
  }
  return plan;
}

// The first string field in `bytes` (a serialization of the plan's message) that holds a NUL or is
// over its limit, as a reason naming the field by its JSON path from that message
// ("admitted.patient.name"); nullopt when every one is fine. Walks the records that are there,
// so a new string field in the contract is covered without a change here. The serializer writes
// them in field-number order, the order reflection lists set fields in: the first bad one is the
// one a walk of the message would name. The path is built only for a reason, on the way back out.
std::optional<std::string> bad_string(const StringPlan& plan, std::string_view bytes) {
  wire::Reader r{bytes};
  uint64_t tag = 0;
  while (!r.done()) {
    SAMORDNA_CHECK(r.varint(tag), "an event's own serialization reads back");
    const StringField* f = plan.find(tag >> 3);
    if (f == nullptr || (tag & 7) != wire::kDelimited) {  // no strings in it, or unknown
      SAMORDNA_CHECK(r.skip(tag), "an event's own serialization reads back");
      continue;
    }
    std::string_view v;
    SAMORDNA_CHECK(r.delimited(v), "an event's own serialization reads back");
    if (f->sub != nullptr) {
      if (auto bad = bad_string(*f->sub, v)) return *f->json_name + "." + *bad;
    } else {
      if (v.size() > f->limit) {
        return *f->json_name + " is longer than " + std::to_string(f->limit) + " bytes";
      }
      if (v.find('\0') != std::string_view::npos) return *f->json_name + " holds a NUL character";
    }
  }
  return std::nullopt;
}

// The last instant an event may carry: every deadline derived from it (at most a year or two
// later: 720 h, 365 working days) must still fit a Timestamp, or its notification could not be
// written as JSON. A century of margin keeps that true whatever the rule files say.
constexpr int64_t kLatestEventSeconds = 250246627199;  // 9899-12-31T23:59:59Z

bool valid_event_time(const google::protobuf::Timestamp& ts) {
  return valid_timestamp(ts) && ts.seconds() <= kLatestEventSeconds;
}

// A reserve number has no check digit and no national format beyond this (RULES.md in
// shared/data/sweden/personnummer): 1 to 20 ASCII letters and digits.
bool valid_reserve_number(std::string_view id) {
  return !id.empty() && id.size() <= 20 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
  });
}

// The patient's identity number, by the kind the sender declares (Patient.personal_id_kind). The
// reasons never quote the number.
std::optional<Rejection> check_identity(const v1::Patient& p) {
  using C = Rejection::Code;
  switch (p.personal_id_kind()) {
    case v1::Patient::PERSONAL_ID_KIND_UNSPECIFIED:
      if (p.personal_id().empty()) return std::nullopt;  // none yet: NO_PERSONAL_ID
      if (auto id = validate_personal_id(p.personal_id()); !id) {
        return reject(C::kInvalidPersonalId, "admitted.patient.personalId: " + id.error().message);
      }
      return std::nullopt;
    case v1::Patient::RESERVE_NUMBER:
      if (!valid_reserve_number(p.personal_id())) {
        return reject(
            C::kInvalidPersonalId,
            "admitted.patient.personalId: a reserve number is 1 to 20 letters and digits");
      }
      return std::nullopt;
    case v1::Patient::NO_PERSONAL_ID:
      if (!p.personal_id().empty()) {
        return reject(C::kInvalidPersonalId,
                      "admitted.patient.personalId: must be empty when personalIdKind is "
                      "NO_PERSONAL_ID");
      }
      return std::nullopt;
    default:
      return reject(C::kMalformed, "admitted.patient.personalIdKind is unknown");
  }
}

// validate_event, reading the strings from the event's serialization.
std::optional<Rejection> validate(const v1::Event& e, const EventBytes& bytes) {
  using C = Rejection::Code;
  if (e.event_id().empty()) return reject(C::kMalformed, "eventId is required");
  if (e.episode_id().empty()) return reject(C::kMalformed, "episodeId is required");
  if (e.event_id().size() > kMaxIdLength || e.episode_id().size() > kMaxIdLength) {
    return reject(C::kMalformed, "eventId and episodeId are limited to 256 bytes");
  }
  if (!e.has_occurred_at()) return reject(C::kMalformed, "occurredAt is required");
  if (!valid_event_time(e.occurred_at())) {
    return reject(C::kMalformed, "occurredAt is outside the years 0001 to 9899");
  }
  if (e.has_recorded_at() && !valid_event_time(e.recorded_at())) {
    return reject(C::kMalformed, "recordedAt is outside the years 0001 to 9899");
  }
  if (e.has_recorded_at() && from_proto(e.recorded_at()) < from_proto(e.occurred_at())) {
    return reject(C::kMalformed, "recordedAt is before occurredAt");
  }
  if (auto bad = validate_additions(e)) return bad;
  if (auto bad = bad_string(string_plan(v1::Event::descriptor()), bytes.bytes)) {
    return reject(C::kMalformed, std::move(*bad));
  }
  switch (e.payload_case()) {
    case v1::Event::PAYLOAD_NOT_SET:
      return reject(C::kMalformed, "the event has no payload (admitted, needsAssessed, ...)");
    case v1::Event::kAdmitted: {
      const auto& a = e.admitted();
      if (!a.has_patient()) return reject(C::kMalformed, "admitted.patient is required");
      if (auto bad = check_identity(a.patient())) return bad;
      if (!all_digits(a.patient().home_municipality(), 4)) {
        return reject(C::kMalformed,
                      "admitted.patient.homeMunicipality must be a 4-digit kommunkod");
      }
      if (a.care_unit().empty()) return reject(C::kMalformed, "admitted.careUnit is required");
      if (!all_digits(a.region(), 2)) {
        return reject(C::kMalformed, "admitted.region must be a 2-digit county code");
      }
      // Protobuf keeps an unknown enum number (JSON "careType": 99, or binary) as it is.
      if (a.care_type() == v1::CARE_TYPE_UNSPECIFIED || !v1::CareType_IsValid(a.care_type())) {
        return reject(C::kMalformed, "admitted.careType must be SOMATIC or PSYCHIATRIC");
      }
      return std::nullopt;
    }
    case v1::Event::kNeedsAssessed: {
      const auto& n = e.needs_assessed();
      for (int need : n.needs()) {
        if (need == v1::SERVICE_UNSPECIFIED || !v1::Service_IsValid(need)) {
          return reject(C::kMalformed, "needsAssessed.needs holds an unknown service");
        }
      }
      if (n.has_estimated_discharge_at() && !valid_timestamp(n.estimated_discharge_at())) {
        return reject(C::kMalformed,
                      "needsAssessed.estimatedDischargeAt is outside the years 0001 to 9999");
      }
      if ((has(n.needs(), v1::OUTPATIENT_CARE) || has(n.needs(), v1::MUNICIPAL_HEALTH_CARE)) &&
          n.outpatient_unit().empty()) {
        return reject(C::kMalformed,
                      "needsAssessed.outpatientUnit is required with OUTPATIENT_CARE or "
                      "MUNICIPAL_HEALTH_CARE");
      }
      return std::nullopt;
    }
    case v1::Event::kEstimatedDischargeChanged:
      if (!e.estimated_discharge_changed().has_estimated_discharge_at()) {
        return reject(C::kMalformed, "estimatedDischargeChanged.estimatedDischargeAt is required");
      }
      if (!valid_timestamp(e.estimated_discharge_changed().estimated_discharge_at())) {
        return reject(C::kMalformed,
                      "estimatedDischargeChanged.estimatedDischargeAt is outside the years 0001 to "
                      "9999");
      }
      return std::nullopt;
    case v1::Event::kConsentRecorded:
      if (e.consent_recorded().scope() == v1::ConsentRecorded::SCOPE_UNSPECIFIED ||
          !v1::ConsentRecorded::Scope_IsValid(e.consent_recorded().scope())) {
        return reject(C::kMalformed, "consentRecorded.scope must be INFORMATION_SHARING or SIP");
      }
      return std::nullopt;
    case v1::Event::kCareContactAppointed:
      if (e.care_contact_appointed().unit().empty()) {
        return reject(C::kMalformed, "careContactAppointed.unit is required");
      }
      return std::nullopt;
    case v1::Event::kPatientDataUpdated:
      if (e.patient_data_updated().name().empty() && e.patient_data_updated().address().empty()) {
        return reject(C::kMalformed, "patientDataUpdated needs a name or an address");
      }
      return std::nullopt;
    case v1::Event::kWardChanged:
      if (e.ward_changed().care_unit().empty()) {
        return reject(C::kMalformed, "wardChanged.careUnit is required");
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

}  // namespace

std::optional<Rejection> validate_event(const v1::Event& e) {
  thread_local EventBytes bytes;
  serialize_event(e, bytes);
  return validate(e, bytes);
}

namespace {

// apply_event, reading `state` and, when `owned` is given (the same object), taking its storage for
// the next state instead of copying it.
StepResult step_event(const storage::v1::EpisodeState* state, storage::v1::EpisodeState* owned,
                      const v1::Event& e, const rules::RuleBook& rules, Instant now) {
  using C = Rejection::Code;
  thread_local EventBytes bytes;  // one serialization for the checks and the digest
  serialize_event(e, bytes);
  if (auto bad = validate(e, bytes)) return *bad;
  const Instant occurred = from_proto(e.occurred_at());
  if (occurred > now + kFutureTolerance) {
    return reject(C::kOutOfOrder, "occurredAt is in the future of the engine's clock");
  }

  if (state == nullptr) {
    if (e.payload_case() != v1::Event::kAdmitted) {
      return reject(C::kUnknownEpisode, payload_name(e) + " for an episode with no admission");
    }
    const auto& a = e.admitted();
    const rules::RuleSet* set =
        rules.select(a.region(), a.care_type(), rules::local_date(occurred));
    if (set == nullptr) {
      return reject(C::kNoRules, "no rule set in force for region " + a.region() + " on " +
                                     rules::format_date(rules::local_date(occurred)));
    }
    EpisodeState fresh;
    fresh.set_episode_id(e.episode_id());
    fresh.set_phase(EpisodeState::OPEN);
    fresh.set_rule_set_id(set->id);
    fresh.set_rule_set_digest(set->digest);  // pinned by content: rules/README.md
    *fresh.mutable_admission() = a;
    // A patient admitted without an identity number is flagged so in every notice (2 kap. 2 §
    // asks for the personnummer; there is none yet).
    if (a.patient().personal_id().empty()) {
      fresh.mutable_admission()->mutable_patient()->set_personal_id_kind(
          v1::Patient::NO_PERSONAL_ID);
    }
    fresh.set_admitted_at(to_unix(occurred));
    fresh.set_last_occurred_at(to_unix(occurred));
    fresh.set_updated_at(to_unix(now));
    remember(fresh, event_key(e.source(), e.event_id()), event_digest(bytes));
    Transition t;
    t.next = std::move(fresh);
    return t;
  }

  const uint64_t d = event_digest(bytes);
  const uint64_t key = event_key(e.source(), e.event_id());
  for (int i = 0; i < state->seen_keys_size(); ++i) {
    if (state->seen_keys(i) != key) continue;
    if (i < state->seen_digests_size() && state->seen_digests(i) == d) {
      Transition t;
      t.outcome = Transition::Outcome::kDuplicate;
      return t;
    }
    return reject(C::kConflict, "eventId was seen before with different content");
  }
  for (const auto& seen : state->seen()) {
    if (seen.event_id() != e.event_id() || seen.source() != e.source()) continue;
    if (seen.digest() == d) {
      Transition t;
      t.outcome = Transition::Outcome::kDuplicate;
      return t;
    }
    return reject(C::kConflict, "eventId was seen before with different content");
  }
  if (applied_events(*state) >= kMaxEventsPerEpisode) {
    return reject(C::kEpisodeLimit, "the episode has applied " +
                                        std::to_string(kMaxEventsPerEpisode) +
                                        " events, the most one episode may");
  }
  switch (state->phase()) {
    case EpisodeState::CANCELLED:
      // The units may still acknowledge what they were sent, the cancellation included.
      if (e.payload_case() == v1::Event::kNoticeAcknowledged) break;
      return reject(C::kEpisodeClosed, "the admission was cancelled");
    case EpisodeState::CLOSED:
      if (late_fact_of_the_stay(e.payload_case())) {
        if (auto bad = check_late_fact(*state, e)) return *bad;
        break;
      }
      if (!allowed_after_discharge(e.payload_case())) {
        return reject(C::kEpisodeClosed, payload_name(e) + " after the episode was settled");
      }
      break;
    case EpisodeState::DISCHARGED:
      if (late_fact_of_the_stay(e.payload_case())) {
        if (auto bad = check_late_fact(*state, e)) return *bad;
        break;
      }
      if (!allowed_after_discharge(e.payload_case())) {
        return reject(C::kOutOfOrder, payload_name(e) + " after the patient was discharged");
      }
      break;
    default:
      break;
  }
  if (to_unix(occurred) < state->admitted_at()) {
    return reject(C::kOutOfOrder, payload_name(e) + " occurred before the admission");
  }
  switch (e.payload_case()) {
    case v1::Event::kAdmitted:
      return reject(C::kOutOfOrder, "the episode is already admitted");
    case v1::Event::kDischargeReady:
      if (state->discharge_ready())
        return reject(C::kOutOfOrder, "the patient is already discharge-ready");
      break;
    case v1::Event::kDischargeReadyRevoked:
      if (!state->discharge_ready()) {
        return reject(C::kOutOfOrder, "dischargeReadyRevoked while not discharge-ready");
      }
      // A late revocation counts by its event time, but only within the declaration it revokes.
      if (state->has_declared_at() && to_unix(occurred) < state->declared_at()) {
        return reject(C::kOutOfOrder,
                      "dischargeReadyRevoked occurred before the declaration it revokes");
      }
      break;
    case v1::Event::kNoticeAcknowledged:
      if (auto bad = check_acknowledgement(*state, e.notice_acknowledged())) return *bad;
      break;
    case v1::Event::kDischargeCancelled:
      if (state->phase() != EpisodeState::DISCHARGED && state->phase() != EpisodeState::CLOSED) {
        return reject(C::kOutOfOrder, "dischargeCancelled while the patient is not discharged");
      }
      break;
    default:
      break;
  }

  // The state is taken only here, after every refusal (apply_event(EpisodeState&&) promises it).
  Step s(taken(owned, *state), rules, now, event_cause(e));
  switch (e.payload_case()) {
    case v1::Event::kNeedsAssessed:
      on_needs_assessed(s, e);
      break;
    case v1::Event::kEstimatedDischargeChanged:
      on_estimated_discharge_changed(s, e);
      break;
    case v1::Event::kConsentRecorded:
      on_consent(s, e);
      break;
    case v1::Event::kCareContactAppointed:
      on_care_contact(s, e);
      break;
    case v1::Event::kDischargeReady:
      on_discharge_ready(s, e);
      break;
    case v1::Event::kDischargeReadyRevoked:
      on_discharge_ready_revoked(s, e);
      break;
    case v1::Event::kInformationTransferred:
      on_information_transferred(s, e);
      break;
    case v1::Event::kSipInvitationSent:
      on_sip_invitation_sent(s, e);
      break;
    case v1::Event::kAdmissionCancelled:
      on_admission_cancelled(s);
      break;
    case v1::Event::kOutpatientServicesUnavailable:
      on_outpatient_unavailable(s, e);
      break;
    case v1::Event::kDischarged:
      on_discharged(s, e);
      break;
    case v1::Event::kDischargeCancelled:
      on_discharge_cancelled(s);
      break;
    case v1::Event::kPatientDataUpdated:
      on_patient_data_updated(s, e);
      break;
    case v1::Event::kWardChanged:
      on_ward_changed(s, e);
      break;
    case v1::Event::kNoticeAcknowledged:
      on_notice_acknowledged(s, e);
      break;
    default:
      SAMORDNA_CHECK(false, "every payload case is handled");
  }
  s.miss_overdue();
  s.try_settle();
  s.resettle();
  auto& st = s.st();
  remember(st, key, d);
  if (applied_events(st) == kMaxEventsPerEpisode) {
    s.emit_warning(v1::Warning::EPISODE_EVENT_LIMIT, s.ward());
  }
  st.set_last_occurred_at(std::max(st.last_occurred_at(), to_unix(occurred)));
  return std::move(s).finish();
}

}  // namespace

StepResult apply_event(const storage::v1::EpisodeState* state, const v1::Event& event,
                       const rules::RuleBook& rules, Instant now) {
  return step_event(state, nullptr, event, rules, now);
}

StepResult apply_event(storage::v1::EpisodeState&& state, const v1::Event& event,
                       const rules::RuleBook& rules, Instant now) {
  return step_event(&state, &state, event, rules, now);
}

namespace {

Transition step_timer(const storage::v1::EpisodeState& state, storage::v1::EpisodeState* owned,
                      const TimerFired& timer, const rules::RuleBook& rules, Instant now) {
  const auto& timers = state.timers();
  const auto it =
      std::find_if(timers.begin(), timers.end(), [&](const storage::v1::TimerRecord& t) {
        return t.kind() == timer.kind && t.deadline() == timer.deadline &&
               t.fire_at() == to_unix(timer.fire_at);
      });
  if (it == timers.end()) {
    Transition t;
    t.outcome = Transition::Outcome::kStale;
    return t;
  }
  const std::string cause =
      std::string("t/") + (timer.kind == storage::v1::TIMER_DEADLINE ? "due" : "remind") + "/" +
      deadline_name(timer.deadline) + "/" + std::to_string(to_unix(timer.fire_at));
  // A timer's notifications are issued at its fire time, whenever the pass that found it ran:
  // output then does not depend on scheduling, and delivery latency is measurable against it.
  (void)now;
  const auto fired_at = it - timers.begin();  // before `state` may move
  Step s(taken(owned, state), rules, timer.fire_at, cause);
  auto& st = s.st();
  st.mutable_timers()->erase(st.mutable_timers()->begin() + fired_at);
  // The pending deadlines of the kind this timer belongs to (one, unless units named by
  // different assessments wait for admission notices due at the same second).
  storage::v1::TimerRecord fired;
  fired.set_kind(timer.kind);
  fired.set_deadline(timer.deadline);
  fired.set_fire_at(to_unix(timer.fire_at));
  for (auto& d : *st.mutable_deadlines()) {
    if (d.status() != DeadlineRecord::PENDING || !s.timer_of(fired, d)) continue;
    if (timer.kind == storage::v1::TIMER_DEADLINE) {
      s.drop_timers(d);
      s.emit_missed(d);
    } else {
      s.fill_alert(*s.emit().mutable_deadline_reminder(), d);
    }
  }
  s.try_settle();
  return std::move(s).finish();
}

}  // namespace

Transition fire_timer(const storage::v1::EpisodeState& state, const TimerFired& timer,
                      const rules::RuleBook& rules, Instant now) {
  return step_timer(state, nullptr, timer, rules, now);
}

Transition fire_timer(storage::v1::EpisodeState&& state, const TimerFired& timer,
                      const rules::RuleBook& rules, Instant now) {
  return step_timer(state, &state, timer, rules, now);
}

}  // namespace samordna::state
