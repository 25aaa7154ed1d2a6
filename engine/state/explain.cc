#include "engine/state/explain.h"

#include <algorithm>
#include <sstream>

#include "engine/state/addressees.h"
#include "engine/state/episode_machine.h"
#include "rules/deadlines.h"
#include "rules/liability.h"

namespace samordna::state {
namespace {

using storage::v1::DeadlineRecord;

const char* law_reference(v1::DeadlineKind kind) {
  switch (kind) {
    case v1::ADMISSION_NOTICE:
      return "2 kap. 3 § (inskrivningsmeddelande within 24 hours)";
    case v1::CARE_CONTACT:
      return "2 kap. 5 § (fast vårdkontakt before discharge)";
    case v1::INFORMATION_TRANSFER:
      return "3 kap. 2 § (information by the day of discharge)";
    case v1::SIP_INVITATION:
      return "4 kap. 3 § (kallelse till SIP within three days)";
    default:
      return "unknown";
  }
}

std::string local(int64_t unix_seconds) { return rules::format_local(from_unix(unix_seconds)); }

std::vector<std::string> steps_for(const storage::v1::EpisodeState& st, const DeadlineRecord& d,
                                   const rules::RuleSet& set) {
  const Instant anchor = from_unix(d.anchor());
  switch (d.kind()) {
    case v1::ADMISSION_NOTICE:
      // A unit named by a later assessment has its own anchor, that assessment.
      return rules::admission_notice_due(from_unix(st.admitted_at()),
                                         d.anchor() > st.admitted_at() || !st.has_assessed_at()
                                             ? anchor
                                             : from_unix(st.assessed_at()),
                                         set)
          .steps;
    case v1::INFORMATION_TRANSFER:
      return rules::information_transfer_due(anchor).steps;
    case v1::SIP_INVITATION: {
      // Anchored at the notice that started the period, at the later notice the outpatient unit
      // got (a SIP required later, or a unit that joined later), or at the SIP consent after them.
      const bool at_period = std::any_of(st.periods().begin(), st.periods().end(),
                                         [&](const storage::v1::LiabilityPeriodRecord& p) {
                                           return p.notice_sent_at() == d.anchor();
                                         });
      const bool at_outpatient_notice =
          !at_period &&
          std::any_of(st.notices().begin(), st.notices().end(),
                      [&](const storage::v1::NoticeRecord& n) {
                        return n.kind() == storage::v1::NoticeRecord::DISCHARGE_READY_NOTICE &&
                               n.has_issued_at() && n.issued_at() == d.anchor() &&
                               n.recipient().kind() == v1::Organisation::OUTPATIENT_UNIT;
                      });
      return rules::sip_invitation_due(anchor, set,
                                       at_period ? "discharge-ready notice sent"
                                       : at_outpatient_notice
                                           ? "discharge-ready notice to the outpatient unit sent"
                                           : "SIP consent given after the notice")
          .steps;
    }
    case v1::CARE_CONTACT:
      return {"due at the discharge itself: " + local(d.due_at())};
    default:
      return {};
  }
}

std::string outcome(const DeadlineRecord& d) {
  std::string out = DeadlineRecord::Status_Name(d.status());
  if (d.has_fulfilled_at()) {
    out += ", fulfilled " + local(d.fulfilled_at());
    if (d.fulfilled_at() > d.due_at()) {
      out += " (" + rules::late_by(from_unix(d.due_at()), from_unix(d.fulfilled_at())) + ")";
    }
  }
  if (d.alerted()) out += ", miss alerted";
  return out;
}

const char* consent_text(storage::v1::ConsentState c) {
  switch (c) {
    case storage::v1::CONSENT_GRANTED:
      return "granted";
    case storage::v1::CONSENT_DECLINED:
      return "declined";
    default:
      return "not recorded";
  }
}

std::string recipient_text(const v1::Recipient& r) {
  return v1::Service_Name(r.service()) + " " + r.unit();
}

std::string organisation_text(const v1::Organisation& o) {
  return v1::Organisation::Kind_Name(o.kind()) + " " + o.id();
}

// The notice a recipient of an admission-notice deadline got: the j-th record to its organisation
// issued when the deadline was fulfilled (social services and municipal health care share the
// municipality, and are sent in recipient order), or nullptr.
const storage::v1::NoticeRecord* admission_notice_of(const storage::v1::EpisodeState& st,
                                                     const DeadlineRecord& d, int r_index) {
  if (!d.has_fulfilled_at()) return nullptr;
  const v1::Organisation org = organisation_of(d.recipients(r_index));
  int j = 0;
  for (int i = 0; i < r_index; ++i) {
    if (organisation_equal(organisation_of(d.recipients(i)), org)) ++j;
  }
  for (const auto& n : st.notices()) {
    if (n.kind() != storage::v1::NoticeRecord::ADMISSION_NOTICE || !n.has_issued_at() ||
        n.issued_at() != d.fulfilled_at() || !organisation_equal(n.recipient(), org)) {
      continue;
    }
    if (j-- == 0) return &n;
  }
  return nullptr;
}

// 2 kap. 1, 3 §§: each unit's admission notice against its own deadline.
void explain_admission_notices(std::ostringstream& out, const storage::v1::EpisodeState& st) {
  for (const auto& d : st.deadlines()) {
    if (d.kind() != v1::ADMISSION_NOTICE) continue;
    for (int i = 0; i < d.recipients_size(); ++i) {
      out << "  ADMISSION_NOTICE to " << recipient_text(d.recipients(i)) << ": due "
          << local(d.due_at()) << "; ";
      if (d.has_fulfilled_at()) {
        out << "sent " << local(d.fulfilled_at());
        if (const auto* n = admission_notice_of(st, d, i))
          out << " (" << n->notification_id() << ")";
        out << ", " << rules::late_by(from_unix(d.due_at()), from_unix(d.fulfilled_at()));
      } else if (d.status() == DeadlineRecord::MISSED) {
        out << "not sent by the deadline (missed)";
      } else {
        out << DeadlineRecord::Status_Name(d.status());
      }
      out << "\n";
    }
    if (d.recipients().empty()) {  // a record written before per-unit deadlines
      out << "  ADMISSION_NOTICE to every unit notified: due " << local(d.due_at()) << "; "
          << outcome(d) << "\n";
    }
  }
}

// The other notices, one line each: no deadline of their own ("as soon as possible", 2 kap. 4 §,
// 3 kap. 1 §), so when they went out, or why they are held, and who acknowledged them.
void explain_other_notices(std::ostringstream& out, const storage::v1::EpisodeState& st) {
  for (const auto& n : st.notices()) {
    if (n.kind() == storage::v1::NoticeRecord::ADMISSION_NOTICE) continue;
    out << "  " << storage::v1::NoticeRecord::Kind_Name(n.kind()) << " to "
        << organisation_text(n.recipient()) << ": ";
    if (n.has_issued_at()) {
      out << "sent " << local(n.issued_at()) << " (" << n.notification_id() << ")";
      if (n.has_held_at()) {
        out << ", held from " << local(n.held_at()) << " ("
            << v1::NoticeHeld::Reason_Name(n.held_reason()) << ")";
      }
    } else {
      out << "held since " << local(n.held_at()) << " ("
          << v1::NoticeHeld::Reason_Name(n.held_reason()) << ")";
    }
    for (const auto& a : n.acknowledgements()) {
      out << ", acknowledged " << local(a.at()) << " by " << organisation_text(a.by());
    }
    out << "\n";
  }
}

// Payment liability, period by period, with the same arithmetic the settlement used
// (rules::period_days): the first liable date and its steps, how the period ended, the nights,
// and the dates 5 kap. 5 § excluded.
void explain_liability(std::ostringstream& out, const storage::v1::EpisodeState& st,
                       const rules::RuleSet& set) {
  const rules::LiabilityFacts facts = liability_facts(st);
  int index = 0;
  for (const auto& p : st.periods()) {
    ++index;
    out << "  period " << index << ": from the discharge-ready notice " << local(p.notice_sent_at())
        << "\n";
    if (!p.has_ended_at()) {
      const auto first = rules::first_liable_date(from_unix(p.notice_sent_at()), set.liability);
      for (const auto& step : first.steps) out << "    " << step << "\n";
      out << "    still running\n";
      continue;
    }
    const bool by_discharge = st.has_discharged_at() && p.ended_at() == st.discharged_at();
    out << "    ended by " << (by_discharge ? "discharge " : "revocation ") << local(p.ended_at())
        << "\n";
    const rules::PeriodDays days =
        rules::period_days(facts, {from_unix(p.notice_sent_at()), from_unix(p.ended_at())}, set);
    for (const auto& step : days.first.steps) out << "    " << step << "\n";
    if (days.end <= days.first.date) {
      out << "    ended " << rules::format_date(days.end) << ", on or before the first liable date "
          << rules::format_date(days.first.date) << ": no liable night\n";
      continue;
    }
    const int nights = rules::nights_between(days.first.date, days.end);
    out << "    nights from " << rules::format_date(days.first.date) << " up to, not including, "
        << rules::format_date(days.end) << " = " << nights << "\n";
    out << "    excluded (5 kap. 5 §, outpatient services unavailable): ";
    if (days.excluded.empty()) out << "none";
    for (size_t i = 0; i < days.excluded.size(); ++i) {
      out << (i == 0 ? "" : ", ") << rules::format_date(days.excluded[i]);
    }
    if (set.liability.model == rules::LiabilityModel::kMonthlyAverage) {
      // Grace is 0 under this model: the nights counted are the stay's days in the average.
      out << "\n    days in the municipality's monthly average: " << days.liable.size() << "\n";
    } else {
      out << "\n    liable days: " << days.liable.size() << "\n";
    }
  }
}

}  // namespace

std::string explain_deadline(const storage::v1::EpisodeState& st, const DeadlineRecord& d,
                             const rules::RuleSet& set) {
  std::string out = law_reference(d.kind());
  out += ": ";
  for (const auto& step : steps_for(st, d, set)) out += step + "; ";
  out += "due " + local(d.due_at());
  return out;
}

std::string explain(const storage::v1::EpisodeState& st, const rules::RuleBook& book) {
  std::ostringstream out;
  const rules::RuleSet* set = rules_for(st, book);
  out << "episode " << st.episode_id() << " (" << storage::v1::EpisodeState::Phase_Name(st.phase())
      << ")\n";
  out << "admitted " << local(st.admitted_at()) << " at " << st.admission().care_unit()
      << ", region " << st.admission().region() << ", "
      << v1::CareType_Name(st.admission().care_type()) << "\n";
  if (set == nullptr) {
    out << "rules: none in force (rule set " << st.rule_set_id() << " not found)\n";
    return out.str();
  }
  out << "rules: " << set->id << " - " << set->title << " (" << set->source << ")\n";
  out << "consent: information sharing " << consent_text(st.information_consent()) << "; SIP "
      << consent_text(st.sip_consent())
      << (st.sip_consent() == storage::v1::CONSENT_UNKNOWN ? " (not a refusal)" : "") << "\n";
  if (!st.notices().empty() || !st.deadlines().empty()) {
    out << "\nnotices, per recipient\n";
    explain_admission_notices(out, st);
    explain_other_notices(out, st);
  }
  if (st.deadlines().empty()) out << "\nno deadlines were started\n";
  for (const auto& d : st.deadlines()) {
    out << "\n" << v1::DeadlineKind_Name(d.kind()) << "  " << law_reference(d.kind()) << "\n";
    out << "  responsible: " << v1::Party::Role_Name(d.responsible().role()) << " "
        << d.responsible().unit() << "\n";
    out << "  anchor:      " << local(d.anchor()) << "\n";
    for (const auto& step : steps_for(st, d, *set)) out << "  rule:        " << step << "\n";
    out << "  due:         " << local(d.due_at()) << " (last second on time)\n";
    out << "  outcome:     " << outcome(d) << "\n";
  }
  if (!st.periods().empty()) {
    out << "\nPAYMENT_LIABILITY  5 kap. 3-5 §§ (betalningsansvar), municipality "
        << st.admission().patient().home_municipality() << "\n";
    if (set->liability.model == rules::LiabilityModel::kMonthlyAverage) {
      out << "  model: monthly average (rule set " << set->id
          << "): the episode alone owes nothing; its stay's days count in the municipality's "
             "average for the month of discharge, which `samordna whatif` computes\n";
    }
    explain_liability(out, st, *set);
  }
  if (st.has_settled_liability()) {
    const auto& pl = st.settled_liability();
    out << "\nsettled: " << v1::PaymentLiability::Status_Name(pl.status());
    if (pl.status() == v1::PaymentLiability::NOT_LIABLE) {
      out << " (" << v1::PaymentLiability::Reason_Name(pl.reason()) << ")";
    } else {
      // firstLiableDate: that of the first period with liable days (notification.proto).
      out << ", " << pl.liable_days() << " liable day(s), the first on " << pl.first_liable_date()
          << " (the first period with liable days)";
      if (pl.has_amount_sek()) out << ", " << pl.amount_sek() << " kr";
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace samordna::state
