// FHIR -> events: the shared conformance files and hand-written resources against expectations
// written from the standard (R4 Encounter status and class, the Swedish identity OIDs), errors as
// OperationOutcome issues naming paths and never values, the snapshot diff, the sender settings.
#include "connectors/fhir/mapping.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "connectors/fhir/outcome.h"
#include "connectors/fhir/sender_config.h"
#include "connectors/fhir/snapshot.h"

namespace samordna::fhir {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const fs::path kShared = fs::path(SAMORDNA_SHARED_DIR) / "data" / "fhir";
const fs::path kEpisode = fs::path(SAMORDNA_SOURCE_DIR) / "tests" / "unit" / "fhir" / "episode";

json encounter(std::string status, std::string cls = "IMP") {
  return {{"resourceType", "Encounter"},
          {"id", "E1"},
          {"status", std::move(status)},
          {"class", {{"code", std::move(cls)}}},
          {"subject", {{"reference", "#p"}}},
          {"contained",
           json::array({{{"resourceType", "Patient"},
                         {"id", "p"},
                         {"identifier", json::array({{{"system", "urn:oid:1.2.752.129.2.1.3.1"},
                                                      {"value", "191212121212"}}})},
                         {"address", json::array({{{"district", "0380"}}})}}})},
          {"period", {{"start", "2025-01-02T10:00:00Z"}}},
          {"location", json::array({{{"location", {{"identifier", {{"value", "W1"}}}}}}})}};
}

Mapped map(const json& j, const SenderConfig& c = {}) { return map_encounter(j.dump(), c); }

std::vector<std::string> ids(const Mapped& m) {
  std::vector<std::string> out;
  for (const auto& r : m.encounters) {
    for (const auto& e : r.events) out.push_back(e.event_id());
  }
  return out;
}

TEST(SharedFiles, AmbulatoryExamplesAreTakenWithNothingToDo) {
  if (!fs::exists(kShared)) GTEST_SKIP() << "no shared/data/fhir";
  for (const char* f :
       {"hl7spec_encounter-example-f001-heart.json", "hl7spec_encounter-example-f002-lung.json"}) {
    Mapped m = map_any(read(kShared / f), {});
    ASSERT_TRUE(m.ok()) << f;
    ASSERT_EQ(m.encounters.size(), 1u);
    EXPECT_TRUE(m.encounters[0].events.empty()) << f;  // class AMB: not inpatient care
    ASSERT_FALSE(m.encounters[0].issues.empty());
    EXPECT_EQ(m.encounters[0].issues[0].expression, "Encounter.class");
  }
}

TEST(SharedFiles, InpatientExampleWithoutItsPatientIs422AtSubject) {
  if (!fs::exists(kShared)) GTEST_SKIP() << "no shared/data/fhir";
  // f203: class IMP, finished 2013-03-11..20, subject Patient/f201 which is not sent along.
  Mapped m = map_any(read(kShared / "hl7spec_encounter-example-f203-20130311.json"), {});
  EXPECT_EQ(m.status, 422);
  ASSERT_FALSE(m.encounters.empty());
  EXPECT_EQ(m.encounters[0].issues.at(0).expression, "Encounter.subject");
  // With the Patient in a transaction Bundle it maps: admitted on 2013-03-11, discharged on the
  // 20th (dates are local midnight in Stockholm, CET).
  json enc = json::parse(read(kShared / "hl7spec_encounter-example-f203-20130311.json"));
  json bundle = {
      {"resourceType", "Bundle"},
      {"type", "transaction"},
      {"entry",
       json::array({{{"resource",
                      {{"resourceType", "Patient"},
                       {"id", "f201"},
                       {"identifier", json::array({{{"system", "urn:oid:1.2.752.129.2.1.3.1"},
                                                    {"value", "191212121212"}}})},
                       {"address", json::array({{{"district", "0180"}}})}}}},
                    {{"resource", enc}}})}};
  Mapped b = map_bundle(bundle.dump(), {});
  ASSERT_TRUE(b.ok()) << operation_outcome(b.issues);
  ASSERT_EQ(ids(b), (std::vector<std::string>{"f203/admitted", "f203/discharged"}));
  const auto& ev = b.encounters[0].events;
  EXPECT_EQ(ev[0].occurred_at().seconds(), 1362956400);       // 2013-03-10T23:00:00Z
  EXPECT_EQ(ev[1].occurred_at().seconds(), 1363734000);       // 2013-03-19T23:00:00Z
  EXPECT_EQ(ev[0].admitted().care_unit(), "Organization/2");  // serviceProvider, no location
  EXPECT_EQ(ev[0].admitted().region(), "01");
  EXPECT_EQ(ev[0].source(), "fhir:default");
}

TEST(SharedFiles, NoneCrashesAndShorthandIsNotJson) {
  if (!fs::exists(kShared)) GTEST_SKIP() << "no shared/data/fhir";
  for (const auto& f : fs::recursive_directory_iterator(kShared)) {
    if (!f.is_regular_file()) continue;
    Mapped m = map_any(read(f.path()), {});
    if (f.path().extension() != ".json") {
      EXPECT_EQ(m.status, 400) << f.path();
      EXPECT_NE(m.issues.at(0).diagnostics.find("not JSON"), std::string::npos);
    }
  }
}

TEST(Mapping, StatusesMapAsTheIssueSays) {
  EXPECT_EQ(ids(map(encounter("in-progress"))), (std::vector<std::string>{"E1/admitted"}));
  EXPECT_EQ(ids(map(encounter("onleave"))), (std::vector<std::string>{"E1/admitted"}));
  EXPECT_TRUE(ids(map(encounter("planned"))).empty());
  EXPECT_TRUE(ids(map(encounter("arrived"))).empty());
  EXPECT_TRUE(ids(map(encounter("in-progress", "AMB"))).empty());
  json fin = encounter("finished");
  fin["period"]["end"] = "2025-01-05T10:00:00+01:00";
  fin["hospitalization"] = {{"dischargeDisposition", {{"text", "Hem"}}}};
  Mapped f = map(fin);
  ASSERT_EQ(ids(f), (std::vector<std::string>{"E1/admitted", "E1/discharged"}));
  EXPECT_EQ(f.encounters[0].events[1].discharged().reason(), "Hem");
  EXPECT_EQ(f.encounters[0].events[1].occurred_at().seconds(), 1736067600);  // 09:00Z
  json cancelled = encounter("cancelled");
  cancelled["meta"] = {{"lastUpdated", "2025-01-03T08:00:00Z"}};
  EXPECT_EQ(ids(map(cancelled)), (std::vector<std::string>{"E1/cancelled"}));
  EXPECT_EQ(ids(map(encounter("entered-in-error"))), (std::vector<std::string>{"E1/cancelled"}));
}

TEST(Mapping, FinishedWithoutEndIs422AtPeriodEnd) {
  Mapped m = map(encounter("finished"));
  EXPECT_EQ(m.status, 422);
  EXPECT_EQ(m.encounters[0].issues[0].expression, "Encounter.period.end");
  EXPECT_TRUE(m.encounters[0].events.empty());
}

TEST(Mapping, StructureErrorsAre400WithPathsAndNoValues) {
  Mapped bad = map_encounter("{\"resourceType\": \"Encounter\", \"id\": 191212121212", {});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.issues[0].diagnostics.find("191212121212"), std::string::npos);
  EXPECT_NE(bad.issues[0].diagnostics.find("byte"), std::string::npos);
  json j = encounter("in-progress");
  j["status"] = 5;
  Mapped t = map(j);
  EXPECT_EQ(t.status, 400);
  EXPECT_EQ(t.encounters[0].issues[0].expression, "Encounter.status");
  j = encounter("bogus");
  EXPECT_EQ(map(j).status, 400);
  j = encounter("in-progress");
  j["resourceType"] = "Patient";
  EXPECT_EQ(map(j).status, 400);
  EXPECT_EQ(map_encounter("[]", {}).status, 400);
  EXPECT_EQ(map_encounter("", {}).status, 400);
}

