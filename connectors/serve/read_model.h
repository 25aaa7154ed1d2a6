#pragma once

// ReadModel: the SQLite replica `samordna serve` answers from. It is built only from Kafka
// records (the compacted `samordna.episodes`, `samordna.notifications`, `samordna.audit`), and
// each batch of records is applied in ONE SQLite transaction together with the next offset of
// every partition it came from. So a crash (SIGKILL included) loses either the whole batch and
// its offsets or neither: at start the consumer seeks to the stored offsets, a record is never
// applied twice and never skipped. A lost data dir is simply rebuilt from the topics; every
// instance is a complete replica and needs no coordination with another.
//
// Kafka-free on purpose: the app's consume loop (engine/app/serve_kafka.cc) hands it records,
// the tests hand it records too. Schema and the row each record makes: connectors/serve/README.md.
//
// Threads: apply() from one writer thread; the query functions from any number of threads at
// once (each query takes one of a few read connections for its statements, in WAL mode, so reads
// run in parallel, never wait for a write to commit and always see a committed snapshot).

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/result.h"
#include "engine/core/time.h"
#include "samordna/v1/episode_view.pb.h"
#include "samordna/v1/event.pb.h"
#include "samordna/v1/notification.pb.h"

namespace samordna::serve {

struct TopicNames {
  std::string episodes = "samordna.episodes";
  std::string notifications = "samordna.notifications";
  std::string audit = "samordna.audit";
  // `samordna deliver`'s outcomes (connectors/deliver/README.md); empty: not read.
  std::string delivery_status = "samordna.delivery.status";
};

// One Kafka record as the consume loop hands it over. `value` unset = a tombstone.
struct Record {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::optional<std::string> value;
};

using TopicPartition = std::pair<std::string, int32_t>;

// Who asks: the organisation of an Organisation message (kind, id).
struct OrgRef {
  v1::Organisation::Kind kind = v1::Organisation::KIND_UNSPECIFIED;
  std::string id;
};

// A page of rows: limit is capped by the API (kMaxLimit); total is the count without the page.
struct Page {
  int64_t limit = 50;
  int64_t offset = 0;
};

struct InboxFilter {
  std::optional<std::string> kind;     // the Notification oneof name, e.g. "admissionNotice"
  std::optional<Instant> from, to;     // issued_at in [from, to)
  std::optional<bool> acked;           // acknowledged by the caller's organisation or not
  std::optional<std::string> unit;     // the notice's recipient unit (Recipient.unit)
  std::optional<std::string> service;  // its service by enum name, e.g. "SOCIAL_SERVICES"
};

// What the inbox's header shows, for one organisation: counts over the whole inbox, not a page.
struct InboxSummary {
  int64_t total = 0;  // notifications matching the filter
  int64_t unacknowledged =
      0;  // acknowledgeable notices (is_notice) not yet acknowledged, any filter
  std::vector<std::string> units;     // the recipient units of the inbox, sorted
  std::vector<std::string> services;  // the recipient services of the inbox, sorted
};

// One notification's delivery to one endpoint of `samordna deliver`, as its last
// samordna.v1.DeliveryStatus says: the states and reasons only, never contents.
struct DeliveryRow {
  std::string notification_id, endpoint;
  OrgRef org;         // whose endpoint
  std::string state;  // "delivered", "retrying", "dead_lettered", "disabled"
  int32_t attempts = 0;
  int32_t last_status = 0;  // the last HTTP status; 0: no answer
  std::string code;         // dead_lettered: rejected | exhausted | unprintable
  std::string reason;
  Instant at{};
  std::optional<Instant> next_attempt;  // retrying
  std::string episode_id;
};

struct DeliveryFilter {
  std::optional<std::string> state;  // DeliveryRow::state
};

struct InboxItem {
  v1::Notification notification;
  bool acked = false;  // by the caller's organisation, as the engine's projection shows it
  std::optional<Instant> acked_at;
};

// Who may see an episode (episode_access rows): the home municipality, the ward, the region, and
// every outpatient unit a notice of the episode was addressed to (or that is its outpatient unit
// or care contact's unit).
struct EpisodeScope {
  OrgRef org;
};

struct DeadlineFilter {
  // "open" (running), "at_risk" (open and due within `within`), "missed", "met", "waived";
  // unset = every state.
  std::optional<std::string> state;
  std::optional<v1::DeadlineKind> kind;
  std::optional<std::string> unit;          // the responsible organisation's id
  std::optional<std::string> municipality;  // the episode's home municipality
  std::optional<Instant> from, to;          // due_at in [from, to)
  std::chrono::seconds within{std::chrono::hours{24}};
};

struct DeadlineRow {
  std::string episode_id;
  int32_t seq = 0;  // position in EpisodeView.deadlines
  v1::EpisodeView::Deadline deadline;
  std::string care_unit, home_municipality, region;
};

// A notification addressed to an organisation, as the live stream (live.h) reports it: no
// content, only what tells the app to fetch its inbox again. `seq` grows with every notification
// the read model stores (its SQLite rowid), so a client resumes after the last one it saw.
struct LiveItem {
  int64_t seq = 0;
  std::string notification_id;
  std::string kind;  // notification_kind()
  Instant issued_at{};
};

struct AuditRow {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string record;  // the JSON the API wrote (connectors/serve/audit.h)
};

// Statistics rows (SKR's indicators); months are local (Europe/Stockholm) "YYYY-MM".
struct DischargeReadyStat {
  std::string municipality, month;
  int64_t stays = 0;       // discharged stays with at least one discharge-ready day
  int64_t days = 0;        // their discharge-ready days
  double mean_days = 0.0;  // days / stays
};
struct MissedDeadlineStat {
  std::string unit_kind, unit, deadline_kind;
  std::string municipality;  // the patient's home municipality
  std::string period;        // of due_at, local: the month "YYYY-MM", or the ISO week "YYYY-Www"
  int64_t missed = 0;
};
enum class StatsPeriod { kMonth, kWeek };
struct LiabilityStat {
  std::string municipality, month;  // month of discharge
  int64_t liable_stays = 0;
  int64_t days = 0;
  int64_t amount_sek = 0;
  int64_t stays_without_amount = 0;  // liable stays whose rules gave no daily rate
};

struct StatsFilter {
  std::optional<std::string> region;                // the caller's region (a region coordinator)
  std::optional<std::string> municipality;          // one municipality
  std::optional<std::string> from_month, to_month;  // inclusive, "YYYY-MM"
};

class ReadModel {
 public:
  // Opens (or creates) `dir`/readmodel.sqlite. A file of another schema version (an upgrade) is
  // deleted and built again from the topics, as a lost data dir is; rebuilt_reason() says so.
  static Result<std::unique_ptr<ReadModel>> open(const std::filesystem::path& dir,
                                                 TopicNames topics = {});
  ~ReadModel();
  ReadModel(const ReadModel&) = delete;
  ReadModel& operator=(const ReadModel&) = delete;

