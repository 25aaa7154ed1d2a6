// Timer store rates with millions of pending timers in an on-disk store, and resident memory as
// the pending set grows. Not run in CI; tests/bench/run_timer_bench.sh builds it in Release, runs
// it next to RocksDB's db_bench and prints the figures.
//
// BM_Load builds the pending set once (schedules in batches, as the pipeline writes them) and
// reports VmRSS, block cache and memtable use after a tenth, half and all of it. Then, untimed, it
// waits for the compactions the bulk load queued; the other benchmarks run against that store:
//   BM_Schedule/B  B new timers per write batch
//   BM_Cancel/B    B pending timers cancelled per write batch (random keys, each once: the
//                  first g_pending cancels of the stride are distinct)
//   BM_Fire/L      one pass: due(limit L) over an overdue backlog, then cancel what it returned
//
// Flags besides Google Benchmark's: --timer_pending=N (default 10000000), --timer_dir=DIR (default
// a fresh directory under $TMPDIR or /tmp, removed at exit).

#include <benchmark/benchmark.h>
#include <malloc.h>
#include <stdlib.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "engine/store/db.h"
#include "engine/timers/timer_store.h"

namespace samordna::timers {
namespace {

constexpr PartitionId kPartitions = 4;
constexpr int64_t kBase = 1'767'225'600;    // 2026-01-01T00:00:00Z
constexpr int64_t kHorizon = 120 * 86'400;  // fire times spread over 120 days
constexpr uint64_t kStride = 1'000'003;     // prime: i * kStride mod N visits every i < N
constexpr size_t kLoadBatch = 100;

uint64_t g_pending = 10'000'000;
std::filesystem::path g_dir;

uint64_t mix(uint64_t x) {  // splitmix64 finalizer: fire times and cancel order look random
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

// Timer i of the synthetic set: episode ids the width of real ones, four kinds, random times.
TimerKey timer_key(uint64_t i) {
  char id[24];
  std::snprintf(id, sizeof id, "ep-%010" PRIu64, i / 4);
  return TimerKey{static_cast<PartitionId>(i % kPartitions), id, static_cast<uint8_t>(1 + i % 4)};
}
Instant fire_at(uint64_t i) { return from_unix(kBase + static_cast<int64_t>(mix(i) % kHorizon)); }

double vm_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  return -1;
}

void die(const Error& error) {
  std::fprintf(stderr, "timer_store_bench: %s\n", error.message.c_str());
  std::exit(1);
}

struct Loaded {
  std::unique_ptr<store::Db> db;
  std::unique_ptr<TimerStore> timers;
  uint64_t next_new = 0;     // ids at and above g_pending are new timers (BM_Schedule)
  uint64_t next_cancel = 0;  // k-th cancel takes timer (k * kStride) % g_pending
  size_t next_fire_partition = 0;
  double settle_s = -1;  // not yet waited for
  benchmark::UserCounters load_counters;
};

double mib(uint64_t bytes) { return static_cast<double>(bytes) / (1u << 20); }

// Where resident memory goes: the block cache (one, shared by every family), the memtables of all
// families, and the rest (allocator, pinned top-level index blocks, the process itself).
void memory_counters(store::Db& db, benchmark::UserCounters& counters, const std::string& suffix) {
  uint64_t cache = 0;
  uint64_t memtables = 0;
  db.raw().GetIntProperty(db.family(store::Family::kMeta), "rocksdb.block-cache-usage", &cache);
  db.raw().GetAggregatedIntProperty("rocksdb.cur-size-all-mem-tables", &memtables);
  counters["rss_MiB" + suffix] = vm_rss_mib();
  counters["cache_MiB" + suffix] = mib(cache);
  counters["memtables_MiB" + suffix] = mib(memtables);
  // Freed but kept by glibc malloc: part of VmRSS that no live object holds.
  counters["malloc_free_MiB" + suffix] = mib(::mallinfo2().fordblks);
}

// The share of time writes were slowed or stopped for compaction to catch up, since open.
double write_stall_percent(store::Db& db) {
  std::string stats;
  db.raw().GetProperty("rocksdb.dbstats", &stats);
  auto line = stats.find("Cumulative stall:");
  auto comma = stats.find(", ", line);
  if (line == std::string::npos || comma == std::string::npos) return -1;
  return std::strtod(stats.c_str() + comma + 2, nullptr);
}

// Waits until the flushes and compactions the load queued have run, so that the rates measured
// next are those of a settled store of that size, not of a bulk load's compaction debt.
double settle_seconds(store::Db& db) {
  const auto start = std::chrono::steady_clock::now();
  const auto give_up = start + std::chrono::minutes(5);
  while (std::chrono::steady_clock::now() < give_up) {
    uint64_t busy = 0;
    for (const char* property :
         {"rocksdb.compaction-pending", "rocksdb.num-running-compactions",
          "rocksdb.mem-table-flush-pending", "rocksdb.num-running-flushes"}) {
      uint64_t value = 0;
      db.raw().GetAggregatedIntProperty(property, &value);
      busy += value;
    }
    if (busy == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::unique_ptr<Loaded> g_loaded;  // closed in main() before the directory is removed

Loaded& loaded() {
  if (!g_loaded) {
    g_loaded = std::make_unique<Loaded>();
    Loaded* s = g_loaded.get();
    store::DbOptions options;  // the defaults the service runs with
    auto db = store::Db::open(g_dir, options);
    if (!db) die(db.error());
    s->db = std::move(db.value());
    s->timers = std::make_unique<TimerStore>(*s->db);
    if (auto r = s->timers->load(); !r) die(r.error());

    const uint64_t checkpoints[] = {g_pending / 10, g_pending / 2, g_pending};
    size_t next_checkpoint = 0;
    store::Txn batch;
    for (uint64_t i = 0; i < g_pending; ++i) {
      if (auto r = s->timers->schedule(batch, timer_key(i), fire_at(i), {}); !r) die(r.error());
      if (batch.count() >= 2 * kLoadBatch || i + 1 == g_pending) {
        if (auto r = s->db->write(batch); !r) die(r.error());
        batch.clear();
      }
      if (next_checkpoint < 3 && i + 1 == checkpoints[next_checkpoint]) {
        char at[16];
        std::snprintf(at, sizeof at, "@%gM", static_cast<double>(i + 1) / 1e6);
        memory_counters(*s->db, s->load_counters, at);
        ++next_checkpoint;
      }
    }
    s->load_counters["write_stall_pct"] = write_stall_percent(*s->db);
    s->next_new = g_pending;
  }
  return *g_loaded;
}

Loaded& settled() {
  Loaded& s = loaded();
  if (s.settle_s < 0) s.settle_s = settle_seconds(*s.db);
  return s;
}

void BM_Load(benchmark::State& state) {
  for (auto _ : state) loaded();
  auto& s = loaded();
  state.SetItemsProcessed(static_cast<int64_t>(g_pending));
  for (const auto& [name, value] : s.load_counters) state.counters[name] = value;
  uint64_t sst = 0;
  s.db->raw().GetAggregatedIntProperty("rocksdb.total-sst-files-size", &sst);
  state.counters["sst_MiB"] = mib(sst);
  // Not timed: the other benchmarks then run against a settled store.
  state.counters["settle_s"] = settled().settle_s;
}

void BM_Schedule(benchmark::State& state) {
  auto& s = settled();
  const auto per_batch = static_cast<uint64_t>(state.range(0));
  store::Txn batch;
  for (auto _ : state) {
    batch.clear();
    for (uint64_t n = 0; n < per_batch; ++n, ++s.next_new) {
      if (auto r = s.timers->schedule(batch, timer_key(s.next_new), fire_at(s.next_new), {}); !r) {
        die(r.error());
      }
    }
    if (auto r = s.db->write(batch); !r) die(r.error());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  memory_counters(*s.db, state.counters, "");
}

void BM_Cancel(benchmark::State& state) {
  auto& s = settled();
  const auto per_batch = static_cast<uint64_t>(state.range(0));
  store::Txn batch;
  for (auto _ : state) {
    batch.clear();
    for (uint64_t n = 0; n < per_batch; ++n, ++s.next_cancel) {
      uint64_t i = (s.next_cancel * kStride) % g_pending;
      if (auto r = s.timers->cancel(batch, timer_key(i), {fire_at(i)}); !r) die(r.error());
    }
    if (auto r = s.db->write(batch); !r) die(r.error());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  memory_counters(*s.db, state.counters, "");
}

void BM_Fire(benchmark::State& state) {
  auto& s = settled();
  const auto limit = static_cast<size_t>(state.range(0));
  const Instant now = from_unix(kBase + kHorizon);  // the whole set is overdue: a backlog
  int64_t fired = 0;
  store::Txn batch;
  for (auto _ : state) {
    auto partition = static_cast<PartitionId>(s.next_fire_partition++ % kPartitions);
    auto due = s.timers->due(partition, now, limit);
    if (!due) die(due.error());
    batch.clear();
    for (const auto& timer : due.value()) {
      if (auto r = s.timers->cancel(batch, timer.key, {timer.fire_at}); !r) die(r.error());
    }
    if (auto r = s.db->write(batch); !r) die(r.error());
    fired += static_cast<int64_t>(due.value().size());
  }
  state.SetItemsProcessed(fired);
  memory_counters(*s.db, state.counters, "");
}

BENCHMARK(BM_Load)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK(BM_Schedule)->Arg(1)->Arg(100)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(2);
BENCHMARK(BM_Cancel)->Arg(1)->Arg(100)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(2);
BENCHMARK(BM_Fire)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(2);

}  // namespace
}  // namespace samordna::timers

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  bool own_dir = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--timer_pending=", 0) == 0) {
      samordna::timers::g_pending = std::strtoull(arg.c_str() + 16, nullptr, 10);
    } else if (arg.rfind("--timer_dir=", 0) == 0) {
      samordna::timers::g_dir = arg.substr(12);
    } else {
      std::fprintf(stderr, "timer_store_bench: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (samordna::timers::g_pending < 10) {
    std::fprintf(stderr, "timer_store_bench: --timer_pending must be at least 10\n");
    return 2;
  }
  if (samordna::timers::g_dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/samordna-timer-bench-XXXXXX";
    if (!::mkdtemp(pattern.data())) {
      std::perror("timer_store_bench: mkdtemp");
      return 1;
    }
    samordna::timers::g_dir = pattern;
    own_dir = true;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  samordna::timers::g_loaded.reset();
  if (own_dir) {
    std::error_code ignored;
    std::filesystem::remove_all(samordna::timers::g_dir, ignored);
  }
  return 0;
}
