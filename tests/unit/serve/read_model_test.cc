#include "connectors/serve/read_model.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "samordna/v1/delivery.pb.h"
#include "tests/unit/serve/serve_fixture.h"

namespace samordna::serve {
namespace {

using namespace samordna::serve::testing;
using K = v1::Organisation;

class ServeReadModel : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    model_ = ReadModel::open(dir_).value();
  }
  void TearDown() override {
    model_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<ReadModel> model_;
};

TEST_F(ServeReadModel, StoresOffsetsWithTheRowsAndNeverAppliesARecordTwice) {
  const auto records = world_records(model_->topics());
  EXPECT_EQ(model_->apply(records).value(), records.size());
  const auto pos = model_->positions().value();
  EXPECT_EQ(pos.at({"samordna.episodes", 0}), 2);
  EXPECT_EQ(pos.at({"samordna.notifications", 0}), 8);
  const std::string before = model_->dump().value();
  // The same batch again (a consumer that re-read it) changes nothing and applies nothing.
  EXPECT_EQ(model_->apply(records).value(), 0u);
  EXPECT_EQ(model_->dump().value(), before);
  // Reopened, the positions are still there.
  model_.reset();
  model_ = ReadModel::open(dir_).value();
  EXPECT_EQ(model_->positions().value().at({"samordna.episodes", 0}), 2);
  EXPECT_EQ(model_->dump().value(), before);
}

TEST_F(ServeReadModel, TombstoneRetiresTheEpisodeAndItsRows) {
  ASSERT_TRUE(model_->apply(world_records(model_->topics())));
  const OrgRef mun = org(K::MUNICIPALITY, kWorldA);
  ASSERT_TRUE(model_->episode_for(mun, "ep-a").value().has_value());
  ASSERT_TRUE(model_->apply({Record{"samordna.episodes", 0, 2, "ep-a", std::nullopt}}));
  EXPECT_FALSE(model_->episode_for(mun, "ep-a").value().has_value());
  EXPECT_TRUE(model_->deadlines(mun, {}, at("2025-01-01T00:00:00Z"), {}).value().empty());
  // The other world is untouched.
  EXPECT_TRUE(model_->episode_for(org(K::MUNICIPALITY, kWorldB), "ep-b").value().has_value());
}

TEST_F(ServeReadModel, EveryOrganisationOfAnEpisodeSeesItAndNoOther) {
  ASSERT_TRUE(model_->apply(world_records(model_->topics())));
  for (auto k : kKinds) {
    EXPECT_TRUE(model_->episode_for(org(k, kWorldA), "ep-a").value().has_value())
        << K::Kind_Name(k);
    EXPECT_FALSE(model_->episode_for(org(k, kWorldB), "ep-a").value().has_value())
        << K::Kind_Name(k);
    const auto list = model_->episodes(org(k, kWorldA), {}).value();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].episode_id(), "ep-a");
  }
  EXPECT_EQ(model_->episodes_by_personal_id(org(K::WARD, kWorldA), kWorldA.personal_id, {})
                .value()
                .size(),
            1u);
  EXPECT_TRUE(model_->episodes_by_personal_id(org(K::WARD, kWorldB), kWorldA.personal_id, {})
                  .value()
                  .empty());
}

TEST_F(ServeReadModel, InboxIsPerAddresseeUnacknowledgedFirstAndFilters) {
  ASSERT_TRUE(model_->apply(world_records(model_->topics())));
  const OrgRef mun = org(K::MUNICIPALITY, kWorldA);
  auto inbox = model_->inbox(mun, {}, {}).value();
  ASSERT_EQ(inbox.size(), 2u);  // its admission notice and the payment liability
  EXPECT_EQ(inbox[0].notification.notification_id(), "ep-a/t/liab");
  EXPECT_FALSE(inbox[0].acked);
  EXPECT_EQ(inbox[1].notification.notification_id(), "ep-a/e/adm/MUNICIPALITY");
  EXPECT_TRUE(inbox[1].acked);  // the view's acknowledgement by the municipality
  InboxFilter unacked;
  unacked.acked = false;
  EXPECT_EQ(model_->inbox(mun, unacked, {}).value().size(), 1u);
  InboxFilter kind;
  kind.kind = "admissionNotice";
  EXPECT_EQ(model_->inbox(mun, kind, {}).value().size(), 1u);
  InboxFilter later;
  later.from = at("2025-03-05T00:00:00Z");
  EXPECT_EQ(model_->inbox(mun, later, {}).value().size(), 1u);
  EXPECT_EQ(model_->inbox(mun, {}, Page{1, 1}).value().size(), 1u);
  // The outpatient unit's notice is not acknowledged by it.
  auto out = model_->inbox(org(K::OUTPATIENT_UNIT, kWorldA), {}, {}).value();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].acked);
  EXPECT_FALSE(model_->notification_for(org(K::MUNICIPALITY, kWorldB), "ep-a/e/adm/MUNICIPALITY")
                   .value()
                   .has_value());
}

