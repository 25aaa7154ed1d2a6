#include "engine/store/db.h"

#include <fcntl.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <rocksdb/table.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "engine/store/episode_store.h"
#include "tests/unit/store/store_backends.h"

extern char** environ;

namespace samordna::store {
namespace {

using testing::OnDisk;
using testing::StoreBackendNames;
using testing::StoreBackends;
using testing::TempDir;

storage::v1::EpisodeState sample_episode(const std::string& id) {
  storage::v1::EpisodeState state;
  state.set_episode_id(id);
  state.set_phase(storage::v1::EpisodeState::OPEN);
  state.set_rule_set_id("national-2017-612");
  state.set_admitted_at(-86'400);  // before the epoch: instants are signed
  state.set_assessed_at(1'700'000'000);
  state.set_outpatient_unit("vc-centrum");
  state.set_discharge_ready(true);
  auto* deadline = state.add_deadlines();
  deadline->set_status(storage::v1::DeadlineRecord::PENDING);
  deadline->set_due_at(1'700'086'400);
  auto* timer = state.add_timers();
  timer->set_kind(storage::v1::TIMER_DEADLINE);
  timer->set_fire_at(1'700'086'401);
  return state;
}

std::string raw_episode_key(PartitionId partition, const std::string& id) {
  std::string key;
  put_u32(key, partition);
  return key + id;
}

template <class Backend>
class StoreContract : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = backend_.open();
    ASSERT_TRUE(opened) << opened.error().message;
    db_ = std::move(opened.value());
    episodes_ = std::make_unique<EpisodeStore>(*db_);
  }

  void write(store::Txn& batch) {
    auto written = db_->write(batch);
    ASSERT_TRUE(written) << written.error().message;
  }

  std::optional<storage::v1::EpisodeState> get(PartitionId partition, const std::string& id) {
    auto got = episodes_->get(partition, id);
    EXPECT_TRUE(got) << got.error().message;
    return got ? got.value() : std::nullopt;
  }

  Backend backend_;
  std::unique_ptr<Db> db_;
  std::unique_ptr<EpisodeStore> episodes_;
};

TYPED_TEST_SUITE(StoreContract, StoreBackends, StoreBackendNames);

TYPED_TEST(StoreContract, EpisodeRoundTrips) {
  auto state = sample_episode("ep-1");
  store::Txn batch;
  this->episodes_->put(batch, 3, state);
  this->write(batch);

  auto got = this->get(3, "ep-1");
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(state, *got))
      << got->DebugString();
}

TYPED_TEST(StoreContract, MissingEpisodeIsEmpty) {
  EXPECT_FALSE(this->get(0, "never-written").has_value());
}

TYPED_TEST(StoreContract, PutReplacesAndEraseRemoves) {
  store::Txn first;
  this->episodes_->put(first, 0, sample_episode("ep-1"));
  this->write(first);

  auto changed = sample_episode("ep-1");
  changed.set_phase(storage::v1::EpisodeState::DISCHARGED);
  store::Txn second;
  this->episodes_->put(second, 0, changed);
  this->write(second);
  auto got = this->get(0, "ep-1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->phase(), storage::v1::EpisodeState::DISCHARGED);

  store::Txn erase;
  this->episodes_->erase(erase, 0, "ep-1");
  this->write(erase);
  EXPECT_FALSE(this->get(0, "ep-1").has_value());
}

TYPED_TEST(StoreContract, EpisodesArePartitioned) {
  auto in_one = sample_episode("ep-1");
  auto in_two = sample_episode("ep-1");
  in_two.set_phase(storage::v1::EpisodeState::CANCELLED);
  store::Txn batch;
  this->episodes_->put(batch, 1, in_one);
  this->episodes_->put(batch, 2, in_two);
  this->write(batch);

  store::Txn erase;
  this->episodes_->erase(erase, 1, "ep-1");
  this->write(erase);
  EXPECT_FALSE(this->get(1, "ep-1").has_value());
  auto got = this->get(2, "ep-1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->phase(), storage::v1::EpisodeState::CANCELLED);
}

// The episodes' memtables are hash tables (db.cc): an iterator must still see every key, in
// order, whether it is in a memtable, in a file or in both, and the versions the memtable replaced
// not at all.
TYPED_TEST(StoreContract, AnIteratorSeesEveryEpisodeInKeyOrder) {
  store::Txn first;
  for (const char* id : {"ep-3", "ep-1", "ep-5"})
    this->episodes_->put(first, 2, sample_episode(id));
  this->write(first);
  auto flushed = this->db_->flush();
  ASSERT_TRUE(flushed) << flushed.error().message;
  store::Txn second;  // ep-1 again, newer; two new ones on both sides of the old
  auto newer = sample_episode("ep-1");
  newer.set_phase(storage::v1::EpisodeState::CANCELLED);
  this->episodes_->put(second, 2, newer);
  for (const char* id : {"ep-4", "ep-0"}) this->episodes_->put(second, 2, sample_episode(id));
  this->episodes_->put(second, 1, sample_episode("ep-9"));
  this->write(second);

  std::vector<std::string> keys;
  auto it = this->db_->iterator(Family::kEpisodes, rocksdb::ReadOptions());
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    storage::v1::EpisodeState state;
    ASSERT_TRUE(state.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())));
    const bool cancelled = state.phase() == storage::v1::EpisodeState::CANCELLED;
    keys.push_back(it->key().ToString().substr(4) + (cancelled ? "*" : ""));
  }
  ASSERT_TRUE(it->status().ok()) << it->status().ToString();
  EXPECT_EQ(keys, (std::vector<std::string>{"ep-9", "ep-0", "ep-1*", "ep-3", "ep-4", "ep-5"}));
  it->Seek(raw_episode_key(2, "ep-2"));  // a key in neither: the next one
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key().ToString(), raw_episode_key(2, "ep-3"));
}

TYPED_TEST(StoreContract, NothingIsVisibleBeforeTheBatchIsWritten) {
  store::Txn batch;
  this->episodes_->put(batch, 0, sample_episode("ep-1"));
  EXPECT_FALSE(this->get(0, "ep-1").has_value());
  this->write(batch);
  EXPECT_TRUE(this->get(0, "ep-1").has_value());
}

TYPED_TEST(StoreContract, TransactionReadsItsOwnWrites) {
  store::Txn committed;
  this->episodes_->put(committed, 0, sample_episode("ep-old"));
  this->write(committed);

  store::Txn txn;
  this->episodes_->put(txn, 0, sample_episode("ep-new"));
  this->episodes_->erase(txn, 0, "ep-old");
  auto read = [&](const std::string& id, Txn* through) {
    auto got = this->episodes_->get(0, id, through);
    EXPECT_TRUE(got) << got.error().message;
    return got && got.value().has_value();
  };
  EXPECT_TRUE(read("ep-new", &txn));
  EXPECT_FALSE(read("ep-old", &txn));
  EXPECT_FALSE(read("ep-new", nullptr)) << "not in the store before the write";
  EXPECT_TRUE(read("ep-old", nullptr));
  this->write(txn);
  EXPECT_TRUE(read("ep-new", nullptr));
  EXPECT_FALSE(read("ep-old", nullptr));
}

TYPED_TEST(StoreContract, UnreadableRecordIsCorruption) {
  // The documented layout: [partition u32 BE][episode_id].
  auto s = this->db_->raw().Put(rocksdb::WriteOptions(), this->db_->family(Family::kEpisodes),
                                raw_episode_key(5, "ep-bad"), "\xff\xff\xff not a protobuf");
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto got = this->episodes_->get(5, "ep-bad");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Errc::kCorruption);
  EXPECT_NE(got.error().message.find("ep-bad"), std::string::npos) << got.error().message;
}

