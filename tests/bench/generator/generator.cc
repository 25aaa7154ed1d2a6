#include "tests/bench/generator/generator.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/type.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/type_resolver.h>
#include <google/protobuf/util/type_resolver_util.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <ostream>
#include <queue>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/check.h"
#include "samordna/v1/event.pb.h"
#include "tests/bench/generator/swedish_data.h"

namespace samordna::gen {
namespace {

namespace pb = ::samordna::v1;
using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::sys_seconds;
using std::chrono::year_month_day;

constexpr std::int64_t kMinute = 60;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kDay = 24 * kHour;
constexpr std::int64_t kUnset = std::numeric_limits<std::int64_t>::min();

// --- randomness ---

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// xoshiro256**, written out so the output for a seed does not depend on the standard library's
// distributions (their algorithms are unspecified and differ between implementations).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (auto& s : s_) s = splitmix64(seed);
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // [0, 1)
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // [0, n); the modulo bias is far below anything a share in this generator can show.
  std::uint64_t below(std::uint64_t n) { return next() % n; }
  // [lo, hi]
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }
  bool chance(double p) { return uniform() < p; }
  double normal() {
    const double u1 = (static_cast<double>(next() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.14159265358979323846 * u2);
  }
  double lognormal(double median, double sigma) { return median * std::exp(sigma * normal()); }

  template <std::size_t N>
  std::size_t pick(const std::array<double, N>& weights) {
    double total = 0;
    for (double w : weights) total += w;
    double x = uniform() * total;
    for (std::size_t i = 0; i < N; ++i) {
      if (x < weights[i]) return i;
      x -= weights[i];
    }
    return N - 1;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<std::uint64_t, 4> s_{};
};

std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  std::uint64_t x = a ^ (b * 0xd1b54a32d192ed03ULL);
  return splitmix64(x);
}

// --- Swedish local time ---
// Europe/Stockholm follows the EU rule (CET; CEST from the last Sunday of March to the last
// Sunday of October, switching at 01:00 UTC), computed here so the generator needs no time-zone
// database.

bool summer_time(std::int64_t utc) {
  using namespace std::chrono;
  const sys_seconds t{seconds{utc}};
  const year y = year_month_day{floor<days>(t)}.year();
  const sys_seconds begin = sys_days{y / March / Sunday[last]} + hours{1};
  const sys_seconds end = sys_days{y / October / Sunday[last]} + hours{1};
  return t >= begin && t < end;
}

std::int64_t local_offset(std::int64_t utc) { return summer_time(utc) ? 2 * kHour : kHour; }

// Local wall-clock seconds (as if UTC) to UTC; a time in the spring gap lands an hour later.
std::int64_t local_to_utc(std::int64_t local) {
  const std::int64_t summer = local - 2 * kHour;
  return summer_time(summer) ? summer : local - kHour;
}

// Days since the epoch of the local calendar date of `utc`.
std::int64_t local_day(std::int64_t utc) {
  const std::int64_t local = utc + local_offset(utc);
  return local >= 0 ? local / kDay : (local - kDay + 1) / kDay;
}

std::int64_t at_local(std::int64_t day, std::int64_t seconds_into_day) {
  return local_to_utc(day * kDay + seconds_into_day);
}

// --- reference data, derived once ---

struct Geography {
  std::vector<double> municipality_cumulative;  // population weights
  std::vector<int> somatic_wards;               // per municipality's county: wards in the region
  std::vector<int> psychiatric_wards;
  std::vector<int> health_centres;  // vårdcentraler in the municipality
  std::vector<int> psychiatric_clinics;

  Geography() {
    const auto ms = municipalities();
    double total = 0;
    for (const auto& m : ms) {
      total += m.population_k;
      municipality_cumulative.push_back(total);
      int region_k = 0;
      for (const auto& other : ms) {
        if (other.county == m.county) region_k += other.population_k;
      }
      somatic_wards.push_back(8 + region_k / 20);
      psychiatric_wards.push_back(2 + region_k / 150);
      health_centres.push_back(2 + m.population_k / 12);
      psychiatric_clinics.push_back(1 + m.population_k / 150);
    }
  }

