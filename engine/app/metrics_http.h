#pragma once

// Metrics over HTTP, for every samordna process with an HTTP side: the adapter from the shared
// server's observer hook (connectors/http/server.h) to the HTTP metrics, and run's own /metrics
// endpoint. Here in engine/app because connectors do not include each other: the HTTP server and
// the metrics registry stay independent, and this file is the one place that joins them.

#include <functional>
#include <memory>
#include <string>

#include "connectors/http/router.h"
#include "connectors/http/server.h"
#include "connectors/metrics/registry.h"
#include "engine/core/result.h"

namespace samordna::app {

// The observer to pass to http::Server::start: every response counted in
// samordna_http_requests_total{route,status} and timed in
// samordna_http_request_duration_seconds{route} (registered in `registry` by this call; call it
// once per registry). The registry must outlive the server.
http::Observer http_metrics_observer(metrics::Registry& registry);

// GET /metrics: the registry in the Prometheus text format. For a router that serves more (serve).
void add_metrics_route(http::Router& router, const metrics::Registry& registry);

// A server with /metrics alone (`samordna run --metrics-port`, the listeners'), its own requests
// counted too. `refresh` (optional) runs before each render: it copies counters the process keeps
// elsewhere into the registry. `observer`: pass the one another server of the process already
// counts with (http_metrics_observer registers its families once per registry); empty = a new one.
Result<std::unique_ptr<http::Server>> start_metrics_server(metrics::Registry& registry,
                                                           const std::string& address,
                                                           uint16_t port,
                                                           std::function<void()> refresh = {},
                                                           http::Observer observer = {});

}  // namespace samordna::app
