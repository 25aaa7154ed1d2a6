#include "engine/state/episode_view.h"

#include "engine/core/check.h"
#include "engine/core/time.h"
#include "engine/core/wire.h"
#include "engine/state/addressees.h"
#include "engine/state/episode_machine.h"
#include "engine/state/explain.h"
#include "rules/calendar.h"

namespace samordna::state {

using storage::v1::DeadlineRecord;
using storage::v1::EpisodeState;
using v1::EpisodeView;

EpisodeView::Status status_of(EpisodeState::Phase phase) {
  switch (phase) {
    case EpisodeState::OPEN:
      return EpisodeView::OPEN;
    case EpisodeState::DISCHARGED:
      return EpisodeView::DISCHARGED;
    case EpisodeState::CLOSED:
      return EpisodeView::SETTLED;
    case EpisodeState::CANCELLED:
      return EpisodeView::CANCELLED;
    default:
      return EpisodeView::STATUS_UNSPECIFIED;
  }
}

EpisodeView::Deadline::State state_of(DeadlineRecord::Status status) {
  switch (status) {
    case DeadlineRecord::PENDING:
      return EpisodeView::Deadline::OPEN;
    case DeadlineRecord::MET:
      return EpisodeView::Deadline::MET;
    case DeadlineRecord::MISSED:
      return EpisodeView::Deadline::MISSED;
    case DeadlineRecord::WAIVED:
      return EpisodeView::Deadline::WAIVED;
    default:
      return EpisodeView::Deadline::STATE_UNSPECIFIED;
  }
}

EpisodeView::Notice::Kind kind_of(storage::v1::NoticeRecord::Kind kind) {
  switch (kind) {
    case storage::v1::NoticeRecord::ADMISSION_NOTICE:
      return EpisodeView::Notice::ADMISSION_NOTICE;
    case storage::v1::NoticeRecord::DISCHARGE_READY_NOTICE:
      return EpisodeView::Notice::DISCHARGE_READY_NOTICE;
    case storage::v1::NoticeRecord::ESTIMATED_DISCHARGE_UPDATE:
      return EpisodeView::Notice::ESTIMATED_DISCHARGE_UPDATE;
    case storage::v1::NoticeRecord::ADMISSION_CANCELLATION:
      return EpisodeView::Notice::ADMISSION_CANCELLATION;
    default:
      return EpisodeView::Notice::KIND_UNSPECIFIED;
  }
}

void write_view(const EpisodeState& st, const rules::RuleBook& rules, std::string& out) {
  using Deadline = EpisodeView::Deadline;
  using Notice = EpisodeView::Notice;
  using Ack = EpisodeView::Acknowledgement;
  wire::Writer w{out};
  // Every message is written by appending its serialization: a field's bytes are the generated
  // serializer's whatever fields it has (unknown ones too, as a copy would keep them).
  auto copy = [&](int field, const google::protobuf::MessageLite& m) {
    w.message(field, [&] { m.AppendPartialToString(&out); });
  };
  const auto& a = st.admission();
  w.string(EpisodeView::kEpisodeIdFieldNumber, st.episode_id());
  w.enumeration(EpisodeView::kStatusFieldNumber, status_of(st.phase()));
  w.string(EpisodeView::kCareUnitFieldNumber, a.care_unit());
  w.string(EpisodeView::kRegionFieldNumber, a.region());
  w.string(EpisodeView::kHomeMunicipalityFieldNumber, a.patient().home_municipality());
  w.enumeration(EpisodeView::kCareTypeFieldNumber, a.care_type());
  copy(EpisodeView::kPatientFieldNumber, a.patient());
  w.packed_enums(EpisodeView::kNeedsFieldNumber, st.needs());
  w.string(EpisodeView::kOutpatientUnitFieldNumber, st.outpatient_unit());
  w.string(EpisodeView::kCareContactUnitFieldNumber, st.care_contact_unit());
  if (st.has_care_contact_at()) {
    w.timestamp(EpisodeView::kCareContactAtFieldNumber, st.care_contact_at());
  }
  w.timestamp(EpisodeView::kAdmittedAtFieldNumber, st.admitted_at());
  if (st.has_estimated_discharge_at()) {
    w.timestamp(EpisodeView::kEstimatedDischargeAtFieldNumber, st.estimated_discharge_at());
  }
  w.boolean(EpisodeView::kDischargeReadyFieldNumber, st.discharge_ready());
  if (st.has_declared_at()) {
    w.timestamp(EpisodeView::kDischargeReadyAtFieldNumber, st.declared_at());
  }
  if (st.has_discharged_at()) {
    w.timestamp(EpisodeView::kDischargedAtFieldNumber, st.discharged_at());
  }
  const rules::RuleSet* set = rules_for(st, rules);
  w.string(EpisodeView::kRuleSetFieldNumber, set != nullptr ? set->id : st.rule_set_id());
  for (const auto& d : st.deadlines()) {
    w.message(EpisodeView::kDeadlinesFieldNumber, [&] {
      w.enumeration(Deadline::kKindFieldNumber, d.kind());
      w.timestamp(Deadline::kDueAtFieldNumber, d.due_at());
      w.string(Deadline::kDueLocalFieldNumber, rules::format_local(from_unix(d.due_at())));
      w.enumeration(Deadline::kStateFieldNumber, state_of(d.status()));
      if (d.has_fulfilled_at()) w.timestamp(Deadline::kFulfilledAtFieldNumber, d.fulfilled_at());
      w.message(Deadline::kResponsibleFieldNumber, [&] {
        w.enumeration(v1::Organisation::kKindFieldNumber, organisation_kind_of(d.responsible()));
        w.string(v1::Organisation::kIdFieldNumber, d.responsible().unit());
      });
      w.timestamp(Deadline::kAnchorFieldNumber, d.anchor());
      if (set != nullptr) {
        w.string(Deadline::kExplanationFieldNumber, explain_deadline(st, d, *set));
      }
    });
  }
  for (const auto& r : st.notices()) {
    w.message(EpisodeView::kNoticesFieldNumber, [&] {
      w.string(Notice::kNotificationIdFieldNumber, r.notification_id());
      w.enumeration(Notice::kKindFieldNumber, kind_of(r.kind()));
      copy(Notice::kRecipientFieldNumber, r.recipient());
      if (r.has_issued_at()) w.timestamp(Notice::kIssuedAtFieldNumber, r.issued_at());
      // A held notice stays held until sent; one whose episode moved on (revoked, discharged,
      // cancelled) without sending it stays held in the view too: it was never sent.
      w.boolean(Notice::kHeldFieldNumber, !r.has_issued_at());
      w.enumeration(Notice::kHeldReasonFieldNumber, r.held_reason());
      if (r.has_held_at()) w.timestamp(Notice::kHeldAtFieldNumber, r.held_at());
      for (const auto& ack : r.acknowledgements()) {
        w.message(Notice::kAcknowledgementsFieldNumber, [&] {
          copy(Ack::kByFieldNumber, ack.by());
          w.timestamp(Ack::kAtFieldNumber, ack.at());
          w.string(Ack::kPersonFieldNumber, ack.person());
        });
      }
    });
  }
  if (st.has_settled_liability()) copy(EpisodeView::kLiabilityFieldNumber, st.settled_liability());
  // Records written before updated_at existed: the latest event time is the best there is.
  w.timestamp(EpisodeView::kUpdatedAtFieldNumber,
              st.updated_at() != 0 ? st.updated_at() : st.last_occurred_at());
}

EpisodeView view_of(const EpisodeState& st, const rules::RuleBook& rules) {
  std::string bytes;
  write_view(st, rules, bytes);
  EpisodeView v;
  SAMORDNA_CHECK(v.ParseFromString(bytes), "an episode view parses as it was written");
  return v;
}

}  // namespace samordna::state
