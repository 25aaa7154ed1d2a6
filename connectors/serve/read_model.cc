#include "connectors/serve/read_model.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <sstream>
#include <tuple>

#include "connectors/serve/audit.h"
#include "engine/core/name_uuid.h"
#include "rules/calendar.h"
#include "samordna/v1/delivery.pb.h"

namespace samordna::serve {
namespace {

// Bumped when the schema changes; a file of another version is deleted and rebuilt from the topics.
// 2: inbox.unit and .service, notifications.message_id, the delivery table.
// 3: inbox.acked_at and the inbox's order in its indexes.
constexpr const char* kSchemaVersion = "3";

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- The next offset per partition, written in the same transaction as the rows it produced.
CREATE TABLE IF NOT EXISTS offsets(
  topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
  PRIMARY KEY(topic, partition));
-- One row per live episode: the latest EpisodeView (binary) and the columns queries filter on.
CREATE TABLE IF NOT EXISTS episodes(
  episode_id TEXT PRIMARY KEY, status TEXT NOT NULL, care_unit TEXT NOT NULL,
  region TEXT NOT NULL, home_municipality TEXT NOT NULL, outpatient_unit TEXT NOT NULL,
  personal_id TEXT NOT NULL, updated_at INTEGER NOT NULL,
  stat_month TEXT, dr_days INTEGER NOT NULL DEFAULT 0,
  liability_municipality TEXT, liability_status TEXT, liable_days INTEGER NOT NULL DEFAULT 0,
  amount_sek INTEGER, view BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS episodes_personal_id ON episodes(personal_id);
CREATE INDEX IF NOT EXISTS episodes_home_month ON episodes(home_municipality, stat_month);
CREATE INDEX IF NOT EXISTS episodes_region_month ON episodes(region, stat_month);
CREATE INDEX IF NOT EXISTS episodes_liability ON episodes(liability_municipality, stat_month);
-- Who may see an episode: (kind, id) of every organisation with a right to it.
CREATE TABLE IF NOT EXISTS episode_access(
  org_kind INTEGER NOT NULL, org_id TEXT NOT NULL, episode_id TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY(org_kind, org_id, episode_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS episode_access_episode ON episode_access(episode_id);
CREATE INDEX IF NOT EXISTS episode_access_recent ON episode_access(org_kind, org_id, updated_at);
CREATE TABLE IF NOT EXISTS deadlines(
  episode_id TEXT NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL, state INTEGER NOT NULL,
  due_at INTEGER NOT NULL, due_month TEXT NOT NULL, fulfilled_at INTEGER,
  responsible_kind INTEGER NOT NULL, responsible_id TEXT NOT NULL,
  care_unit TEXT NOT NULL, home_municipality TEXT NOT NULL, region TEXT NOT NULL,
  deadline BLOB NOT NULL,
  PRIMARY KEY(episode_id, seq));
CREATE INDEX IF NOT EXISTS deadlines_state_due ON deadlines(state, due_at);
CREATE INDEX IF NOT EXISTS deadlines_region ON deadlines(region, state, due_at);
CREATE INDEX IF NOT EXISTS deadlines_municipality ON deadlines(home_municipality, state, due_at);
CREATE INDEX IF NOT EXISTS deadlines_ward ON deadlines(care_unit, state, due_at);
CREATE INDEX IF NOT EXISTS deadlines_responsible
  ON deadlines(responsible_kind, responsible_id, state, due_at);
CREATE INDEX IF NOT EXISTS deadlines_missed_month ON deadlines(state, due_month);
-- Acknowledgements (kvittens) as the engine's projection shows them, per notice and addressee.
CREATE TABLE IF NOT EXISTS acks(
  notification_id TEXT NOT NULL, org_kind INTEGER NOT NULL, org_id TEXT NOT NULL,
  episode_id TEXT NOT NULL, at INTEGER NOT NULL,
  PRIMARY KEY(notification_id, org_kind, org_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS acks_episode ON acks(episode_id);
-- message_id: the MessageHeader id of its FHIR message (name_uuid.h), which a FHIR
-- acknowledgement's response.identifier names.
CREATE TABLE IF NOT EXISTS notifications(
  notification_id TEXT PRIMARY KEY, episode_id TEXT NOT NULL, kind TEXT NOT NULL,
  issued_at INTEGER NOT NULL, body BLOB NOT NULL, message_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS notifications_message ON notifications(message_id);
-- The inbox: one row per (addressee, notification).
-- unit, service: the notice's Recipient ('' for notifications without one; the service by its
-- enum name, e.g. SOCIAL_SERVICES).
-- acked_at: the addressee's acknowledgement, from acks when the notification or the ack comes,
-- whichever is later; kept when the episode's tombstone deletes its acks (the notification stays
-- in the inbox, acknowledged). The indexes hold the inbox's order (unacknowledged first, newest
-- first), so a page is read in order, not sorted from the whole inbox.
CREATE TABLE IF NOT EXISTS inbox(
  org_kind INTEGER NOT NULL, org_id TEXT NOT NULL, notification_id TEXT NOT NULL,
  issued_at INTEGER NOT NULL, kind TEXT NOT NULL, unit TEXT NOT NULL, service TEXT NOT NULL,
  acked_at INTEGER, acked INTEGER GENERATED ALWAYS AS (acked_at IS NOT NULL) VIRTUAL,
  PRIMARY KEY(org_kind, org_id, notification_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS inbox_order
  ON inbox(org_kind, org_id, acked, issued_at DESC, notification_id);
CREATE INDEX IF NOT EXISTS inbox_unit
  ON inbox(org_kind, org_id, unit, acked, issued_at DESC, notification_id);
-- The last DeliveryStatus per (notification, endpoint) of samordna.delivery.status.
CREATE TABLE IF NOT EXISTS delivery(
  notification_id TEXT NOT NULL, endpoint TEXT NOT NULL,
  org_kind INTEGER NOT NULL, org_id TEXT NOT NULL, state TEXT NOT NULL,
  attempts INTEGER NOT NULL, last_status INTEGER NOT NULL, code TEXT NOT NULL,
  reason TEXT NOT NULL, at INTEGER NOT NULL, next_attempt INTEGER, episode_id TEXT NOT NULL,
  PRIMARY KEY(notification_id, endpoint)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS delivery_org ON delivery(org_kind, org_id, at);
CREATE INDEX IF NOT EXISTS delivery_state ON delivery(state, at);
CREATE TABLE IF NOT EXISTS audit(
  partition INTEGER NOT NULL, offset INTEGER NOT NULL, at INTEGER NOT NULL,
  org_kind INTEGER NOT NULL, org_id TEXT NOT NULL, record TEXT NOT NULL,
  PRIMARY KEY(partition, offset));
CREATE INDEX IF NOT EXISTS audit_org ON audit(org_kind, org_id, at);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
-- The regions an audit record names (the regions of its episodes), for the regions' auditors.
CREATE TABLE IF NOT EXISTS audit_regions(
  region TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
  PRIMARY KEY(region, partition, offset)) WITHOUT ROWID;
)sql";

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;

Error sql_error(sqlite3* db, const std::string& what) {
  return Error{Errc::kIo, "read model (SQLite): " + what + ": " + sqlite3_errmsg(db)};
}

// A prepared statement with typed binds; reset on destruction so it can be reused.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &stmt_, nullptr) !=
        SQLITE_OK) {
      stmt_ = nullptr;
    }
  }
  ~Stmt() {
    if (owned_) {
      sqlite3_finalize(stmt_);
    } else if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  // Over a statement a cache owns: reset and unbound on destruction, not finalized.
  Stmt(sqlite3* db, sqlite3_stmt* cached) : db_(db), stmt_(cached), owned_(false) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind_blob(int i, const std::string& v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind_null(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(stmt_); }
  int64_t i64(int c) const { return sqlite3_column_int64(stmt_, c); }
  double dbl(int c) const { return sqlite3_column_double(stmt_, c); }
  bool is_null(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  std::string text(int c) const {
    const auto* p = sqlite3_column_blob(stmt_, c);
    const int n = sqlite3_column_bytes(stmt_, c);
    return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
  }
  sqlite3* db() const { return db_; }
  int columns() const { return sqlite3_column_count(stmt_); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  bool owned_ = true;
};

Result<void> exec(sqlite3* db, const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string m = msg != nullptr ? msg : "?";
    sqlite3_free(msg);
    return fail(Errc::kIo, std::string("read model (SQLite): ") + m);
  }
  return ok();
}

Result<void> done(Stmt& s, const std::string& what) {
  const int rc = s.step();
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return sql_error(s.db(), what);
  return ok();
}

Result<Db> open_db(const std::filesystem::path& file) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(file.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) return sql_error(raw, "open " + file.string());
  sqlite3_busy_timeout(raw, 10000);
  // WAL: readers see the last committed snapshot while the writer writes. synchronous=NORMAL in
  // WAL mode is atomic across a process crash (SIGKILL); a power loss may lose the last batches,
  // rows and offsets together, which the consumer then reads again.
  SAMORDNA_TRYV(exec(raw, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"));
  // SQLite's default page cache (2 MB) made every index insert of a batch re-read its pages from
  // the OS (perf: kernel copies were the top cost of apply(); tests/bench/README.md): 64 MiB per
  // connection holds the hot index pages, and mmap reads the rest without a copy.
  SAMORDNA_TRYV(exec(raw, "PRAGMA cache_size=-65536; PRAGMA mmap_size=4294967296;"));
  return db;
}

// The schema version an existing file records; nullopt for no file or no version yet.
Result<std::optional<std::string>> stored_schema_version(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return std::optional<std::string>{};
  SAMORDNA_TRY(db, open_db(file));
  Stmt s(db.get(), "SELECT value FROM meta WHERE key='schema'");
  if (!s.ok() || s.step() != SQLITE_ROW) return std::optional<std::string>{};  // no meta yet
  return std::optional<std::string>(s.text(0));
}

int64_t ts(const google::protobuf::Timestamp& t) { return t.seconds(); }

std::string month_of(Instant t) {
  const auto d = rules::local_date(t);
  return rules::format_date(d).substr(0, 7);
}

}  // namespace

std::string notification_kind(const v1::Notification& n) {
  switch (n.kind_case()) {
    case v1::Notification::kAdmissionNotice:
      return "admissionNotice";
    case v1::Notification::kDischargeReadyNotice:
      return "dischargeReadyNotice";
    case v1::Notification::kDeadlineMissed:
      return "deadlineMissed";
    case v1::Notification::kDeadlineMissRetracted:
      return "deadlineMissRetracted";
    case v1::Notification::kPaymentLiability:
      return "paymentLiability";
    case v1::Notification::kDeadlineReminder:
      return "deadlineReminder";
    case v1::Notification::kNoticeHeld:
      return "noticeHeld";
    case v1::Notification::kWarning:
      return "warning";
    case v1::Notification::kEstimatedDischargeUpdate:
      return "estimatedDischargeUpdate";
    case v1::Notification::kAdmissionCancellation:
      return "admissionCancellation";
    case v1::Notification::kPaymentLiabilityWithdrawn:
      return "paymentLiabilityWithdrawn";
    case v1::Notification::KIND_NOT_SET:
      break;
  }
  return "unknown";
}

bool is_notice(const v1::Notification& n) {
  const std::string kind = notification_kind(n);
  return std::find(kNoticeKinds.begin(), kNoticeKinds.end(), kind) != kNoticeKinds.end();
}

const v1::Recipient* recipient_of(const v1::Notification& n) {
  switch (n.kind_case()) {
    case v1::Notification::kAdmissionNotice:
      return &n.admission_notice().recipient();
    case v1::Notification::kDischargeReadyNotice:
      return &n.discharge_ready_notice().recipient();
    case v1::Notification::kEstimatedDischargeUpdate:
      return &n.estimated_discharge_update().recipient();
    case v1::Notification::kAdmissionCancellation:
      return &n.admission_cancellation().recipient();
    default:
      return nullptr;
  }
}

std::string delivery_state_name(v1::DeliveryStatus::State state) {
  switch (state) {
    case v1::DeliveryStatus::DELIVERED:
      return "delivered";
    case v1::DeliveryStatus::RETRYING:
      return "retrying";
    case v1::DeliveryStatus::DEAD_LETTERED:
      return "dead_lettered";
    case v1::DeliveryStatus::DISABLED:
      return "disabled";
    default:
      return "unknown";
  }
}

// One read connection and the lock a query holds on it for its statements' lifetime.
struct ReadConnection {
  Db db;
  std::mutex mu;
};
struct ReadLease {
  std::unique_lock<std::mutex> lock;
  sqlite3* db;
};

// Read connections: WAL lets each read its own snapshot while the others read and the writer
// writes, so concurrent requests run in parallel. With one shared connection every request queued
// behind the one before (a million episodes: the inbox's statements take 1-3 ms, 422 req/s).
constexpr size_t kReadConnections = 4;

struct ReadModel::Impl {
  TopicNames topics;
  Db writer;
  std::vector<std::unique_ptr<ReadConnection>> readers;
  mutable std::atomic<size_t> next_reader{0};
  mutable std::mutex write_mu;
  std::atomic<uint64_t> undecodable{0};
  std::string rebuilt_reason;
  // The writer's prepared statements, by SQL text: preparing one per row cost most of apply().
  std::map<std::string, sqlite3_stmt*, std::less<>> cache;

  ~Impl() {
    for (auto& [sql, stmt] : cache) sqlite3_finalize(stmt);
  }

  // A free read connection (starting from a different one each time), else the next in turn.
  ReadLease read() const {
    const size_t start = next_reader.fetch_add(1, std::memory_order_relaxed) % readers.size();
    for (size_t i = 0; i < readers.size(); ++i) {
      ReadConnection& r = *readers[(start + i) % readers.size()];
      std::unique_lock lock(r.mu, std::try_to_lock);
      if (lock.owns_lock()) return {std::move(lock), r.db.get()};
    }
    ReadConnection& r = *readers[start];
    return {std::unique_lock(r.mu), r.db.get()};
  }

  // A statement of the writer connection, prepared once (under write_mu).
  Stmt prepared(const char* sql) {
    auto it = cache.find(std::string_view(sql));
    if (it == cache.end()) {
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v2(writer.get(), sql, -1, &stmt, nullptr) != SQLITE_OK) {
        return Stmt(writer.get(), static_cast<sqlite3_stmt*>(nullptr));
      }
      it = cache.emplace(sql, stmt).first;
    }
    return Stmt(writer.get(), it->second);
  }

  Result<void> delete_episode(const std::string& id) {
    for (const char* sql :
         {"DELETE FROM episodes WHERE episode_id=?1",
          "DELETE FROM episode_access WHERE episode_id=?1",
          "DELETE FROM deadlines WHERE episode_id=?1", "DELETE FROM acks WHERE episode_id=?1"}) {
      Stmt s = prepared(sql);
      if (!s.ok()) return sql_error(writer.get(), "prepare delete");
      s.bind(1, id);
      SAMORDNA_TRYV(done(s, "delete episode rows"));
    }
    return ok();
  }

  Result<void> put_episode(const v1::EpisodeView& v, const std::string& bytes) {
    SAMORDNA_TRYV(delete_episode(v.episode_id()));
    sqlite3* db = writer.get();
    std::optional<std::string> stat_month;
    int64_t dr_days = 0;
    if (v.has_discharged_at()) {
      const Instant discharged = from_proto(v.discharged_at());
      stat_month = month_of(discharged);
      if (v.has_discharge_ready_at() && v.discharge_ready_at().seconds() <= ts(v.discharged_at())) {
        dr_days = rules::nights_between(rules::local_date(from_proto(v.discharge_ready_at())),
                                        rules::local_date(discharged));
      }
    }
    {
      Stmt s = prepared(
          "INSERT INTO episodes(episode_id,status,care_unit,region,home_municipality,"
          "outpatient_unit,personal_id,updated_at,stat_month,dr_days,liability_municipality,"
          "liability_status,liable_days,amount_sek,view) "
          "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)");
      if (!s.ok()) return sql_error(db, "prepare episode");
      s.bind(1, v.episode_id())
          .bind(2, v1::EpisodeView::Status_Name(v.status()))
          .bind(3, v.care_unit())
          .bind(4, v.region())
          .bind(5, v.home_municipality())
          .bind(6, v.outpatient_unit())
          .bind(7, v.patient().personal_id())
          .bind(8, ts(v.updated_at()));
      if (stat_month) {
        s.bind(9, *stat_month);
      } else {
        s.bind_null(9);
      }
      s.bind(10, dr_days);
      if (v.has_liability()) {
        s.bind(11, v.liability().municipality())
            .bind(12, v1::PaymentLiability::Status_Name(v.liability().status()))
            .bind(13, static_cast<int64_t>(v.liability().liable_days()));
        if (v.liability().has_amount_sek()) {
          s.bind(14, v.liability().amount_sek());
        } else {
          s.bind_null(14);
        }
      } else {
        s.bind_null(11).bind_null(12).bind(13, int64_t{0}).bind_null(14);
      }
      s.bind_blob(15, bytes);
      SAMORDNA_TRYV(done(s, "insert episode"));
    }
    // Access: home municipality, ward, region, and the outpatient units that are part of it.
    std::vector<OrgRef> orgs;
    auto add = [&](v1::Organisation::Kind k, const std::string& id) {
      if (!id.empty()) orgs.push_back(OrgRef{k, id});
    };
    add(v1::Organisation::MUNICIPALITY, v.home_municipality());
    add(v1::Organisation::WARD, v.care_unit());
    add(v1::Organisation::REGION, v.region());
    add(v1::Organisation::OUTPATIENT_UNIT, v.outpatient_unit());
    add(v1::Organisation::OUTPATIENT_UNIT, v.care_contact_unit());
    for (const auto& n : v.notices()) {
      if (n.held())
        continue;  // a held notice must not reveal the episode to its would-be recipient
      add(n.recipient().kind(), n.recipient().id());
    }
    for (const auto& o : orgs) {
      Stmt s = prepared(
          "INSERT OR IGNORE INTO episode_access(org_kind,org_id,episode_id,updated_at) "
          "VALUES(?1,?2,?3,?4)");
      if (!s.ok()) return sql_error(db, "prepare access");
      s.bind(1, static_cast<int64_t>(o.kind))
          .bind(2, o.id)
          .bind(3, v.episode_id())
          .bind(4, ts(v.updated_at()));
      SAMORDNA_TRYV(done(s, "insert access"));
    }
    for (int i = 0; i < v.deadlines_size(); ++i) {
      const auto& d = v.deadlines(i);
      Stmt s = prepared(
          "INSERT INTO deadlines(episode_id,seq,kind,state,due_at,due_month,fulfilled_at,"
          "responsible_kind,responsible_id,care_unit,home_municipality,region,deadline) "
          "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)");
      if (!s.ok()) return sql_error(db, "prepare deadline");
      s.bind(1, v.episode_id())
          .bind(2, int64_t{i})
          .bind(3, static_cast<int64_t>(d.kind()))
          .bind(4, static_cast<int64_t>(d.state()))
          .bind(5, ts(d.due_at()))
          .bind(6, month_of(from_proto(d.due_at())));
      if (d.has_fulfilled_at()) {
        s.bind(7, ts(d.fulfilled_at()));
      } else {
        s.bind_null(7);
      }
      s.bind(8, static_cast<int64_t>(d.responsible().kind()))
          .bind(9, d.responsible().id())
          .bind(10, v.care_unit())
          .bind(11, v.home_municipality())
          .bind(12, v.region())
          .bind_blob(13, d.SerializeAsString());
      SAMORDNA_TRYV(done(s, "insert deadline"));
    }
    for (const auto& n : v.notices()) {
      if (n.notification_id().empty()) continue;
      for (const auto& a : n.acknowledgements()) {
        Stmt s = prepared(
            "INSERT OR REPLACE INTO acks(notification_id,org_kind,org_id,episode_id,at) "
            "VALUES(?1,?2,?3,?4,?5)");
        if (!s.ok()) return sql_error(db, "prepare ack");
        s.bind(1, n.notification_id())
            .bind(2, static_cast<int64_t>(a.by().kind()))
            .bind(3, a.by().id())
            .bind(4, v.episode_id())
            .bind(5, ts(a.at()));
        SAMORDNA_TRYV(done(s, "insert ack"));
        // The inbox row, when the notification came first.
        Stmt row = prepared(
            "UPDATE inbox SET acked_at=?4 WHERE org_kind=?2 AND org_id=?3 AND notification_id=?1");
        if (!row.ok()) return sql_error(db, "prepare inbox ack");
        row.bind(1, n.notification_id())
            .bind(2, static_cast<int64_t>(a.by().kind()))
            .bind(3, a.by().id())
            .bind(4, ts(a.at()));
        SAMORDNA_TRYV(done(row, "acknowledge in the inbox"));
      }
    }
    return ok();
  }

  Result<void> put_notification(const v1::Notification& n, const std::string& bytes) {
    sqlite3* db = writer.get();
    const std::string kind = notification_kind(n);
    const v1::Recipient* recipient = recipient_of(n);
    const std::string unit = recipient ? recipient->unit() : std::string();
    const std::string service = recipient && recipient->service() != v1::SERVICE_UNSPECIFIED
                                    ? v1::Service_Name(recipient->service())
                                    : std::string();
    {
      Stmt s = prepared(
          "INSERT OR REPLACE INTO notifications(notification_id,episode_id,kind,issued_at,body,"
          "message_id) VALUES(?1,?2,?3,?4,?5,?6)");
      if (!s.ok()) return sql_error(db, "prepare notification");
      s.bind(1, n.notification_id())
          .bind(2, n.episode_id())
          .bind(3, kind)
          .bind(4, ts(n.issued_at()))
          .bind_blob(5, bytes)
          .bind(6, fhir_message_header_id(n.notification_id()));
      SAMORDNA_TRYV(done(s, "insert notification"));
    }
    for (const auto& a : n.addressees()) {
      // The acknowledgement when the episode's view came first; one the row has already is kept.
      Stmt s = prepared(
          "INSERT INTO inbox(org_kind,org_id,notification_id,issued_at,kind,unit,service,acked_at)"
          " VALUES(?1,?2,?3,?4,?5,?6,?7,(SELECT at FROM acks WHERE notification_id=?3 AND "
          "org_kind=?1 AND org_id=?2)) ON CONFLICT(org_kind,org_id,notification_id) DO UPDATE SET "
          "issued_at=excluded.issued_at,kind=excluded.kind,unit=excluded.unit,"
          "service=excluded.service,acked_at=COALESCE(excluded.acked_at,inbox.acked_at)");
      if (!s.ok()) return sql_error(db, "prepare inbox");
      s.bind(1, static_cast<int64_t>(a.kind()))
          .bind(2, a.id())
          .bind(3, n.notification_id())
          .bind(4, ts(n.issued_at()))
          .bind(5, kind)
          .bind(6, unit)
          .bind(7, service);
      SAMORDNA_TRYV(done(s, "insert inbox"));
    }
    return ok();
  }

  Result<void> put_audit(const Record& r);

  // A DeliveryStatus replaces the last one of its (notification, endpoint); a tombstone (the key
  // "<notification id>/<endpoint>", compaction's delete) removes it.
  Result<void> put_delivery(const Record& r) {
    sqlite3* db = writer.get();
    if (!r.value) {
      // Notification ids hold '/', endpoint names never do (deliver's config allows
      // [A-Za-z0-9._-]): the last '/' splits the key.
      const auto slash = r.key.rfind('/');
      if (slash == std::string::npos) return ok();
      Stmt s = prepared("DELETE FROM delivery WHERE notification_id=?1 AND endpoint=?2");
      if (!s.ok()) return sql_error(db, "prepare delivery delete");
      s.bind(1, r.key.substr(0, slash)).bind(2, r.key.substr(slash + 1));
      return done(s, "delete delivery");
    }
    v1::DeliveryStatus d;
    if (!d.ParseFromString(*r.value) || d.notification_id().empty() || d.endpoint().empty()) {
      ++undecodable;
      return ok();
    }
    Stmt s = prepared(
        "INSERT OR REPLACE INTO delivery(notification_id,endpoint,org_kind,org_id,state,attempts,"
        "last_status,code,reason,at,next_attempt,episode_id) "
        "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)");
    if (!s.ok()) return sql_error(db, "prepare delivery");
    s.bind(1, d.notification_id())
        .bind(2, d.endpoint())
        .bind(3, static_cast<int64_t>(d.organisation().kind()))
        .bind(4, d.organisation().id())
        .bind(5, delivery_state_name(d.state()))
        .bind(6, int64_t{d.attempts()})
        .bind(7, int64_t{d.last_status()})
        .bind(8, d.code())
        .bind(9, d.reason())
        .bind(10, d.at_unix())
        .bind(12, d.episode_id());
    if (d.state() == v1::DeliveryStatus::RETRYING && d.next_attempt_unix() > 0) {
      s.bind(11, d.next_attempt_unix());
    } else {
      s.bind_null(11);
    }
    return done(s, "insert delivery");
  }
};

}  // namespace samordna::serve

namespace samordna::serve {

Result<void> ReadModel::Impl::put_audit(const Record& r) {
  auto rec = parse_audit_record(*r.value);
  if (!rec) {
    ++undecodable;
    return ok();
  }
  Stmt s = prepared(
      "INSERT OR REPLACE INTO audit(partition,offset,at,org_kind,org_id,record) "
      "VALUES(?1,?2,?3,?4,?5,?6)");
  if (!s.ok()) return sql_error(writer.get(), "prepare audit");
  s.bind(1, int64_t{r.partition})
      .bind(2, r.offset)
      .bind(3, to_unix(rec.value().at))
      .bind(4, static_cast<int64_t>(rec.value().org_kind))
      .bind(5, rec.value().org_id)
      .bind(6, *r.value);
  SAMORDNA_TRYV(done(s, "insert audit"));
  for (const auto& region : rec.value().regions) {
    Stmt g =
        prepared("INSERT OR IGNORE INTO audit_regions(region,partition,offset) VALUES(?1,?2,?3)");
    if (!g.ok()) return sql_error(writer.get(), "prepare audit region");
    g.bind(1, region).bind(2, int64_t{r.partition}).bind(3, r.offset);
    SAMORDNA_TRYV(done(g, "insert audit region"));
  }
  return ok();
}

ReadModel::ReadModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ReadModel::~ReadModel() = default;

const TopicNames& ReadModel::topics() const { return impl_->topics; }
const std::string& ReadModel::rebuilt_reason() const { return impl_->rebuilt_reason; }
uint64_t ReadModel::undecodable() const { return impl_->undecodable.load(); }

Result<std::unique_ptr<ReadModel>> ReadModel::open(const std::filesystem::path& dir,
                                                   TopicNames topics) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(Errc::kIo, "read model: cannot create " + dir.string() + ": " + ec.message());
  const auto file = dir / "readmodel.sqlite";
  auto impl = std::make_unique<Impl>();
  impl->topics = std::move(topics);
  // A file of another schema version is a copy of the topics in an old layout: start afresh (its
  // offsets go with it, so everything is read again), as for a lost data dir.
  SAMORDNA_TRY(found, stored_schema_version(file));
  if (found && *found != kSchemaVersion) {
    for (const char* suffix : {"-wal", "-shm", ""}) {  // the main file last: never a new one
                                                       // beside an old log
      std::filesystem::remove(file.string() + suffix, ec);
      if (ec) return fail(Errc::kIo, "read model: cannot remove " + file.string() + suffix);
    }
    impl->rebuilt_reason = "read model: " + file.string() + " had schema version " + *found +
                           ", this build has " + kSchemaVersion + ": rebuilt from the topics";
  }
  SAMORDNA_TRY(writer, open_db(file));
  impl->writer = std::move(writer);
  SAMORDNA_TRYV(exec(impl->writer.get(), "BEGIN IMMEDIATE"));
  SAMORDNA_TRYV(exec(impl->writer.get(), kSchema));
  {
    Stmt s(impl->writer.get(), "SELECT value FROM meta WHERE key='schema'");
    if (!s.ok()) return sql_error(impl->writer.get(), "read schema version");
    if (s.step() == SQLITE_ROW) {
      if (s.text(0) != kSchemaVersion) {
        return fail(Errc::kCorruption, "read model: " + file.string() + " has schema version " +
                                           s.text(0) + " after a rebuild");
      }
    } else {
      Stmt put(impl->writer.get(), "INSERT INTO meta(key,value) VALUES('schema',?1)");
      put.bind(1, std::string(kSchemaVersion));
      SAMORDNA_TRYV(done(put, "write schema version"));
    }
  }
  SAMORDNA_TRYV(exec(impl->writer.get(), "COMMIT"));
  for (size_t i = 0; i < kReadConnections; ++i) {
    SAMORDNA_TRY(reader, open_db(file));
    impl->readers.push_back(std::make_unique<ReadConnection>());
    impl->readers.back()->db = std::move(reader);
  }
  return std::unique_ptr<ReadModel>(new ReadModel(std::move(impl)));
}

Result<std::map<TopicPartition, int64_t>> ReadModel::positions() const {
  const ReadLease rd = impl_->read();
  Stmt s(rd.db, "SELECT topic, partition, next_offset FROM offsets");
  if (!s.ok()) return sql_error(rd.db, "read offsets");
  std::map<TopicPartition, int64_t> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    out[{s.text(0), static_cast<int32_t>(s.i64(1))}] = s.i64(2);
  }
  if (rc != SQLITE_DONE) return sql_error(rd.db, "read offsets");
  return out;
}

Result<size_t> ReadModel::apply(const std::vector<Record>& batch) {
  if (batch.empty()) return size_t{0};
  std::lock_guard lock(impl_->write_mu);
  sqlite3* db = impl_->writer.get();
  // The positions as committed: a record below its partition's position was applied already.
  std::map<TopicPartition, int64_t> next;
  {
    Stmt s(db, "SELECT topic, partition, next_offset FROM offsets");
    while (s.step() == SQLITE_ROW) next[{s.text(0), static_cast<int32_t>(s.i64(1))}] = s.i64(2);
  }
  SAMORDNA_TRYV(exec(db, "BEGIN IMMEDIATE"));
  auto body = [&]() -> Result<size_t> {
    size_t applied = 0;
    for (const auto& r : batch) {
      const TopicPartition tp{r.topic, r.partition};
      auto it = next.find(tp);
      if (it != next.end() && r.offset < it->second) continue;  // never twice
      if (r.topic == impl_->topics.episodes) {
        if (!r.value) {
          SAMORDNA_TRYV(impl_->delete_episode(r.key));
        } else {
          v1::EpisodeView view;
          if (!view.ParseFromString(*r.value) || view.episode_id().empty()) {
            ++impl_->undecodable;
          } else {
            SAMORDNA_TRYV(impl_->put_episode(view, *r.value));
          }
        }
      } else if (r.topic == impl_->topics.notifications) {
        v1::Notification n;
        if (!r.value || !n.ParseFromString(*r.value) || n.notification_id().empty()) {
          ++impl_->undecodable;
        } else {
          SAMORDNA_TRYV(impl_->put_notification(n, *r.value));
        }
      } else if (!impl_->topics.delivery_status.empty() &&
                 r.topic == impl_->topics.delivery_status) {
        SAMORDNA_TRYV(impl_->put_delivery(r));
      } else if (r.topic == impl_->topics.audit) {
        if (!r.value) {
          ++impl_->undecodable;
        } else {
          SAMORDNA_TRYV(impl_->put_audit(r));
        }
      } else {
        continue;  // not ours: neither applied nor positioned
      }
      next[tp] = r.offset + 1;
      ++applied;
    }
    for (const auto& [tp, off] : next) {
      Stmt s = impl_->prepared(
          "INSERT INTO offsets(topic,partition,next_offset) VALUES(?1,?2,?3) "
          "ON CONFLICT(topic,partition) DO UPDATE SET next_offset=excluded.next_offset");
      s.bind(1, tp.first).bind(2, int64_t{tp.second}).bind(3, off);
      SAMORDNA_TRYV(done(s, "store offset"));
    }
    return applied;
  };
  auto result = body();
  if (!result) {
    (void)exec(db, "ROLLBACK");
    return result;
  }
  SAMORDNA_TRYV(exec(db, "COMMIT"));
  return result;
}

namespace {

v1::Notification parse_notification(const std::string& bytes) {
  v1::Notification n;
  n.ParseFromString(bytes);
  return n;
}

v1::EpisodeView parse_view(const std::string& bytes) {
  v1::EpisodeView v;
  v.ParseFromString(bytes);
  return v;
}

}  // namespace

namespace {

// The inbox filter's conditions on `inbox i`, with its parameters ?1-?7 (bound by bind_inbox):
// the page's query and the count of the same rows say it once.
std::string inbox_where(const InboxFilter& f) {
  std::string w = " WHERE i.org_kind=?1 AND i.org_id=?2";
  if (f.kind) w += " AND i.kind=?3";
  if (f.from) w += " AND i.issued_at>=?4";
  if (f.to) w += " AND i.issued_at<?5";
  if (f.unit) w += " AND i.unit=?6";
  if (f.service) w += " AND i.service=?7";
  if (f.acked) w += *f.acked ? " AND i.acked=1" : " AND i.acked=0";
  return w;
}
void bind_inbox(Stmt& s, const OrgRef& org, const InboxFilter& f) {
  s.bind(1, static_cast<int64_t>(org.kind)).bind(2, org.id);
  if (f.kind) s.bind(3, *f.kind);
  if (f.from) s.bind(4, to_unix(*f.from));
  if (f.to) s.bind(5, to_unix(*f.to));
  if (f.unit) s.bind(6, *f.unit);
  if (f.service) s.bind(7, *f.service);
}

}  // namespace

Result<std::vector<InboxItem>> ReadModel::inbox(const OrgRef& org, const InboxFilter& f,
                                                const Page& page) const {
  // Unacknowledged first, then newest first; the id breaks ties so pages never overlap.
  const std::string sql =
      "SELECT n.body, i.acked_at FROM inbox i JOIN notifications n USING(notification_id)" +
      inbox_where(f) + " ORDER BY i.acked, i.issued_at DESC, i.notification_id LIMIT ?8 OFFSET ?9";
  const ReadLease rd = impl_->read();
  Stmt s(rd.db, sql);
  if (!s.ok()) return sql_error(rd.db, "prepare inbox");
  bind_inbox(s, org, f);
  s.bind(8, page.limit).bind(9, page.offset);
  std::vector<InboxItem> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    InboxItem item;
    item.notification = parse_notification(s.text(0));
    if (!s.is_null(1)) {
      item.acked = true;
      item.acked_at = from_unix(s.i64(1));
    }
    out.push_back(std::move(item));
  }
  if (rc != SQLITE_DONE) return sql_error(rd.db, "inbox");
  return out;
}

Result<std::optional<std::string>> ReadModel::notification_of_message(
    const std::string& message_id) const {
  const ReadLease rd = impl_->read();
  Stmt s(rd.db, "SELECT notification_id FROM notifications WHERE message_id=?1");
  if (!s.ok()) return sql_error(rd.db, "prepare message");
  s.bind(1, message_id);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<std::string>{};
  if (rc != SQLITE_ROW) return sql_error(rd.db, "message");
  return std::optional<std::string>(s.text(0));
}

Result<InboxSummary> ReadModel::inbox_summary(const OrgRef& org, const InboxFilter& f) const {
  const std::string total_sql = "SELECT COUNT(*) FROM inbox i" + inbox_where(f);
  // The acknowledgeable kinds (is_notice), by their stored names.
  std::string kinds;
  for (const char* k : kNoticeKinds) kinds += std::string(kinds.empty() ? "'" : ",'") + k + "'";
  const std::string unacked_sql =
      "SELECT COUNT(*) FROM inbox i WHERE i.org_kind=?1 AND i.org_id=?2 AND i.kind IN (" + kinds +
      ") AND i.acked=0";
  InboxSummary out;
  const ReadLease rd = impl_->read();
  sqlite3* db = rd.db;
  // One read transaction: the three answers describe the same moment.
  SAMORDNA_TRYV(exec(db, "BEGIN"));
  auto body = [&]() -> Result<void> {
    {
      Stmt s(db, total_sql);
      if (!s.ok()) return sql_error(db, "prepare inbox total");
      bind_inbox(s, org, f);
      if (s.step() != SQLITE_ROW) return sql_error(db, "inbox total");
      out.total = s.i64(0);
    }
    {
      Stmt s(db, unacked_sql);
      if (!s.ok()) return sql_error(db, "prepare inbox unacknowledged");
      s.bind(1, static_cast<int64_t>(org.kind)).bind(2, org.id);
      if (s.step() != SQLITE_ROW) return sql_error(db, "inbox unacknowledged");
      out.unacknowledged = s.i64(0);
    }
    // The filters' choices: the recipient units and services the organisation's inbox holds.
    auto distinct = [&](const char* column, std::vector<std::string>& into) -> Result<void> {
      Stmt s(db, std::string("SELECT DISTINCT ") + column + " FROM inbox WHERE org_kind=?1 AND " +
                     "org_id=?2 AND " + column + "<>'' ORDER BY " + column);
      if (!s.ok()) return sql_error(db, std::string("prepare inbox ") + column);
      s.bind(1, static_cast<int64_t>(org.kind)).bind(2, org.id);
      int rc;
      while ((rc = s.step()) == SQLITE_ROW) into.push_back(s.text(0));
      if (rc != SQLITE_DONE) return sql_error(db, std::string("inbox ") + column);
      return ok();
    };
    SAMORDNA_TRYV(distinct("unit", out.units));
    SAMORDNA_TRYV(distinct("service", out.services));
    return ok();
  };
  auto result = body();
  // A read transaction left open would freeze every later read of this connection at its snapshot
  // (and keep the WAL from being checkpointed): ended whatever happened.
  if (!exec(db, "COMMIT")) (void)exec(db, "ROLLBACK");
  if (!result) return result.error();
  return out;
}

namespace {
DeliveryRow delivery_row(Stmt& s) {
  DeliveryRow d;
  d.notification_id = s.text(0);
  d.endpoint = s.text(1);
  d.org.kind = static_cast<v1::Organisation::Kind>(s.i64(2));
  d.org.id = s.text(3);
  d.state = s.text(4);
  d.attempts = static_cast<int32_t>(s.i64(5));
  d.last_status = static_cast<int32_t>(s.i64(6));
  d.code = s.text(7);
  d.reason = s.text(8);
  d.at = from_unix(s.i64(9));
  if (!s.is_null(10)) d.next_attempt = from_unix(s.i64(10));
  d.episode_id = s.text(11);
  return d;
}
constexpr const char* kDeliveryColumns =
    "SELECT notification_id,endpoint,org_kind,org_id,state,attempts,last_status,code,reason,at,"
    "next_attempt,episode_id FROM delivery ";
}  // namespace

Result<std::vector<DeliveryRow>> ReadModel::deliveries_of(const OrgRef& org,
                                                          const std::string& id) const {
  std::string sql = std::string(kDeliveryColumns) + "WHERE notification_id=?1";
  if (!org.id.empty()) sql += " AND org_kind=?2 AND org_id=?3";
  sql += " ORDER BY endpoint";
  const ReadLease rd = impl_->read();
  Stmt s(rd.db, sql);
  if (!s.ok()) return sql_error(rd.db, "prepare deliveries");
  s.bind(1, id);
  if (!org.id.empty()) s.bind(2, static_cast<int64_t>(org.kind)).bind(3, org.id);
  std::vector<DeliveryRow> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(delivery_row(s));
  if (rc != SQLITE_DONE) return sql_error(rd.db, "deliveries");
  return out;
}

Result<std::vector<DeliveryRow>> ReadModel::deliveries(const OrgRef& org, const DeliveryFilter& f,
                                                       const Page& page) const {
  std::string sql = std::string(kDeliveryColumns) + "WHERE 1=1";
  if (!org.id.empty()) sql += " AND org_kind=?1 AND org_id=?2";
  if (f.state) sql += " AND state=?3";
  sql += " ORDER BY at DESC, notification_id, endpoint LIMIT ?4 OFFSET ?5";
  const ReadLease rd = impl_->read();
  Stmt s(rd.db, sql);
  if (!s.ok()) return sql_error(rd.db, "prepare deliveries");
  if (!org.id.empty()) s.bind(1, static_cast<int64_t>(org.kind)).bind(2, org.id);
  if (f.state) s.bind(3, *f.state);
  s.bind(4, page.limit).bind(5, page.offset);
  std::vector<DeliveryRow> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(delivery_row(s));
  if (rc != SQLITE_DONE) return sql_error(rd.db, "deliveries");
  return out;
}

Result<std::optional<InboxItem>> ReadModel::notification_for(const OrgRef& org,
                                                             const std::string& id) const {
  const std::string sql =
      "SELECT n.body, i.acked_at FROM inbox i JOIN notifications n USING(notification_id) "
      "WHERE i.org_kind=?1 AND i.org_id=?2 AND i.notification_id=?3";
  const ReadLease rd = impl_->read();
  Stmt s(rd.db, sql);
  if (!s.ok()) return sql_error(rd.db, "prepare notification");
  s.bind(1, static_cast<int64_t>(org.kind)).bind(2, org.id).bind(3, id);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<InboxItem>{};
  if (rc != SQLITE_ROW) return sql_error(rd.db, "notification");
  InboxItem item;
  item.notification = parse_notification(s.text(0));
  if (!s.is_null(1)) {
    item.acked = true;
    item.acked_at = from_unix(s.i64(1));
  }
  return std::optional<InboxItem>(std::move(item));
}

Result<int64_t> ReadModel::live_head() const {
  const ReadLease rd = impl_->read();
  Stmt s(rd.db, "SELECT COALESCE(MAX(rowid), 0) FROM notifications");
  if (!s.ok()) return sql_error(rd.db, "prepare live head");
  if (s.step() != SQLITE_ROW) return sql_error(rd.db, "live head");
  return s.i64(0);
}

Result<std::vector<LiveItem>> ReadModel::live_since(const OrgRef& org, int64_t after,
                                                    int64_t limit) const {
  // The notifications' rowid is the order they were stored in (rows are never deleted; a record
  // applied again is replaced and gets a new, higher one, which the stream reports again).
  const ReadLease rd = impl_->read();
  Stmt s(rd.db,
         "SELECT n.rowid, n.notification_id, n.kind, n.issued_at FROM notifications n "
         "JOIN inbox i ON i.notification_id=n.notification_id AND i.org_kind=?1 AND i.org_id=?2 "
         "WHERE n.rowid>?3 ORDER BY n.rowid LIMIT ?4");
  if (!s.ok()) return sql_error(rd.db, "prepare live");
  s.bind(1, static_cast<int64_t>(org.kind)).bind(2, org.id).bind(3, after).bind(4, limit);
  std::vector<LiveItem> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    out.push_back({s.i64(0), s.text(1), s.text(2), from_unix(s.i64(3))});
  }
  if (rc != SQLITE_DONE) return sql_error(rd.db, "live");
  return out;
}

Result<std::vector<v1::EpisodeView>> ReadModel::episodes(const OrgRef& org,
                                                         const Page& page) const {
  const ReadLease rd = impl_->read();
  Stmt s(rd.db,
         "SELECT e.view FROM episode_access a JOIN episodes e USING(episode_id) "
         "WHERE a.org_kind=?1 AND a.org_id=?2 ORDER BY a.updated_at DESC, a.episode_id "
         "LIMIT ?3 OFFSET ?4");
  if (!s.ok()) return sql_error(rd.db, "prepare episodes");
  s.bind(1, static_cast<int64_t>(org.kind))
      .bind(2, org.id)
      .bind(3, page.limit)
      .bind(4, page.offset);
  std::vector<v1::EpisodeView> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(parse_view(s.text(0)));
  if (rc != SQLITE_DONE) return sql_error(rd.db, "episodes");
  return out;
}

Result<std::optional<v1::EpisodeView>> ReadModel::episode_for(const OrgRef& org,
                                                              const std::string& id) const {
  const ReadLease rd = impl_->read();
  Stmt s(rd.db,
         "SELECT e.view FROM episode_access a JOIN episodes e USING(episode_id) "
         "WHERE a.org_kind=?1 AND a.org_id=?2 AND a.episode_id=?3");
  if (!s.ok()) return sql_error(rd.db, "prepare episode");
  s.bind(1, static_cast<int64_t>(org.kind)).bind(2, org.id).bind(3, id);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<v1::EpisodeView>{};
  if (rc != SQLITE_ROW) return sql_error(rd.db, "episode");
  return std::optional<v1::EpisodeView>(parse_view(s.text(0)));
}

Result<std::vector<v1::EpisodeView>> ReadModel::episodes_by_personal_id(
    const OrgRef& org, const std::string& personal_id, const Page& page) const {
  const ReadLease rd = impl_->read();
  Stmt s(rd.db,
         "SELECT e.view FROM episodes e JOIN episode_access a USING(episode_id) "
         "WHERE e.personal_id=?3 AND a.org_kind=?1 AND a.org_id=?2 "
         "ORDER BY e.updated_at DESC, e.episode_id LIMIT ?4 OFFSET ?5");
  if (!s.ok()) return sql_error(rd.db, "prepare search");
  s.bind(1, static_cast<int64_t>(org.kind))
      .bind(2, org.id)
      .bind(3, personal_id)
      .bind(4, page.limit)
      .bind(5, page.offset);
  std::vector<v1::EpisodeView> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(parse_view(s.text(0)));
  if (rc != SQLITE_DONE) return sql_error(rd.db, "search");
  return out;
}

Result<std::vector<DeadlineRow>> ReadModel::deadlines(const OrgRef& org, const DeadlineFilter& f,
                                                      Instant now, const Page& page) const {
  std::string sql =
      "SELECT d.episode_id, d.seq, d.deadline, d.care_unit, d.home_municipality, d.region "
      "FROM deadlines d JOIN episode_access a ON a.episode_id=d.episode_id "
      "AND a.org_kind=?1 AND a.org_id=?2 WHERE 1=1";
  const int64_t open = v1::EpisodeView::Deadline::OPEN;
  if (f.state) {
    if (*f.state == "open") {
      sql += " AND d.state=" + std::to_string(open);
    } else if (*f.state == "at_risk") {
      sql += " AND d.state=" + std::to_string(open) + " AND d.due_at<=?9";
    } else if (*f.state == "missed") {
      sql += " AND d.state=" + std::to_string(int64_t{v1::EpisodeView::Deadline::MISSED});
    } else if (*f.state == "met") {
      sql += " AND d.state=" + std::to_string(int64_t{v1::EpisodeView::Deadline::MET});
    } else if (*f.state == "waived") {
      sql += " AND d.state=" + std::to_string(int64_t{v1::EpisodeView::Deadline::WAIVED});
    } else {
      return fail(Errc::kInvalidArgument, "state must be open, at_risk, missed, met or waived");
    }
  }
  if (f.kind) sql += " AND d.kind=?3";
  if (f.unit) sql += " AND d.responsible_id=?4";
  if (f.municipality) sql += " AND d.home_municipality=?5";
  if (f.from) sql += " AND d.due_at>=?6";
  if (f.to) sql += " AND d.due_at<?7";
  sql += " ORDER BY d.due_at, d.episode_id, d.seq LIMIT ?10 OFFSET ?11";
  const ReadLease rd = impl_->read();
  Stmt s(rd.db, sql);
  if (!s.ok()) return sql_error(rd.db, "prepare deadlines");
  s.bind(1, static_cast<int64_t>(org.kind)).bind(2, org.id);
  if (f.kind) s.bind(3, static_cast<int64_t>(*f.kind));
  if (f.unit) s.bind(4, *f.unit);
  if (f.municipality) s.bind(5, *f.municipality);
  if (f.from) s.bind(6, to_unix(*f.from));
  if (f.to) s.bind(7, to_unix(*f.to));
  s.bind(9, to_unix(now + f.within));
  s.bind(10, page.limit).bind(11, page.offset);
  std::vector<DeadlineRow> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    DeadlineRow row;
    row.episode_id = s.text(0);
    row.seq = static_cast<int32_t>(s.i64(1));
    row.deadline.ParseFromString(s.text(2));
    row.care_unit = s.text(3);
    row.home_municipality = s.text(4);
    row.region = s.text(5);
    out.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) return sql_error(rd.db, "deadlines");
  return out;
}

namespace {

// The WHERE clause shared by the statistics: region ?1, municipality ?2, months ?3..?4.
std::string stats_where(const StatsFilter& f, const char* municipality_col, const char* month_col) {
  std::string w = " WHERE " + std::string(month_col) + " IS NOT NULL";
  if (f.region) w += " AND region=?1";
  if (f.municipality) w += std::string(" AND ") + municipality_col + "=?2";
  if (f.from_month) w += std::string(" AND ") + month_col + ">=?3";
  if (f.to_month) w += std::string(" AND ") + month_col + "<=?4";
  return w;
}

void bind_stats(Stmt& s, const StatsFilter& f) {
  if (f.region) s.bind(1, *f.region);
  if (f.municipality) s.bind(2, *f.municipality);
  if (f.from_month) s.bind(3, *f.from_month);
  if (f.to_month) s.bind(4, *f.to_month);
}

}  // namespace

Result<std::vector<DischargeReadyStat>> ReadModel::discharge_ready_stats(
    const StatsFilter& f) const {
  const std::string sql =
      "SELECT home_municipality, stat_month, COUNT(*), SUM(dr_days) FROM episodes" +
      stats_where(f, "home_municipality", "stat_month") +
      " AND dr_days>0 GROUP BY home_municipality, stat_month ORDER BY 1, 2";
  const ReadLease rd = impl_->read();
  Stmt s(rd.db, sql);
  if (!s.ok()) return sql_error(rd.db, "prepare statistics");
  bind_stats(s, f);
  std::vector<DischargeReadyStat> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    DischargeReadyStat st{s.text(0), s.text(1), s.i64(2), s.i64(3), 0.0};
    st.mean_days = st.stays > 0 ? static_cast<double>(st.days) / static_cast<double>(st.stays) : 0;
    out.push_back(std::move(st));
  }
  if (rc != SQLITE_DONE) return sql_error(rd.db, "statistics");
  return out;
}