  const TopicNames& topics() const;
  // Set when open() found a file of another schema version and started afresh.
  const std::string& rebuilt_reason() const;

  // The next offset to consume per partition, as committed with the rows. A partition not in
  // the map has never been read: consume it from the beginning.
  Result<std::map<TopicPartition, int64_t>> positions() const;

  // Applies `batch` and stores, per partition, the offset after its last record, in one
  // transaction. A record at an offset below the stored position is skipped (never applied
  // twice). A record that cannot be decoded is counted and skipped, never a crash loop: the
  // topics are written by samordna itself, so it is a bug or a foreign producer. Returns the
  // number of records applied.
  Result<size_t> apply(const std::vector<Record>& batch);

  // Records skipped because they could not be decoded, since open().
  uint64_t undecodable() const;

  // --- queries (any thread) ---

  Result<std::vector<InboxItem>> inbox(const OrgRef& org, const InboxFilter& filter,
                                       const Page& page) const;
  Result<InboxSummary> inbox_summary(const OrgRef& org, const InboxFilter& filter) const;
  // The notification if `org` is among its addressees; nullopt when absent or not addressed to
  // it (the API cannot tell them apart, on purpose).
  Result<std::optional<InboxItem>> notification_for(const OrgRef& org,
                                                    const std::string& notification_id) const;