  std::size_t pick_municipality(Rng& rng) const {
    const double x = rng.uniform() * municipality_cumulative.back();
    return static_cast<std::size_t>(
        std::upper_bound(municipality_cumulative.begin(), municipality_cumulative.end(), x) -
        municipality_cumulative.begin());
  }
};

const Geography& geography() {
  static const Geography g;
  return g;
}

// --- the model ---

enum class Kind : std::uint8_t {
  kAdmitted,
  kNeedsAssessed,
  kEstimatedDischargeChanged,
  kConsentRecorded,
  kCareContactAppointed,
  kDischargeReady,
  kDischargeReadyRevoked,
  kInformationTransferred,
  kSipInvitationSent,
  kAdmissionCancelled,
  kOutpatientServicesUnavailable,
  kDischarged,
};

// Needs as a bit set (bit = pb::Service value).
constexpr std::uint8_t kSocial = 1 << pb::SOCIAL_SERVICES;
constexpr std::uint8_t kMunicipalHealth = 1 << pb::MUNICIPAL_HEALTH_CARE;
constexpr std::uint8_t kOutpatient = 1 << pb::OUTPATIENT_CARE;

// Consent argument: scope in the low bits, granted in bit 7.
constexpr std::uint8_t kGranted = 0x80;

constexpr std::array<std::string_view, 6> kDischargeReasons = {
    "hemgång",         "hemgång med hemtjänst", "korttidsboende",
    "särskilt boende", "annan vårdenhet",       "hemgång med hemsjukvård"};

// An episode's fixed facts, kept until its last event is written. Strings are built at write time
// from these indices so that a million episodes in flight stay small.
struct Episode {
  std::uint32_t number = 0;  // 1-based, in admission order
  std::uint32_t remaining = 0;
  std::array<char, 12> personal_id{};
  std::uint16_t first_name = 0;
  std::uint16_t surname = 0;
  std::uint16_t street = 0;
  std::uint16_t house_number = 0;
  std::uint16_t postal_rest = 0;  // last three digits of the postnummer
  std::uint8_t municipality = 0;
  bool female = false;
  bool psychiatric = false;
  std::uint16_t care_unit = 0;
  std::uint16_t outpatient_unit = 0;  // 1-based; 0 = none named
};

// One event of an episode before numbering.
struct Draft {
  std::int64_t occurred = 0;
  std::int64_t recorded = kUnset;
  std::int64_t when = 0;  // estimated discharge for needsAssessed / estimatedDischargeChanged
  Kind kind = Kind::kAdmitted;
  std::uint8_t arg = 0;  // needs / consent / unavailable / discharge reason
};

// A drafted event waiting in the merge heap. 48 bytes.
struct Pending {
  std::int64_t key = 0;  // processing time: recorded, else occurred
  std::uint64_t seq = 0;
  std::int64_t occurred = 0;
  std::int64_t recorded = kUnset;
  std::int64_t when = 0;
  std::uint32_t slot = 0;
  std::uint16_t number = 0;
  Kind kind = Kind::kAdmitted;
  std::uint8_t arg = 0;
};

struct Later {
  bool operator()(const Pending& a, const Pending& b) const {
    return a.key != b.key ? a.key > b.key : a.seq > b.seq;
  }
};

// Luhn over YYMMDDNNN of the 12-digit form.
char check_digit(const std::array<char, 12>& id) {
  int sum = 0;
  for (std::size_t i = 2; i < 11; ++i) {
    const int v = (id[i] - '0') * (i % 2 == 0 ? 2 : 1);
    sum += v / 10 + v % 10;
  }
  return static_cast<char>('0' + (10 - sum % 10) % 10);
}

void put_digits(std::array<char, 12>& id, std::size_t pos, unsigned value, std::size_t width) {
  for (std::size_t i = 0; i < width; ++i) {
    id[pos + width - 1 - i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

// A synthetic identity number, born `age_days` before `on_day`. The serial is drawn from 980-999,
// the range most public test vectors use; the attributes of the person (name, sex, address) follow
// from the number, so a number that comes back is the same person readmitted.
void make_patient(Rng& rng, std::int64_t on_day, bool psychiatric, Episode& ep, Stats& stats) {
  // Age bands, from inpatient care's age profile (older for somatic care, younger in psychiatry).
  static constexpr std::array<std::array<int, 2>, 5> kSomaticBands = {
      {{0, 17}, {18, 44}, {45, 64}, {65, 79}, {80, 99}}};
  static constexpr std::array<double, 5> kSomaticWeights = {8, 12, 18, 30, 32};
  static constexpr std::array<std::array<int, 2>, 5> kPsychBands = {
      {{13, 17}, {18, 29}, {30, 49}, {50, 69}, {70, 90}}};
  static constexpr std::array<double, 5> kPsychWeights = {4, 30, 35, 22, 9};
  const auto band =
      psychiatric ? kPsychBands[rng.pick(kPsychWeights)] : kSomaticBands[rng.pick(kSomaticWeights)];
  const std::int64_t age_days =
      rng.between(band[0], band[1]) * 36524 / 100 + static_cast<std::int64_t>(rng.below(365));
  const year_month_day birth{sys_days{days{on_day - age_days}}};

  const bool coordination = rng.chance(0.02);
  if (coordination) ++stats.samordningsnummer;
  const unsigned serial = 980 + static_cast<unsigned>(rng.below(20));
  put_digits(ep.personal_id, 0, static_cast<unsigned>(static_cast<int>(birth.year())), 4);
  put_digits(ep.personal_id, 4, static_cast<unsigned>(birth.month()), 2);
  put_digits(ep.personal_id, 6, static_cast<unsigned>(birth.day()) + (coordination ? 60 : 0), 2);
  put_digits(ep.personal_id, 8, serial, 3);
  ep.personal_id[11] = check_digit(ep.personal_id);

  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (char c : ep.personal_id) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  Rng person(h);
  ep.female = serial % 2 == 0;  // the sex digit: even = female
  const auto& firsts = ep.female ? female_first_names() : male_first_names();
  ep.first_name = static_cast<std::uint16_t>(person.below(firsts.size()));
  ep.surname = static_cast<std::uint16_t>(person.below(surnames().size()));
  ep.street = static_cast<std::uint16_t>(person.below(streets().size()));
  ep.house_number = static_cast<std::uint16_t>(1 + person.below(120));
  ep.postal_rest = static_cast<std::uint16_t>(person.below(1000));
  ep.municipality = static_cast<std::uint8_t>(geography().pick_municipality(person));
}

// Discharges and transfers happen in daytime, local time.
std::int64_t daytime(Rng& rng, std::int64_t day) {
  static constexpr std::array<double, 12> kHours = {1, 3, 5, 6, 6, 5, 5, 4, 3, 2, 1, 1};  // 08-19
  const std::int64_t hour = 8 + static_cast<std::int64_t>(rng.pick(kHours));
  return at_local(day, hour * kHour + rng.between(0, kHour - 1));
}

std::int64_t round_to_hour(std::int64_t t) { return t - ((t % kHour) + kHour) % kHour; }

// Physicians declare discharge-ready on their rounds, mostly late morning to afternoon.
std::int64_t rounds(Rng& rng, std::int64_t day) {
  static constexpr std::array<double, 10> kHours = {2, 6, 8, 8, 6, 5, 4, 3, 1, 0.5};  // 08-17
  const std::int64_t hour = 8 + static_cast<std::int64_t>(rng.pick(kHours));
  return at_local(day, hour * kHour + rng.between(0, kHour - 1));
}

// An estimated discharge time as wards give it: a local date and a whole hour around midday.
std::int64_t estimate_on(Rng& rng, std::int64_t around) {
  return at_local(local_day(around), rng.between(10, 15) * kHour);
}

// Outpatient care (care contact, SIP invitation) works office hours on weekdays: an action due
// outside them happens the next weekday morning.
std::int64_t office_hours(Rng& rng, std::int64_t t) {
  std::int64_t day = local_day(t);
  const std::int64_t into_day = t - at_local(day, 0);
  auto weekend = [](std::int64_t d) {
    const unsigned wd = std::chrono::weekday{sys_days{days{d}}}.c_encoding();
    return wd == 0 || wd == 6;
  };
  if (!weekend(day) && into_day >= 8 * kHour && into_day < 16 * kHour + 30 * kMinute) return t;
  if (into_day >= 8 * kHour) ++day;
  while (weekend(day)) ++day;
  return at_local(day, 8 * kHour + rng.between(0, 3 * kHour));
}

// Plans one episode: its events in occurrence order (admission first), all on or after `t0`.
void plan_episode(Rng& rng, std::int64_t t0, Episode& ep, std::vector<Draft>& out, Stats& stats) {
  const Geography& geo = geography();
  out.clear();
  ep.psychiatric = rng.chance(0.15);
  if (ep.psychiatric) ++stats.psychiatric;
  make_patient(rng, local_day(t0), ep.psychiatric, ep, stats);
  const std::size_t m = ep.municipality;
  ep.care_unit = static_cast<std::uint16_t>(
      1 + rng.below(static_cast<std::uint64_t>(ep.psychiatric ? geo.psychiatric_wards[m]
                                                              : geo.somatic_wards[m])));
  out.push_back({.occurred = t0, .kind = Kind::kAdmitted});

  auto add = [&](std::int64_t at, Kind kind, std::uint8_t arg = 0, std::int64_t when = 0) {
    SAMORDNA_CHECK(at > t0, "every event after the admission");
    out.push_back({.occurred = at, .when = when, .kind = kind, .arg = arg});
  };
  auto choose_outpatient_unit = [&] {
    const int units = ep.psychiatric ? geo.psychiatric_clinics[m] : geo.health_centres[m];
    ep.outpatient_unit =
        static_cast<std::uint16_t>(1 + rng.below(static_cast<std::uint64_t>(units)));
  };

  // Cancelled admissions (makulerad inskrivning): registered in error, sometimes already assessed.
  if (rng.chance(0.01)) {
    ++stats.cancelled;
    std::int64_t at = t0 + rng.between(10 * kMinute, 2 * kHour);
    if (rng.chance(0.3)) {
      choose_outpatient_unit();
      add(at, Kind::kNeedsAssessed, kOutpatient | kSocial, round_to_hour(t0 + 3 * kDay));
      at += rng.between(30 * kMinute, 10 * kHour);
    }
    add(at, Kind::kAdmissionCancelled);
    return;
  }

  // Time from admission to discharge-ready: log-normal, longer in psychiatry.
  const double los_days = ep.psychiatric ? std::clamp(rng.lognormal(11.0, 0.8), 1.0, 120.0)
                                         : std::clamp(rng.lognormal(3.5, 0.75), 0.3, 60.0);
  std::int64_t ready = rounds(rng, local_day(t0 + static_cast<std::int64_t>(los_days * kDay)));

  // No needs after discharge: no notices at all, the patient goes home.
  if (rng.chance(0.10)) {
    ++stats.no_needs;
    std::int64_t discharged = daytime(rng, local_day(ready));
    if (discharged < t0 + 2 * kHour) discharged = t0 + rng.between(2 * kHour, 8 * kHour);
    add(discharged, Kind::kDischarged, 0);
    return;
  }

  // Which services; municipal health care pulls in outpatient care (2 kap. 1 §).
  static constexpr std::array<std::uint8_t, 7> kNeedSets = {
      kOutpatient,
      kSocial,
      kSocial | kOutpatient,
      kMunicipalHealth,
      kMunicipalHealth | kOutpatient,
      kSocial | kMunicipalHealth,
      kSocial | kMunicipalHealth | kOutpatient};
  static constexpr std::array<double, 7> kSomaticNeeds = {20, 10, 18, 5, 12, 5, 30};
  static constexpr std::array<double, 7> kPsychNeeds = {35, 5, 40, 2, 3, 2, 13};
  std::uint8_t needs = kNeedSets[ep.psychiatric ? rng.pick(kPsychNeeds) : rng.pick(kSomaticNeeds)];
  auto names_outpatient = [](std::uint8_t n) {
    return (n & (kOutpatient | kMunicipalHealth)) != 0;
  };
  if (names_outpatient(needs)) choose_outpatient_unit();

  // The physician's assessment: mostly within hours, sometimes more than a day later.
  const double a = rng.uniform();
  std::int64_t assessed = a < 0.75   ? t0 + rng.between(30 * kMinute, 8 * kHour)
                          : a < 0.90 ? t0 + rng.between(8 * kHour, 24 * kHour)
                                     : t0 + rng.between(24 * kHour + kMinute, 72 * kHour);
  if (assessed - t0 > 24 * kHour) ++stats.late_assessment;
  for (std::int64_t day = local_day(ready) + 1; ready < assessed + 4 * kHour; ++day) {
    ready = rounds(rng, day);
  }

  std::int64_t estimate =
      estimate_on(rng, ready + static_cast<std::int64_t>(rng.normal() * 0.8 * kDay));
  estimate = std::max(estimate, round_to_hour(assessed) + 6 * kHour);
  add(assessed, Kind::kNeedsAssessed, needs, estimate);

  // A later assessment that adds a need (new recipients get an admission notice).
  if (ready - assessed > 12 * kHour && rng.chance(0.05)) {
    std::uint8_t more = needs;
    if (!(needs & kSocial)) {
      more |= kSocial;
    } else if (!(needs & kMunicipalHealth)) {
      more |= kMunicipalHealth | kOutpatient;
    } else {
      more |= kOutpatient;
    }
    if (more != needs) {
      ++stats.needs_reassessed;
      if (names_outpatient(more) && ep.outpatient_unit == 0) choose_outpatient_unit();
      needs = more;
      add(assessed + rng.between(4 * kHour, ready - assessed - 4 * kHour), Kind::kNeedsAssessed,
          needs, estimate);
    }
  }

  // Estimated discharge changes as the stay goes on (2 kap. 4 §).
  const int changes = rng.chance(0.25) ? (rng.chance(0.3) ? 2 : 1) : 0;
  if (changes > 0 && ready - assessed > 6 * kHour) {
    ++stats.estimate_changed;
    std::int64_t at = assessed;
    for (int i = 0; i < changes; ++i) {
      at = at + rng.between(kHour, std::max<std::int64_t>(kHour, (ready - at) / 2));
      if (at >= ready) break;
      estimate = estimate_on(rng, ready + static_cast<std::int64_t>(rng.normal() * 0.4 * kDay));
      estimate = std::max(estimate, round_to_hour(at) + 2 * kHour);
      add(at, Kind::kEstimatedDischargeChanged, 0, estimate);
    }
  }

  // Consent to share information despite secrecy; ~5% missing or only given late.
  const double c = rng.uniform();
  std::int64_t info_consent = kUnset;
  const bool info_consent_late = c >= 0.975;
  if (c < 0.95) {
    info_consent = assessed + 1 + rng.between(0, std::min(6 * kHour, ready - assessed - kMinute));
    add(info_consent, Kind::kConsentRecorded, pb::ConsentRecorded::INFORMATION_SHARING | kGranted);
  } else if (!info_consent_late) {
    ++stats.info_consent_missing;
  }

  // SIP: required with both municipal and regional needs; the patient may decline.
  const bool municipal = (needs & (kSocial | kMunicipalHealth)) != 0;
  const bool regional = (needs & (kOutpatient | kMunicipalHealth)) != 0;
  const bool sip_required = municipal && regional;
  bool sip_consented = false;
  if (sip_required) {
    ++stats.sip_required;
    sip_consented = !rng.chance(0.05);
    if (!sip_consented) ++stats.sip_declined;
    add(assessed + rng.between(kMinute, 24 * kHour), Kind::kConsentRecorded,
        pb::ConsentRecorded::SIP | (sip_consented ? kGranted : 0));
  }

  // Discharge-ready, and sometimes revoked (the patient deteriorates) and declared again.
  add(ready, Kind::kDischargeReady);
  const std::int64_t first_ready = ready;
  if (rng.chance(0.03)) {
    ++stats.revoked;
    const std::int64_t revoked = ready + rng.between(4 * kHour, 2 * kDay);
    add(revoked, Kind::kDischargeReadyRevoked);
    ready = rounds(rng, local_day(revoked) + rng.between(1, 5));
    add(ready, Kind::kDischargeReady);
  }

  // Discharge: 0-10 days after discharge-ready, mostly within two.
  static constexpr std::array<double, 11> kWait = {30, 25, 15, 12, 6, 4, 3, 2, 1.5, 0.8, 0.7};
  std::int64_t wait = static_cast<std::int64_t>(rng.pick(kWait));
  const bool unavailable = ep.outpatient_unit != 0 && rng.chance(0.01);
  if (unavailable) wait += rng.between(2, 7);  // outpatient care's own services hold the patient
  std::int64_t discharged = daytime(rng, local_day(ready) + wait);
  if (discharged < ready + 30 * kMinute) discharged = ready + rng.between(30 * kMinute, 4 * kHour);
  if (info_consent_late) {  // after discharge-ready (the notice was held), before discharge
    ++stats.info_consent_late;
    info_consent = std::max(std::min(first_ready + rng.between(2 * kHour, 3 * kDay),
                                     discharged - rng.between(kMinute, 30 * kMinute)),
                            first_ready + kMinute);
    add(info_consent, Kind::kConsentRecorded, pb::ConsentRecorded::INFORMATION_SHARING | kGranted);
  }
  if (unavailable) {
    ++stats.outpatient_unavailable;
    const std::int64_t from = ready + rng.between(kHour, kDay);
    const std::int64_t to = std::max(from + kHour, discharged - rng.between(2 * kHour, 20 * kHour));
    add(from, Kind::kOutpatientServicesUnavailable, 1);
    add(to, Kind::kOutpatientServicesUnavailable, 0);
  }

  // The care contact (fast vårdkontakt), appointed by the outpatient unit; sometimes late or never.
  std::int64_t care_contact = kUnset;
  if (ep.outpatient_unit != 0) {
    const double r = rng.uniform();
    if (r < 0.88) {
      care_contact =
          assessed + rng.between(kHour, std::min(48 * kHour, first_ready - assessed - kMinute));
      // In office hours when that still comes before discharge-ready (the units that work
      // weekends are not modelled apart).
      const std::int64_t office = office_hours(rng, care_contact);
      if (office < first_ready) care_contact = office;
    } else if (r < 0.96) {
      ++stats.care_contact_late;
      care_contact = office_hours(rng, first_ready + rng.between(kHour, 3 * kDay));
    } else {
      ++stats.care_contact_never;
    }
    if (care_contact != kUnset) add(care_contact, Kind::kCareContactAppointed);
  }

  // Information transfer: before discharge, later on the discharge day, or (late) after it.
  if (info_consent != kUnset) {
    const double r = rng.uniform();
    const std::int64_t earliest = std::max(ready, info_consent) + kMinute;
    std::int64_t at;
    if (r < 0.60 && discharged - earliest > 10 * kMinute) {
      at = rng.between(earliest, discharged - 5 * kMinute);
    } else if (r < 0.92) {
      at = std::max(earliest, discharged + rng.between(0, 4 * kHour));
      at = std::min(at, at_local(local_day(discharged), kDay - 1));
      at = std::max(at, earliest);
    } else {
      at = daytime(rng, local_day(discharged) + rng.between(1, 3));
    }
    if (local_day(at) > local_day(discharged)) ++stats.info_after_discharge_day;
    add(at, Kind::kInformationTransferred);
  }

  // The SIP invitation, sent by the care contact: mostly within three days of discharge-ready.
  if (sip_required && sip_consented) {
    const double r = rng.uniform();
    if (care_contact == kUnset || r >= 0.95) {
      ++stats.sip_never;
    } else {
      std::int64_t at;
      if (r < 0.85) {  // on a weekday among the notice's day and the three after it
        std::array<std::int64_t, 4> weekdays{};
        std::size_t n = 0;
        for (std::int64_t d = local_day(ready); d <= local_day(ready) + 3; ++d) {
          const unsigned wd = std::chrono::weekday{sys_days{days{d}}}.c_encoding();
          if (wd != 0 && wd != 6) weekdays[n++] = d;
        }
        at = at_local(weekdays[rng.below(n)], rng.between(8 * kHour, 16 * kHour));
      } else {
        at = ready + rng.between(4 * kDay + 12 * kHour, 9 * kDay);
      }
      at = office_hours(rng, std::max({at, ready + 30 * kMinute, care_contact + 30 * kMinute}));
      if (local_day(at) > local_day(ready) + 3) ++stats.sip_late;
      add(at, Kind::kSipInvitationSent);
    }
  }

  std::uint8_t reason = 0;
  if (needs & kMunicipalHealth) {
    reason = rng.chance(0.5) ? 5 : static_cast<std::uint8_t>(2 + rng.below(2));
  } else if (needs & kSocial) {
    reason = rng.chance(0.8) ? 1 : 4;
  }
  add(discharged, Kind::kDischarged, reason);
}

// --- output ---
//
// The JSON is protobuf's own JSON mapping with default options: what MessageToJsonString writes.
// MessageToJsonString(event) is BinaryToJsonString over the generated pool's TypeResolver, and
// that rebuilds a google.protobuf.Type from the descriptors for every call, which made the whole
// run three to four times slower (8.3 s against 2.3 s of CPU for 100 000 episodes). So events
// are converted in batches, as the elements of a runtime-defined wrapper
// `message Batch { repeated samordna.v1.Event events = 1; }`, whose JSON
// `{"events":[{...},{...}]}` is cut back into one line per element. An element renders exactly
// as the message alone (same writer, same options, no whitespace); the test checks every line
// against MessageToJsonString byte for byte.

constexpr const char* kUrlPrefix = "type.googleapis.com";

// Resolves each type once; BinaryToJsonString still copies the answer into its per-call cache.
class CachingTypeResolver final : public google::protobuf::util::TypeResolver {
 public:
  explicit CachingTypeResolver(const google::protobuf::DescriptorPool* pool)
      : inner_(google::protobuf::util::NewTypeResolverForDescriptorPool(kUrlPrefix, pool)) {}

  google::protobuf::util::Status ResolveMessageType(const std::string& url,
                                                    google::protobuf::Type* type) override {
    return resolve(types_, url, type,
                   [&](google::protobuf::Type* t) { return inner_->ResolveMessageType(url, t); });
  }
  google::protobuf::util::Status ResolveEnumType(const std::string& url,
                                                 google::protobuf::Enum* type) override {
    return resolve(enums_, url, type,
                   [&](google::protobuf::Enum* t) { return inner_->ResolveEnumType(url, t); });
  }

 private:
  template <class T, class Fetch>
  static google::protobuf::util::Status resolve(std::map<std::string, T>& cache,
                                                const std::string& url, T* out, Fetch fetch) {
    auto it = cache.find(url);
    if (it == cache.end()) {
      T fetched;
      auto status = fetch(&fetched);
      if (!status.ok()) return status;
      it = cache.emplace(url, std::move(fetched)).first;
    }
    *out = it->second;
    return google::protobuf::util::Status();
  }

  std::unique_ptr<google::protobuf::util::TypeResolver> inner_;
  std::map<std::string, google::protobuf::Type> types_;
  std::map<std::string, google::protobuf::Enum> enums_;
};

// The pool holding the wrapper, layered over the generated pool that holds samordna.v1.Event.
class BatchPool {
 public:
  BatchPool() : pool_(google::protobuf::DescriptorPool::generated_pool()) {
    google::protobuf::FileDescriptorProto file;
    file.set_name("samordna_gen_batch.proto");
    file.set_package("samordna.gen");
    file.set_syntax("proto3");
    file.add_dependency(pb::Event::descriptor()->file()->name());
    auto* message = file.add_message_type();
    message->set_name("Batch");
    auto* field = message->add_field();
    field->set_name("events");
    field->set_json_name("events");
    field->set_number(1);
    field->set_label(google::protobuf::FieldDescriptorProto::LABEL_REPEATED);
    field->set_type(google::protobuf::FieldDescriptorProto::TYPE_MESSAGE);
    field->set_type_name("." + pb::Event::descriptor()->full_name());
    SAMORDNA_CHECK(pool_.BuildFile(file) != nullptr, "the batch wrapper type builds");
  }
  const google::protobuf::DescriptorPool* pool() const { return &pool_; }
  static std::string batch_url() { return std::string(kUrlPrefix) + "/samordna.gen.Batch"; }

 private:
  google::protobuf::DescriptorPool pool_;
};

// Where element `from` of `{"events":[...]}` ends: after its closing brace.
std::size_t element_end(std::string_view json, std::size_t from) {
  SAMORDNA_CHECK(json[from] == '{', "a batch element is an object");
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = from; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // skip the escaped character, which may be a quote
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}' && --depth == 0) {
      return i + 1;
    }
  }
  SAMORDNA_CHECK(false, "a batch element is closed");
  return json.size();
}

void set_time(google::protobuf::Timestamp* ts, std::int64_t seconds) {
  ts->set_seconds(seconds);
  ts->set_nanos(0);
}

std::string episode_id(std::string_view prefix, std::uint64_t number) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*s%06llu", static_cast<int>(prefix.size()), prefix.data(),
                static_cast<unsigned long long>(number));
  return buf;
}