Result<std::vector<MissedDeadlineStat>> ReadModel::missed_deadline_stats(const StatsFilter& f,
                                                                         StatsPeriod period) const {
  // By month, SQLite groups on the stored local month. By week, each due instant is put in its
  // local ISO week here (SQLite knows neither Stockholm's time nor ISO weeks): grouped per
  // (unit, kind, municipality, UTC hour of due_at) first; Stockholm's offsets are whole hours, so
  // an hour lies in one local day.
  const bool weekly = period == StatsPeriod::kWeek;
  const std::string sql =
      std::string("SELECT responsible_kind, responsible_id, kind, home_municipality, ") +
      (weekly ? "MIN(due_at)" : "due_month") + ", COUNT(*) FROM deadlines" +
      stats_where(f, "home_municipality", "due_month") +
      " AND state=" + std::to_string(int64_t{v1::EpisodeView::Deadline::MISSED}) +
      " GROUP BY responsible_kind, responsible_id, kind, home_municipality, " +
      (weekly ? "due_at / 3600" : "due_month");
  std::map<std::tuple<int64_t, std::string, int64_t, std::string, std::string>, int64_t> counts;
  {
    const ReadLease rd = impl_->read();
    Stmt s(rd.db, sql);
    if (!s.ok()) return sql_error(rd.db, "prepare statistics");
    bind_stats(s, f);
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      const std::string when =
          weekly ? rules::format_iso_week(rules::local_date(from_unix(s.i64(4)))) : s.text(4);
      counts[{s.i64(0), s.text(1), s.i64(2), s.text(3), when}] += s.i64(5);
    }
    if (rc != SQLITE_DONE) return sql_error(rd.db, "statistics");
  }
  std::vector<MissedDeadlineStat> out;
  out.reserve(counts.size());
  for (const auto& [key, missed] : counts) {
    const auto& [unit_kind, unit, kind, municipality, when] = key;
    out.push_back(MissedDeadlineStat{
        v1::Organisation::Kind_Name(static_cast<v1::Organisation::Kind>(unit_kind)), unit,
        v1::DeadlineKind_Name(static_cast<v1::DeadlineKind>(kind)), municipality, when, missed});
  }
  return out;
}

