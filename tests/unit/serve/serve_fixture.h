#pragma once

// Test material for connectors/serve: keys, tokens, and a small read model of two "worlds" (two
// regions, each with a municipality, an outpatient unit and a ward), so every test can ask whether
// one organisation sees what belongs to another.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "connectors/serve/auth.h"
#include "connectors/serve/read_model.h"
#include "engine/core/time.h"

namespace samordna::serve::testing {

struct KeyPair {
  std::string private_pem;
  std::string public_pem;
};

// "EC" (P-256) or "RSA" (2048 bits).
inline KeyPair make_keys(const std::string& type) {
  EVP_PKEY* key = type == "EC" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                               : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
  auto pem = [&](bool priv) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (priv) {
      PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    } else {
      PEM_write_bio_PUBKEY(bio, key);
    }
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string s(data, static_cast<size_t>(n));
    BIO_free(bio);
    return s;
  };
  KeyPair kp{pem(true), pem(false)};
  EVP_PKEY_free(key);
  return kp;
}

inline Instant at(const std::string& s) { return parse_rfc3339(s).value(); }

struct World {
  std::string region, municipality, outpatient, ward, episode, personal_id;
};

inline const World kWorldA{"01", "0180", "vc-a", "ward-a", "ep-a", "199001012385"};
inline const World kWorldB{"14", "1480", "vc-b", "ward-b", "ep-b", "198507172396"};

inline OrgRef org(v1::Organisation::Kind k, const World& w) {
  switch (k) {
    case v1::Organisation::MUNICIPALITY:
      return {k, w.municipality};
    case v1::Organisation::OUTPATIENT_UNIT:
      return {k, w.outpatient};
    case v1::Organisation::WARD:
      return {k, w.ward};
    case v1::Organisation::REGION:
      return {k, w.region};
    default:
      return {k, "?"};
  }
}

inline v1::Organisation proto_org(const OrgRef& o) {
  v1::Organisation p;
  p.set_kind(o.kind);
  p.set_id(o.id);
  return p;
}

// The view `samordna run` would publish for a discharged, settled episode of world `w`: one met
// and one missed deadline, one open, the admission notice to the municipality and the outpatient
// unit, the municipality's acknowledged.
inline v1::EpisodeView view(const World& w) {
  v1::EpisodeView v;
  v.set_episode_id(w.episode);
  v.set_status(v1::EpisodeView::SETTLED);
  v.set_care_unit(w.ward);
  v.set_region(w.region);
  v.set_home_municipality(w.municipality);
  v.set_outpatient_unit(w.outpatient);
  v.mutable_patient()->set_personal_id(w.personal_id);
  v.mutable_patient()->set_name("Test Testsson " + w.episode);
  v.mutable_patient()->set_home_municipality(w.municipality);
  *v.mutable_admitted_at() = to_proto(at("2025-03-03T08:00:00Z"));
  *v.mutable_discharge_ready_at() = to_proto(at("2025-03-10T09:00:00Z"));
  *v.mutable_discharged_at() = to_proto(at("2025-03-20T10:00:00Z"));
  *v.mutable_updated_at() = to_proto(at("2025-03-20T10:00:00Z"));
  auto add_deadline = [&](v1::DeadlineKind kind, v1::EpisodeView::Deadline::State state,
                          const std::string& due, const OrgRef& who) {
    auto* d = v.add_deadlines();
    d->set_kind(kind);
    d->set_state(state);
    *d->mutable_due_at() = to_proto(at(due));
    *d->mutable_responsible() = proto_org(who);
    d->set_explanation("2 kap. 3 §: admitted + 24 h");
  };
  add_deadline(v1::ADMISSION_NOTICE, v1::EpisodeView::Deadline::MET, "2025-03-04T08:00:00Z",
               org(v1::Organisation::WARD, w));
  add_deadline(v1::SIP_INVITATION, v1::EpisodeView::Deadline::MISSED, "2025-03-13T22:59:59Z",
               org(v1::Organisation::OUTPATIENT_UNIT, w));
  add_deadline(v1::INFORMATION_TRANSFER, v1::EpisodeView::Deadline::OPEN, "2030-01-01T00:00:00Z",
               org(v1::Organisation::WARD, w));
  for (auto kind : {v1::Organisation::MUNICIPALITY, v1::Organisation::OUTPATIENT_UNIT}) {
    auto* n = v.add_notices();
    n->set_notification_id(w.episode + "/e/adm/" + v1::Organisation::Kind_Name(kind));
    n->set_kind(v1::EpisodeView::Notice::ADMISSION_NOTICE);
    *n->mutable_recipient() = proto_org(org(kind, w));
    *n->mutable_issued_at() = to_proto(at("2025-03-03T09:00:00Z"));
    if (kind == v1::Organisation::MUNICIPALITY) {
      auto* a = n->add_acknowledgements();
      *a->mutable_by() = proto_org(org(kind, w));
      *a->mutable_at() = to_proto(at("2025-03-03T10:00:00Z"));
    }
  }
  // A discharge-ready notice held for want of consent: the ward's business only.
  auto* held = v.add_notices();
  held->set_kind(v1::EpisodeView::Notice::DISCHARGE_READY_NOTICE);
  *held->mutable_recipient() = proto_org(org(v1::Organisation::MUNICIPALITY, w));
  held->set_held(true);
  held->set_held_reason(v1::NoticeHeld::MISSING_CONSENT);
  *held->mutable_held_at() = to_proto(at("2025-03-10T09:00:00Z"));
  auto* l = v.mutable_liability();
  l->set_municipality(w.municipality);
  l->set_status(v1::PaymentLiability::LIABLE);
  l->set_liable_days(4);
  l->set_amount_sek(4 * 9300);
  return v;
}