TYPED_TEST(StoreContract, KeysFollowTheDocumentedLayout) {
  store::Txn batch;
  this->episodes_->put(batch, 0x01020304, sample_episode("ep-7"));
  this->write(batch);
  auto raw = this->db_->get(Family::kEpisodes, std::string("\x01\x02\x03\x04", 4) + "ep-7");
  ASSERT_TRUE(raw) << raw.error().message;
  EXPECT_TRUE(raw.value().has_value());
}

TYPED_TEST(StoreContract, EveryFamilySharesOneBoundedCacheHoldingIndexAndFilters) {
  const auto expected = testing::small_options().block_cache_bytes;
  std::shared_ptr<rocksdb::Cache> shared;
  for (auto f : {Family::kMeta, Family::kEpisodes, Family::kTimers}) {
    auto options = this->db_->raw().GetOptions(this->db_->family(f));
    auto* table = options.table_factory->template GetOptions<rocksdb::BlockBasedTableOptions>();
    ASSERT_NE(table, nullptr);
    EXPECT_TRUE(table->cache_index_and_filter_blocks);
    // Partitioned, so no single index or filter block outgrows a shard of the cache.
    EXPECT_EQ(table->index_type, rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch);
    EXPECT_EQ(table->partition_filters, table->filter_policy != nullptr);
    ASSERT_NE(table->block_cache, nullptr);
    EXPECT_EQ(table->block_cache->GetCapacity(), expected);
    if (!shared) shared = table->block_cache;
    EXPECT_EQ(table->block_cache, shared) << "one cache for every family";
    EXPECT_LE(options.max_write_buffer_number, 2);
  }
}

