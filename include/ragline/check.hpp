#pragma once
// What KnowledgeBase::check() finds and what KnowledgeBase::repair() does (DESIGN.md,
// "Concurrency and durability").
//
// A finding is a broken invariant of the KB directory: kb.sqlite failing SQLite's own checks,
// the FTS5 keyword index disagreeing with the chunks, rows whose owner is gone, a vectors.faiss
// that contradicts kb.sqlite, settings out of range. Pending items are not damage: chunks that
// wait for their vectors because a model service failed are completed by the next ingest.

#include <cstdint>
#include <string>
#include <vector>

namespace ragline {

struct CheckFinding {
  std::string area;     // "sqlite", "keyword index", "vectors", "vector index", "orphans", "settings"
  std::string message;  // what is wrong, with counts and the first few ids
};

struct CheckReport {
  std::vector<CheckFinding> findings;  // damage: repair() rebuilds what is derived
  std::vector<CheckFinding> pending;   // work the next ingest (or repair()) completes
  bool ok() const { return findings.empty(); }
};

struct RepairReport {
  std::vector<std::string> actions;  // what was rebuilt or deleted, one line each
  CheckReport after;                 // check() once the repair is done
};

// KnowledgeBase::compact: the KB directory's size before and after.
struct CompactReport {
  std::uint64_t bytes_before = 0;
  std::uint64_t bytes_after = 0;
  std::vector<std::string> actions;  // what was rewritten, one line each
};

}  // namespace ragline