// The notification addressed to organisation kind `k` of world `w` (the admission notices to the
// municipality and the outpatient unit, a missed deadline to the ward, the payment liability to
// the region and the municipality).
inline v1::Notification notification(const World& w, v1::Organisation::Kind k) {
  v1::Notification n;
  n.set_episode_id(w.episode);
  *n.mutable_issued_at() = to_proto(at("2025-03-03T09:00:00Z"));
  switch (k) {
    case v1::Organisation::MUNICIPALITY:
    case v1::Organisation::OUTPATIENT_UNIT:
      n.set_notification_id(w.episode + "/e/adm/" + v1::Organisation::Kind_Name(k));
      n.mutable_admission_notice()->mutable_patient()->set_personal_id(w.personal_id);
      n.mutable_admission_notice()->mutable_recipient()->set_service(
          k == v1::Organisation::MUNICIPALITY ? v1::SOCIAL_SERVICES : v1::OUTPATIENT_CARE);
      n.mutable_admission_notice()->mutable_recipient()->set_unit(org(k, w).id);
      *n.add_addressees() = proto_org(org(k, w));
      break;
    case v1::Organisation::WARD:
      n.set_notification_id(w.episode + "/t/miss");
      n.mutable_deadline_missed()->set_deadline(v1::SIP_INVITATION);
      *n.add_addressees() = proto_org(org(k, w));
      break;
    default:
      n.set_notification_id(w.episode + "/t/liab");
      *n.mutable_issued_at() = to_proto(at("2025-03-20T10:00:00Z"));
      n.mutable_payment_liability()->set_municipality(w.municipality);
      *n.add_addressees() = proto_org(org(v1::Organisation::MUNICIPALITY, w));
      *n.add_addressees() = proto_org(org(v1::Organisation::REGION, w));
      break;
  }
  return n;
}

inline const std::vector<v1::Organisation::Kind> kKinds = {
    v1::Organisation::MUNICIPALITY, v1::Organisation::OUTPATIENT_UNIT, v1::Organisation::WARD,
    v1::Organisation::REGION};

// Records for both worlds, as the consume loop would hand them over.
inline std::vector<Record> world_records(const TopicNames& t) {
  std::vector<Record> out;
  int64_t off_e = 0, off_n = 0;
  for (const World* w : {&kWorldA, &kWorldB}) {
    out.push_back(Record{t.episodes, 0, off_e++, w->episode, view(*w).SerializeAsString()});
    for (auto k : kKinds) {
      out.push_back(
          Record{t.notifications, 0, off_n++, w->episode, notification(*w, k).SerializeAsString()});
    }
  }
  return out;
}

// A fresh temporary directory per test.
inline std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("samordna-serve-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace samordna::serve::testing