// The view carrying an acknowledgement and the notification it acknowledges come on two topics,
// in either order; and the episode's tombstone (retention) deletes its acks but not its inbox: an
// acknowledged notice stays acknowledged, it does not come back as new to the caseworker.
TEST_F(ServeReadModel, AnAcknowledgementHoldsWhicheverComesFirstAndOutlivesTheEpisode) {
  const auto records = world_records(model_->topics());
  std::vector<Record> views, notifications;
  for (const auto& r : records)
    (r.topic == model_->topics().episodes ? views : notifications).push_back(r);
  ASSERT_TRUE(model_->apply(notifications));  // the notifications first: nothing acknowledged yet
  const OrgRef mun = org(K::MUNICIPALITY, kWorldA);
  const std::string notice = "ep-a/e/adm/MUNICIPALITY";
  auto item = model_->notification_for(mun, notice).value();
  ASSERT_TRUE(item.has_value());
  EXPECT_FALSE(item->acked);
  InboxFilter unacked;
  unacked.acked = false;
  EXPECT_EQ(model_->inbox(mun, unacked, {}).value().size(), 2u);
  EXPECT_EQ(model_->inbox_summary(mun, {}).value().unacknowledged, 1);

  ASSERT_TRUE(model_->apply(views));  // then the view with the municipality's acknowledgement
  item = model_->notification_for(mun, notice).value();
  ASSERT_TRUE(item.has_value());
  ASSERT_TRUE(item->acked);
  const std::optional<Instant> acked_at = item->acked_at;
  EXPECT_TRUE(acked_at.has_value());
  auto inbox = model_->inbox(mun, {}, {}).value();
  ASSERT_EQ(inbox.size(), 2u);
  EXPECT_EQ(inbox[1].notification.notification_id(), notice) << "acknowledged ones last";
  EXPECT_EQ(model_->inbox(mun, unacked, {}).value().size(), 1u);
  EXPECT_EQ(model_->inbox_summary(mun, {}).value().unacknowledged, 0);

  // The episode leaves (its retention): the inbox keeps the notice, still acknowledged.
  ASSERT_TRUE(model_->apply({Record{model_->topics().episodes, 0, 2, "ep-a", std::nullopt}}));
  item = model_->notification_for(mun, notice).value();
  ASSERT_TRUE(item.has_value());
  EXPECT_TRUE(item->acked);
  EXPECT_EQ(item->acked_at, acked_at);
  EXPECT_EQ(model_->inbox(mun, unacked, {}).value().size(), 1u);
  EXPECT_EQ(model_->inbox_summary(mun, {}).value().unacknowledged, 0);
}

TEST_F(ServeReadModel, InboxSummaryCountsTheWholeInboxAndFiltersByRecipientUnit) {
  ASSERT_TRUE(model_->apply(world_records(model_->topics())));
  const OrgRef mun = org(K::MUNICIPALITY, kWorldA);
  // Its admission notice (acknowledged) and the payment liability (not a notice).
  auto all = model_->inbox_summary(mun, {}).value();
  EXPECT_EQ(all.total, 2);
  EXPECT_EQ(all.unacknowledged, 0);
  EXPECT_EQ(all.units, std::vector<std::string>{kWorldA.municipality});
  EXPECT_EQ(all.services, std::vector<std::string>{"SOCIAL_SERVICES"});
  InboxFilter service;
  service.service = "SOCIAL_SERVICES";
  EXPECT_EQ(model_->inbox(mun, service, {}).value().size(), 1u);
  EXPECT_EQ(model_->inbox_summary(mun, service).value().total, 1);
  service.service = "MUNICIPAL_HEALTH_CARE";
  EXPECT_TRUE(model_->inbox(mun, service, {}).value().empty());
  InboxFilter unit;
  unit.unit = kWorldA.municipality;
  EXPECT_EQ(model_->inbox(mun, unit, {}).value().size(), 1u);
  EXPECT_EQ(model_->inbox_summary(mun, unit).value().total, 1);
  unit.unit = kWorldB.municipality;  // another municipality's code: nothing of this inbox
  EXPECT_TRUE(model_->inbox(mun, unit, {}).value().empty());
  EXPECT_EQ(model_->inbox_summary(mun, unit).value().total, 0);
  InboxFilter acked;
  acked.acked = true;
  EXPECT_EQ(model_->inbox_summary(mun, acked).value().total, 1);
  // The outpatient unit's notice is not acknowledged: counted, whatever the filter.
  const OrgRef vc = org(K::OUTPATIENT_UNIT, kWorldA);
  InboxFilter kind;
  kind.kind = "paymentLiability";
  auto out = model_->inbox_summary(vc, kind).value();
  EXPECT_EQ(out.total, 0);
  EXPECT_EQ(out.unacknowledged, 1);
  EXPECT_EQ(out.units, std::vector<std::string>{kWorldA.outpatient});
}

