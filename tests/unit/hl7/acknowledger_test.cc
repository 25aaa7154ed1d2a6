// The listener's session logic (connectors/hl7/acknowledger.h) over a fake DurableStore: the
// positive ACK waits for durability, a resend gets the first ACK and submits nothing, 205 for a
// reused control id, AE/CE 207 when not confirmed, batches, the estimate memory, the sender table
// and the listener config file.

#include "connectors/hl7/acknowledger.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "connectors/hl7/listener_config.h"

namespace samordna::hl7 {
namespace {

class FakeStore : public DurableStore {
 public:
  enum class Mode { kCommit, kHold, kFail };
  Mode mode = Mode::kCommit;
  std::map<std::string, std::pair<std::string, bool>> memory;
  std::vector<std::vector<v1::Event>> submitted;
  std::vector<std::function<void()>> held;  // completes a held submission

  void submit(std::vector<v1::Event> events, Record rec, std::vector<Record> more,
              Clock::time_point, std::function<void(Answer)> done) override {
    if (auto it = memory.find(rec.key); it != memory.end()) {
      Answer a;
      a.status = Status::kKnown;
      a.current = it->second.first;
      a.current_durable = it->second.second;
      return done(a);
    }
    if (mode == Mode::kFail) return done(Answer{Status::kNotConfirmed, {}, false});
    submitted.push_back(events);
    memory[rec.key] = {rec.value, false};
    for (auto& r : more) memory[r.key] = {r.value, false};
    auto commit = [this, rec, more, done] {
      memory[rec.key].second = true;
      for (auto& r : more) memory[r.key].second = true;
      done(Answer{});
    };
    if (mode == Mode::kHold) {
      held.push_back(commit);
    } else {
      commit();
    }
  }
  std::optional<std::pair<std::string, bool>> recall(const std::string& key) const override {
    auto it = memory.find(key);
    if (it == memory.end()) return std::nullopt;
    return it->second;
  }
};

std::string a01(const std::string& control_id, const std::string& accept_ack = "",
                const std::string& extra = "") {
  return "MSH|^~\\&|PAS|SUS|SAMORDNA|SE|20250310081500||ADT^A01^ADT_A01|" + control_id +
         "|P|2.5|||" + accept_ack +
         "\rEVN|A01|20250310081400\rPID|1||191212121212^^^&1.2.752.129.2.1.3.1&ISO^NNSWE||"
         "Tolvansson^Tolvan||19121212|M|||Gatan 1^^Stockholm^^11122^SE^H^^0180\rPV1|1|I|MED3^^^"
         "SUS||||||||||||||||V7001\r" +
         extra;
}

std::string a08(const std::string& control_id, const std::string& estimate) {
  return "MSH|^~\\&|PAS|SUS|SAMORDNA|SE|20250311081500||ADT^A08|" + control_id +
         "|P|2.5\rEVN|A08|20250311081400\rPID|1\rPV1|1|I|MED3||||||||||||||||V7001\rPV2|||||||||" +
         estimate + "\r";
}

struct Replies {
  std::vector<std::string> acks;
  Acknowledger::Reply reply() {
    return [this](std::string ack) { acks.push_back(std::move(ack)); };
  }
};

std::string msa(const std::string& ack) {
  auto at = ack.find("\rMSA|");
  return at == std::string::npos ? "" : ack.substr(at + 1, ack.find('\r', at + 1) - at - 1);
}

TEST(Hl7Acknowledger, PositiveAckOnlyOnceDurable) {
  FakeStore store;
  store.mode = FakeStore::Mode::kHold;
  Acknowledger ack(store, {});
  Replies r;
  ack.handle(a01("M1"), r.reply());
  EXPECT_TRUE(r.acks.empty());  // nothing before the store commits
  ASSERT_EQ(store.submitted.size(), 1u);
  ASSERT_EQ(store.submitted[0].size(), 1u);
  EXPECT_EQ(store.submitted[0][0].event_id(), "M1#1");
  store.held[0]();
  ASSERT_EQ(r.acks.size(), 1u);
  EXPECT_EQ(msa(r.acks[0]), "MSA|AA|M1");
}

TEST(Hl7Acknowledger, NotConfirmedIsAE207OrCE207) {
  FakeStore store;
  store.mode = FakeStore::Mode::kFail;
  Acknowledger ack(store, {});
  Replies r;
  ack.handle(a01("M1"), r.reply());
  ack.handle(a01("M2", "AL"), r.reply());
  ASSERT_EQ(r.acks.size(), 2u);
  EXPECT_EQ(msa(r.acks[0]), "MSA|AE|M1");
  EXPECT_NE(r.acks[0].find("|207^"), std::string::npos) << r.acks[0];
  EXPECT_EQ(msa(r.acks[1]), "MSA|CE|M2");
  EXPECT_TRUE(store.memory.empty());
}

TEST(Hl7Acknowledger, AResendGetsTheFirstAckAndSubmitsNothing) {
  FakeStore store;
  Acknowledger ack(store, {});
  Replies r;
  ack.handle(a01("M1"), r.reply());
  // The same message again, with LF instead of CR (the same content).
  std::string again = a01("M1");
  for (char& c : again) {
    if (c == '\r') c = '\n';
  }
  ack.handle(again, r.reply());
  ASSERT_EQ(r.acks.size(), 2u);
  EXPECT_EQ(r.acks[0], r.acks[1]);  // byte for byte, its time and control id included
  EXPECT_EQ(store.submitted.size(), 1u);
  EXPECT_EQ(ack.stats().replayed.load(), 1u);
}

TEST(Hl7Acknowledger, TheSameControlIdWithOtherContentIs205) {
  FakeStore store;
  Acknowledger ack(store, {});
  Replies r;
  ack.handle(a01("M1"), r.reply());
  ack.handle(a01("M1", "", "ZZ1|other\r"), r.reply());
  ASSERT_EQ(r.acks.size(), 2u);
  EXPECT_EQ(msa(r.acks[1]), "MSA|AR|M1");
  EXPECT_NE(r.acks[1].find("|205^"), std::string::npos) << r.acks[1];
  EXPECT_EQ(store.submitted.size(), 1u);
  // Another sender may use the same control id.
  std::string other = a01("M1");
  other.replace(other.find("|SUS|"), 5, "|KS|");
  ack.handle(other, r.reply());
  EXPECT_EQ(msa(r.acks[2]), "MSA|AA|M1");
}

TEST(Hl7Acknowledger, TheSameMessageStillInFlightIsAE) {
  FakeStore store;
  store.mode = FakeStore::Mode::kHold;
  Acknowledger ack(store, {});
  Replies r;
  ack.handle(a01("M1"), r.reply());
  ack.handle(a01("M1"), r.reply());
  ASSERT_EQ(r.acks.size(), 1u);
  EXPECT_EQ(msa(r.acks[0]), "MSA|AE|M1");
  store.held[0]();
  EXPECT_EQ(msa(r.acks[1]), "MSA|AA|M1");
}

TEST(Hl7Acknowledger, MappingErrorsAreAnsweredAtOnceAndNotRemembered) {
  FakeStore store;
  Acknowledger ack(store, {});
  Replies r;
  std::string no_visit = a01("M1");
  no_visit.replace(no_visit.find("V7001"), 5, "");
  ack.handle(no_visit, r.reply());
  ack.handle("garbage", r.reply());
  ASSERT_EQ(r.acks.size(), 2u);
  EXPECT_EQ(msa(r.acks[0]), "MSA|AE|M1");
  EXPECT_EQ(msa(r.acks[1]), "MSA|AR|");
  EXPECT_TRUE(store.memory.empty());
  // Corrected, the same control id is taken.
  ack.handle(a01("M1"), r.reply());
  EXPECT_EQ(msa(r.acks[2]), "MSA|AA|M1");
}

TEST(Hl7Acknowledger, TheMemoryKeyHoldsNoValueFromTheMessage) {
  FakeStore store;
  Acknowledger ack(store, {});
  Replies r;
  ack.handle(a01("CONTROL-191212121212"), r.reply());
  // The message's record and the patient data's digest for the episode (hl7pat/<episode>).
  ASSERT_EQ(store.memory.size(), 2u);
  const auto& [key, value] = *store.memory.begin();
  EXPECT_EQ(key.rfind("hl7/", 0), 0u);
  EXPECT_EQ(key.size(), 4u + 32u);
  EXPECT_EQ(key.find("191212121212"), std::string::npos);
  EXPECT_EQ(value.first.find("Tolvansson"), std::string::npos);
  const auto& [pkey, pvalue] = *store.memory.rbegin();
  EXPECT_EQ(pkey, "hl7pat/SUS:V7001");
  EXPECT_EQ(pvalue.first.size(), 64u);  // SHA-256, hex
  EXPECT_EQ(pvalue.first.find("Tolvansson"), std::string::npos);
}

TEST(Hl7Acknowledger, AnA08RepeatingTheEstimateMakesNoEvent) {
  FakeStore store;
  Acknowledger ack(store, {});
  Replies r;
  ack.handle(a08("U1", "20250314120000"), r.reply());
  ack.handle(a08("U2", "20250314120000"), r.reply());
  ack.handle(a08("U3", "20250315120000"), r.reply());
  ASSERT_EQ(store.submitted.size(), 3u);
  EXPECT_EQ(store.submitted[0].size(), 1u);
  EXPECT_EQ(store.submitted[1].size(), 0u);  // remembered: no event, still AA
  EXPECT_EQ(store.submitted[2].size(), 1u);
  for (const auto& a : r.acks) EXPECT_EQ(msa(a).substr(0, 7), "MSA|AA|");
}

// The patient data the A01 carried is remembered (as a digest, no name or address in the memory):
// an A08 repeating it makes no patientDataUpdated, one with a new address makes one.
TEST(Hl7Acknowledger, AnA08RepeatingThePatientDataMakesNoEvent) {
  FakeStore store;
  Acknowledger ack(store, {});
  Replies r;
  ack.handle(a01("P1"), r.reply());
  std::string same = a01("P2");
  same.replace(same.find("ADT^A01^ADT_A01"), 15, "ADT^A08^ADT_A01");
  ack.handle(same, r.reply());
  std::string moved = a01("P3");
  moved.replace(moved.find("ADT^A01^ADT_A01"), 15, "ADT^A08^ADT_A01");
  moved.replace(moved.find("Gatan 1"), 7, "Gatan 2");
  ack.handle(moved, r.reply());
  ack.handle(same, r.reply());  // P2 resent: its stored ACK, nothing new
  ASSERT_EQ(store.submitted.size(), 3u);
  EXPECT_EQ(store.submitted[0].size(), 1u);  // admitted
  EXPECT_EQ(store.submitted[1].size(), 0u);  // the same name and address: no event, still AA
  ASSERT_EQ(store.submitted[2].size(), 1u);
  EXPECT_TRUE(store.submitted[2][0].has_patient_data_updated());
  EXPECT_EQ(store.submitted[2][0].patient_data_updated().address(), "Gatan 2, 11122 Stockholm");
  for (const auto& a : r.acks) EXPECT_EQ(msa(a).substr(0, 7), "MSA|AA|");
  for (const auto& [key, value] : store.memory) {
    EXPECT_EQ(value.first.find("Gatan"), std::string::npos) << key;
    EXPECT_EQ(value.first.find("Tolvan"), std::string::npos) << key;
  }
}

TEST(Hl7Acknowledger, ABatchIsAnsweredWithABatchOfAcks) {
  FakeStore store;
  Acknowledger ack(store, {});
  Replies r;
  std::string batch =
      "FHS|^~\\&|PAS|SUS|SAMORDNA|SE|20250310||||F1\rBHS|^~\\&|PAS|SUS|SAMORDNA|"
      "SE|20250310||||B1\r" +
      a01("M1") + a01("M2") + "BTS|2\rFTS|1\r";
  ack.handle(batch, r.reply());
  ASSERT_EQ(r.acks.size(), 1u);
  const std::string& out = r.acks[0];
  EXPECT_EQ(out.rfind("FHS|^~\\&|SAMORDNA|SE|PAS|SUS|", 0), 0u) << out;
  EXPECT_NE(out.find("|F1\rBHS|"), std::string::npos) << out;
  EXPECT_NE(out.find("MSA|AA|M1"), std::string::npos);
  EXPECT_NE(out.find("MSA|AA|M2"), std::string::npos);
  EXPECT_NE(out.find("BTS|2\rFTS|1\r"), std::string::npos) << out;
  EXPECT_EQ(store.submitted.size(), 2u);
  // An empty batch gets an empty batch back.
  ack.handle("BHS|^~\\&|PAS|SUS\rBTS|0\r", r.reply());
  EXPECT_NE(r.acks[1].find("BTS|0"), std::string::npos);
}

TEST(Hl7Acknowledger, EnhancedModeNeverAsksForNothing) {
  FakeStore store;
  Acknowledger ack(store, {});
  Replies r;
  ack.handle(a01("M1", "NE"), r.reply());
  ASSERT_EQ(r.acks.size(), 1u);
  EXPECT_EQ(r.acks[0], "");  // no ACK wanted; the message is still taken
  EXPECT_EQ(store.submitted.size(), 1u);
}

TEST(Hl7Acknowledger, TheSenderTablePicksTheSendersSettings) {
  FakeStore store;
  SenderTable senders;
  senders.senders[{"PAS", "KS"}].inpatient_classes = {"INPATIENT"};
  Acknowledger ack(store, senders);
  Replies r;
  std::string m = a01("M1");
  m.replace(m.find("|SUS|"), 5, "|KS|");
  m.replace(m.find("PV1|1|I|"), 8, "PV1|1|INPATIENT|");
  ack.handle(m, r.reply());
  ASSERT_EQ(store.submitted.size(), 1u);
  EXPECT_EQ(store.submitted[0].size(), 1u);  // inpatient for this sender
  std::string d = a01("M2");
  d.replace(d.find("PV1|1|I|"), 8, "PV1|1|INPATIENT|");
  ack.handle(d, r.reply());
  EXPECT_EQ(store.submitted[1].size(), 0u);  // the default: not inpatient
}

TEST(Hl7Acknowledger, AFramingErrorIsAnAR) {
  FakeStore store;
  Acknowledger ack(store, {});
  const std::string out = ack.framing_reject("frame over 1048576 bytes");
  EXPECT_EQ(msa(out), "MSA|AR|");
  EXPECT_NE(out.find("MLLP: frame over"), std::string::npos);
}

TEST(Hl7ListenerConfig, ReadsSendersAndListenerKeys) {
  const auto path = std::filesystem::temp_directory_path() / "hl7_listener_config_test.yaml";
  {
    std::ofstream(path) << "default_charset: 8859/1\n"
                           "senders:\n"
                           "  - application: PAS\n"
                           "    facility: KS\n"
                           "    inpatient_classes: [INPATIENT]\n"
                           "listener:\n"
                           "  port: 3000\n"
                           "  durable_bound_ms: 2500\n"
                           "  instance: east\n";
  }
  auto c = load_listener_config(path.string());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c.value().server.port, 3000);
  EXPECT_EQ(c.value().ack.durable_bound.count(), 2500);
  EXPECT_EQ(c.value().instance, "east");
  EXPECT_EQ(c.value().senders.defaults.parse.default_charset, Charset::kLatin1);
  const auto& ks = c.value().senders.senders.at({"PAS", "KS"});
  EXPECT_EQ(ks.inpatient_classes, std::vector<std::string>{"INPATIENT"});
  EXPECT_EQ(ks.parse.default_charset, Charset::kLatin1);  // from the defaults

  { std::ofstream(path) << "listener:\n  prot: 3000\n"; }
  auto bad = load_listener_config(path.string());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find(":2: unknown key listener.prot"), std::string::npos)
      << bad.error().message;
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace samordna::hl7

namespace samordna::hl7 {
namespace {

// Found by fuzz_hl7_session: "FHSMSH|..." is no batch header ('M' is no field separator); it is
// one message, refused as such.
TEST(Hl7Acknowledger, AnFhsWithoutASeparatorIsNoBatch) {
  FakeStore store;
  Acknowledger ack(store, {});
  Replies r;
  ack.handle("FHSMSH|^~\\&|A|B\rZZ1|1\r", r.reply());
  ASSERT_EQ(r.acks.size(), 1u);
  EXPECT_EQ(r.acks[0].rfind("MSH|", 0), 0u) << r.acks[0];
  EXPECT_EQ(msa(r.acks[0]), "MSA|AR|");
}

}  // namespace
}  // namespace samordna::hl7
