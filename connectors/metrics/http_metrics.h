#pragma once

// HTTP request metrics for every samordna process that serves HTTP (serve, the listeners, run's
// /metrics): requests by route and status, and latency by route. The HTTP server reports each
// request to an observer hook; engine/app binds that hook to observe() in one call, so this module
// needs no HTTP types (connectors do not include each other).
//
// `route` is the route's pattern as the server matched it ("/api/v1/notifications/{id}"), never the
// request's path: a path may carry ids, and every path would be a series of its own. Requests that
// matched no route are counted under "unmatched".
//
// Thread-safe: observe() may be called from any of the server's threads.

#include <chrono>
#include <string_view>

#include "connectors/metrics/registry.h"

namespace samordna::metrics {

class HttpMetrics {
 public:
  // Registers samordna_http_requests_total{route,status} and
  // samordna_http_request_duration_seconds{route} (latency_buckets()).
  explicit HttpMetrics(Registry& registry);

  void observe(std::string_view route, int status, std::chrono::duration<double> latency);

 private:
  Family<Counter>& requests_;
  Family<Histogram>& duration_;
};

}  // namespace samordna::metrics