  // The notification whose FHIR message has this MessageHeader id (name_uuid.h), whoever it was
  // addressed to: the caller checks with notification_for().
  Result<std::optional<std::string>> notification_of_message(const std::string& message_id) const;
  // The deliveries of one notification to `org`'s endpoints; every endpoint's for an empty org id
  // (the operator).
  Result<std::vector<DeliveryRow>> deliveries_of(const OrgRef& org,
                                                 const std::string& notification_id) const;
  // Deliveries to `org`'s endpoints (every endpoint's for an empty org id), latest change first.
  Result<std::vector<DeliveryRow>> deliveries(const OrgRef& org, const DeliveryFilter& filter,
                                              const Page& page) const;

  // Episodes `org` may see (episode_access), most recently updated first.
  Result<std::vector<v1::EpisodeView>> episodes(const OrgRef& org, const Page& page) const;
  Result<std::optional<v1::EpisodeView>> episode_for(const OrgRef& org,
                                                     const std::string& episode_id) const;
  // Episodes `org` may see whose patient has this personal identity number.
  Result<std::vector<v1::EpisodeView>> episodes_by_personal_id(const OrgRef& org,
                                                               const std::string& personal_id,
                                                               const Page& page) const;

  Result<std::vector<DeadlineRow>> deadlines(const OrgRef& org, const DeadlineFilter& filter,
                                             Instant now, const Page& page) const;

  Result<std::vector<DischargeReadyStat>> discharge_ready_stats(const StatsFilter& f) const;
  // Missed deadlines per responsible unit, kind, home municipality and month or ISO week of the
  // due date (Europe/Stockholm), ordered by those.
  Result<std::vector<MissedDeadlineStat>> missed_deadline_stats(
      const StatsFilter& f, StatsPeriod period = StatsPeriod::kMonth) const;
  Result<std::vector<LiabilityStat>> liability_stats(const StatsFilter& f) const;

  // The highest `seq` of any notification stored (0 when none): the live stream's start.
  Result<int64_t> live_head() const;
  // Notifications addressed to `org` stored after `after`, in the order stored, at most `limit`.
  Result<std::vector<LiveItem>> live_since(const OrgRef& org, int64_t after, int64_t limit) const;

  // Audit records for `org`'s auditors, newest first, at in [from, to): the accesses its own
  // callers made, and for a region also every access to an episode of the region (the record's
  // `regions`), whoever made it.
  Result<std::vector<AuditRow>> audit(const OrgRef& org, std::optional<Instant> from,
                                      std::optional<Instant> to, const Page& page) const;

  // The regions of these episodes (the ones the read model holds), sorted, each once.
  Result<std::vector<std::string>> regions_of(const std::vector<std::string>& episode_ids) const;

  // Every row of every table in a fixed order, one line per row, offsets and audit excluded:
  // two replicas that consumed the same records print the same text (the crash test compares
  // a killed-and-restarted replica with a fresh one this way).
  Result<std::string> dump() const;

  struct Impl;

 private:
  explicit ReadModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "admissionNotice", "dischargeReadyNotice", ... (the JSON name of the Notification's oneof).
std::string notification_kind(const v1::Notification& n);
// The notices a recipient acknowledges (kvittens), by notification_kind(): admission notice,
// discharge-ready notice, estimated discharge update, admission cancellation.
inline constexpr std::array<const char*, 4> kNoticeKinds = {
    "admissionNotice", "dischargeReadyNotice", "estimatedDischargeUpdate", "admissionCancellation"};
bool is_notice(const v1::Notification& n);
// The notice's recipient (the four notices); nullptr for the other kinds.
const v1::Recipient* recipient_of(const v1::Notification& n);

}  // namespace samordna::serve