TYPED_TEST(StoreContract, WritesSurviveReopen) {
  if (!TypeParam::kSurvivesReopen) GTEST_SKIP() << "an in-memory store ends with its Db";
  store::Txn batch;
  this->episodes_->put(batch, 0, sample_episode("ep-1"));
  this->write(batch);
  this->episodes_.reset();
  this->db_.reset();

  auto reopened = this->backend_.open();
  ASSERT_TRUE(reopened) << reopened.error().message;
  EpisodeStore episodes(*reopened.value());
  auto got = episodes.get(0, "ep-1");
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_TRUE(got.value().has_value());
}

// Opening a state directory: only meaningful on disk.

std::string version_value(uint32_t version) {
  std::string value;
  put_u32(value, version);
  return value;
}

TEST(StoreOpen, FreshStoreIsStampedWithFormatVersion2) {
  OnDisk disk;
  auto db = disk.open();
  ASSERT_TRUE(db) << db.error().message;
  auto version = db.value()->get(Family::kMeta, "format_version");
  ASSERT_TRUE(version) << version.error().message;
  EXPECT_EQ(version.value(), version_value(2));
}

// Writes a version 1 store by hand, in that version's layout (engine/README.md "Format versions"):
// one episode (partition 3, "ep-1") with its timer and its index entry, and `extra`, when given, as
// one more family. Returns the timer's key.
std::string write_version1_store(const std::filesystem::path& dir, const std::string& extra = {}) {
  const std::string partition("\x00\x00\x00\x03", 4);
  std::string timer = partition;
  put_i64_ordered(timer, 1'700'000'000);
  timer += std::string("\x07", 1) + "ep-1";
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name : {"default", "episodes", "timers", "timer_index"}) {
    families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  if (!extra.empty()) families.emplace_back(extra, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  EXPECT_TRUE(rocksdb::DB::Open(options, dir.string(), families, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> v1(raw);
  rocksdb::WriteBatch batch;
  EXPECT_TRUE(batch.Put(handles[0], "format_version", version_value(1)).ok());
  EXPECT_TRUE(
      batch.Put(handles[1], partition + "ep-1", sample_episode("ep-1").SerializeAsString()).ok());
  EXPECT_TRUE(batch.Put(handles[2], timer, "").ok());
  std::string fire_at;
  put_i64_ordered(fire_at, 1'700'000'000);
  EXPECT_TRUE(
      batch.Put(handles[3], partition + std::string("\x00\x04", 2) + "ep-1\x07", fire_at).ok());
  EXPECT_TRUE(v1->Write({}, &batch).ok());
  for (auto* handle : handles) EXPECT_TRUE(v1->DestroyColumnFamilyHandle(handle).ok());
  EXPECT_TRUE(v1->Close().ok());
  return timer;
}

std::vector<std::string> family_names(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.string(), &names).ok());
  return names;
}

// A version 1 store: its timer index is dropped, everything else is read as it was, and it is
// stamped 2.
TEST(StoreOpen, AVersion1StoreLosesItsTimerIndexAndKeepsTheRest) {
  OnDisk disk;
  const std::string timer = write_version1_store(disk.dir.path());
  for (int open = 0; open < 2; ++open) {  // migrated, then opened as version 2
    auto db = disk.open();
    ASSERT_TRUE(db) << db.error().message;
    auto version = db.value()->get(Family::kMeta, "format_version");
    ASSERT_TRUE(version) << version.error().message;
    EXPECT_EQ(version.value(), version_value(2));
    auto episode = EpisodeStore(*db.value()).get(3, "ep-1");
    ASSERT_TRUE(episode) << episode.error().message;
    ASSERT_TRUE(episode.value().has_value());
    EXPECT_EQ(episode.value()->episode_id(), "ep-1");
    auto pending = db.value()->get(Family::kTimers, timer);
    ASSERT_TRUE(pending) << pending.error().message;
    EXPECT_TRUE(pending.value().has_value()) << "the timer stays";
  }
  EXPECT_EQ(family_names(disk.dir.path()),
            (std::vector<std::string>{"default", "episodes", "timers"}));
}

// A version 1 store that also holds a family this build does not know is refused before anything
// is migrated: it keeps its timer index and its version.
TEST(StoreOpen, AVersion1StoreWithAnUnknownFamilyIsRefusedUnchanged) {
  OnDisk disk;
  write_version1_store(disk.dir.path(), "from_the_future");
  auto db = disk.open();
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code, Errc::kCorruption);
  EXPECT_NE(db.error().message.find("from_the_future"), std::string::npos) << db.error().message;
  EXPECT_EQ(family_names(disk.dir.path()),
            (std::vector<std::string>{"default", "episodes", "timers", "timer_index",
                                      "from_the_future"}));
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const auto& name : family_names(disk.dir.path())) {
    families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), disk.dir.path().string(), families,
                                           &handles, &raw)
                  .ok());
  std::unique_ptr<rocksdb::DB> read(raw);
  std::string version;
  EXPECT_TRUE(read->Get({}, handles[0], "format_version", &version).ok());
  EXPECT_EQ(version, version_value(1));
  for (auto* handle : handles) EXPECT_TRUE(read->DestroyColumnFamilyHandle(handle).ok());
}

