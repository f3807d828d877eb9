#pragma once
// Consistency check and repair of a KB directory: kb.sqlite against SQLite's own checks, the
// FTS5 keyword index against the chunks, rows against their owners, and vectors.faiss against
// the vectors in kb.sqlite (include/ragline/check.hpp says what a finding is).

#include <filesystem>
#include <string>
#include <vector>

#include "index/store.hpp"
#include "ragline/check.hpp"

namespace ragline::index {

// Never writes. The FTS5 integrity-check runs first in its own statement (SQLite treats it as a
// write, so it waits for a running ingest like any writer); everything else reads one snapshot.
CheckReport check_kb(Store& store, const std::filesystem::path& vector_file);

// Repairs kb.sqlite in one write transaction: rebuilds SQLite's indexes when integrity_check
// complains, deletes rows whose owner is gone and vectors that cannot be used (the next ingest
// embeds those chunks again), marks documents that lost chunks for re-ingest, rebuilds the
// keyword index from the searchable chunks and bumps the generation. vectors.faiss is left to
// the caller (SyncedVectorIndex::rebuild). Returns one line per action taken.
std::vector<std::string> repair_store(Store& store);

}  // namespace ragline::index
