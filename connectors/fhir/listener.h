#pragma once

// The FHIR R4 routes of `samordna fhir listen` (base /fhir) on the shared HTTP server:
//   POST /fhir/Encounter, PUT /fhir/Encounter/{id}, POST /fhir (transaction or batch Bundle),
//   GET /fhir/metadata (the CapabilityStatement).
// Kafka-free: the app hands in the SnapshotStore (the intake). A 2xx goes out only once the new
// events and the new memory are durable; otherwise 503 with Retry-After and an OperationOutcome.

#include <chrono>
#include <functional>
#include <vector>

#include "connectors/fhir/mapping.h"
#include "connectors/fhir/sender_config.h"
#include "connectors/fhir/snapshot.h"
#include "connectors/http/router.h"
#include "samordna/v1/event.pb.h"

namespace samordna::fhir {

struct ListenerOptions {
  // Each request's settings: by its verified client certificate or its meta.source, else the
  // defaults (sender_config.h).
  SenderTable senders;
  int retry_after_seconds = 5;  // Retry-After of a 503
};

// The encounter memory's key of an episode: the sender's name, then the episode id, so two senders
// with the same episode ids keep apart ("fhir/" + this on the intake's memory topic).
std::string memory_key(const SenderConfig& sender, const std::string& episode_id);

// Registers the routes on `router` and the OperationOutcome error formatter for "/fhir".
// `store` must outlive the server.
void add_routes(http::Router& router, const ListenerOptions& options, SnapshotStore& store);

// An OperationOutcome response for an error the server made (400, 404, 408, 413 ...).
http::Response error_response(const http::ServerError& error);

}  // namespace samordna::fhir