// Queries from many threads at once, while the writer applies: each query holds one of the read
// connections for all its statements (inbox_summary's read transaction spans four), so none sees
// another's statement or transaction. With a lease that does not lock (tried by hand: every query
// on the first connection) the connections are opened NOMUTEX and this test segfaults.
TEST_F(ServeReadModel, QueriesFromManyThreadsEachHaveTheirOwnConnection) {
  const auto records = world_records(model_->topics());
  ASSERT_TRUE(model_->apply(records));
  const OrgRef mun = org(K::MUNICIPALITY, kWorldA);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    while (!stop.load()) EXPECT_TRUE(model_->apply(records));  // re-read records: applies none
  });
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 8; ++t) {
    readers.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto summary = model_->inbox_summary(mun, {});
        auto page = model_->inbox(mun, {}, {});
        auto positions = model_->positions();
        if (!summary || summary.value().total != 2 || !page || page.value().size() != 2 ||
            !positions || positions.value().size() != 2) {
          ++failures;
        }
      }
    });
  }
  for (auto& r : readers) r.join();
  stop = true;
  writer.join();
  EXPECT_EQ(failures.load(), 0);
}

// samordna.delivery.status: the last status per (notification, endpoint), a tombstone removes it,
// and an organisation sees only its own endpoints' deliveries.
TEST_F(ServeReadModel, DeliveryStatusKeepsTheLastPerEndpointAndScopesByOrganisation) {
  const auto& topic = model_->topics().delivery_status;
  auto status = [&](const std::string& endpoint, const OrgRef& who, v1::DeliveryStatus::State state,
                    int attempts, int64_t at_unix) {
    v1::DeliveryStatus d;
    d.set_notification_id("ep-a/e/adm/MUNICIPALITY");
    d.set_endpoint(endpoint);
    d.mutable_organisation()->set_kind(who.kind);
    d.mutable_organisation()->set_id(who.id);
    d.set_state(state);
    d.set_attempts(attempts);
    d.set_last_status(state == v1::DeliveryStatus::DELIVERED ? 200 : 503);
    d.set_reason(state == v1::DeliveryStatus::DELIVERED ? "HTTP 200" : "HTTP 503");
    d.set_at_unix(at_unix);
    if (state == v1::DeliveryStatus::RETRYING) d.set_next_attempt_unix(at_unix + 30);
    d.set_episode_id("ep-a");
    return d.SerializeAsString();
  };
  const OrgRef mun = org(K::MUNICIPALITY, kWorldA);
  const OrgRef other = org(K::MUNICIPALITY, kWorldB);
  const std::string key = "ep-a/e/adm/MUNICIPALITY/";
  ASSERT_TRUE(model_->apply({
      Record{topic, 0, 0, key + "case", status("case", mun, v1::DeliveryStatus::RETRYING, 1, 100)},
      Record{topic, 0, 1, key + "fhir", status("fhir", other, v1::DeliveryStatus::RETRYING, 2, 90)},
      Record{topic, 0, 2, key + "case", status("case", mun, v1::DeliveryStatus::RETRYING, 2, 130)},
  }));
  auto mine = model_->deliveries_of(mun, "ep-a/e/adm/MUNICIPALITY").value();
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].endpoint, "case");
  EXPECT_EQ(mine[0].state, "retrying");
  EXPECT_EQ(mine[0].attempts, 2);
  ASSERT_TRUE(mine[0].next_attempt.has_value());
  EXPECT_EQ(to_unix(*mine[0].next_attempt), 160);
  EXPECT_EQ(mine[0].episode_id, "ep-a");
  // The operator (no organisation): every endpoint, latest change first.
  auto every = model_->deliveries({}, {}, {}).value();
  ASSERT_EQ(every.size(), 2u);
  EXPECT_EQ(every[0].endpoint, "case");
  DeliveryFilter retrying;
  retrying.state = "retrying";
  EXPECT_EQ(model_->deliveries(other, retrying, {}).value().size(), 1u);
  ASSERT_TRUE(model_->apply({Record{topic, 0, 3, key + "case",
                                    status("case", mun, v1::DeliveryStatus::DELIVERED, 3, 200)},
                             Record{topic, 0, 4, key + "fhir", std::nullopt}}));
  mine = model_->deliveries_of(mun, "ep-a/e/adm/MUNICIPALITY").value();
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].state, "delivered");
  EXPECT_FALSE(mine[0].next_attempt.has_value());
  EXPECT_TRUE(model_->deliveries_of(other, "ep-a/e/adm/MUNICIPALITY").value().empty());
  EXPECT_EQ(model_->positions().value().at({topic, 0}), 5);
}

