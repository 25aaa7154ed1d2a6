#include "connectors/hl7/acknowledger.h"

#include <openssl/evp.h>

#include <cctype>
#include <cstdio>
#include <mutex>

namespace samordna::hl7 {
namespace {

constexpr std::string_view kValueTag = "hl7ack1 ";
constexpr std::string_view kEstimatePrefix = "hl7est/";
constexpr std::string_view kPatientPrefix = "hl7pat/";

std::string hex(const unsigned char* bytes, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 0xF];
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  return hex(md, len);
}

std::string base36(uint64_t v) {
  static const char* digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string out;
  do {
    out.insert(out.begin(), digits[v % 36]);
    v /= 36;
  } while (v > 0);
  return out;
}

// The patient data the listener remembers per episode, as a digest: the memory topic holds no
// name or address.
std::string patient_digest(std::string_view name, std::string_view address) {
  std::string both;
  both.reserve(name.size() + address.size() + 1);
  both.append(name).append(1, '\n').append(address);
  return sha256_hex(both);
}

Instant now() {
  return from_unix(std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count());
}

// The lines of a frame (CR, LF or CRLF ended), without empty ones.
std::vector<std::string_view> lines_of(std::string_view bytes) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= bytes.size(); ++i) {
    if (i == bytes.size() || bytes[i] == '\r' || bytes[i] == '\n') {
      if (i > start) out.push_back(bytes.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

// The segment name of a line (its first three bytes), after framing noise a sender may leave.
std::string_view segment_name(std::string_view line) {
  while (!line.empty() && (line.front() == '\x0b' || line.front() == '\x0c' ||
                           line.front() == ' ' || line.front() == '\0')) {
    line.remove_prefix(1);
  }
  return line.substr(0, 3);
}

// True for an FHS or BHS segment: the name, then a field separator (visible, not alphanumeric).
// Found by fuzz_hl7_session: "FHSMSH|..." took 'M' for the separator of the batch's answer.
bool batch_header(std::string_view line, std::string_view name) {
  if (segment_name(line) != name) return false;
  while (!line.empty() && line.substr(0, 3) != name) line.remove_prefix(1);
  if (line.size() < 4) return false;
  const auto sep = static_cast<unsigned char>(line[3]);
  return sep > 0x20 && sep < 0x7F && !std::isalnum(sep);
}

// Field n (HL7 numbering, n >= 3) of an FHS/BHS line, raw.
std::string header_field(std::string_view line, size_t n) {
  if (line.size() < 4) return {};
  const char sep = line[3];
  // After "XHS|", the text up to the next separator is field 2 (the encoding characters).
  size_t field = 2, start = 4;
  for (size_t i = 4; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == sep) {
      if (field == n) return std::string(line.substr(start, i - start));
      ++field;
      start = i + 1;
    }
  }
  return {};
}

std::string timestamp(Instant t) {
  const auto secs = to_unix(t);
  const std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d%02d%02d%02d%02d%02d+0000", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

Outcome error_outcome(AckCode code, ErrorCode error, std::string text) {
  Outcome o;
  o.code = code;
  o.error = error;
  o.text = std::move(text);
  return o;
}

}  // namespace

const SenderConfig& SenderTable::for_message(std::string_view bytes) const {
  if (senders.empty()) return defaults;
  auto first = bytes.substr(0, bytes.find_first_of("\r\n"));
  auto msh = parse(first, defaults.parse);
  if (!msh) return defaults;
  auto it = senders.find({msh.value().get("MSH", 3), msh.value().get("MSH", 4)});
  return it == senders.end() ? defaults : it->second;
}

Acknowledger::Acknowledger(DurableStore& store, SenderTable senders, AcknowledgerOptions options)
    : store_(store), senders_(std::move(senders)), options_(options) {
  id_prefix_ = "S" + base36(static_cast<uint64_t>(to_unix(now()))) + "-";
}

std::string Acknowledger::next_control_id() { return id_prefix_ + base36(next_id_++); }

std::string Acknowledger::memory_key(const Original& o) {
  std::string text = o.sending_application;
  text += '\x1f';
  text += o.sending_facility;
  text += '\x1f';
  text += o.control_id;
  return "hl7/" + sha256_hex(text).substr(0, 32);
}

std::string Acknowledger::content_digest(std::string_view bytes) {
  // The message as segments: a resend that only changes CR to CRLF, or adds a trailing newline,
  // is the same message.
  std::string normal;
  for (auto line : lines_of(bytes)) {
    normal += line;
    normal += '\r';
  }
  return sha256_hex(normal);
}

std::string Acknowledger::framing_reject(const std::string& why) const {
  return build_ack(unknown_original(),
                   error_outcome(AckCode::kReject, ErrorCode::kSegmentSequence, "MLLP: " + why),
                   id_prefix_ + "F", now());
}

void Acknowledger::handle(std::string bytes, Reply reply) {
  for (auto line : lines_of(bytes)) {
    if (batch_header(line, "FHS") || batch_header(line, "BHS")) {
      return handle_batch(std::move(bytes), std::move(reply));
    }
    break;
  }
  handle_one(std::move(bytes), std::move(reply));
}

void Acknowledger::handle_one(std::string bytes, Reply reply) {
  ++stats_.messages;
  const SenderConfig& config = senders_.for_message(bytes);
  PreviousEstimate previous;
  if (options_.remember_estimates) {
    previous = [this](std::string_view episode) -> std::optional<std::chrono::sys_seconds> {
      auto r = store_.recall(std::string(kEstimatePrefix) + std::string(episode));
      if (!r) return std::nullopt;
      try {
        return std::chrono::sys_seconds(std::chrono::seconds(std::stoll(r->first)));
      } catch (...) {
        return std::nullopt;
      }
    };
  }
  SamePatientData same_patient;
  if (options_.remember_patient_data) {
    same_patient = [this](std::string_view episode, std::string_view name,
                          std::string_view address) {
      auto r = store_.recall(std::string(kPatientPrefix) + std::string(episode));
      return r && r->first == patient_digest(name, address);
    };
  }
  Processed p = process(bytes, config, previous, same_patient);
  const Original& o = p.original;
  Outcome& outcome = p.mapped.outcome;

  auto answer = [this, o](const Outcome& out, std::string_view control_id) -> std::string {
    switch (out.code) {
      case AckCode::kAccept:
        ++stats_.accepted;
        break;
      case AckCode::kError:
        ++stats_.errors;
        break;
      case AckCode::kReject:
        ++stats_.rejected;
        break;
    }
    if (!ack_wanted(o, out.code)) return {};
    return build_ack(o, out, control_id, now());
  };

  const std::string digest = content_digest(bytes);
  const std::string key = o.control_id.empty() ? std::string() : memory_key(o);

  // Known already: the same message again, or the same key with other content.
  auto known = [this, o, digest, answer](const std::string& value, bool durable) -> std::string {
    const bool ours = value.compare(0, kValueTag.size(), kValueTag) == 0;
    const auto nl = value.find('\n');
    const std::string stored_digest = ours && nl != std::string::npos
                                          ? value.substr(kValueTag.size(), nl - kValueTag.size())
                                          : std::string();
    if (stored_digest != digest) {
      ++stats_.duplicates_205;
      return answer(error_outcome(AckCode::kReject, ErrorCode::kDuplicateKeyIdentifier,
                                  "MSH-10: control id already used by this sender for another "
                                  "message"),
                    next_control_id());
    }
    if (!durable) {
      ++stats_.not_confirmed;
      return answer(error_outcome(AckCode::kError, ErrorCode::kApplicationInternalError,
                                  "the same message is still being made durable; resend"),
                    next_control_id());
    }
    ++stats_.replayed;
    ++stats_.accepted;
    return ack_wanted(o, AckCode::kAccept) ? value.substr(nl + 1) : std::string();
  };

  if (!key.empty()) {
    if (auto r = store_.recall(key)) return reply(known(r->first, r->second));
  }
  if (outcome.code != AckCode::kAccept || key.empty()) {
    return reply(answer(outcome, next_control_id()));
  }

  // Taken: the ACK is made now and stored with the digest, so a resend gets it byte for byte.
  const std::string ack = build_ack(o, outcome, next_control_id(), now());
  std::vector<DurableStore::Record> more;
  for (const auto& e : p.mapped.events) {
    if (options_.remember_estimates && e.has_estimated_discharge_changed()) {
      more.push_back(
          {std::string(kEstimatePrefix) + e.episode_id(),
           std::to_string(e.estimated_discharge_changed().estimated_discharge_at().seconds())});
    }
    if (options_.remember_patient_data && (e.has_admitted() || e.has_patient_data_updated())) {
      const auto& name =
          e.has_admitted() ? e.admitted().patient().name() : e.patient_data_updated().name();
      const auto& address =
          e.has_admitted() ? e.admitted().patient().address() : e.patient_data_updated().address();
      more.push_back({std::string(kPatientPrefix) + e.episode_id(), patient_digest(name, address)});
    }
  }
  const size_t n_events = p.mapped.events.size();
  store_.submit(
      std::move(p.mapped.events), {key, std::string(kValueTag) + digest + "\n" + ack},
      std::move(more), DurableStore::Clock::now() + options_.durable_bound,
      [this, o, ack, n_events, answer, known, reply = std::move(reply)](DurableStore::Answer a) {
        switch (a.status) {
          case DurableStore::Status::kDurable:
            ++stats_.accepted;
            stats_.events += n_events;
            return reply(ack_wanted(o, AckCode::kAccept) ? ack : std::string());
          case DurableStore::Status::kKnown:
            return reply(known(a.current, a.current_durable));
          case DurableStore::Status::kNotConfirmed:
            ++stats_.not_confirmed;
            return reply(answer(error_outcome(AckCode::kError, ErrorCode::kApplicationInternalError,
                                              "events not confirmed durable in time; resend"),
                                next_control_id()));
        }
      });
}

void Acknowledger::handle_batch(std::string bytes, Reply reply) {
  // Split the envelope from the messages: each MSH starts one, FHS/BHS/BTS/FTS are the envelope.
  std::string fhs, bhs;
  std::vector<std::string> messages;
  for (auto line : lines_of(bytes)) {
    const auto name = segment_name(line);
    if (batch_header(line, "FHS")) {
      fhs = std::string(line.substr(line.find("FHS")));
    } else if (batch_header(line, "BHS")) {
      bhs = std::string(line.substr(line.find("BHS")));
    } else if (name == "BTS" || name == "FTS") {
      continue;
    } else if (name == "MSH" || messages.empty()) {
      messages.emplace_back(line);
      messages.back() += '\r';
    } else {
      messages.back() += line;
      messages.back() += '\r';
    }
  }
  struct Gather {
    std::mutex mutex;
    std::vector<std::string> acks;
    size_t left = 0;
    std::string fhs, bhs;
    Reply reply;
    std::string own_id;
  };
  auto g = std::make_shared<Gather>();
  g->acks.resize(messages.size());
  g->left = messages.size();
  g->fhs = fhs;
  g->bhs = bhs;
  g->reply = std::move(reply);
  g->own_id = next_control_id();
  auto finish = [](Gather& gather) {
    const std::string ts = timestamp(now());
    auto header = [&](std::string_view name, const std::string& line) {
      // Sender and receiver swapped, own control id (field 11), the batch's as reference (12).
      const char sep = line.size() > 3 ? line[3] : '|';
      std::string out(name);
      out += sep;
      out += header_field(line, 2).empty() ? std::string("^~\\&") : header_field(line, 2);
      const int order[] = {5, 6, 3, 4};
      for (int f : order) {
        out += sep;
        out += header_field(line, static_cast<size_t>(f));
      }
      out += sep + ts + sep + sep + sep + sep + gather.own_id + sep + header_field(line, 11) + '\r';
      return out;
    };
    std::string out;
    if (!gather.fhs.empty()) out += header("FHS", gather.fhs);
    if (!gather.bhs.empty() || gather.fhs.empty()) out += header("BHS", gather.bhs);
    size_t n = 0;
    for (const auto& a : gather.acks) {
      if (a.empty()) continue;
      out += a;
      ++n;
    }
    out += "BTS|" + std::to_string(n) + '\r';
    if (!gather.fhs.empty()) out += "FTS|1\r";
    gather.reply(std::move(out));
  };
  if (messages.empty()) return finish(*g);
  for (size_t i = 0; i < messages.size(); ++i) {
    handle_one(std::move(messages[i]), [g, i, finish](std::string ack) {
      bool last = false;
      {
        std::lock_guard lock(g->mutex);
        g->acks[i] = std::move(ack);
        last = --g->left == 0;
      }
      if (last) finish(*g);
    });
  }
}

}  // namespace samordna::hl7
