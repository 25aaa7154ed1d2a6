#pragma once

// Who a notification is for (Notification.addressees): the one field delivery, inboxes and access
// control route on. Derived from the notification's own content and the episode (its ward and
// region), never from where it is sent, so it is the same in the simulator and the service.
// proto/README.md ("Addressees") has the table; this is its only implementation.

#include "samordna/v1/event.pb.h"
#include "samordna/v1/notification.pb.h"
#include "samordna/v1/storage.pb.h"

namespace samordna::state {

// A notice's recipient as an organisation: the municipality (kommunkod) for SOCIAL_SERVICES and
// MUNICIPAL_HEALTH_CARE, the outpatient unit for OUTPATIENT_CARE.
v1::Organisation organisation_of(const v1::Recipient& recipient);
// A party that must act: the ward, the outpatient unit or the municipality.
v1::Organisation organisation_of(const v1::Party& party);
// Its kind alone (the id is the party's unit).
v1::Organisation::Kind organisation_kind_of(const v1::Party& party);

// Orders by (kind, id): the order addressees are listed in.
bool organisation_less(const v1::Organisation& a, const v1::Organisation& b);
bool organisation_equal(const v1::Organisation& a, const v1::Organisation& b);

// Replaces n's addressees with those its kind and content call for, sorted by (kind, id), without
// duplicates and without organisations that have no id.
void set_addressees(v1::Notification& n, const storage::v1::EpisodeState& episode);

}  // namespace samordna::state
