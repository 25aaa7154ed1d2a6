#include "connectors/metrics/http_metrics.h"

#include <string>

namespace samordna::metrics {

namespace {
// Routes are the server's patterns and statuses three digits: a few dozen series. The bound only
// guards against a server that reports raw paths by mistake.
constexpr size_t kMaxHttpSeries = 500;
}  // namespace

HttpMetrics::HttpMetrics(Registry& registry)
    : requests_(registry.counter("samordna_http_requests_total",
                                 "HTTP requests answered, by route pattern and status code.",
                                 {"route", "status"}, kMaxHttpSeries)),
      duration_(registry.histogram("samordna_http_request_duration_seconds",
                                   "Time from a request's arrival to its response, by route "
                                   "pattern.",
                                   latency_buckets(), {"route"}, kMaxHttpSeries)) {}

void HttpMetrics::observe(std::string_view route, int status,
                          std::chrono::duration<double> latency) {
  if (route.empty()) route = "unmatched";
  requests_.labels({route, std::to_string(status)}).inc();
  duration_.labels({route}).observe(latency.count());
}

}  // namespace samordna::metrics