// Turns drafted events into lines. Buffers up to kBatchSize lines; flush() writes them.
class Writer {
 public:
  Writer(std::ostream& out, Stats& stats)
      : out_(out), stats_(stats), resolver_(batch_pool_.pool()) {}

  void write(const Pending& p, const Episode& ep) {
    if (items_.size() >= kBatchSize) flush();
    event_.Clear();
    event_.set_episode_id(episode_id("ep-", ep.number));
    event_.set_event_id(event_.episode_id() + "-" + std::to_string(p.number));
    set_time(event_.mutable_occurred_at(), p.occurred);
    if (p.recorded != kUnset) set_time(event_.mutable_recorded_at(), p.recorded);
    fill_payload(p, ep);
    add_event();
    ++stats_.events;
  }

  // A bad line for error-path demos, right after the line just written, at its processing time
  // `at` so the order still holds.
  void write_invalid(Rng& rng, std::int64_t at, const Episode& like) {
    ++stats_.invalid_lines;
    const std::uint64_t n = stats_.invalid_lines;
    switch (rng.below(3)) {
      case 0:  // malformed JSON: the previous line cut in half
        items_.push_back(Item::kCutPrevious);
        return;
      case 1: {  // an admission whose identity number has a wrong check digit
        event_.Clear();
        event_.set_episode_id(episode_id("ep-invalid-", n));
        event_.set_event_id(event_.episode_id() + "-1");
        set_time(event_.mutable_occurred_at(), at);
        Episode bad = like;
        bad.personal_id[11] = static_cast<char>('0' + (bad.personal_id[11] - '0' + 1) % 10);
        bad.outpatient_unit = 0;
        fill_admitted(bad);
        break;
      }
      default: {  // an event for an episode that was never admitted
        event_.Clear();
        event_.set_episode_id(episode_id("ep-unknown-", n));
        event_.set_event_id(event_.episode_id() + "-1");
        set_time(event_.mutable_occurred_at(), at);
        event_.mutable_discharge_ready();
        break;
      }
    }
    add_event();
  }