Result<std::vector<LiabilityStat>> ReadModel::liability_stats(const StatsFilter& f) const {
  const std::string sql =
      "SELECT liability_municipality, stat_month, COUNT(*), SUM(liable_days), "
      "SUM(COALESCE(amount_sek,0)), SUM(amount_sek IS NULL) FROM episodes" +
      stats_where(f, "liability_municipality", "stat_month") +
      " AND liability_status='LIABLE' GROUP BY liability_municipality, stat_month ORDER BY 1, 2";
  const ReadLease rd = impl_->read();
  Stmt s(rd.db, sql);
  if (!s.ok()) return sql_error(rd.db, "prepare statistics");
  bind_stats(s, f);
  std::vector<LiabilityStat> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    out.push_back(LiabilityStat{s.text(0), s.text(1), s.i64(2), s.i64(3), s.i64(4), s.i64(5)});
  }
  if (rc != SQLITE_DONE) return sql_error(rd.db, "statistics");
  return out;
}

Result<std::vector<std::string>> ReadModel::regions_of(
    const std::vector<std::string>& episode_ids) const {
  std::vector<std::string> out;
  if (episode_ids.empty()) return out;
  std::string sql = "SELECT DISTINCT region FROM episodes WHERE region != '' AND episode_id IN (";
  for (size_t i = 0; i < episode_ids.size(); ++i) sql += (i ? ",?" : "?") + std::to_string(i + 1);
  sql += ") ORDER BY region";
  const ReadLease rd = impl_->read();
  Stmt s(rd.db, sql);
  if (!s.ok()) return sql_error(rd.db, "prepare regions");
  for (size_t i = 0; i < episode_ids.size(); ++i) s.bind(static_cast<int>(i + 1), episode_ids[i]);
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(s.text(0));
  if (rc != SQLITE_DONE) return sql_error(rd.db, "regions");
  return out;
}