// An upgrade's new schema: the old file is deleted and rebuilt from the topics (offsets too),
// never refused or half-migrated.
TEST_F(ServeReadModel, AFileOfAnotherSchemaVersionIsRebuiltFromTheTopics) {
  ASSERT_TRUE(model_->apply(world_records(model_->topics())));
  model_.reset();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "readmodel.sqlite").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(db, "UPDATE meta SET value='0' WHERE key='schema'", nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(db);
  }
  model_ = ReadModel::open(dir_).value();
  EXPECT_NE(model_->rebuilt_reason().find("schema version 0"), std::string::npos)
      << model_->rebuilt_reason();
  EXPECT_TRUE(model_->positions().value().empty());
  EXPECT_TRUE(model_->inbox(org(K::MUNICIPALITY, kWorldA), {}, {}).value().empty());
  model_ = ReadModel::open(dir_).value();  // the same version now: kept
  EXPECT_TRUE(model_->rebuilt_reason().empty());
}

TEST_F(ServeReadModel, DeadlinesByStateAndStatisticsPerMunicipalityAndMonth) {
  ASSERT_TRUE(model_->apply(world_records(model_->topics())));
  const OrgRef region = org(K::REGION, kWorldA);
  const Instant now = at("2029-12-31T12:00:00Z");
  DeadlineFilter missed;
  missed.state = "missed";
  auto rows = model_->deadlines(region, missed, now, {}).value();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].deadline.kind(), v1::SIP_INVITATION);
  DeadlineFilter at_risk;
  at_risk.state = "at_risk";
  EXPECT_EQ(model_->deadlines(region, at_risk, now, {}).value().size(), 1u);
  EXPECT_TRUE(model_->deadlines(region, at_risk, at("2025-01-01T00:00:00Z"), {}).value().empty());
  DeadlineFilter bad;
  bad.state = "nonsense";
  EXPECT_FALSE(model_->deadlines(region, bad, now, {}));

  StatsFilter f;
  f.region = "01";
  const auto dr = model_->discharge_ready_stats(f).value();
  ASSERT_EQ(dr.size(), 1u);
  EXPECT_EQ(dr[0].municipality, "0180");
  EXPECT_EQ(dr[0].month, "2025-03");
  EXPECT_EQ(dr[0].stays, 1);
  EXPECT_EQ(dr[0].days, 10);  // 10 March to 20 March, counted by nights
  const auto missed_stats = model_->missed_deadline_stats(f).value();
  ASSERT_EQ(missed_stats.size(), 1u);
  EXPECT_EQ(missed_stats[0].unit, "vc-a");
  EXPECT_EQ(missed_stats[0].deadline_kind, "SIP_INVITATION");
  EXPECT_EQ(missed_stats[0].municipality, "0180");
  EXPECT_EQ(missed_stats[0].period, "2025-03");
  const auto liab = model_->liability_stats(StatsFilter{}).value();
  ASSERT_EQ(liab.size(), 2u);  // both worlds without a filter
  EXPECT_EQ(liab[0].days, 4);
  EXPECT_EQ(liab[0].amount_sek, 37200);
}

