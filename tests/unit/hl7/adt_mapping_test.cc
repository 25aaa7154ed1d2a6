#include "connectors/hl7/adt_mapping.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include "engine/core/json_codec.h"

namespace samordna::hl7 {
namespace {

namespace fs = std::filesystem;
namespace v1 = samordna::v1;

std::string json(const Mapped& mapped) {
  JsonCodec codec;
  std::string out;
  for (const auto& e : mapped.events) {
    codec.print(e, out);
    out += '\n';
  }
  return out;
}

// A Swedish A01 as a ward's PAS would send it (invented test person 191212121212, Skatteverket's
// public example number; kommunkod 0180 Stockholm).
constexpr const char* kA01 =
    "MSH|^~\\&|PAS|SUS|SAMORDNA|SE|20250310081500||ADT^A01^ADT_A01|M100|P|2.5|||||SE|8859/1\r"
    "EVN|A01|20250310081400||||20250310080000\r"
    "PID|1||5550001^^^SUS^PI~191212121212^^^&1.2.752.129.2.1.3.1&ISO^NNSWE||Tolvansson^Tolvan||"
    "19121212|M|||Gatan 1^^Stockholm^^11122^SE^H^^0180\r"
    "PV1|1|I|MED3^^^SUS||||||||||||||||V7001\r"
    "PV2|||||||||20250314120000\r";

TEST(Hl7AdtMapping, A01InpatientIsAdmittedWithTheEstimateAsASecondEvent) {
  auto p = process(kA01, {});
  EXPECT_EQ(p.mapped.outcome.code, AckCode::kAccept) << p.mapped.outcome.text;
  // Times: March in Stockholm is UTC+1. EVN-6 is the event, EVN-2 the recording. Region: the
  // first two digits of the kommunkod (01, Stockholm county).
  EXPECT_EQ(
      json(p.mapped),
      "{\"eventId\":\"M100#1\",\"episodeId\":\"SUS:V7001\",\"occurredAt\":\"2025-03-10T07:00:00Z\","
      "\"recordedAt\":\"2025-03-10T07:14:00Z\",\"source\":\"hl7:PAS^SUS\",\"admitted\":{"
      "\"patient\":{"
      "\"personalId\":\"191212121212\",\"name\":\"Tolvan Tolvansson\",\"address\":\"Gatan 1, 11122 "
      "Stockholm\",\"homeMunicipality\":\"0180\"},\"careUnit\":\"MED3\",\"region\":\"01\","
      "\"careType\":\"SOMATIC\"}}\n"
      "{\"eventId\":\"M100#2\",\"episodeId\":\"SUS:V7001\",\"occurredAt\":\"2025-03-10T07:00:00Z\","
      "\"recordedAt\":\"2025-03-10T07:14:00Z\",\"source\":\"hl7:PAS^SUS\","
      "\"estimatedDischargeChanged\":"
      "{\"estimatedDischargeAt\":\"2025-03-14T11:00:00Z\"}}\n");
}

TEST(Hl7AdtMapping, A04AndA06OfAnInpatientAreAdmittedAsA01Is) {
  // A04 (registered, e.g. from the emergency department) and A06 (outpatient changed to
  // inpatient) with PV1-2 I: the same two events as the A01, with the same ids and times.
  const auto a01 = json(process(kA01, {}).mapped);
  for (const std::string trigger : {"A04", "A06"}) {
    std::string msg = kA01;
    msg.replace(msg.find("ADT^A01^ADT_A01"), 15, "ADT^" + trigger + "^ADT_A01");
    msg.replace(msg.find("EVN|A01"), 7, "EVN|" + trigger);
    auto p = process(msg, {});
    EXPECT_EQ(p.mapped.outcome.code, AckCode::kAccept) << trigger << ": " << p.mapped.outcome.text;
    EXPECT_EQ(json(p.mapped), a01) << trigger;
    // Not inpatient (PV1-2 E, emergency): no admission.
    msg.replace(msg.find("PV1|1|I|"), 8, "PV1|1|E|");
    auto outpatient = process(msg, {});
    EXPECT_TRUE(outpatient.mapped.events.empty()) << trigger;
  }
}

TEST(Hl7AdtMapping, A01Latin1NameArrivesAsUtf8) {
  std::string msg = kA01;
  msg.replace(msg.find("Tolvan||"), 6, "\xC5sa");  // Å in Latin-1
  auto p = process(msg, {});
  ASSERT_EQ(p.mapped.events.size(), 2U);
  EXPECT_EQ(p.mapped.events[0].admitted().patient().name(), "\xC3\x85sa Tolvansson");
}

TEST(Hl7AdtMapping, A01Errors) {
  std::string bad_luhn = kA01;
  bad_luhn.replace(bad_luhn.find("191212121212"), 12, "191212121213");
  auto p = process(bad_luhn, {});
  EXPECT_EQ(p.mapped.outcome.error, ErrorCode::kDataType);
  EXPECT_EQ(p.mapped.outcome.text.find("1912"), std::string::npos);  // never the number

  std::string outpatient = kA01;
  outpatient.replace(outpatient.find("PV1|1|I|"), 8, "PV1|1|O|");
  p = process(outpatient, {});
  EXPECT_EQ(p.mapped.outcome.code, AckCode::kAccept);
  EXPECT_TRUE(p.mapped.events.empty());
}

// PID-3 with a personnummer in the other repetitions replaced: `rep` is the whole PID-3 field.
std::string with_pid3(const std::string& rep) {
  std::string msg = kA01;
  const std::string old = "5550001^^^SUS^PI~191212121212^^^&1.2.752.129.2.1.3.1&ISO^NNSWE";
  msg.replace(msg.find(old), old.size(), rep);
  return msg;
}

TEST(Hl7AdtMapping, ANationalReserveNumberIsDeclaredAsOne) {
  // HL7 Sweden's example reserve number 98240301AA06 (RULES.md) under the OID of the national
  // reserve number, as CX-4.2 (universal id).
  auto p = process(with_pid3("5550001^^^SUS^PI~98240301AA06^^^&1.2.752.129.2.1.3.2&ISO^NNSWE"), {});
  ASSERT_EQ(p.mapped.outcome.code, AckCode::kAccept) << p.mapped.outcome.text;
  ASSERT_EQ(p.mapped.events.size(), 2U);
  const auto& patient = p.mapped.events[0].admitted().patient();
  EXPECT_EQ(patient.personal_id(), "98240301AA06");
  EXPECT_EQ(patient.personal_id_kind(), v1::Patient::RESERVE_NUMBER);

  // The same under HL7 Sweden's FHIR system, as CX-4.1 (namespace id); 20210325K069 (RULES.md).
  p = process(
      with_pid3("20210325K069^^^http://electronichealth.se/identifier/nationelltReservnummer"), {});
  ASSERT_EQ(p.mapped.outcome.code, AckCode::kAccept) << p.mapped.outcome.text;
  EXPECT_EQ(p.mapped.events[0].admitted().patient().personal_id(), "20210325K069");
  EXPECT_EQ(p.mapped.events[0].admitted().patient().personal_id_kind(),
            v1::Patient::RESERVE_NUMBER);

  // A personnummer wins over a reserve number listed before it; it has no kind.
  p = process(with_pid3("98240301AA06^^^&1.2.752.129.2.1.3.2&ISO~"
                        "191212121212^^^&1.2.752.129.2.1.3.1&ISO^NNSWE"),
              {});
  ASSERT_EQ(p.mapped.outcome.code, AckCode::kAccept) << p.mapped.outcome.text;
  EXPECT_EQ(p.mapped.events[0].admitted().patient().personal_id(), "191212121212");
  EXPECT_EQ(p.mapped.events[0].admitted().patient().personal_id_kind(),
            v1::Patient::PERSONAL_ID_KIND_UNSPECIFIED);

  // A region's own reserve number system, configured; unknown by default (then: no number).
  SenderConfig region;
  region.reserve_number_systems.push_back("1.2.752.74.9.2");
  const std::string local = with_pid3("R12345^^^&1.2.752.74.9.2&ISO");
  p = process(local, region);
  EXPECT_EQ(p.mapped.events[0].admitted().patient().personal_id(), "R12345");
  EXPECT_EQ(p.mapped.events[0].admitted().patient().personal_id_kind(),
            v1::Patient::RESERVE_NUMBER);
  p = process(local, {});
  EXPECT_EQ(p.mapped.events[0].admitted().patient().personal_id(), "");

  // Not 1 to 20 letters and digits (the engine's rule): AE 102 at PID-3, the value never quoted.
  p = process(with_pid3("9824.0301AA06^^^&1.2.752.129.2.1.3.2&ISO"), {});
  EXPECT_EQ(p.mapped.outcome.code, AckCode::kError);
  EXPECT_EQ(p.mapped.outcome.error, ErrorCode::kDataType);
  EXPECT_EQ(p.mapped.outcome.location->field, 3);
  EXPECT_EQ(p.mapped.outcome.text.find("9824"), std::string::npos);
  p = process(with_pid3("123456789012345678901^^^&1.2.752.129.2.1.3.2&ISO"), {});
  EXPECT_EQ(p.mapped.outcome.error, ErrorCode::kDataType);
}

TEST(Hl7AdtMapping, APatientWithoutAnIdentityNumberIsStillAdmitted) {
  // Only the hospital's own id (no Swedish system): admitted with no personalId and no kind; the
  // engine flags it NO_PERSONAL_ID (docs/domain-decisions.md, "Identity numbers").
  for (const std::string& pid3 :
       {std::string("5550001^^^SUS^PI"), std::string(),
        std::string("^^^&1.2.752.129.2.1.3.1&ISO^NNSWE")}) {  // the system without a value
    auto p = process(with_pid3(pid3), {});
    ASSERT_EQ(p.mapped.outcome.code, AckCode::kAccept) << pid3 << ": " << p.mapped.outcome.text;
    ASSERT_EQ(p.mapped.events.size(), 2U) << pid3;
    EXPECT_EQ(json(Mapped{{}, {p.mapped.events[0]}}),
              "{\"eventId\":\"M100#1\",\"episodeId\":\"SUS:V7001\",\"occurredAt\":"
              "\"2025-03-10T07:00:00Z\",\"recordedAt\":\"2025-03-10T07:14:00Z\",\"source\":"
              "\"hl7:PAS^SUS\",\"admitted\":{\"patient\":{\"name\":\"Tolvan Tolvansson\","
              "\"address\":\"Gatan 1, 11122 Stockholm\",\"homeMunicipality\":\"0180\"},"
              "\"careUnit\":\"MED3\",\"region\":\"01\",\"careType\":\"SOMATIC\"}}\n")
        << pid3;
  }
}

TEST(Hl7AdtMapping, A13CancelsTheDischargeOfTheSameEpisode) {
  // The A03 and its A13 of visit V7001: the same episode id; A13's time is EVN-6 (08:00 local,
  // UTC+1 in March), recorded at EVN-2 (08:14).
  std::string a13 = kA01;
  a13.replace(a13.find("ADT^A01^ADT_A01"), 15, "ADT^A13^ADT_A01");
  a13.replace(a13.find("EVN|A01"), 7, "EVN|A13");
  a13.replace(a13.find("PV2|"), std::string::npos, "");
  auto p = process(a13, {});
  ASSERT_EQ(p.mapped.outcome.code, AckCode::kAccept) << p.mapped.outcome.text;
  EXPECT_EQ(json(p.mapped),
            "{\"eventId\":\"M100#1\",\"episodeId\":\"SUS:V7001\",\"occurredAt\":"
            "\"2025-03-10T07:00:00Z\",\"recordedAt\":\"2025-03-10T07:14:00Z\",\"source\":"
            "\"hl7:PAS^SUS\",\"dischargeCancelled\":{}}\n");

  // Without EVN-6 the time is EVN-2; without EVN, MSH-7 (08:15).
  std::string no_evn6 = a13;
  no_evn6.replace(no_evn6.find("||||20250310080000"), 18, "");
  p = process(no_evn6, {});
  ASSERT_EQ(p.mapped.events.size(), 1U);
  EXPECT_EQ(p.mapped.events[0].occurred_at().seconds(), 1741590840);  // 2025-03-10T07:14:00Z
  std::string no_evn = a13;
  no_evn.replace(no_evn.find("EVN|"), no_evn.find("PID|") - no_evn.find("EVN|"), "");
  p = process(no_evn, {});
  ASSERT_EQ(p.mapped.events.size(), 1U);
  EXPECT_EQ(p.mapped.events[0].occurred_at().seconds(), 1741590900);  // 2025-03-10T07:15:00Z

  // No PV1-19: the episode is unknown, AE 101 as for A03.
  std::string no_visit = a13;
  no_visit.replace(no_visit.find("V7001"), 5, "");
  p = process(no_visit, {});
  EXPECT_EQ(p.mapped.outcome.code, AckCode::kError);
  EXPECT_EQ(p.mapped.outcome.error, ErrorCode::kRequiredFieldMissing);

  // A40 is still refused: AR 201.
  std::string a40 = a13;
  a40.replace(a40.find("ADT^A13"), 7, "ADT^A40");
  p = process(a40, {});
  EXPECT_EQ(p.mapped.outcome.code, AckCode::kReject);
  EXPECT_EQ(p.mapped.outcome.error, ErrorCode::kUnsupportedEventCode);
  EXPECT_TRUE(p.mapped.events.empty());
}

TEST(Hl7AdtMapping, A08EmitsOnlyWhenTheEstimateChanges) {
  std::string a08 = kA01;
  a08.replace(a08.find("ADT^A01^ADT_A01"), 15, "ADT^A08^ADT_A01");
  // The patient data as the listener remembers it from the A01: no patientDataUpdated.
  SamePatientData known_patient = [](std::string_view, std::string_view, std::string_view) {
    return true;
  };
  auto p = process(a08, {}, nullptr, known_patient);
  ASSERT_EQ(p.mapped.events.size(), 1U);
  EXPECT_TRUE(p.mapped.events[0].has_estimated_discharge_changed());
  EXPECT_EQ(p.mapped.events[0].event_id(), "M100#1");
  PreviousEstimate same = [](std::string_view) {
    return std::optional<std::chrono::sys_seconds>(from_unix(1741950000));  // 2025-03-14T11:00Z
  };
  EXPECT_TRUE(process(a08, {}, same, known_patient).mapped.events.empty());
}

// A08 with new patient data (issue 10: "new patient data that completes a held admission notice
// releases it"): PID-5 and PID-11 as the A01 reads them, in patientDataUpdated, id <MSH-10>#2
// whatever else the message makes; not when the listener remembers the same data.
TEST(Hl7AdtMapping, A08WithPatientDataMakesPatientDataUpdated) {
  std::string a08 = kA01;
  a08.replace(a08.find("ADT^A01^ADT_A01"), 15, "ADT^A08^ADT_A01");
  a08.erase(a08.find("PV2|"));  // no estimate: only the patient data
  std::string seen_episode, seen_name, seen_address;
  SamePatientData other = [&](std::string_view episode, std::string_view name,
                              std::string_view address) {
    seen_episode = episode;
    seen_name = name;
    seen_address = address;
    return false;
  };
  auto p = process(a08, {}, nullptr, other);
  EXPECT_EQ(p.mapped.outcome.code, AckCode::kAccept) << p.mapped.outcome.text;
  EXPECT_EQ(json(p.mapped),
            "{\"eventId\":\"M100#2\",\"episodeId\":\"SUS:V7001\",\"occurredAt\":"
            "\"2025-03-10T07:00:00Z\",\"recordedAt\":\"2025-03-10T07:14:00Z\",\"source\":"
            "\"hl7:PAS^SUS\",\"patientDataUpdated\":{\"name\":\"Tolvan Tolvansson\","
            "\"address\":\"Gatan 1, 11122 Stockholm\"}}\n");
  EXPECT_EQ(seen_episode, "SUS:V7001");
  EXPECT_EQ(seen_name, "Tolvan Tolvansson");
  EXPECT_EQ(seen_address, "Gatan 1, 11122 Stockholm");
  // The dry run (no memory): the same.
  EXPECT_EQ(json(process(a08, {}).mapped), json(p.mapped));
  // Remembered: nothing, with a reason.
  SamePatientData same = [](std::string_view, std::string_view, std::string_view) { return true; };
  auto q = process(a08, {}, nullptr, same);
  EXPECT_EQ(q.mapped.outcome.code, AckCode::kAccept);
  EXPECT_TRUE(q.mapped.events.empty());
  EXPECT_FALSE(q.mapped.outcome.text.empty());
  // With a new estimate as well: both, the estimate first (#1), the patient data #2.
  std::string both = kA01;
  both.replace(both.find("ADT^A01^ADT_A01"), 15, "ADT^A08^ADT_A01");
  auto r = process(both, {});
  ASSERT_EQ(r.mapped.events.size(), 2U);
  EXPECT_TRUE(r.mapped.events[0].has_estimated_discharge_changed());
  EXPECT_EQ(r.mapped.events[1].event_id(), "M100#2");
  EXPECT_TRUE(r.mapped.events[1].has_patient_data_updated());
  // An outpatient visit's A08: no patient data (no episode to complete).
  std::string outpatient = a08;
  outpatient.replace(outpatient.find("PV1|1|I|"), 8, "PV1|1|O|");
  auto o = process(outpatient, {});
  EXPECT_EQ(o.mapped.outcome.code, AckCode::kAccept);
  EXPECT_TRUE(o.mapped.events.empty());
  // Neither an estimate nor a name or address: nothing.
  std::string bare = a08;
  bare.replace(bare.find("PID|1|"), bare.find("PV1|") - bare.find("PID|1|"), "PID|1\r");
  auto b = process(bare, {});
  EXPECT_EQ(b.mapped.outcome.code, AckCode::kAccept);
  EXPECT_TRUE(b.mapped.events.empty());
}

// The polaris A02 and A08 from a sender whose INPATIENT class is configured (as its A01 needs):
// A02 → wardChanged, A08 → patientDataUpdated. Expected by hand from the files.
TEST(Hl7AdtMapping, PolarisSamplesWithInpatientConfigured) {
  const fs::path dir = fs::path(SAMORDNA_SHARED_DIR) / "data" / "hl7v2";
  if (!fs::is_directory(dir)) GTEST_SKIP() << "no " << dir;
  SenderConfig c;
  c.inpatient_classes = {"INPATIENT"};
  auto read = [&](const char* name) {
    std::ifstream in(dir / name, std::ios::binary);
    return std::string{std::istreambuf_iterator<char>(in), {}};
  };
  // A02: PV1-3.1 "J-WD 5A" is the new ward; EVN-2 20170407110344 summer time (UTC+2), EVN-6
  // absent; PV1-19 907665208.
  EXPECT_EQ(json(process(read("polaris_ADT_A02_v2.3.hl7"), c).mapped),
            "{\"eventId\":\"Q433046227T434210520X157666A1096#1\",\"episodeId\":\"OXON:907665208\","
            "\"occurredAt\":\"2017-04-07T09:03:44Z\",\"recordedAt\":\"2017-04-07T09:03:44Z\","
            "\"source\":\"hl7:c0481^OXON\",\"wardChanged\":{\"careUnit\":\"J-WD 5A\"}}\n");
  // A08 without PV2-9, with PID-5 ZZZTHISISBRANDNEW^ZZZTEST (family^given) and PID-11
  // "Churchill Hospital, Old Road"^Headington^OXFORD^""^OX3 7LE: patientDataUpdated (#2), the
  // name given then family, the address XAD-1, XAD-5 XAD-3. EVN-2 20170712075645 (UTC+2).
  EXPECT_EQ(json(process(read("polaris_ADT_A08_v2.3.hl7"), c).mapped),
            "{\"eventId\":\"Q547302509T548464886X17441A1096#2\",\"episodeId\":\"OXON:909127677\","
            "\"occurredAt\":\"2017-07-12T05:56:45Z\",\"recordedAt\":\"2017-07-12T05:56:45Z\","
            "\"source\":\"hl7:c0481^OXON\",\"patientDataUpdated\":{\"name\":\"ZZZTEST "
            "ZZZTHISISBRANDNEW\",\"address\":\"Churchill Hospital, Old Road, OX3 7LE OXFORD\"}}\n");
}

// A02 (transfer): PV1-3.1 is the new ward; wardChanged for the episode of PV1-19.
TEST(Hl7AdtMapping, A02MakesWardChanged) {
  std::string a02 = kA01;
  a02.replace(a02.find("ADT^A01^ADT_A01"), 15, "ADT^A02^ADT_A02");
  a02.replace(a02.find("PV1|1|I|MED3"), 12, "PV1|1|I|GER7");
  auto p = process(a02, {});
  EXPECT_EQ(p.mapped.outcome.code, AckCode::kAccept) << p.mapped.outcome.text;
  EXPECT_EQ(json(p.mapped),
            "{\"eventId\":\"M100#1\",\"episodeId\":\"SUS:V7001\",\"occurredAt\":"
            "\"2025-03-10T07:00:00Z\",\"recordedAt\":\"2025-03-10T07:14:00Z\",\"source\":"
            "\"hl7:PAS^SUS\",\"wardChanged\":{\"careUnit\":\"GER7\"}}\n");
  std::string nowhere = a02;
  nowhere.replace(nowhere.find("PV1|1|I|GER7"), 12, "PV1|1|I|");
  auto q = process(nowhere, {});
  EXPECT_EQ(q.mapped.outcome.code, AckCode::kError);
  EXPECT_EQ(q.mapped.outcome.error, ErrorCode::kRequiredFieldMissing);
  EXPECT_TRUE(q.mapped.events.empty());
  // An outpatient visit's transfer: no episode, no event.
  std::string outpatient = a02;
  outpatient.replace(outpatient.find("PV1|1|I|"), 8, "PV1|1|O|");
  auto o = process(outpatient, {});
  EXPECT_EQ(o.mapped.outcome.code, AckCode::kAccept);
  EXPECT_TRUE(o.mapped.events.empty());
}

TEST(Hl7AdtMapping, ResendGivesTheSameEventIds) {
  auto a = process(kA01, {});
  auto b = process(kA01, {});
  EXPECT_EQ(json(a.mapped), json(b.mapped));
}

TEST(Hl7AdtMapping, Timestamps) {
  EXPECT_EQ(to_unix(parse_timestamp("20250310", "Europe/Stockholm").value()), 1741561200);
  EXPECT_EQ(to_unix(parse_timestamp("20090926173004.067-0500", "Europe/Stockholm").value()),
            1254004204);
  // 02:30 on 2025-03-30 does not exist in Stockholm: the earlier reading (01:30 UTC... 01:00 UTC).
  EXPECT_TRUE(parse_timestamp("202503300230", "Europe/Stockholm"));
  EXPECT_FALSE(parse_timestamp("000000000000", "Europe/Stockholm"));
  EXPECT_FALSE(parse_timestamp("2025031", "Europe/Stockholm"));
  EXPECT_FALSE(parse_timestamp("20250310+01", "Europe/Stockholm"));
}

TEST(Hl7AdtMapping, AnUnreadableBodyStillEchoesTheControlId) {
  std::string broken = kA01;
  broken.replace(broken.find("Gatan 1"), 7, "Gatan\\Q\\");
  auto p = process(broken, {});
  EXPECT_EQ(p.mapped.outcome.code, AckCode::kReject);
  EXPECT_EQ(p.mapped.outcome.text, "PID-11 (segment 3): unknown or malformed escape sequence");
  EXPECT_EQ(p.original.control_id, "M100");
  EXPECT_EQ(process("MSH|^~\\&|broken", {}).original.control_id, "");
}

TEST(Hl7AdtMapping, AnswersNeverQuoteAFieldThatIsNotACode) {
  // Found by fuzz_hl7: MSH-9 holding a timestamp was quoted in the reason.
  auto p = process("MSH|^~\\&|A|B|C|D|20250310||20250310100000|C1|P|2.5", {});
  EXPECT_EQ(p.mapped.outcome.text,
            "MSH-9: message type (not a code) is not taken (ADT and ZSM only)");
  p = process("MSH|^~\\&|A|B|C|D|20250310||ADT^191212121212|C1|P|2.5", {});
  EXPECT_EQ(p.mapped.outcome.text, "the trigger is not used by samordna; no event");
}

// The law's own steps (ZSM^Z01..Z08, README): one event each, same ids and episode as ADT.
std::string zsm(const std::string& trigger, const std::string& segment) {
  return "MSH|^~\\&|WARD|SUS|SAMORDNA|SE|20250312100000||ZSM^" + trigger + "|Z" + trigger +
         "|P|2.5\rEVN||20250312100000||||20250312093000\rPID|1\rPV1|1|I|MED3||||||||||||||||"
         "V7001\r" +
         segment + "\r";
}

TEST(Hl7AdtMapping, LawStepsOverZsm) {
  const std::string head =
      "\"episodeId\":\"SUS:V7001\",\"occurredAt\":\"2025-03-12T08:30:00Z\",\"recordedAt\":"
      "\"2025-03-12T09:00:00Z\",\"source\":\"hl7:WARD^SUS\",";
  auto p = process(zsm("Z01", "ZSM|SOCIAL_SERVICES~OUTPATIENT_CARE|VC-NORR|20250318"), {});
  EXPECT_EQ(json(p.mapped),
            "{\"eventId\":\"ZZ01#1\"," + head +
                "\"needsAssessed\":{\"needs\":[\"SOCIAL_SERVICES\",\"OUTPATIENT_CARE\"],"
                "\"outpatientUnit\":\"VC-NORR\",\"estimatedDischargeAt\":"
                "\"2025-03-17T23:00:00Z\"}}\n");
  p = process(zsm("Z02", "ZSM|SIP|N"), {});
  EXPECT_EQ(json(p.mapped), "{\"eventId\":\"ZZ02#1\"," + head +
                                "\"consentRecorded\":{\"scope\":\"SIP\"}}\n");  // granted false
  p = process(zsm("Z03", "ZSM"), {});
  EXPECT_EQ(json(p.mapped), "{\"eventId\":\"ZZ03#1\"," + head + "\"dischargeReady\":{}}\n");
  p = process(zsm("Z05", "ZSM|VC-NORR"), {});
  EXPECT_EQ(json(p.mapped), "{\"eventId\":\"ZZ05#1\"," + head +
                                "\"careContactAppointed\":{\"unit\":\"VC-NORR\"}}\n");
  p = process(zsm("Z08", "ZSM|Y"), {});
  EXPECT_EQ(json(p.mapped), "{\"eventId\":\"ZZ08#1\"," + head +
                                "\"outpatientServicesUnavailable\":{\"unavailable\":true}}\n");

  p = process(zsm("Z01", "ZSM|HOME_HELP"), {});
  EXPECT_EQ(p.mapped.outcome.code, AckCode::kError);
  EXPECT_EQ(p.mapped.outcome.error, ErrorCode::kTableValueNotFound);
  p = process(zsm("Z05", "ZSM"), {});
  EXPECT_EQ(p.mapped.outcome.error, ErrorCode::kRequiredFieldMissing);
  EXPECT_EQ(p.mapped.outcome.location->field, 1);
  p = process(zsm("Z09", "ZSM"), {});
  EXPECT_EQ(p.mapped.outcome.code, AckCode::kReject);
  EXPECT_EQ(p.mapped.outcome.error, ErrorCode::kUnsupportedEventCode);
}

// Every file in shared/data/hl7v2 through process() with the default configuration. The expected
// answers are written from the mapping table (README) and the messages' own fields, not copied
// from the program.
struct Expect {
  AckCode code;
  ErrorCode error;
  std::string events;  // JSON lines
};

TEST(Hl7AdtMapping, EverySharedFile) {
  const fs::path dir = fs::path(SAMORDNA_SHARED_DIR) / "data" / "hl7v2";
  if (!fs::is_directory(dir)) GTEST_SKIP() << "no " << dir;
  using A = AckCode;
  using E = ErrorCode;
  const std::map<std::string, Expect> expected = {
      // escE_qmarks: v2.3.1 A01 whose PV1 has no visit number.
      {"dotnetcore_ADT_A01_v2.3.1_escE_qmarks.hl7", {A::kError, E::kRequiredFieldMissing, ""}},
      // The three A04 v2.7 samples have no PV1 at all.
      {"dotnetcore_ADT_A04_v2.7_double_newline.hl7", {A::kError, E::kSegmentSequence, ""}},
      {"dotnetcore_ADT_A04_v2.7_segment_name_only.hl7", {A::kError, E::kSegmentSequence, ""}},
      {"dotnetcore_ADT_A04_v2.7_tab_in_field.hl7", {A::kError, E::kSegmentSequence, ""}},
      // ZZ1 holds "BSV 4\5 re.": an unterminated escape; the strict parser refuses it.
      {"dotnetcore_ADT_A08_v2.4_invalid_escape_ZZ1.hl7", {A::kReject, E::kSegmentSequence, ""}},
      {"dotnetcore_ADT_A28_v2.5_utf8_escF_nulls.hl7", {A::kAccept, E::kNone, ""}},
      {"dotnetcore_ORM_O01_v2.3_all_escapes_PID5.hl7",
       {A::kReject, E::kUnsupportedMessageType, ""}},
      {"dotnetcore_Sample-ADT_O01_v2.3_blank_lines.hl7", {A::kAccept, E::kNone, ""}},
      {"hapi_ACK_AA_v2.2_from_comment.hl7", {A::kReject, E::kUnsupportedMessageType, ""}},
      // MSH-18 "UNICODE" (without a form) is not one of the charsets read.
      {"hapi_ACK_AA_v2.4.hl7", {A::kReject, E::kSegmentSequence, ""}},
      {"hapi_ACK_AR_v2.2_ERR_from_comment.hl7", {A::kReject, E::kUnsupportedMessageType, ""}},
      // PV1-2 is not I in either A01 (LABGL1: empty class; v2.4 sample: class I? no: "I" is
      // absent).
      {"hapi_ADT_A01_v2.2_LABGL1.hl7", {A::kAccept, E::kNone, ""}},
      {"hapi_ADT_A01_v2.4.hl7", {A::kAccept, E::kNone, ""}},
      // A03 v2.5 (LF): EVN-6 200803031508 and EVN-2 200803051509 Stockholm winter time (UTC+1);
      // PV1-19 2008003369; MSH-4 SANTER; PV1-36 empty.
      {"hapi_ADT_A03_v2.5.hl7",
       {A::kAccept, E::kNone,
        "{\"eventId\":\"263206#1\",\"episodeId\":\"SANTER:2008003369\",\"occurredAt\":\"2008-03-"
        "03T14:08:00Z\","
        "\"recordedAt\":\"2008-03-05T14:09:00Z\",\"source\":\"hl7:IRIS^SANTER\",\"discharged\":{}}"
        "\n"}},
      // The bare PV1 has no visit number.
      {"hapi_ADT_A03_v2.5_CRLF_empty_PV1.hl7", {A::kError, E::kRequiredFieldMissing, ""}},
      // MSH-11 T (training): not taken by default.
      {"hapi_ADT_A05_v2.2.hl7", {A::kReject, E::kUnsupportedProcessingId, ""}},
      {"hapi_ADT_A08_v2.2_short.hl7", {A::kReject, E::kUnsupportedProcessingId, ""}},
      {"hapi_ADT_A08_v2.3.1_tz_offset.hl7", {A::kError, E::kRequiredFieldMissing, ""}},
      {"hapi_ADT_A08_v2.3_quoted_nulls.hl7", {A::kError, E::kSegmentSequence, ""}},
      // MSH-2 "^~\\&": the escape and subcomponent characters are the same; refused.
      {"polaris_ACK_AA_v2.3.hl7", {A::kReject, E::kSegmentSequence, ""}},
      {"polaris_ADT_A38_v2.3.hl7", {A::kReject, E::kSegmentSequence, ""}},
      // PV1-2 INPATIENT is not a table 0004 code: not inpatient unless configured.
      {"polaris_ADT_A01_v2.3.hl7", {A::kAccept, E::kNone, ""}},
      // A02 and A08: PV1-2 INPATIENT is not inpatient by default (as for the A01): no wardChanged,
      // no patientDataUpdated (PolarisSamplesWithInpatientConfigured has them).
      {"polaris_ADT_A02_v2.3.hl7", {A::kAccept, E::kNone, ""}},
      // A03: EVN-2 20170428133500 (summer time, UTC+2) is both times (EVN-6 absent, PV1-45 equal);
      // PV1-19 907665600; PV1-36 3768737.
      {"polaris_ADT_A03_v2.3.hl7",
       {A::kAccept, E::kNone,
        "{\"eventId\":\"Q434830604T435994908X158251A1096#1\",\"episodeId\":\"OXON:907665600\","
        "\"occurredAt\":\"2017-04-28T11:35:00Z\",\"recordedAt\":\"2017-04-28T11:35:00Z\","
        "\"source\":"
        "\"hl7:c0481^OXON\",\"discharged\":{\"reason\":\"3768737\"}}\n"}},
      {"polaris_ADT_A04_v2.3.hl7", {A::kAccept, E::kNone, ""}},
      {"polaris_ADT_A05_v2.3.hl7", {A::kAccept, E::kNone, ""}},
      {"polaris_ADT_A08_v2.3.hl7", {A::kAccept, E::kNone, ""}},
      // A11: EVN-2 20190116093147 winter time; PV1-19 2019Z123456; MSH-4 RJC.
      {"polaris_ADT_A11_v2.3.hl7",
       {A::kAccept, E::kNone,
        "{\"eventId\":\"611321918610#1\",\"episodeId\":\"RJC:2019Z123456\",\"occurredAt\":"
        "\"2019-01-16T08:31:47Z\",\"recordedAt\":\"2019-01-16T08:31:47Z\",\"source\":\"hl7:CSCLRC^"
        "RJC\","
        "\"admissionCancelled\":{}}\n"}},
      {"polaris_ADT_A12_v2.3.hl7", {A::kAccept, E::kNone, ""}},
      // A13: EVN-2 20170609094700 summer time (UTC+2), EVN-6 absent; PV1-19 909127352; MSH-4 OXON.
      {"polaris_ADT_A13_v2.3.hl7",
       {A::kAccept, E::kNone,
        "{\"eventId\":\"Q543961008T545123385X16159A1096#1\",\"episodeId\":\"OXON:909127352\","
        "\"occurredAt\":\"2017-06-09T07:47:00Z\",\"recordedAt\":\"2017-06-09T07:47:00Z\","
        "\"source\":\"hl7:c0481^OXON\",\"dischargeCancelled\":{}}\n"}},
      {"polaris_ADT_A21_v2.3.hl7", {A::kAccept, E::kNone, ""}},
      {"polaris_ADT_A22_v2.3.hl7", {A::kAccept, E::kNone, ""}},
  };
  std::size_t seen = 0, malformed = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().extension() == ".md") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes{std::istreambuf_iterator<char>(in), {}};
    auto p = process(bytes, {});
    const std::string name = entry.path().filename().string();
    if (entry.path().parent_path().filename() == "malformed_nhapi_fuzz") {
      // Every one of nHapi's crash inputs is refused with a reason, none accepted.
      EXPECT_EQ(p.mapped.outcome.code, AckCode::kReject) << name;
      EXPECT_FALSE(p.mapped.outcome.text.empty()) << name;
      ++malformed;
      continue;
    }
    auto it = expected.find(name);
    ASSERT_NE(it, expected.end()) << "no expectation for " << name;
    EXPECT_EQ(p.mapped.outcome.code, it->second.code) << name << ": " << p.mapped.outcome.text;
    EXPECT_EQ(p.mapped.outcome.error, it->second.error) << name << ": " << p.mapped.outcome.text;
    EXPECT_EQ(json(p.mapped), it->second.events) << name;
    // The ACK it would get is well-formed: it parses, and answers the message's control id.
    auto ack = parse(build_ack(p.original, p.mapped.outcome, "A1", from_unix(0)));
    ASSERT_TRUE(ack) << name << ": " << ack.error().message;
    EXPECT_EQ(ack.value().get("MSA", 2), p.original.control_id) << name;
    ++seen;
  }
  EXPECT_EQ(seen, expected.size());
  EXPECT_EQ(malformed, 37U);
}

}  // namespace
}  // namespace samordna::hl7
