#include "engine/store/outbox.h"

#include <rocksdb/write_batch.h>

#include <array>
#include <string_view>
#include <system_error>

#include "engine/store/db.h"

namespace samordna::store {
namespace {

// Bump when a key layout or the OutboxEntry record changes incompatibly (engine/README.md).
constexpr uint32_t kFormatVersion = 1;
constexpr std::string_view kFormatVersionKey = "format_version";
constexpr std::string_view kOffsetPrefix = "offset/";
constexpr std::string_view kDisabledPrefix = "disabled/";
constexpr std::array<const char*, 3> kFamilyNames = {"default", "pending", "dead"};
enum { kMeta = 0, kPending = 1, kDead = 2 };

void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

std::string offset_key(const std::string& topic, int32_t partition) {
  std::string k(kOffsetPrefix);
  put_str(k, topic);
  put_u32(k, static_cast<uint32_t>(partition));
  return k;
}

}  // namespace

std::string outbox_pending_key(const v1::OutboxEntry& e) {
  std::string k;
  put_str(k, e.endpoint());
  put_str(k, e.episode_id());
  put_u32(k, static_cast<uint32_t>(e.partition()));
  put_i64_ordered(k, e.offset());
  return k;
}

std::string outbox_dead_key(const v1::OutboxEntry& e) {
  std::string k;
  put_str(k, e.notification_id());
  put_str(k, e.endpoint());
  return k;
}

DeliveryOutbox::~DeliveryOutbox() {
  if (db_) {
    for (auto* h : families_) (void)db_->DestroyColumnFamilyHandle(h);
    (void)db_->Close();
  }
}

Result<std::unique_ptr<DeliveryOutbox>> DeliveryOutbox::open(const std::filesystem::path& dir) {
  std::unique_ptr<DeliveryOutbox> o(new DeliveryOutbox());
  o->path_ = dir.string();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(Errc::kIo, "cannot create data dir " + o->path_ + ": " + ec.message());
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.max_background_jobs = 2;
  options.keep_log_file_num = 3;
  // As the engine's store (engine/store/db.cc): a torn last record after kill -9 is fine, damage
  // in the middle of the log is not.
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : kFamilyNames)
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(options, o->path_, descriptors, &o->families_, &raw);
  if (!s.ok()) return to_error(s, "open deliver data dir " + o->path_, o->path_);
  o->db_.reset(raw);

  std::string value;
  s = o->db_->Get(rocksdb::ReadOptions(), o->families_[kMeta], kFormatVersionKey, &value);
  if (s.IsNotFound()) {
    value.clear();
    put_u32(value, kFormatVersion);
    rocksdb::WriteBatch batch;
    batch.Put(o->families_[kMeta], kFormatVersionKey, value);
    SAMORDNA_TRYV(o->write(batch, true));
  } else if (!s.ok()) {
    return to_error(s, "read deliver data dir " + o->path_, o->path_);
  } else if (value.size() != 4 || get_u32(value) != kFormatVersion) {
    return fail(Errc::kCorruption, "deliver data dir " + o->path_ +
                                       " has another format version than this build's " +
                                       std::to_string(kFormatVersion));
  }
  return o;
}

Result<void> DeliveryOutbox::write(rocksdb::WriteBatch& batch, bool sync) {
  rocksdb::WriteOptions w;
  w.sync = sync;
  auto s = db_->Write(w, &batch);
  if (!s.ok()) return to_error(s, "write deliver data dir " + path_, path_);
  return ok();
}

namespace {
void put_offsets(rocksdb::WriteBatch& batch, rocksdb::ColumnFamilyHandle* meta,
                 const Offsets& offsets) {
  for (const auto& [tp, next] : offsets) {
    std::string v;
    put_i64_ordered(v, next);
    batch.Put(meta, offset_key(tp.first, tp.second), v);
  }
}
}  // namespace

Result<void> DeliveryOutbox::add(const std::vector<v1::OutboxEntry>& entries,
                                 const Offsets& offsets) {
  rocksdb::WriteBatch batch;
  for (const auto& e : entries)
    batch.Put(families_[kPending], outbox_pending_key(e), e.SerializeAsString());
  put_offsets(batch, families_[kMeta], offsets);
  return write(batch, true);
}

