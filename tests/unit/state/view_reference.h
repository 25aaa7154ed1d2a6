#pragma once

// The episode view built as a message, field by field, with protobuf's generated setters: the
// oracle write_view's bytes are compared with (episode_view_test.cc over every step of the
// scenario cases, tests/fuzz/fuzz_episode.cc after every step it tries). It was the product's
// view_of until `run` serialized views straight from the state (engine/state/episode_view.h).

#include "engine/core/time.h"
#include "engine/state/addressees.h"
#include "engine/state/episode_machine.h"
#include "engine/state/episode_view.h"
#include "engine/state/explain.h"
#include "rules/calendar.h"
#include "samordna/v1/episode_view.pb.h"
#include "samordna/v1/storage.pb.h"

namespace samordna::state::testing {

inline v1::EpisodeView reference_view(const storage::v1::EpisodeState& st,
                                      const rules::RuleBook& rules) {
  auto ts = [](int64_t unix_seconds) { return to_proto(from_unix(unix_seconds)); };
  v1::EpisodeView v;
  v.set_episode_id(st.episode_id());
  v.set_status(status_of(st.phase()));
  const auto& a = st.admission();
  v.set_care_unit(a.care_unit());
  v.set_region(a.region());
  v.set_home_municipality(a.patient().home_municipality());
  v.set_care_type(a.care_type());
  *v.mutable_patient() = a.patient();
  for (int need : st.needs()) v.add_needs(static_cast<v1::Service>(need));
  v.set_outpatient_unit(st.outpatient_unit());
  v.set_care_contact_unit(st.care_contact_unit());
  if (st.has_care_contact_at()) *v.mutable_care_contact_at() = ts(st.care_contact_at());
  *v.mutable_admitted_at() = ts(st.admitted_at());
  if (st.has_estimated_discharge_at()) {
    *v.mutable_estimated_discharge_at() = ts(st.estimated_discharge_at());
  }
  v.set_discharge_ready(st.discharge_ready());
  if (st.has_declared_at()) *v.mutable_discharge_ready_at() = ts(st.declared_at());
  if (st.has_discharged_at()) *v.mutable_discharged_at() = ts(st.discharged_at());
  const rules::RuleSet* set = rules_for(st, rules);
  v.set_rule_set(set != nullptr ? set->id : st.rule_set_id());
  for (const auto& d : st.deadlines()) {
    auto* out = v.add_deadlines();
    out->set_kind(d.kind());
    *out->mutable_due_at() = ts(d.due_at());
    out->set_due_local(rules::format_local(from_unix(d.due_at())));
    out->set_state(state_of(d.status()));
    if (d.has_fulfilled_at()) *out->mutable_fulfilled_at() = ts(d.fulfilled_at());
    *out->mutable_responsible() = organisation_of(d.responsible());
    *out->mutable_anchor() = ts(d.anchor());
    if (set != nullptr) out->set_explanation(explain_deadline(st, d, *set));
  }
  for (const auto& r : st.notices()) {
    auto* out = v.add_notices();
    out->set_notification_id(r.notification_id());
    out->set_kind(kind_of(r.kind()));
    *out->mutable_recipient() = r.recipient();
    if (r.has_issued_at()) *out->mutable_issued_at() = ts(r.issued_at());
    out->set_held(!r.has_issued_at());
    out->set_held_reason(r.held_reason());
    if (r.has_held_at()) *out->mutable_held_at() = ts(r.held_at());
    for (const auto& ack : r.acknowledgements()) {
      auto* o = out->add_acknowledgements();
      *o->mutable_by() = ack.by();
      *o->mutable_at() = ts(ack.at());
      o->set_person(ack.person());
    }
  }
  if (st.has_settled_liability()) *v.mutable_liability() = st.settled_liability();
  *v.mutable_updated_at() = ts(st.updated_at() != 0 ? st.updated_at() : st.last_occurred_at());
  return v;
}

}  // namespace samordna::state::testing