  void flush() {
    if (items_.empty()) return;
    json_.clear();
    const auto status =
        google::protobuf::util::BinaryToJsonString(&resolver_, batch_url_, batch_, &json_);
    SAMORDNA_CHECK(status.ok(), "generated events convert to JSON");
    constexpr std::string_view kHead = "{\"events\":[";
    SAMORDNA_CHECK(std::string_view(json_).substr(0, kHead.size()) == kHead, "batch JSON shape");
    std::size_t pos = kHead.size();
    std::string_view previous;
    for (Item item : items_) {
      std::string_view line;
      if (item == Item::kEvent) {
        const std::size_t end = element_end(json_, pos);
        line = std::string_view(json_).substr(pos, end - pos);
        pos = end + 1;  // past the comma, or the closing bracket after the last element
        previous = line;
      } else {
        line = previous.substr(0, previous.size() / 2);
      }
      out_.write(line.data(), static_cast<std::streamsize>(line.size()));
      out_.put('\n');
      stats_.bytes += line.size() + 1;
    }
    SAMORDNA_CHECK(pos == json_.size() - 1, "every batch element written");
    items_.clear();
    batch_.clear();
  }

 private:
  static constexpr std::size_t kBatchSize = 1024;
  enum class Item : std::uint8_t { kEvent, kCutPrevious };