TEST(Mapping, FuzzFindingsAreAnsweredNotThrown) {
  // fuzz_fhir: a number past double's range made nlohmann throw out_of_range, not parse_error.
  EXPECT_EQ(map_any(std::string(400, '5'), {}).status, 400);
  EXPECT_EQ(map_any("{\"resourceType\": \"Encounter\", \"id\": 1e999}", {}).status, 400);
  // Members of the wrong JSON type where the mapping only peeks (json::value would throw).
  json j = encounter("in-progress");
  j["contained"][0]["name"] = json::array({{{"use", 5}, {"family", "X"}}});
  j["contained"][0]["address"][0]["use"] = json::array();
  j["extension"] = json::array({{{"url", 7}}});
  j["location"][0]["location"]["identifier"]["value"] = 3;
  j["serviceProvider"] = {{"reference", false}};
  Mapped m = map(j);
  EXPECT_TRUE(m.status == 200 || m.status == 400 || m.status == 422) << m.status;
}

TEST(Mapping, IdentityNumbersAreCheckedAndNeverEchoed) {
  json j = encounter("in-progress");
  j["contained"][0]["identifier"][0]["value"] = "191212121213";  // wrong check digit
  Mapped m = map(j);
  EXPECT_EQ(m.status, 422);
  std::string text = operation_outcome(m.encounters[0].issues);
  EXPECT_EQ(text.find("19121212121"), std::string::npos) << text;
  EXPECT_NE(text.find("Encounter.contained[0].identifier[0].value"), std::string::npos);
  // A samordningsnummer under the personnummer system is refused too.
  j["contained"][0]["identifier"][0]["value"] = "197010632391";
  EXPECT_EQ(map(j).status, 422);
  j["contained"][0]["identifier"][0]["system"] = "urn:oid:1.2.752.129.2.1.3.3";
  Mapped s = map(j);
  ASSERT_TRUE(s.ok()) << operation_outcome(s.encounters[0].issues);
  EXPECT_EQ(s.encounters[0].events[0].admitted().patient().personal_id(), "197010632391");
}

