#include "engine/state/explain.h"

#include <algorithm>
#include <sstream>

#include "engine/state/episode_machine.h"
#include "rules/deadlines.h"

namespace samordna::state {
namespace {

using v1::DeadlineRecord;

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

std::vector<std::string> steps_for(const v1::EpisodeState& st, const DeadlineRecord& d,
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
      const bool at_period = std::any_of(
          st.periods().begin(), st.periods().end(),
          [&](const v1::LiabilityPeriodRecord& p) { return p.notice_sent_at() == d.anchor(); });
      const bool at_outpatient_notice =
          !at_period &&
          std::any_of(st.notices().begin(), st.notices().end(), [&](const v1::NoticeRecord& n) {
            return n.kind() == v1::NoticeRecord::DISCHARGE_READY_NOTICE && n.has_issued_at() &&
                   n.issued_at() == d.anchor() &&
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
  if (d.has_fulfilled_at()) out += ", fulfilled " + local(d.fulfilled_at());
  if (d.alerted()) out += ", miss alerted";
  return out;
}

}  // namespace

std::string explain_deadline(const v1::EpisodeState& st, const DeadlineRecord& d,
                             const rules::RuleSet& set) {
  std::string out = law_reference(d.kind());
  out += ": ";
  for (const auto& step : steps_for(st, d, set)) out += step + "; ";
  out += "due " + local(d.due_at());
  return out;
}

std::string explain(const v1::EpisodeState& st, const rules::RuleBook& book) {
  std::ostringstream out;
  const rules::RuleSet* set = rules_for(st, book);
  out << "episode " << st.episode_id() << " (" << v1::EpisodeState::Phase_Name(st.phase()) << ")\n";
  out << "admitted " << local(st.admitted_at()) << " at " << st.admission().care_unit()
      << ", region " << st.admission().region() << ", "
      << v1::CareType_Name(st.admission().care_type()) << "\n";
  if (set == nullptr) {
    out << "rules: none in force (rule set " << st.rule_set_id() << " not found)\n";
    return out.str();
  }
  out << "rules: " << set->id << " - " << set->title << " (" << set->source << ")\n";
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
    for (const auto& p : st.periods()) {
      const auto first = rules::first_liable_date(from_unix(p.notice_sent_at()), set->liability);
      out << "  period from notice " << local(p.notice_sent_at()) << "\n";
      for (const auto& step : first.steps) out << "    " << step << "\n";
      if (p.has_ended_at()) {
        const auto end = rules::local_date(from_unix(p.ended_at()));
        out << "    ended " << local(p.ended_at()) << ": nights from "
            << rules::format_date(first.date) << " up to " << rules::format_date(end) << " = "
            << rules::nights_between(first.date, end) << " (before 5 kap. 5 § exclusions)\n";
      } else {
        out << "    still running\n";
      }
    }
  }
  if (st.has_settled_liability()) {
    const auto& pl = st.settled_liability();
    out << "\nsettled: " << v1::PaymentLiability::Status_Name(pl.status());
    if (pl.status() == v1::PaymentLiability::NOT_LIABLE) {
      out << " (" << v1::PaymentLiability::Reason_Name(pl.reason()) << ")";
    } else {
      out << ", " << pl.liable_days() << " liable day(s) from " << pl.first_liable_date();
      if (pl.has_amount_sek()) out << ", " << pl.amount_sek() << " kr";
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace samordna::state
