// samordna hl7 parse FILE [--config F] [--ack]: the integrator's dry run. Prints, as JSON lines,
// the events one HL7 v2 message would produce, or with --ack the acknowledgement it would get (one
// segment a line). A summary line goes to stderr. Exit 0 when the message would be accepted, 1
// when it would get AE/AR (connectors/hl7/README.md).

#include <fstream>
#include <iostream>
#include <iterator>

#include "connectors/hl7/adt_mapping.h"
#include "connectors/hl7/sender_config.h"
#include "engine/app/commands.h"
#include "engine/core/json_codec.h"

namespace samordna::app {
namespace {

struct ParseArgs {
  std::string file;
  std::string config;
  bool ack = false;
};

int run_parse(const ParseArgs& args) {
  hl7::SenderConfig config;
  if (!args.config.empty()) {
    auto loaded = hl7::load_sender_config(args.config);
    if (!loaded) {
      std::cerr << "samordna: " << loaded.error().message << '\n';
      return kExitUsage;
    }
    config = std::move(loaded).value();
  }
  std::ifstream in(args.file, std::ios::binary);
  if (!in) {
    std::cerr << "samordna: cannot read " << args.file << '\n';
    return kExitFailure;
  }
  // Read at most one byte past the bound: a huge file is refused, not loaded.
  std::string bytes;
  bytes.resize(config.parse.max_message_bytes + 1);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<std::size_t>(in.gcount()));

  auto processed = hl7::process(bytes, config);
  const auto& outcome = processed.mapped.outcome;
  if (args.ack) {
    // The dry run's ACK has a fixed time and control id so that two runs compare equal.
    std::string ack = hl7::build_ack(processed.original, outcome, "DRYRUN", from_unix(0));
    for (char& c : ack) {
      if (c == '\r') c = '\n';
    }
    std::cout << ack;
  } else {
    JsonCodec codec;
    for (const auto& e : processed.mapped.events) {
      std::string line;
      codec.print(e, line);
      std::cout << line << '\n';
    }
  }
  const char* code = outcome.code == hl7::AckCode::kAccept  ? "accept"
                     : outcome.code == hl7::AckCode::kError ? "error"
                                                            : "reject";
  std::cerr << "hl7 parse: " << code << ", " << processed.mapped.events.size() << " event(s)";
  if (outcome.error != hl7::ErrorCode::kNone) {
    std::cerr << ", " << static_cast<int>(outcome.error) << " " << hl7::error_text(outcome.error);
  }
  if (!outcome.text.empty()) std::cerr << ": " << outcome.text;
  std::cerr << '\n';
  return outcome.code == hl7::AckCode::kAccept ? kExitOk : kExitRejected;
}

}  // namespace

void add_hl7_commands(CLI::App& app, Commands& commands) {
  auto* hl7 = app.add_subcommand("hl7", "HL7 v2 feeds (connectors/hl7/README.md)");
  hl7->require_subcommand(1);
  auto args = std::make_shared<ParseArgs>();
  auto* parse = hl7->add_subcommand(
      "parse", "print the events an HL7 v2 message would produce, or the ACK it would get");
  parse->add_option("file", args->file, "one HL7 v2 message (ER7), without MLLP framing")
      ->required();
  parse->add_option("--config", args->config, "a sender's settings (YAML)");
  parse->add_flag("--ack", args->ack, "print the acknowledgement instead of the events");
  commands.emplace_back(parse, [args] { return run_parse(*args); });
}

}  // namespace samordna::app