TEST(StoreOpen, UnknownFormatVersionIsCorruption) {
  OnDisk disk;
  {
    auto db = disk.open();
    ASSERT_TRUE(db) << db.error().message;
    auto& raw = db.value()->raw();
    ASSERT_TRUE(
        raw.Put({}, db.value()->family(Family::kMeta), "format_version", version_value(99)).ok());
  }
  auto reopened = disk.open();
  ASSERT_FALSE(reopened);
  EXPECT_EQ(reopened.error().code, Errc::kCorruption);
  EXPECT_NE(reopened.error().message.find("unknown format version 99"), std::string::npos)
      << reopened.error().message;
}

TEST(StoreOpen, MalformedFormatVersionIsCorruption) {
  OnDisk disk;
  {
    auto db = disk.open();
    ASSERT_TRUE(db) << db.error().message;
    ASSERT_TRUE(
        db.value()->raw().Put({}, db.value()->family(Family::kMeta), "format_version", "1").ok());
  }
  auto reopened = disk.open();
  ASSERT_FALSE(reopened);
  EXPECT_EQ(reopened.error().code, Errc::kCorruption);
  EXPECT_NE(reopened.error().message.find("format version record"), std::string::npos)
      << reopened.error().message;
}

TEST(StoreOpen, DataWithoutFormatVersionIsRefused) {
  OnDisk disk;
  {
    auto db = disk.open();
    ASSERT_TRUE(db) << db.error().message;
    Txn batch;
    EpisodeStore(*db.value()).put(batch, 0, sample_episode("ep-1"));
    ASSERT_TRUE(batch.batch().Delete(db.value()->family(Family::kMeta), "format_version").ok());
    ASSERT_TRUE(db.value()->write(batch));
  }
  auto reopened = disk.open();
  ASSERT_FALSE(reopened);
  EXPECT_EQ(reopened.error().code, Errc::kCorruption);
  EXPECT_NE(reopened.error().message.find("no format version"), std::string::npos)
      << reopened.error().message;
}

