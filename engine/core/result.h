#pragma once

// Errors are values at module boundaries (docs/errors.md). Expected failures (bad input, I/O,
// broken rule files) come back as Result<T>; broken invariants abort through SAMORDNA_CHECK.

#include <boost/outcome.hpp>

#include <string>
#include <utility>

namespace samordna {

enum class Errc {
  kInvalidArgument,  // the caller's input is malformed
  kNotFound,
  kConflict,     // the input contradicts what is stored
  kRejected,     // well-formed input the domain refuses (out of order, closed episode)
  kIo,           // file system, RocksDB, network
  kCorruption,   // stored data cannot be read back
  kUnavailable,  // a dependency (broker) is down; retry later
};

const char* errc_name(Errc code);

// A failure with a reason a person can act on. Never holds personal data: messages name fields and
// episode ids, not values.
struct Error {
  Errc code = Errc::kInvalidArgument;
  std::string message;
};

template <class T>
using Result = boost::outcome_v2::result<T, Error, boost::outcome_v2::policy::terminate>;

inline auto fail(Errc code, std::string message) {
  return boost::outcome_v2::failure(Error{code, std::move(message)});
}

inline Result<void> ok() { return boost::outcome_v2::success(); }

}  // namespace samordna

// SAMORDNA_TRY(name, expr) declares `name` from a successful Result or returns its error;
// SAMORDNA_TRYV(expr) does the same for Result<void>.
#define SAMORDNA_TRY BOOST_OUTCOME_TRY
#define SAMORDNA_TRYV BOOST_OUTCOME_TRYV
