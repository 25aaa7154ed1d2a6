// The /metrics endpoint and the HTTP metrics adapter (engine/app/metrics_http.h) on the loopback:
// a scrape returns the registry in the text format with its content type, and the scrapes
// themselves are counted by route and status.

#include "engine/app/metrics_http.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace samordna::app {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

bhttp::response<bhttp::string_body> get(uint16_t port, const char* target) {
  asio::io_context ioc;
  asio::ip::tcp::socket s(ioc);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  bhttp::request<bhttp::string_body> req{bhttp::verb::get, target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  bhttp::write(s, req);
  boost::beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(s, buf, res);
  return res;
}

TEST(MetricsHttpEndpoint, ServesTheRegistryAndCountsItsOwnRequests) {
  metrics::Registry registry;
  registry.counter("samordna_things_total", "Things.").labels({}).inc(7);
  auto server = start_metrics_server(registry, "127.0.0.1", 0);
  ASSERT_TRUE(server) << server.error().message;
  const uint16_t port = server.value()->port();

  auto res = get(port, "/metrics");
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(std::string(res[bhttp::field::content_type]), metrics::kContentType);
  EXPECT_NE(res.body().find("samordna_things_total 7\n"), std::string::npos) << res.body();

  EXPECT_EQ(get(port, "/nope").result_int(), 404u);
  // The observer runs once a response is written, which may be just after the client read it:
  // scrape until the earlier requests show (a bounded number of times).
  const std::string ok_line = "samordna_http_requests_total{route=\"/metrics\",status=\"200\"} ";
  const std::string not_found =
      "samordna_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n";
  std::string body;
  for (int i = 0; i < 100; ++i) {
    body = get(port, "/metrics").body();
    if (body.find(not_found) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(body.find(not_found), std::string::npos) << body;
  EXPECT_NE(body.find(ok_line), std::string::npos) << body;
  EXPECT_NE(body.find("samordna_http_request_duration_seconds_count{route=\"/metrics\"} "),
            std::string::npos);
}

TEST(MetricsHttpEndpoint, APortInUseIsAnError) {
  metrics::Registry registry;
  auto first = start_metrics_server(registry, "127.0.0.1", 0);
  ASSERT_TRUE(first);
  metrics::Registry other;
  auto second = start_metrics_server(other, "127.0.0.1", first.value()->port());
  EXPECT_FALSE(second);
}

}  // namespace
}  // namespace samordna::app