TEST(Mapping, PutIdMustMatchTheBody) {
  EXPECT_EQ(map_encounter(encounter("in-progress").dump(), {}, "E2").status, 400);
  EXPECT_TRUE(map_encounter(encounter("in-progress").dump(), {}, "E1").ok());
}

TEST(Mapping, SenderSettingsApply) {
  SenderConfig c;
  c.sender = "sus";
  c.episode_prefix = "SUS:";
  c.region = "12";
  c.inpatient_classes = {"INPATIENT"};
  c.psychiatric_service_types = {"PSY"};
  json j = encounter("in-progress", "INPATIENT");
  j["serviceType"] = {{"coding", json::array({{{"code", "PSY"}}})}};
  Mapped m = map(j, c);
  ASSERT_TRUE(m.ok());
  const auto& e = m.encounters[0].events.at(0);
  EXPECT_EQ(e.episode_id(), "SUS:E1");
  EXPECT_EQ(e.event_id(), "SUS:E1/admitted");
  EXPECT_EQ(e.source(), "fhir:sus");
  EXPECT_EQ(e.admitted().region(), "12");
  EXPECT_EQ(e.admitted().care_type(), v1::PSYCHIATRIC);
}

TEST(Mapping, BatchAnswersEachEntryTransactionFailsWhole) {
  json good = encounter("in-progress");
  json bad = encounter("finished");  // no period.end
  bad["id"] = "E2";
  json batch = {{"resourceType", "Bundle"},
                {"type", "batch"},
                {"entry", json::array({{{"resource", good}}, {{"resource", bad}}})}};
  Mapped b = map_bundle(batch.dump(), {});
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b.encounters.size(), 2u);
  EXPECT_EQ(b.encounters[0].status, 200);
  EXPECT_EQ(b.encounters[1].status, 422);
  EXPECT_EQ(b.encounters[1].issues[0].expression, "Bundle.entry[1].resource.period.end");
  batch["type"] = "transaction";
  Mapped t = map_bundle(batch.dump(), {});
  EXPECT_EQ(t.status, 422);
  batch["type"] = "collection";
  EXPECT_EQ(map_bundle(batch.dump(), {}).status, 400);
}

TEST(Episode, HandWrittenFilesGiveTheHandWrittenEvents) {
  // The expectations (episode/*.expected.jsonl) were written from the resources by hand.
  for (const char* name : {"1_admit", "4_whole_stay"}) {
    Mapped m = map_any(read(kEpisode / (std::string(name) + ".json")), {});
    ASSERT_TRUE(m.ok()) << name;
    std::ifstream exp(kEpisode / (std::string(name) + ".expected.jsonl"));
    std::string line;
    size_t i = 0;
    for (const auto& r : m.encounters) {
      for (const auto& e : r.events) {
        ASSERT_TRUE(std::getline(exp, line)) << name << " made more events than expected";
        json want = json::parse(line);
        EXPECT_EQ(e.event_id(), want["eventId"].get<std::string>()) << name << " #" << i++;
      }
    }
    EXPECT_FALSE(std::getline(exp, line) && !line.empty()) << name << " made fewer events";
  }
}