  // Appends event_ as field 1 of Batch: tag, length, bytes.
  void add_event() {
    const std::size_t size = event_.ByteSizeLong();
    batch_.push_back('\x0a');
    for (std::size_t v = size;; v >>= 7) {
      if (v < 0x80) {
        batch_.push_back(static_cast<char>(v));
        break;
      }
      batch_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    }
    SAMORDNA_CHECK(event_.AppendPartialToString(&batch_), "a generated event serializes");
    items_.push_back(Item::kEvent);
  }

  void fill_admitted(const Episode& ep) {
    const auto& m = municipalities()[ep.municipality];
    auto* admitted = event_.mutable_admitted();
    auto* patient = admitted->mutable_patient();
    patient->set_personal_id(std::string(ep.personal_id.data(), ep.personal_id.size()));
    const auto& firsts = ep.female ? female_first_names() : male_first_names();
    std::string name(firsts[ep.first_name]);
    name += ' ';
    name += surnames()[ep.surname];
    patient->set_name(std::move(name));
    char postal[24];
    std::snprintf(postal, sizeof postal, "%02d%01d %02d", m.postal_prefix, ep.postal_rest / 100,
                  ep.postal_rest % 100);
    std::string address(streets()[ep.street]);
    address += ' ';
    address += std::to_string(ep.house_number);
    address += ", ";
    address += postal;
    address += ' ';
    address += m.postal_town;
    patient->set_address(std::move(address));
    patient->set_home_municipality(std::string(m.code));
    char unit[32];
    std::snprintf(unit, sizeof unit, ep.psychiatric ? "SYN%.2s-PSY%02u" : "SYN%.2s-AVD%03u",
                  m.county.data(), static_cast<unsigned>(ep.care_unit));
    admitted->set_care_unit(unit);
    admitted->set_region(std::string(m.county));
    admitted->set_care_type(ep.psychiatric ? pb::PSYCHIATRIC : pb::SOMATIC);
  }

