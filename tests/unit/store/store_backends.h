#pragma once

// The two ways to run a Db, for the contract suites of the store and the timer store: every
// contract test runs against both (TYPED_TEST_SUITE(..., StoreBackends, StoreBackendNames)).

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "engine/store/db.h"

namespace samordna::store::testing {

// Small budgets: the tests hold a few thousand keys.
inline DbOptions small_options() {
  DbOptions options;
  options.block_cache_bytes = 4u << 20;
  options.write_buffer_bytes = 4u << 20;
  return options;
}

// A fresh directory under the test temp dir, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "samordna-store-XXXXXX";
    path_ = ::mkdtemp(pattern.data()) ? pattern : std::string();
    EXPECT_FALSE(path_.empty()) << "mkdtemp failed";
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct OnDisk {
  static constexpr bool kSurvivesReopen = true;
  Result<std::unique_ptr<Db>> open(DbOptions options = small_options()) {
    options.in_memory = false;
    return Db::open(dir.path(), options);
  }
  TempDir dir;
};

struct InMemory {
  // The in-memory Env lives and dies with its Db: a reopen starts empty.
  static constexpr bool kSurvivesReopen = false;
  Result<std::unique_ptr<Db>> open(DbOptions options = small_options()) {
    options.in_memory = true;
    return Db::open("/contract", options);
  }
};

using StoreBackends = ::testing::Types<OnDisk, InMemory>;

struct StoreBackendNames {
  template <class T>
  static std::string GetName(int) {
    return T::kSurvivesReopen ? "OnDisk" : "InMemory";
  }
};

}  // namespace samordna::store::testing