TEST(Snapshot, SameResourceTwiceMakesNothingAndLaterStateOnlyWhatIsNew) {
  std::vector<std::vector<v1::Event>> published;
  InProcessStore store([&](std::vector<v1::Event> ev, std::function<void(bool)> done) {
    published.push_back(ev);
    done(true);
  });
  auto run = [&](const json& j) {
    Known known = [&](const std::string& ep, const std::string& id) {
      return store.known(ep).ids.contains(id);
    };
    Mapped m = map_encounter(j.dump(), {}, {}, known);
    EXPECT_TRUE(m.ok());
    const auto& r = m.encounters[0];
    Snapshot before = store.known(r.episode_id);
    auto fresh = new_events(r.events, before.ids);
    if (fresh.empty()) return fresh;
    SnapshotUpdate u{r.episode_id, before, before.ids};
    for (const auto& e : fresh) u.ids.insert(e.event_id());
    SnapshotStore::Status st{};
    store.commit(fresh, {u}, [&](SnapshotStore::Status s) { st = s; });
    EXPECT_EQ(st, SnapshotStore::Status::kDurable);
    return fresh;
  };
  json j = encounter("in-progress");
  EXPECT_EQ(run(j).size(), 1u);
  EXPECT_EQ(run(j).size(), 0u);
  json fin = encounter("finished");
  fin["period"]["end"] = "2025-01-05";
  fin.erase("contained");  // a later snapshot need not carry the patient again
  fin["subject"] = {
      {"identifier", {{"system", "urn:oid:1.2.752.129.2.1.3.1"}, {"value", "191212121212"}}}};
  auto d = run(fin);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].event_id(), "E1/discharged");
  EXPECT_EQ(run(fin).size(), 0u);
  EXPECT_EQ(published.size(), 2u);
}

TEST(Snapshot, StaleCompareAndSetIsAConflict) {
  InProcessStore store([](std::vector<v1::Event>, std::function<void(bool)> done) { done(true); });
  SnapshotUpdate u{"E1", {}, {"E1/admitted"}};
  SnapshotStore::Status st{};
  store.commit({}, {u}, [&](SnapshotStore::Status s) { st = s; });
  EXPECT_EQ(st, SnapshotStore::Status::kDurable);
  store.commit({}, {u}, [&](SnapshotStore::Status s) { st = s; });  // read before the first
  EXPECT_EQ(st, SnapshotStore::Status::kConflict);
  EXPECT_EQ(decode_snapshot(encode_snapshot({"a", "b/c"})), (std::set<std::string>{"a", "b/c"}));
}

TEST(Steps, EachKindMakesItsEvent) {
  json j = encounter("in-progress");
  auto step = [](std::string kind, json parts) {
    parts.push_back({{"url", "kind"}, {"valueCode", kind}});
    parts.push_back({{"url", "occurred"}, {"valueDateTime", "2025-01-03T10:00:00Z"}});
    return json{{"url", std::string(kProfileBase) + "coordination-step"}, {"extension", parts}};
  };
  j["extension"] = json::array(
      {step("consent-recorded", json::array({{{"url", "scope"}, {"valueCode", "sip"}},
                                             {{"url", "granted"}, {"valueBoolean", true}}})),
       step("care-contact-appointed", json::array({{{"url", "unit"}, {"valueString", "VC"}}})),
       step("information-transferred", json::array()), step("sip-invitation-sent", json::array()),
       step("discharge-ready-revoked", json::array()),
       step("outpatient-services-unavailable",
            json::array({{{"url", "unavailable"}, {"valueBoolean", false}}})),
       step("estimated-discharge-changed",
            json::array({{{"url", "estimatedDischarge"}, {"valueDateTime", "2025-01-09"}}}))});
  Mapped m = map(j);
  ASSERT_TRUE(m.ok()) << operation_outcome(m.encounters[0].issues);
  const auto& ev = m.encounters[0].events;
  ASSERT_EQ(ev.size(), 8u);
  EXPECT_TRUE(ev[1].consent_recorded().granted());
  EXPECT_EQ(ev[1].consent_recorded().scope(), v1::ConsentRecorded::SIP);
  EXPECT_EQ(ev[2].care_contact_appointed().unit(), "VC");
  EXPECT_FALSE(ev[6].outpatient_services_unavailable().unavailable());
  EXPECT_TRUE(ev[7].has_estimated_discharge_changed());
  // A step without its time, or of an unknown kind, is 422 at the extension.
  j["extension"] = json::array({step("teleport", json::array())});
  EXPECT_EQ(map(j).status, 422);
}

