// The server over loopback, with Beast's own client (and raw sockets for what a well-behaved client
// never sends): keep-alive, async handlers, limits, timeouts, malformed requests, TLS and mTLS with
// a throw-away CA (make_test_ca.sh), graceful stop, the metrics observer.
#include "connectors/http/server.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

namespace samordna::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using namespace std::chrono_literals;

// Every read in these tests gives up after 10 s, so a server bug fails a test instead of hanging
// it.
void bound_reads(tcp::socket& s) {
  timeval tv{10, 0};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

tcp::socket connect(asio::io_context& ioc, uint16_t port) {
  tcp::socket s(ioc);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  bound_reads(s);
  return s;
}

template <class Stream>
bhttp::response<bhttp::string_body> roundtrip(Stream& s, beast::flat_buffer& buf, bhttp::verb verb,
                                              std::string target, std::string body = "",
                                              bool keep_alive = true) {
  bhttp::request<bhttp::string_body> req{verb, target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  req.keep_alive(keep_alive);
  if (!body.empty() || verb == bhttp::verb::post || verb == bhttp::verb::put) {
    req.body() = std::move(body);
    req.prepare_payload();
  }
  bhttp::write(s, req);
  bhttp::response<bhttp::string_body> res;
  bhttp::read(s, buf, res);
  return res;
}

// Reads whatever the server sends until it closes (or the 10 s bound).
std::string read_until_close(tcp::socket& s) {
  std::string out;
  std::array<char, 4096> chunk;
  boost::system::error_code ec;
  while (true) {
    size_t n = s.read_some(asio::buffer(chunk), ec);
    out.append(chunk.data(), n);
    if (ec) break;
  }
  return out;
}

Router test_router() {
  Router router;
  router.add("GET", "/hello", [](const Request& r) {
    return Response::with(
        200, "text/plain",
        "hello " + std::string(r.query_param("name").value_or("?")) + " from " + r.peer_address);
  });
  router.add(
      "POST", "/echo/{id}",
      [](const Request& r) {
        return Response::with(201, "text/plain",
                              std::string(*r.param("id")) + ":" + r.body + ":" +
                                  std::string(r.header("X-Test").value_or("")));
      },
      RouteOptions{.max_body_bytes = 64});
  router.add_async("POST", "/slow", [](Request r, Responder respond) {
    std::thread([r = std::move(r), respond] {
      std::this_thread::sleep_for(50ms);
      respond(Response::with(202, "text/plain", "durable " + r.body));
    }).detach();
  });
  router.add("GET", "/whoami", [](const Request& r) {
    return Response::with(200, "text/plain",
                          std::string(r.tls ? "tls " : "plain ") +
                              r.tls_peer_subject.value_or("(no client certificate)"));
  });
  router.set_error_formatter("", [](const ServerError& e) {
    return Response::with(e.status, "application/problem+json",
                          "{\"code\":\"" + std::string(e.code) + "\"}");
  });
  return router;
}

std::unique_ptr<Server> start(ServerOptions o = {}, Observer observer = {}) {
  auto s = Server::start(std::move(o), test_router(), std::move(observer));
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
  return std::move(s).value();
}

TEST(Server, KeepAliveServesSeveralRequestsOnOneConnection) {
  auto server = start();
  asio::io_context ioc;
  auto s = connect(ioc, server->port());
  beast::flat_buffer buf;
  auto a = roundtrip(s, buf, bhttp::verb::get, "/hello?name=%C3%85sa");
  EXPECT_EQ(a.result_int(), 200);
  EXPECT_EQ(a.body(), "hello \xC3\x85sa from 127.0.0.1");
  EXPECT_TRUE(a.keep_alive());
  auto b = roundtrip(s, buf, bhttp::verb::post, "/echo/7", "body");
  EXPECT_EQ(b.result_int(), 201);
  EXPECT_EQ(b.body(), "7:body:");
  auto c = roundtrip(s, buf, bhttp::verb::post, "/slow", "x");
  EXPECT_EQ(c.result_int(), 202);
  EXPECT_EQ(c.body(), "durable x");
  EXPECT_EQ(server->open_connections(), 1u);
}

TEST(Server, NotFoundAndMethodNotAllowedUseTheFormatter) {
  auto server = start();
  asio::io_context ioc;
  auto s = connect(ioc, server->port());
  beast::flat_buffer buf;
  auto a = roundtrip(s, buf, bhttp::verb::get, "/nope");
  EXPECT_EQ(a.result_int(), 404);
  EXPECT_EQ(a.body(), "{\"code\":\"not_found\"}");
  EXPECT_EQ(a[bhttp::field::content_type], "application/problem+json");
  auto b = roundtrip(s, buf, bhttp::verb::delete_, "/hello");
  EXPECT_EQ(b.result_int(), 405);
  EXPECT_EQ(b[bhttp::field::allow], "GET");
  EXPECT_TRUE(b.keep_alive());  // no body was left unread
  // With a body no route will read, the answer closes the connection.
  auto c = roundtrip(s, buf, bhttp::verb::post, "/nope", "abc");
  EXPECT_EQ(c.result_int(), 404);
  EXPECT_FALSE(c.keep_alive());
}

TEST(Server, BodyOverTheRouteLimitIs413) {
  auto server = start();
  asio::io_context ioc;
  {
    auto s = connect(ioc, server->port());
    beast::flat_buffer buf;
    auto r = roundtrip(s, buf, bhttp::verb::post, "/echo/1", std::string(65, 'x'));
    EXPECT_EQ(r.result_int(), 413);
    EXPECT_EQ(r.body(), "{\"code\":\"body_too_large\"}");
    EXPECT_FALSE(r.keep_alive());
  }
  {  // chunked: no length up front, cut off once past the limit
    auto s = connect(ioc, server->port());
    std::string chunked =
        "POST /echo/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "28\r\n" +
        std::string(40, 'a') + "\r\n28\r\n" + std::string(40, 'b') + "\r\n0\r\n\r\n";
    asio::write(s, asio::buffer(chunked));
    std::string got = read_until_close(s);
    EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got;
  }
  {  // exactly the limit is fine
    auto s = connect(ioc, server->port());
    beast::flat_buffer buf;
    EXPECT_EQ(roundtrip(s, buf, bhttp::verb::post, "/echo/1", std::string(64, 'x')).result_int(),
              201);
  }
}

TEST(Server, HeaderOverTheLimitIs431) {
  ServerOptions o;
  o.max_header_bytes = 1024;
  auto server = start(o);
  asio::io_context ioc;
  auto s = connect(ioc, server->port());
  std::string req =
      "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n";
  asio::write(s, asio::buffer(req));
  std::string got = read_until_close(s);
  EXPECT_EQ(got.rfind("HTTP/1.1 431", 0), 0u) << got.substr(0, 80);
  EXPECT_NE(got.find("header_too_large"), std::string::npos);
}

TEST(Server, MalformedRequestsAre400AndNoneCrashes) {
  auto server = start();
  asio::io_context ioc;
  const std::vector<std::string> bad = {
      "GARBAGE\r\n\r\n",
      "GET /hello HTTP/9.9\r\n\r\n",
      "GET http://other.example/hello HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /a%2Fb HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
      "GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "POST /echo/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "GET /hello HTTP/1.1\r\nBad Header\r\n\r\n",
      std::string("GET /he\0llo HTTP/1.1\r\n\r\n", 24),
  };
  for (const auto& raw : bad) {
    auto s = connect(ioc, server->port());
    asio::write(s, asio::buffer(raw));
    std::string got = read_until_close(s);
    EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << "for " << raw << " got " << got;
  }
  // Still serving.
  auto s = connect(ioc, server->port());
  beast::flat_buffer buf;
  EXPECT_EQ(roundtrip(s, buf, bhttp::verb::get, "/hello").result_int(), 200);
}

TEST(Server, SlowlorisIsCutOffByTheHeaderTimeout) {
  ServerOptions o;
  o.header_timeout = 300ms;
  auto server = start(o);
  asio::io_context ioc;
  auto s = connect(ioc, server->port());
  std::string req = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  // A byte every 20 ms never completes the header; the server must answer 408 and close well
  // before this loop (up to 20 s) runs out.
  boost::system::error_code ec;
  asio::write(s, asio::buffer(req), ec);
  for (int i = 0; i < 1000 && !ec; ++i) {
    std::this_thread::sleep_for(20ms);
    asio::write(s, asio::buffer("a", 1), ec);
  }
  std::string got = read_until_close(s);
  EXPECT_EQ(got.rfind("HTTP/1.1 408", 0), 0u) << got;
}

TEST(Server, SlowBodyIsCutOffByTheBodyTimeout) {
  ServerOptions o;
  o.body_timeout = 300ms;
  auto server = start(o);
  asio::io_context ioc;
  auto s = connect(ioc, server->port());
  std::string req = "POST /echo/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc";
  asio::write(s, asio::buffer(req));
  std::string got = read_until_close(s);
  EXPECT_EQ(got.rfind("HTTP/1.1 408", 0), 0u) << got;
}

TEST(Server, IdleKeepAliveConnectionIsClosed) {
  ServerOptions o;
  o.idle_timeout = 200ms;
  auto server = start(o);
  asio::io_context ioc;
  auto s = connect(ioc, server->port());
  beast::flat_buffer buf;
  EXPECT_EQ(roundtrip(s, buf, bhttp::verb::get, "/hello").result_int(), 200);
  std::string after = read_until_close(s);  // returns on the server's close, not the 10 s bound
  EXPECT_EQ(after, "");
}

TEST(Server, ConnectionsOverTheLimitAreClosed) {
  ServerOptions o;
  o.max_connections = 2;
  auto server = start(o);
  asio::io_context ioc;
  auto a = connect(ioc, server->port());
  auto b = connect(ioc, server->port());
  beast::flat_buffer ba, bb;
  EXPECT_EQ(roundtrip(a, ba, bhttp::verb::get, "/hello").result_int(), 200);
  EXPECT_EQ(roundtrip(b, bb, bhttp::verb::get, "/hello").result_int(), 200);
  auto c = connect(ioc, server->port());
  asio::write(c, asio::buffer(std::string("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")));
  EXPECT_EQ(read_until_close(c), "");
  a.close();
  // Once one closes, a new connection is served again (the count drops when the server sees it).
  bool served = false;
  for (int i = 0; i < 200 && !served; ++i) {
    auto d = connect(ioc, server->port());
    beast::flat_buffer bd;
    boost::system::error_code ec;
    bhttp::request<bhttp::string_body> req{bhttp::verb::get, "/hello", 11};
    bhttp::write(d, req, ec);
    bhttp::response<bhttp::string_body> res;
    if (!ec) bhttp::read(d, bd, res, ec);
    served = !ec && res.result_int() == 200;
    if (!served) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(served);
}

TEST(Server, ExpectContinueIsAnswered) {
  auto server = start();
  asio::io_context ioc;
  auto s = connect(ioc, server->port());
  asio::write(
      s, asio::buffer(std::string("POST /echo/5 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                                  "Content-Length: 3\r\nConnection: close\r\n\r\n")));
  std::array<char, 64> first{};
  size_t n = s.read_some(asio::buffer(first));
  EXPECT_EQ(std::string(first.data(), n).rfind("HTTP/1.1 100 Continue", 0), 0u);
  asio::write(s, asio::buffer(std::string("abc")));
  std::string got = read_until_close(s);
  EXPECT_NE(got.find("5:abc:"), std::string::npos) << got;
}

TEST(Server, ObserverSeesRouteTemplatesNeverPaths) {
  std::mutex mu;
  std::vector<std::string> seen;
  auto server = start({}, [&](const RequestRecord& r) {
    std::lock_guard lock(mu);
    seen.push_back(std::string(r.method) + " " + std::string(r.route) + " " +
                   std::to_string(r.status));
  });
  asio::io_context ioc;
  auto s = connect(ioc, server->port());
  beast::flat_buffer buf;
  roundtrip(s, buf, bhttp::verb::post, "/echo/199001011234", "x");
  roundtrip(s, buf, bhttp::verb::get, "/hello?pnr=199001011234");
  roundtrip(s, buf, bhttp::verb::get, "/nope/199001011234", "", false);
  server->stop();
  server->wait();
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], "POST /echo/{id} 201");
  EXPECT_EQ(seen[1], "GET /hello 200");
  EXPECT_EQ(seen[2], "GET  404");
}

TEST(Server, StopLetsTheRequestInFlightAnswerThenEnds) {
  auto server = start();
  asio::io_context ioc;
  auto s = connect(ioc, server->port());
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/slow", 11};
  req.body() = "last";
  req.prepare_payload();
  bhttp::write(s, req);
  std::this_thread::sleep_for(10ms);  // let it reach the handler (not required for the result)
  server->stop();
  bhttp::response<bhttp::string_body> res;
  beast::flat_buffer buf;
  bhttp::read(s, buf, res);
  EXPECT_EQ(res.result_int(), 202);
  EXPECT_FALSE(res.keep_alive());
  server->wait();
  // No longer accepting.
  tcp::socket t(ioc);
  boost::system::error_code ec;
  t.connect({asio::ip::make_address("127.0.0.1"), server->port()}, ec);
  EXPECT_TRUE(ec);
}

TEST(Server, PortInUseIsAnError) {
  auto a = start();
  ServerOptions o;
  o.port = a->port();
  auto b = Server::start(o, Router{});
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code, Errc::kIo);
}

// ---- TLS ----

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (std::filesystem::temp_directory_path() /
            ("samordna-http-tls-" + std::to_string(::getpid())))
               .string();
    std::string cmd =
        "bash " SAMORDNA_SOURCE_DIR "/tests/unit/http/make_test_ca.sh " + dir_ + " >/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }
  static std::string f(const char* name) { return dir_ + "/" + name; }

  std::unique_ptr<Server> tls_server(std::string client_ca = "", bool require = false) {
    ServerOptions o;
    o.tls = TlsOptions{f("server.pem"), f("server.key"), std::move(client_ca), require};
    return start(o);
  }

  // GET /whoami over TLS; "" on a failed handshake.
  std::string whoami(uint16_t port, const char* cert = nullptr, const char* key = nullptr) {
    ssl::context ctx(ssl::context::tls_client);
    ctx.load_verify_file(f("ca.pem"));
    ctx.set_verify_mode(ssl::verify_peer);
    if (cert != nullptr) {
      ctx.use_certificate_file(f(cert), ssl::context::pem);
      ctx.use_private_key_file(f(key), ssl::context::pem);
    }
    asio::io_context ioc;
    ssl::stream<tcp::socket> s(ioc, ctx);
    s.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    bound_reads(s.next_layer());
    boost::system::error_code ec;
    s.handshake(ssl::stream_base::client, ec);
    if (ec) return "";
    beast::flat_buffer buf;
    bhttp::request<bhttp::string_body> req{bhttp::verb::get, "/whoami", 11};
    bhttp::write(s, req, ec);
    bhttp::response<bhttp::string_body> res;
    if (!ec) bhttp::read(s, buf, res, ec);  // TLS 1.3: a refused client cert shows up here
    if (ec) return "";
    return res.body();
  }

  static std::string dir_;
};
std::string TlsTest::dir_;

TEST_F(TlsTest, ServesOverTls) {
  auto server = tls_server();
  EXPECT_EQ(whoami(server->port()), "tls (no client certificate)");
}

TEST_F(TlsTest, VerifiedClientCertificateSubjectReachesTheHandler) {
  auto server = tls_server(f("ca.pem"));
  EXPECT_EQ(whoami(server->port(), "client.pem", "client.key"), "tls CN=ward-7,O=Test Region");
  // Optional client certificates: without one the request is served, with no subject.
  EXPECT_EQ(whoami(server->port()), "tls (no client certificate)");
  // A certificate from another CA is refused.
  EXPECT_EQ(whoami(server->port(), "rogue.pem", "rogue.key"), "");
}

TEST_F(TlsTest, RequiredClientCertificate) {
  auto server = tls_server(f("ca.pem"), true);
  EXPECT_EQ(whoami(server->port()), "");
  EXPECT_EQ(whoami(server->port(), "client.pem", "client.key"), "tls CN=ward-7,O=Test Region");
}

TEST_F(TlsTest, PlainHttpToTheTlsPortGetsNoAnswer) {
  auto server = tls_server();
  asio::io_context ioc;
  auto s = connect(ioc, server->port());
  asio::write(s, asio::buffer(std::string("GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n")));
  std::string got = read_until_close(s);
  EXPECT_EQ(got.find("HTTP/1.1 200"), std::string::npos);
}

TEST_F(TlsTest, MissingOrMismatchedFilesAreNamedErrors) {
  ServerOptions o;
  o.tls = TlsOptions{f("nope.pem"), f("server.key"), "", false};
  auto a = Server::start(o, Router{});
  ASSERT_FALSE(a.has_value());
  EXPECT_NE(a.error().message.find("nope.pem"), std::string::npos);
  o.tls = TlsOptions{f("server.pem"), f("client.key"), "", false};
  auto b = Server::start(o, Router{});
  ASSERT_FALSE(b.has_value());
  EXPECT_NE(b.error().message.find("client.key"), std::string::npos);  // a key of another cert
}

}  // namespace
}  // namespace samordna::http