TEST(StoreOpen, UnknownColumnFamilyIsRefused) {
  OnDisk disk;
  {
    auto db = disk.open();
    ASSERT_TRUE(db) << db.error().message;
    rocksdb::ColumnFamilyHandle* future = nullptr;
    ASSERT_TRUE(db.value()->raw().CreateColumnFamily({}, "from_the_future", &future).ok());
    ASSERT_TRUE(db.value()->raw().DestroyColumnFamilyHandle(future).ok());
  }
  auto reopened = disk.open();
  ASSERT_FALSE(reopened);
  EXPECT_EQ(reopened.error().code, Errc::kCorruption);
  EXPECT_NE(reopened.error().message.find("from_the_future"), std::string::npos)
      << reopened.error().message;
}

TEST(StoreOpen, PathThroughAFileIsIoError) {
  TempDir dir;
  std::ofstream(dir.path() / "file") << "not a directory";
  auto db = Db::open(dir.path() / "file" / "state", testing::small_options());
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code, Errc::kIo) << db.error().message;
}

TEST(StoreOpen, OpenTwiceInOneProcessIsUnavailable) {
  OnDisk disk;
  auto first = disk.open();
  ASSERT_TRUE(first) << first.error().message;
  auto second = disk.open();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::kUnavailable);
  EXPECT_NE(second.error().message.find("state dir is in use"), std::string::npos)
      << second.error().message;
}

// Runs tests/unit/store/lock_holder.cc on `dir` until the returned stdin fd is closed.
class LockHolder {
 public:
  explicit LockHolder(const std::filesystem::path& dir) {
    int to_child[2];
    int from_child[2];
    EXPECT_EQ(::pipe2(to_child, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(from_child, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);
    std::string program = SAMORDNA_LOCK_HOLDER;
    std::string arg = dir.string();
    char* argv[] = {program.data(), arg.data(), nullptr};
    EXPECT_EQ(::posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv, environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(to_child[0]);
    ::close(from_child[1]);
    stdin_ = to_child[1];
    out_ = from_child[0];
  }
  ~LockHolder() {
    release();
    ::close(out_);
  }

  // What the child said first: "ready\n" once it holds the store.
  std::string first_words() {
    std::string said;
    char c = 0;
    while (::read(out_, &c, 1) == 1 && c != '\n') said.push_back(c);
    return said;
  }

  void release() {
    if (pid_ <= 0) return;
    ::close(stdin_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int out_ = -1;
};

TEST(StoreOpen, DirLockedByAnotherProcessIsUnavailable) {
  OnDisk disk;
  LockHolder holder(disk.dir.path());
  ASSERT_EQ(holder.first_words(), "ready");

  auto db = disk.open();
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code, Errc::kUnavailable);
  EXPECT_NE(db.error().message.find("state dir is in use"), std::string::npos)
      << db.error().message;

  holder.release();
  auto after = disk.open();
  EXPECT_TRUE(after) << after.error().message;
}

// Ordered encodings: byte order is numeric order.

TEST(StoreEncoding, U32IsBigEndian) {
  std::string out;
  put_u32(out, 0x01020304);
  EXPECT_EQ(out, std::string("\x01\x02\x03\x04", 4));
  EXPECT_EQ(get_u32(out), 0x01020304u);
}

TEST(StoreEncoding, OrderedI64SortsNumericallyAcrossZero) {
  const std::vector<int64_t> ascending = {std::numeric_limits<int64_t>::min(),
                                          -1'000'000'000'000,
                                          -256,
                                          -1,
                                          0,
                                          1,
                                          255,
                                          1'000'000'000'000,
                                          std::numeric_limits<int64_t>::max()};
  std::string previous;
  for (int64_t v : ascending) {
    std::string encoded;
    put_i64_ordered(encoded, v);
    ASSERT_EQ(encoded.size(), 8u);
    EXPECT_EQ(get_i64_ordered(encoded), v);
    if (!previous.empty()) {
      EXPECT_LT(previous, encoded) << "at " << v;
    }
    previous = encoded;
  }
  std::string zero;
  put_i64_ordered(zero, 0);
  EXPECT_EQ(zero, std::string("\x80\0\0\0\0\0\0\0", 8));
}

}  // namespace
}  // namespace samordna::store
