// Test helper: opens the store in the directory given as its argument, says "ready" on stdout and
// holds it until stdin closes. Lets the lock test see a store held by another process.

#include <cstdio>
#include <iostream>
#include <string>

#include "engine/store/db.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s STATE_DIR\n", argv[0]);
    return 2;
  }
  auto db = samordna::store::Db::open(argv[1], samordna::store::DbOptions{});
  if (!db) {
    std::fprintf(stderr, "lock_holder: %s\n", db.error().message.c_str());
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  std::string ignored;
  while (std::getline(std::cin, ignored)) {
  }
  return 0;
}
