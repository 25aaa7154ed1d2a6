#include "engine/state/addressees.h"

#include <algorithm>
#include <tuple>
#include <utility>
#include <vector>

namespace samordna::state {
namespace {

using v1::Organisation;

Organisation make(Organisation::Kind kind, const std::string& id) {
  Organisation o;
  o.set_kind(kind);
  o.set_id(id);
  return o;
}

}  // namespace

Organisation organisation_of(const v1::Recipient& r) {
  switch (r.service()) {
    case v1::SOCIAL_SERVICES:
    case v1::MUNICIPAL_HEALTH_CARE:
      return make(Organisation::MUNICIPALITY, r.unit());
    case v1::OUTPATIENT_CARE:
      return make(Organisation::OUTPATIENT_UNIT, r.unit());
    default:
      return make(Organisation::KIND_UNSPECIFIED, r.unit());
  }
}

Organisation organisation_of(const v1::Party& p) { return make(organisation_kind_of(p), p.unit()); }

Organisation::Kind organisation_kind_of(const v1::Party& p) {
  switch (p.role()) {
    case v1::Party::INPATIENT_CARE:
      return Organisation::WARD;
    case v1::Party::OUTPATIENT_CARE:
      return Organisation::OUTPATIENT_UNIT;
    case v1::Party::MUNICIPALITY:
      return Organisation::MUNICIPALITY;
    default:
      return Organisation::KIND_UNSPECIFIED;
  }
}

bool organisation_less(const Organisation& a, const Organisation& b) {
  return std::forward_as_tuple(a.kind(), a.id()) < std::forward_as_tuple(b.kind(), b.id());
}

bool organisation_equal(const Organisation& a, const Organisation& b) {
  return a.kind() == b.kind() && a.id() == b.id();
}

void set_addressees(v1::Notification& n, const storage::v1::EpisodeState& episode) {
  const Organisation ward = make(Organisation::WARD, episode.admission().care_unit());
  std::vector<Organisation> to;
  switch (n.kind_case()) {
    // A notice goes to its recipient only.
    case v1::Notification::kAdmissionNotice:
      to.push_back(organisation_of(n.admission_notice().recipient()));
      break;
    case v1::Notification::kDischargeReadyNotice:
      to.push_back(organisation_of(n.discharge_ready_notice().recipient()));
      break;
    case v1::Notification::kEstimatedDischargeUpdate:
      to.push_back(organisation_of(n.estimated_discharge_update().recipient()));
      break;
    case v1::Notification::kAdmissionCancellation:
      to.push_back(organisation_of(n.admission_cancellation().recipient()));
      break;
    // A deadline concerns the party that must act and the ward that follows the episode.
    case v1::Notification::kDeadlineMissed:
      to.push_back(organisation_of(n.deadline_missed().responsible()));
      to.push_back(ward);
      break;
    case v1::Notification::kDeadlineMissRetracted:
      to.push_back(organisation_of(n.deadline_miss_retracted().responsible()));
      to.push_back(ward);
      break;
    case v1::Notification::kDeadlineReminder:
      to.push_back(organisation_of(n.deadline_reminder().responsible()));
      to.push_back(ward);
      break;
    // A held notice goes to the ward alone: its would-be recipients must not learn of a notice
    // that secrecy holds back (3 kap. 1 §), nor of one the ward has still to complete.
    case v1::Notification::kNoticeHeld:
      to.push_back(ward);
      break;
    case v1::Notification::kWarning:
      to.push_back(organisation_of(n.warning().to()));
      to.push_back(ward);
      break;
    // Betalningsansvar is between the municipality and the region (5 kap. 1 §).
    case v1::Notification::kPaymentLiability:
      to.push_back(make(Organisation::MUNICIPALITY, n.payment_liability().municipality()));
      to.push_back(make(Organisation::REGION, episode.admission().region()));
      break;
    case v1::Notification::kPaymentLiabilityWithdrawn:
      to.push_back(
          make(Organisation::MUNICIPALITY, n.payment_liability_withdrawn().municipality()));
      to.push_back(make(Organisation::REGION, episode.admission().region()));
      break;
    case v1::Notification::KIND_NOT_SET:
      break;
  }
  to.erase(std::remove_if(to.begin(), to.end(),
                          [](const Organisation& o) {
                            return o.id().empty() || o.kind() == Organisation::KIND_UNSPECIFIED;
                          }),
           to.end());
  std::sort(to.begin(), to.end(), organisation_less);
  to.erase(std::unique(to.begin(), to.end(), organisation_equal), to.end());
  n.clear_addressees();
  for (auto& o : to) *n.add_addressees() = std::move(o);
}

}  // namespace samordna::state