  std::string outpatient_unit(const Episode& ep) const {
    if (ep.outpatient_unit == 0) return {};
    char unit[32];
    std::snprintf(unit, sizeof unit, ep.psychiatric ? "SYN%.4s-PM%u" : "SYN%.4s-VC%02u",
                  municipalities()[ep.municipality].code.data(),
                  static_cast<unsigned>(ep.outpatient_unit));
    return unit;
  }

  void fill_payload(const Pending& p, const Episode& ep) {
    switch (p.kind) {
      case Kind::kAdmitted:
        fill_admitted(ep);
        return;
      case Kind::kNeedsAssessed: {
        auto* n = event_.mutable_needs_assessed();
        for (auto s : {pb::SOCIAL_SERVICES, pb::MUNICIPAL_HEALTH_CARE, pb::OUTPATIENT_CARE}) {
          if (p.arg & (1u << s)) n->add_needs(s);
        }
        if (p.arg & (kOutpatient | kMunicipalHealth)) n->set_outpatient_unit(outpatient_unit(ep));
        set_time(n->mutable_estimated_discharge_at(), p.when);
        return;
      }
      case Kind::kEstimatedDischargeChanged:
        set_time(event_.mutable_estimated_discharge_changed()->mutable_estimated_discharge_at(),
                 p.when);
        return;
      case Kind::kConsentRecorded: {
        auto* c = event_.mutable_consent_recorded();
        c->set_scope(static_cast<pb::ConsentRecorded::Scope>(p.arg & 0x7f));
        c->set_granted((p.arg & kGranted) != 0);
        return;
      }
      case Kind::kCareContactAppointed:
        event_.mutable_care_contact_appointed()->set_unit(outpatient_unit(ep));
        return;
      case Kind::kDischargeReady:
        event_.mutable_discharge_ready();
        return;
      case Kind::kDischargeReadyRevoked:
        event_.mutable_discharge_ready_revoked();
        return;
      case Kind::kInformationTransferred:
        event_.mutable_information_transferred();
        return;
      case Kind::kSipInvitationSent:
        event_.mutable_sip_invitation_sent();
        return;
      case Kind::kAdmissionCancelled:
        event_.mutable_admission_cancelled();
        return;
      case Kind::kOutpatientServicesUnavailable:
        event_.mutable_outpatient_services_unavailable()->set_unavailable(p.arg != 0);
        return;
      case Kind::kDischarged:
        event_.mutable_discharged()->set_reason(std::string(kDischargeReasons[p.arg]));
        return;
    }
  }

