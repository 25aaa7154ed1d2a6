#pragma once

// The start-up check that pins episodes to their rule set by content (rules/README.md, "Rules
// pinned by content"): a rule book may be used with a state dir only if every rule set that
// episodes in flight were started under is still there, unchanged. `samordna rules check DIR
// --state-dir D` runs it; `simulate` and `run` call it at start and after a restore. Here because
// it joins the store (which episodes are in flight) and the rules (what the sets are now), and the
// layering lets only the pipeline see both.

#include "engine/core/result.h"
#include "engine/store/db.h"
#include "rules/rule_set.h"

namespace samordna::pipeline {

// ok when the book is safe to run with the episodes in `db`; else kConflict, its message one line
// per problem ("file:line: rule set ID has changed since N episode(s) in flight started under
// it ...: give the new version a new id ..."). Episodes started before digests were kept are not
// checked. kCorruption / kIo when the episodes cannot be read.
Result<void> check_rules_in_use(const store::Db& db, const rules::RuleBook& book);

}  // namespace samordna::pipeline