Result<std::vector<AuditRow>> ReadModel::audit(const OrgRef& org, std::optional<Instant> from,
                                               std::optional<Instant> to, const Page& page) const {
  std::string sql =
      "SELECT partition, offset, record FROM audit WHERE ((org_kind=?1 AND org_id=?2)";
  if (org.kind == v1::Organisation::REGION) {
    sql +=
        " OR EXISTS(SELECT 1 FROM audit_regions g WHERE g.region=?2 AND "
        "g.partition=audit.partition AND g.offset=audit.offset)";
  }
  sql += ")";
  if (from) sql += " AND at>=?3";
  if (to) sql += " AND at<?4";
  sql += " ORDER BY at DESC, partition, offset DESC LIMIT ?5 OFFSET ?6";
  const ReadLease rd = impl_->read();
  Stmt s(rd.db, sql);
  if (!s.ok()) return sql_error(rd.db, "prepare audit");
  s.bind(1, static_cast<int64_t>(org.kind)).bind(2, org.id);
  if (from) s.bind(3, to_unix(*from));
  if (to) s.bind(4, to_unix(*to));
  s.bind(5, page.limit).bind(6, page.offset);
  std::vector<AuditRow> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    out.push_back(AuditRow{static_cast<int32_t>(s.i64(0)), s.i64(1), s.text(2)});
  }
  if (rc != SQLITE_DONE) return sql_error(rd.db, "audit");
  return out;
}

Result<std::string> ReadModel::dump() const {
  static constexpr const char* kTables[][2] = {
      {"episodes", "episode_id"},           {"episode_access", "org_kind, org_id, episode_id"},
      {"deadlines", "episode_id, seq"},     {"acks", "notification_id, org_kind, org_id"},
      {"notifications", "notification_id"}, {"inbox", "org_kind, org_id, notification_id"},
  };
  std::ostringstream out;
  const ReadLease rd = impl_->read();
  for (const auto& [table, order] : kTables) {
    Stmt s(rd.db, std::string("SELECT * FROM ") + table + " ORDER BY " + order);
    if (!s.ok()) return sql_error(rd.db, "dump");
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      out << table;
      for (int c = 0; c < s.columns(); ++c) {
        out << '|';
        if (s.is_null(c)) {
          out << "NULL";
          continue;
        }
        static constexpr char kHex[] = "0123456789abcdef";
        for (unsigned char ch : s.text(c)) out << kHex[ch >> 4] << kHex[ch & 15];
      }
      out << '\n';
    }
    if (rc != SQLITE_DONE) return sql_error(rd.db, "dump");
  }
  return out.str();
}

}  // namespace samordna::serve