  std::ostream& out_;
  Stats& stats_;
  BatchPool batch_pool_;
  CachingTypeResolver resolver_;
  const std::string batch_url_ = BatchPool::batch_url();
  pb::Event event_;
  std::vector<Item> items_;
  std::string batch_;
  std::string json_;
};

// Admission instants for the whole year, sorted: weekdays busier than weekends, afternoons and
// evenings busier than nights (emergency admissions dominate inpatient care).
std::vector<std::int64_t> admission_times(const Options& o) {
  static constexpr std::array<double, 24> kByHour = {2.0, 1.5, 1.2, 1.0, 1.0, 1.0, 1.5, 3.0,
                                                     5.0, 6.0, 7.0, 7.0, 7.0, 7.0, 7.0, 7.0,
                                                     6.0, 6.0, 5.0, 4.0, 4.0, 3.0, 3.0, 2.5};
  Rng rng(mix(o.seed, 0x61646d6974ULL));
  const std::int64_t first_day = o.start.time_since_epoch().count();
  std::vector<std::int64_t> times;
  times.reserve(o.episodes);
  while (times.size() < o.episodes) {
    const std::int64_t day =
        first_day + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(o.days)));
    const unsigned weekday = std::chrono::weekday{sys_days{days{day}}}.c_encoding();
    if ((weekday == 0 || weekday == 6) && !rng.chance(0.8)) continue;
    const auto hour = static_cast<std::int64_t>(rng.pick(kByHour));
    times.push_back(at_local(day, hour * kHour + rng.between(0, kHour - 1)));
  }
  std::sort(times.begin(), times.end());
  return times;
}

}  // namespace