Result<Offsets> DeliveryOutbox::offsets() const {
  Offsets out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), families_[kMeta]));
  for (it->Seek(kOffsetPrefix); it->Valid() && it->key().starts_with(kOffsetPrefix); it->Next()) {
    std::string_view k(it->key().data() + kOffsetPrefix.size(),
                       it->key().size() - kOffsetPrefix.size());
    if (k.size() < 8 || it->value().size() != 8)
      return fail(Errc::kCorruption, "a malformed offset in deliver data dir " + path_);
    const uint32_t len = get_u32(k);
    if (k.size() != 8 + size_t{len})
      return fail(Errc::kCorruption, "a malformed offset in deliver data dir " + path_);
    out[{std::string(k.substr(4, len)), static_cast<int32_t>(get_u32(k.substr(4 + len)))}] =
        get_i64_ordered(it->value().ToStringView());
  }
  if (!it->status().ok()) return to_error(it->status(), "read deliver data dir " + path_, path_);
  return out;
}

Result<std::vector<v1::OutboxEntry>> DeliveryOutbox::scan(rocksdb::ColumnFamilyHandle* f) const {
  std::vector<v1::OutboxEntry> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), f));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    v1::OutboxEntry e;
    if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())))
      return fail(Errc::kCorruption, "an unreadable outbox entry in deliver data dir " + path_);
    out.push_back(std::move(e));
  }
  if (!it->status().ok()) return to_error(it->status(), "read deliver data dir " + path_, path_);
  return out;
}

Result<std::vector<v1::OutboxEntry>> DeliveryOutbox::pending() const {
  return scan(families_[kPending]);
}

Result<std::vector<v1::OutboxEntry>> DeliveryOutbox::dead() const { return scan(families_[kDead]); }

Result<void> DeliveryOutbox::update(const v1::OutboxEntry& entry) {
  rocksdb::WriteBatch batch;
  batch.Put(families_[kPending], outbox_pending_key(entry), entry.SerializeAsString());
  return write(batch, true);
}

Result<void> DeliveryOutbox::remove(const v1::OutboxEntry& entry) {
  rocksdb::WriteBatch batch;
  batch.Delete(families_[kPending], outbox_pending_key(entry));
  return write(batch, false);
}

Result<void> DeliveryOutbox::bury(const v1::OutboxEntry& entry) {
  rocksdb::WriteBatch batch;
  batch.Delete(families_[kPending], outbox_pending_key(entry));
  batch.Put(families_[kDead], outbox_dead_key(entry), entry.SerializeAsString());
  return write(batch, true);
}

Result<std::vector<v1::OutboxEntry>> DeliveryOutbox::revive(const std::string& notification_id,
                                                            const std::string& endpoint,
                                                            const Offsets& offsets) {
  std::string prefix;
  if (!notification_id.empty()) put_str(prefix, notification_id);
  std::vector<v1::OutboxEntry> revived;
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), families_[kDead]));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    v1::OutboxEntry e;
    if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())))
      return fail(Errc::kCorruption, "an unreadable outbox entry in deliver data dir " + path_);
    if (!endpoint.empty() && e.endpoint() != endpoint) continue;
    batch.Delete(families_[kDead], it->key());
    e.clear_dead_code();
    e.set_attempts(0);
    e.set_first_attempt_unix(0);
    e.set_next_attempt_unix(0);
    e.set_last_status(0);
    batch.Put(families_[kPending], outbox_pending_key(e), e.SerializeAsString());
    revived.push_back(std::move(e));
  }
  if (!it->status().ok()) return to_error(it->status(), "read deliver data dir " + path_, path_);
  put_offsets(batch, families_[kMeta], offsets);
  SAMORDNA_TRYV(write(batch, true));
  return revived;
}

Result<std::set<std::string>> DeliveryOutbox::disabled() const {
  std::set<std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), families_[kMeta]));
  for (it->Seek(kDisabledPrefix); it->Valid() && it->key().starts_with(kDisabledPrefix);
       it->Next()) {
    out.insert(it->key().ToString().substr(kDisabledPrefix.size()));
  }
  if (!it->status().ok()) return to_error(it->status(), "read deliver data dir " + path_, path_);
  return out;
}

Result<void> DeliveryOutbox::set_disabled(const std::string& endpoint, bool disabled,
                                          const Offsets& offsets) {
  rocksdb::WriteBatch batch;
  const std::string key = std::string(kDisabledPrefix) + endpoint;
  if (disabled) {
    batch.Put(families_[kMeta], key, "");
  } else {
    batch.Delete(families_[kMeta], key);
  }
  put_offsets(batch, families_[kMeta], offsets);
  return write(batch, true);
}

}  // namespace samordna::store