TEST(SenderConfigFile, KeysTypesAndTypos) {
  fs::path dir = fs::temp_directory_path() / ("fhir-config-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto write = [&](const char* text) {
    std::ofstream(dir / "c.yaml") << text;
    return load_sender_config((dir / "c.yaml").string());
  };
  auto ok = write(
      "sender: sus\nepisode_prefix: 'SUS:'\ninpatient_classes: [IMP, INPATIENT]\nregion: '12'\n"
      "time_zone: Europe/Stockholm\nmax_resource_bytes: 1000\n");
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(ok.value().sender, "sus");
  EXPECT_EQ(ok.value().inpatient_classes.size(), 2u);
  EXPECT_EQ(ok.value().max_resource_bytes, 1000u);
  auto typo = write("sendr: x\n");
  ASSERT_FALSE(typo.has_value());
  EXPECT_NE(typo.error().message.find(":1: unknown key sendr"), std::string::npos);
  EXPECT_FALSE(write("inpatient_classes: IMP\n").has_value());
  EXPECT_FALSE(write("region: Uppsala\n").has_value());
  EXPECT_FALSE(write("time_zone: Mars/Olympus\n").has_value());
  EXPECT_TRUE(write("").has_value());  // empty: every default
  fs::remove_all(dir);
}

// The listener's table: top-level keys are the defaults, `senders:` the others, chosen by the
// verified client certificate and/or meta.source (README, "Senders").
TEST(SenderConfigFile, TableOfSendersChosenByCertificateOrSource) {
  fs::path dir = fs::temp_directory_path() / ("fhir-table-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto write = [&](const char* text) {
    std::ofstream(dir / "t.yaml") << text;
    return load_sender_table((dir / "t.yaml").string());
  };
  auto t = write(
      "region: '03'\n"
      "senders:\n"
      "  - client: CN=cosmic.uas.se,O=Region Uppsala\n"
      "    sender: uas\n"
      "    episode_prefix: 'UAS:'\n"
      "  - source: urn:oid:1.2.752.29.4.99\n"
      "    sender: lasarett\n"
      "    inpatient_classes: [IMP, INPATIENT]\n"
      "  - client: CN=ward.sus.se\n"
      "    source: http://sus.se/pas\n"
      "    sender: sus\n");
  ASSERT_TRUE(t.has_value()) << t.error().message;
  const SenderTable& table = t.value();
  EXPECT_EQ(table.defaults.sender, "default");
  ASSERT_EQ(table.senders.size(), 3u);
  EXPECT_EQ(table.senders[0].config.region, "03");  // a default the entry does not set
  EXPECT_TRUE(table.uses_source());
  using S = std::optional<std::string_view>;
  EXPECT_EQ(table.select(S("CN=cosmic.uas.se,O=Region Uppsala"), std::nullopt).sender, "uas");
  EXPECT_EQ(
      table.select(S("CN=cosmic.uas.se,O=Region Uppsala"), S("urn:oid:1.2.752.29.4.99")).sender,
      "uas");  // the certificate decides, not what the resource claims
  EXPECT_EQ(table.select(std::nullopt, S("urn:oid:1.2.752.29.4.99")).sender, "lasarett");
  EXPECT_EQ(table.select(std::nullopt, S("urn:oid:1.2.752.29.4.99")).inpatient_classes.size(), 2u);
  // An entry bound to a certificate cannot be claimed by meta.source alone, nor by another one.
  EXPECT_EQ(table.select(std::nullopt, S("http://sus.se/pas")).sender, "default");
  EXPECT_EQ(table.select(S("CN=other"), S("http://sus.se/pas")).sender, "default");
  EXPECT_EQ(table.select(S("CN=ward.sus.se"), S("http://sus.se/pas")).sender, "sus");
  EXPECT_EQ(table.select(S("CN=ward.sus.se"), std::nullopt).sender, "default");
  EXPECT_EQ(table.select(std::nullopt, std::nullopt).sender, "default");
  // A plain sender file is a table without senders.
  auto plain = write("sender: sus\n");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain.value().defaults.sender, "sus");
  EXPECT_TRUE(plain.value().senders.empty());
  EXPECT_FALSE(plain.value().uses_source());
  // Each entry needs a way to be chosen and a name of its own.
  EXPECT_FALSE(write("senders:\n  - sender: x\n").has_value());
  EXPECT_FALSE(write("senders:\n  - source: s\n").has_value());
  EXPECT_FALSE(write("senders:\n  - source: s\n    sender: default\n").has_value());
  EXPECT_FALSE(
      write("senders:\n  - source: s\n    sender: x\n  - source: t\n    sender: x\n").has_value());
  auto typo = write("senders:\n  - source: s\n    sender: x\n    regoin: '03'\n");
  ASSERT_FALSE(typo.has_value());
  EXPECT_NE(typo.error().message.find(":4: unknown key regoin"), std::string::npos)
      << typo.error().message;
  EXPECT_FALSE(write("senders: x\n").has_value());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace samordna::fhir