TEST_F(ServeReadModel, DeadlinesFilterByKindUnitMunicipalityAndDueTime) {
  // World A's three deadlines (fixture): admission notice MET (ward-a, due 2025-03-04 08:00),
  // SIP invitation MISSED (vc-a, due 2025-03-13 22:59:59), information transfer OPEN (ward-a, due
  // 2030-01-01). A region coordinator of region 01 sees them all, and nothing of region 14's.
  ASSERT_TRUE(model_->apply(world_records(model_->topics())));
  const OrgRef region = org(K::REGION, kWorldA);
  const Instant now = at("2029-12-31T12:00:00Z");
  const auto kinds = [&](const DeadlineFilter& f) {
    std::vector<std::string> out;
    const auto rows = model_->deadlines(region, f, now, {}).value();
    for (const auto& r : rows) {
      EXPECT_EQ(r.episode_id, "ep-a");
      out.push_back(v1::DeadlineKind_Name(r.deadline.kind()));
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(kinds({}), (V{"ADMISSION_NOTICE", "INFORMATION_TRANSFER", "SIP_INVITATION"}));
  DeadlineFilter by_kind;
  by_kind.kind = v1::SIP_INVITATION;
  EXPECT_EQ(kinds(by_kind), (V{"SIP_INVITATION"}));
  DeadlineFilter by_unit;
  by_unit.unit = "ward-a";
  EXPECT_EQ(kinds(by_unit), (V{"ADMISSION_NOTICE", "INFORMATION_TRANSFER"}));
  DeadlineFilter by_municipality;
  by_municipality.municipality = "0180";
  EXPECT_EQ(kinds(by_municipality).size(), 3u);
  by_municipality.municipality = "1480";  // region 14's municipality: not region 01's to see
  EXPECT_TRUE(kinds(by_municipality).empty());
  DeadlineFilter by_time;  // [from, to): 2025-03-04 08:00 in, 2025-03-13 22:59:59 out
  by_time.from = at("2025-03-04T08:00:00Z");
  by_time.to = at("2025-03-13T22:59:59Z");
  EXPECT_EQ(kinds(by_time), (V{"ADMISSION_NOTICE"}));
  DeadlineFilter combined;
  combined.unit = "ward-a";
  combined.state = "open";
  EXPECT_EQ(kinds(combined), (V{"INFORMATION_TRANSFER"}));
}

TEST_F(ServeReadModel, MissedDeadlinesPerLocalIsoWeek) {
  // Four episodes of world A whose SIP deadline was missed, due (UTC) on: Sunday 2025-12-28
  // 23:30 (Monday 29 December 00:30 in Stockholm, UTC+1: week 1 of 2026, month December),
  // Sunday 2025-12-28 22:00 (23:00 local: still week 52 of 2025), Thursday 2026-01-01 10:00
  // (week 1) and 2026-03-29 21:59 (the first day of summer time, UTC+2: 23:59 local on that
  // Sunday, week 13).
  std::vector<Record> records;
  const std::vector<std::string> due = {"2025-12-28T23:30:00Z", "2025-12-28T22:00:00Z",
                                        "2026-01-01T10:00:00Z", "2026-03-29T21:59:00Z"};
  for (size_t i = 0; i < due.size(); ++i) {
    auto v = view(kWorldA);
    v.set_episode_id("ep-week-" + std::to_string(i));
    for (auto& d : *v.mutable_deadlines()) {
      if (d.state() == v1::EpisodeView::Deadline::MISSED)
        *d.mutable_due_at() = to_proto(at(due[i]));
    }
    records.push_back({model_->topics().episodes, 0, static_cast<int64_t>(i), v.episode_id(),
                       v.SerializeAsString()});
  }
  ASSERT_TRUE(model_->apply(records));
  StatsFilter f;
  f.region = "01";
  std::map<std::string, int64_t> weeks;
  const auto by_week = model_->missed_deadline_stats(f, StatsPeriod::kWeek).value();
  for (const auto& r : by_week) {
    EXPECT_EQ(r.unit, "vc-a");
    EXPECT_EQ(r.municipality, "0180");
    weeks[r.period] += r.missed;
  }
  EXPECT_EQ(weeks,
            (std::map<std::string, int64_t>{{"2025-W52", 1}, {"2026-W01", 2}, {"2026-W13", 1}}));
  // The same deadlines by local month: 29 December 00:30 is December's.
  std::map<std::string, int64_t> months;
  const auto by_month = model_->missed_deadline_stats(f).value();
  for (const auto& r : by_month) months[r.period] += r.missed;
  EXPECT_EQ(months,
            (std::map<std::string, int64_t>{{"2025-12", 2}, {"2026-01", 1}, {"2026-03", 1}}));
}

TEST_F(ServeReadModel, UndecodableRecordIsSkippedAndCountedNotACrashLoop) {
  const auto applied =
      model_->apply({Record{"samordna.episodes", 0, 0, "x", std::string("\xff\xff\xff", 3)},
                     Record{"samordna.notifications", 0, 0, "x", std::string("garbage")}});
  ASSERT_TRUE(applied);
  EXPECT_EQ(model_->undecodable(), 2u);
  EXPECT_EQ(model_->positions().value().at({"samordna.episodes", 0}), 1);
}

}  // namespace
}  // namespace samordna::serve
