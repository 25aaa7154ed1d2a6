#pragma once

// A rule set's content digest: what pins an episode to the exact rules it started under
// (rules/README.md, "Rules pinned by content"). It is computed from the parsed set, not from the
// file's bytes, so comments, whitespace, quoting, key order and the title do not change it, and a
// change of any value the engine uses does.
//
// The canonical form (version 1) is UTF-8 text, one "key=value" line per rule, in this order:
//
//   samordna-rule-set/1
//   regions=01,03                      sorted, comma-separated; empty for every region
//   careType=PSYCHIATRIC               or * for every care type
//   validFrom=2018-01-01
//   validTo=2019-12-31                 or - when open-ended
//   admissionNoticeWindowSeconds=86400
//   sipInvitationDays=3
//   liability.graceDays=5
//   liability.counting=calendar        or working
//   liability.cutoffSeconds=43200      seconds after local midnight; 86400 = no cut-off
//   liability.dailyRateSek.2019=7800   one line per year, ascending
//   reminder.SIP_INVITATION=86400      one line per deadline kind, by name, seconds before dueAt
//
// The digest is "sha256:" and the SHA-256 of that text in lower-case hex: `samordna rules check
// --canonical DIR` prints the text, so `sha256sum` can confirm it. The id, the title and the file
// position are not in it: the id is what the digest is kept under, the rest is for people.
//
// A rule added to RuleSet later must get a line here, written only when its value differs from
// the one that reproduces today's behaviour: otherwise every episode in flight would find its rule
// set "changed" on the first start of the new version.

#include <cstddef>
#include <string>
#include <vector>

#include "rules/rule_set.h"

namespace samordna::rules {

std::string canonical_form(const RuleSet& set);

// "sha256:<64 hex digits>" of canonical_form(set).
std::string content_digest(const RuleSet& set);

// A rule set that episodes in flight (not settled, not cancelled) were started under: its id, its
// content digest then, and how many episodes.
struct RuleSetInUse {
  std::string id;
  std::string digest;
  size_t episodes = 0;
};

// Every in-use pair whose set the book no longer holds as it was, as an error a person can act on:
// an id whose set changed ("file:line: rule set ID changed since N episode(s) in flight started
// under it ..., give the new version a new id ...") or is gone. Empty when the book is safe to run
// with those episodes. Pairs with an empty digest (episodes started before digests were kept) are
// not checked.
std::vector<RuleError> check_in_use(const RuleBook& book, const std::vector<RuleSetInUse>& in_use);

}  // namespace samordna::rules