Stats generate(const Options& o, std::ostream& out) {
  SAMORDNA_CHECK(o.days > 0, "--days is positive");
  SAMORDNA_CHECK(o.episodes < 100'000'000, "episode numbers fit the id format");
  Stats stats;
  const std::vector<std::int64_t> admissions = admission_times(o);

  // Episodes are planned in admission order; an episode's events all come at or after its
  // admission, so every pending event earlier than the next admission can be written.
  std::priority_queue<Pending, std::vector<Pending>, Later> heap;
  std::vector<Episode> slots;
  std::vector<std::uint32_t> free_slots;
  std::vector<Draft> drafts;
  Writer writer(out, stats);
  Rng invalid_rng(mix(o.seed, 0x696e76616c6964ULL));
  std::uint64_t seq = 0;

  auto write_until = [&](std::int64_t limit) {
    while (!heap.empty() && heap.top().key <= limit) {
      const Pending p = heap.top();
      heap.pop();
      Episode& ep = slots[p.slot];
      writer.write(p, ep);
      if (o.emit_invalid > 0 && invalid_rng.chance(o.emit_invalid)) {
        writer.write_invalid(invalid_rng, p.key, ep);
      }
      if (--ep.remaining == 0) free_slots.push_back(p.slot);
    }
  };

  for (std::uint64_t i = 0; i < admissions.size(); ++i) {
    const std::int64_t t0 = admissions[i];
    write_until(t0);

    std::uint32_t slot;
    if (free_slots.empty()) {
      slot = static_cast<std::uint32_t>(slots.size());
      slots.emplace_back();
    } else {
      slot = free_slots.back();
      free_slots.pop_back();
    }
    Episode& ep = slots[slot];
    ep = Episode{};
    ep.number = static_cast<std::uint32_t>(i + 1);
    Rng rng(mix(o.seed, i + 1));
    plan_episode(rng, t0, ep, drafts, stats);
    ++stats.episodes;

    // Some events reach the engine hours after they happened (the admission itself never does,
    // so the default output holds no event for an episode not yet admitted).
    for (std::size_t k = 1; k < drafts.size(); ++k) {
      if (rng.chance(0.03)) {
        ++stats.late_events;
        drafts[k].recorded = drafts[k].occurred +
                             std::clamp(static_cast<std::int64_t>(rng.lognormal(3.0, 0.8) * kHour),
                                        30 * kMinute, 48 * kHour);
      }
    }
    std::stable_sort(drafts.begin(), drafts.end(),
                     [](const Draft& a, const Draft& b) { return a.occurred < b.occurred; });
    ep.remaining = static_cast<std::uint32_t>(drafts.size());
    for (std::size_t k = 0; k < drafts.size(); ++k) {
      const Draft& d = drafts[k];
      heap.push(Pending{.key = d.recorded != kUnset ? d.recorded : d.occurred,
                        .seq = seq++,
                        .occurred = d.occurred,
                        .recorded = d.recorded,
                        .when = d.when,
                        .slot = slot,
                        .number = static_cast<std::uint16_t>(k + 1),
                        .kind = d.kind,
                        .arg = d.arg});
    }
    stats.max_pending_events = std::max<std::uint64_t>(stats.max_pending_events, heap.size());
  }
  write_until(std::numeric_limits<std::int64_t>::max());
  writer.flush();
  out.flush();
  return stats;
}

}  // namespace samordna::gen
