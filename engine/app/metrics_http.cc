#include "engine/app/metrics_http.h"

#include <utility>

#include "connectors/metrics/http_metrics.h"

namespace samordna::app {

http::Observer http_metrics_observer(metrics::Registry& registry) {
  auto m = std::make_shared<metrics::HttpMetrics>(registry);
  return [m](const http::RequestRecord& r) {
    m->observe(r.route, r.status, std::chrono::duration<double>(r.latency));
  };
}

void add_metrics_route(http::Router& router, const metrics::Registry& registry) {
  router.add("GET", "/metrics", [&registry](const http::Request&) {
    return http::Response::with(200, std::string(metrics::kContentType), registry.render());
  });
}

Result<std::unique_ptr<http::Server>> start_metrics_server(metrics::Registry& registry,
                                                           const std::string& address,
                                                           uint16_t port,
                                                           std::function<void()> refresh,
                                                           http::Observer observer) {
  http::Router router;
  if (refresh) {
    router.add("GET", "/metrics", [&registry, refresh = std::move(refresh)](const http::Request&) {
      refresh();
      return http::Response::with(200, std::string(metrics::kContentType), registry.render());
    });
  } else {
    add_metrics_route(router, registry);
  }
  http::ServerOptions options;
  options.address = address;
  options.port = port;
  options.threads = 1;  // a scrape every few seconds
  return http::Server::start(std::move(options), std::move(router),
                             observer ? std::move(observer) : http_metrics_observer(registry));
}

}  // namespace samordna::app
