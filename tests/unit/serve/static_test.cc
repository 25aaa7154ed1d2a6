#include "connectors/serve/static.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/unit/serve/serve_fixture.h"

namespace samordna::serve {
namespace {

namespace fs = std::filesystem;

class ServeStatic : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    web_ = root_ / "web";
    fs::create_directories(web_ / "js");
    fs::create_directories(web_ / ".hidden");
    write(web_ / "index.html", "<!doctype html><title>x</title>");
    write(web_ / "js" / "app.js", "export {};");
    write(web_ / "style.css", "body{}");
    write(web_ / ".hidden" / "secret.txt", "no");
    write(root_ / "secret.txt", "outside");
    fs::create_symlink(root_ / "secret.txt", web_ / "link.txt");
  }
  void TearDown() override { fs::remove_all(root_); }
  static void write(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }
  fs::path root_, web_;
};

TEST_F(ServeStatic, ServesEachFileWithItsTypeAndTheBrowserHeaders) {
  auto files = StaticFiles::load(web_).value();
  const auto index = files.get("/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(index.body, "<!doctype html><title>x</title>");
  const auto js = files.get("/js/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(files.get("/style.css").content_type, "text/css; charset=utf-8");
  auto header = [](const HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return std::string();
  };
  EXPECT_NE(header(js, "Content-Security-Policy").find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(header(js, "Content-Security-Policy").find("unsafe"), std::string::npos);
  EXPECT_EQ(header(js, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(header(js, "Cache-Control"), "no-cache");
  // The ETag revalidates: 304 without a body.
  const auto etag = header(js, "ETag");
  ASSERT_FALSE(etag.empty());
  const auto again = files.get("/js/app.js", etag);
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(files.get("/js/app.js", "\"other\"").status, 200);
}

TEST_F(ServeStatic, OnlyTheFolderIsReachable) {
  auto files = StaticFiles::load(web_).value();
  const auto paths = files.paths();
  EXPECT_EQ(paths, (std::vector<std::string>{"/", "/index.html", "/js/app.js", "/style.css"}));
  for (const char* bad : {"/../secret.txt", "/js/../../secret.txt", "/link.txt",
                          "/.hidden/secret.txt", "/js/", "/js//app.js", "/./index.html",
                          "/js\\app.js", "/C:/x", "", "index.html", "/nope.js", "/js/app.js/.."}) {
    const auto r = files.get(bad);
    EXPECT_EQ(r.status, 404) << bad;
    EXPECT_EQ(r.body.find("outside"), std::string::npos) << bad;
    EXPECT_EQ(r.body.find("no"), 0u) << bad;  // "not found"
  }
}

TEST_F(ServeStatic, SafeRelativeRefusesEveryWayOut) {
  EXPECT_EQ(safe_relative("/").value(), "index.html");
  EXPECT_EQ(safe_relative("/js/app.js").value(), "js/app.js");
  for (const char* bad : {"/..", "/../x", "/a/../b", "/.", "/a/./b", "/a//b", "/a/", "x",
                          "/.git/HEAD", "/a\\..\\b", "/c:", "/a\x01"}) {
    EXPECT_FALSE(safe_relative(bad).has_value()) << bad;
  }
  EXPECT_FALSE(safe_relative(std::string_view("/a\0b", 4)).has_value());
}

TEST_F(ServeStatic, AFolderWithoutIndexIsRefused) {
  EXPECT_FALSE(StaticFiles::load(web_ / "js").has_value());
  EXPECT_FALSE(StaticFiles::load(root_ / "absent").has_value());
}

}  // namespace
}  // namespace samordna::serve
