#include "connectors/http/router.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>

namespace samordna::http {
namespace {

Request req(std::string method, std::string target, std::string body = "") {
  Request r;
  r.method = std::move(method);
  EXPECT_TRUE(parse_target(target, r.path, r.query)) << target;
  r.body = std::move(body);
  return r;
}

Router sample() {
  Router router;
  router.add("GET", "/fhir/metadata",
             [](const Request&) { return Response::with(200, "text/plain", "metadata"); });
  router.add("PUT", "/fhir/Encounter/{id}", [](const Request& r) {
    return Response::with(200, "text/plain", "put " + std::string(*r.param("id")));
  });
  router.add("GET", "/fhir/Encounter/{id}", [](const Request& r) {
    return Response::with(200, "text/plain", "get " + std::string(*r.param("id")));
  });
  router.add("GET", "/fhir/Encounter/_history",
             [](const Request&) { return Response::with(200, "text/plain", "literal"); });
  router.add("POST", "/fhir",
             [](const Request& r) { return Response::with(201, "text/plain", r.body); });
  return router;
}

TEST(ParseTarget, DecodesPathAndQuery) {
  std::string path;
  Fields query;
  ASSERT_TRUE(parse_target("/a%20b/c?x=1&y=%C3%A5+%C3%A4&flag&x=2", path, query));
  EXPECT_EQ(path, "/a b/c");
  ASSERT_EQ(query.size(), 4u);
  EXPECT_EQ(query[0], (std::pair<std::string, std::string>{"x", "1"}));
  EXPECT_EQ(query[1], (std::pair<std::string, std::string>{"y", "\xC3\xA5 \xC3\xA4"}));
  EXPECT_EQ(query[2], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ(query[3], (std::pair<std::string, std::string>{"x", "2"}));
}

TEST(ParseTarget, RefusesWhatWouldChangeTheRoute) {
  std::string path;
  Fields query;
  EXPECT_FALSE(parse_target("", path, query));
  EXPECT_FALSE(parse_target("http://example.org/a", path, query));  // absolute-form
  EXPECT_FALSE(parse_target("*", path, query));
  EXPECT_FALSE(parse_target("/a%2Fb", path, query));  // an encoded slash would re-split the path
  EXPECT_FALSE(parse_target("/a%2", path, query));
  EXPECT_FALSE(parse_target("/a%zz", path, query));
  EXPECT_FALSE(parse_target("/a?x=%", path, query));
  EXPECT_TRUE(parse_target("/a?x=%2F", path, query));  // a slash in a query value is fine
  EXPECT_EQ(query.at(0).second, "/");
}

TEST(Router, MatchesTemplatesAndDecodesParameters) {
  Router router = sample();
  Response r = router.handle(req("PUT", "/fhir/Encounter/enc%2D1"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "put enc-1");
  EXPECT_EQ(router.handle(req("GET", "/fhir/Encounter/abc")).body, "get abc");
  EXPECT_EQ(router.handle(req("POST", "/fhir", "x")).status, 201);
}

TEST(Router, LiteralSegmentBeatsParameter) {
  Router router = sample();
  EXPECT_EQ(router.handle(req("GET", "/fhir/Encounter/_history")).body, "literal");
  auto m = router.match("GET", "/fhir/Encounter/_history");
  EXPECT_EQ(m.route, "/fhir/Encounter/_history");
  m = router.match("PUT", "/fhir/Encounter/_history");
  EXPECT_EQ(m.route, "/fhir/Encounter/{id}");
}

TEST(Router, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  Router router = sample();
  Response nf = router.handle(req("GET", "/nothing/here"));
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(router.handle(req("GET", "/fhir/Encounter/")).status, 404);  // empty parameter
  EXPECT_EQ(router.handle(req("GET", "/fhir/")).status, 404);            // trailing slash
  Response na = router.handle(req("DELETE", "/fhir/Encounter/abc"));
  EXPECT_EQ(na.status, 405);
  EXPECT_EQ(na.header("allow").value_or(""), "GET, PUT");
}

TEST(Router, ErrorBodiesComeFromTheLongestPrefixFormatter) {
  Router router = sample();
  router.set_error_formatter("", [](const ServerError& e) {
    return Response::with(e.status, "text/plain", "root " + std::string(e.code));
  });
  router.set_error_formatter("/fhir", [](const ServerError& e) {
    return Response::with(e.status, "application/fhir+json", "fhir " + std::string(e.code));
  });
  EXPECT_EQ(router.handle(req("GET", "/fhir/Patient")).body, "fhir not_found");
  EXPECT_EQ(router.handle(req("GET", "/fhir")).body, "fhir method_not_allowed");
  EXPECT_EQ(router.handle(req("GET", "/fhirx")).body, "root not_found");  // not under /fhir
  EXPECT_EQ(router.handle(req("GET", "/api")).body, "root not_found");
  EXPECT_EQ(router.error("/fhir/x", {413, "body_too_large", "too large"}).status, 413);
}

TEST(Router, WithoutFormatterErrorsArePlainText) {
  Router router;
  Response r = router.handle(req("GET", "/"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("content-type").value_or(""), "text/plain; charset=utf-8");
}

TEST(Router, HandlerThatThrowsGets500) {
  Router router;
  router.add("GET", "/boom", [](const Request&) -> Response { throw std::runtime_error("x"); });
  router.add_async("GET", "/boom-async", [](Request, Responder) { throw std::runtime_error("x"); });
  EXPECT_EQ(router.handle(req("GET", "/boom")).status, 500);
  EXPECT_EQ(router.handle(req("GET", "/boom-async")).status, 500);
}

TEST(Router, AsyncHandlerAnswersFromAnotherThread) {
  Router router;
  router.add_async("POST", "/later", [](Request r, Responder respond) {
    std::thread([r = std::move(r), respond] {
      respond(Response::with(202, "text/plain", "took " + r.body));
    }).detach();
  });
  Response r = router.handle(req("POST", "/later", "abc"));
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, "took abc");
}

TEST(Router, DroppedResponderIsAnswered500AndSecondAnswerIgnored) {
  Router router;
  router.add_async("GET", "/drop", [](Request, Responder) {});
  router.add_async("GET", "/twice", [](Request, Responder respond) {
    respond(Response::with(200, "text/plain", "first"));
    respond(Response::with(500, "text/plain", "second"));
  });
  EXPECT_EQ(router.handle(req("GET", "/drop")).status, 500);
  Response r = router.handle(req("GET", "/twice"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "first");
}

TEST(Router, RequestCarriesRouteAndParameters) {
  Router router;
  router.add("GET", "/a/{x}/b/{y}", [](const Request& r) {
    return Response::with(200, "text/plain",
                          r.route + " " + std::string(*r.param("x")) + std::string(*r.param("y")) +
                              " " + std::string(r.query_param("q").value_or("-")));
  });
  EXPECT_EQ(router.handle(req("GET", "/a/1/b/2?q=%C3%B6")).body, "/a/{x}/b/{y} 12 \xC3\xB6");
}

TEST(RouterDeathTest, DuplicateRouteIsABug) {
  Router router;
  router.add("GET", "/x", [](const Request&) { return Response{}; });
  EXPECT_DEATH(router.add("GET", "/x", [](const Request&) { return Response{}; }), "twice");
}

}  // namespace
}  // namespace samordna::http
