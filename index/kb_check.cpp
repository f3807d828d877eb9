#include "index/kb_check.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/check.hpp"
#include "index/vector_index.hpp"

namespace ragline::index {
namespace {

// "3 (e.g. 4, 9, 12)": the count and enough ids to look one up.
std::string count_and_sample(const std::vector<std::int64_t>& ids) {
  std::string text = std::to_string(ids.size()) + " (e.g. ";
  for (std::size_t i = 0; i < ids.size() && i < 5; ++i) text += (i ? ", " : "") + std::to_string(ids[i]);
  return text + ")";
}

std::vector<std::int64_t> ids_from(Database& database, std::string_view sql) {
  auto statement = database.prepare(sql);
  std::vector<std::int64_t> ids;
  while (statement.step()) ids.push_back(statement.column_int64(0));
  return ids;
}

std::vector<std::string> integrity_problems(Database& database) {
  auto statement = database.prepare("PRAGMA integrity_check(20)");
  std::vector<std::string> problems;
  while (statement.step()) {
    if (statement.column_text(0) != "ok") problems.push_back(statement.column_string(0));
  }
  return problems;
}

bool is_integer(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string setting_text(Database& database, const char* key) {
  auto statement = database.prepare("SELECT value FROM settings WHERE key = ?1");
  statement.bind(1, key);
  return statement.step() ? statement.column_string(0) : std::string();
}

// Orphans that foreign_key_check cannot see, each with the repair that removes them.
struct OrphanQuery {
  const char* area;
  const char* what;
  const char* select_ids;
};
constexpr OrphanQuery kKeywordOrphans[] = {
    {"keyword index", "searchable chunks are missing from the keyword index",
     "SELECT c.id FROM chunks c WHERE c.searchable = 1 AND NOT EXISTS "
     "(SELECT 1 FROM chunk_keywords_docsize k WHERE k.id = c.id) ORDER BY c.id"},
    {"keyword index", "keyword index rows have no searchable chunk",
     "SELECT k.id FROM chunk_keywords_docsize k WHERE NOT EXISTS "
     "(SELECT 1 FROM chunks c WHERE c.id = k.id AND c.searchable = 1) ORDER BY k.id"},
};

class Checker {
 public:
  Checker(Store& store, std::filesystem::path vector_file)
      : store_(store), database_(store.database()), vector_file_(std::move(vector_file)) {}

  CheckReport run() {
    check_keyword_structure();
    ReadTransaction snapshot(database_);
    check_sqlite();
    check_settings();
    for (const auto& query : kKeywordOrphans) expect_none(query.area, query.select_ids, query.what);
    check_vectors();
    check_vector_file();
    return std::move(report_);
  }

 private:
  void finding(std::string area, std::string message) { report_.findings.push_back({std::move(area), message}); }

  void expect_none(const char* area, std::string_view sql, const std::string& what) {
    const auto ids = ids_from(database_, sql);
    if (!ids.empty()) finding(area, count_and_sample(ids) + " " + what);
  }

  void check_keyword_structure() {
    // With rank 1 FTS5 also compares the index with its content, the chunk_keyword_source view;
    // the view lists non-searchable chunks (hierarchical parents) too, which are never indexed,
    // so that comparison only holds for KBs without them. The docsize comparison covers the rest.
    if (database_.read_only()) {
      // FTS5 runs its integrity-check as an INSERT, which a read-only connection refuses.
      report_.pending.push_back({"keyword index",
                                 "FTS5 integrity-check skipped: the KB is read-only here and FTS5 runs it as a write "
                                 "(the keyword index rows were still compared with the chunks)"});
      return;
    }
    const bool all_searchable = database_.query_int64("SELECT count(*) FROM chunks WHERE searchable = 0") == 0;
    try {
      database_.exec(all_searchable ? "INSERT INTO chunk_keywords(chunk_keywords, rank) VALUES('integrity-check', 1)"
                                    : "INSERT INTO chunk_keywords(chunk_keywords) VALUES('integrity-check')");
    } catch (const Error& error) {
      if (error.kind() == ErrorKind::busy) throw;
      finding("keyword index", std::string("FTS5 integrity-check failed: ") + error.what());
    }
  }

  void check_sqlite() {
    for (const auto& problem : integrity_problems(database_)) finding("sqlite", "integrity_check: " + problem);
    // table -> (parent, rowids) of rows whose foreign key points nowhere.
    std::map<std::pair<std::string, std::string>, std::vector<std::int64_t>> broken;
    auto statement = database_.prepare("PRAGMA foreign_key_check");
    while (statement.step()) {
      broken[{statement.column_string(0), statement.column_string(2)}].push_back(statement.column_int64(1));
    }
    for (const auto& [tables, rowids] : broken) {
      const bool without_rowid = tables.first == "metadata";
      finding("orphans", (without_rowid ? std::to_string(rowids.size()) : count_and_sample(rowids)) + " rows of " +
                             tables.first + " point at a missing " + tables.second + " row");
    }
  }

  void check_settings() {
    const int version = static_cast<int>(database_.query_int64("PRAGMA user_version").value_or(0));
    if (version != kSchemaVersion) {
      finding("settings",
              "schema version is " + std::to_string(version) + "; expected " + std::to_string(kSchemaVersion));
    }
    const std::string generation = setting_text(database_, "generation");
    if (!is_integer(generation)) {
      finding("settings", "generation is \"" + generation + "\", not a non-negative integer");
      return;
    }
    generation_ = std::stoll(generation);
    const std::string pruned = setting_text(database_, "removals_pruned_through");
    if (!is_integer(pruned) || std::stoll(pruned) > generation_) {
      finding("settings",
              "removals_pruned_through is \"" + pruned + "\"; expected an integer up to the generation " + generation);
    }
    if (database_.query_int64("SELECT count(*) FROM vector_removals WHERE generation > "
                              "(SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'generation')") > 0) {
      finding("settings",
              "vector removals are logged after the KB generation " + generation + " (a write did not bump it)");
    }
  }

  void check_vectors() {
    const auto vectors = store_.vector_count();
    dimension_ = store_.vector_dimension();
    if (vectors > 0 && (store_.embedder_id().empty() || dimension_ == 0)) {
      finding("settings",
              std::to_string(vectors) + " vectors are stored but the KB records no embedder id or dimension");
      return;
    }
    if (vectors > 0) {
      expect_none("vectors",
                  "SELECT chunk_id FROM chunk_vectors WHERE length(vector) != " +
                      std::to_string(dimension_ * sizeof(float)) + " ORDER BY chunk_id",
                  "vectors do not have the KB's dimension " + std::to_string(dimension_));
      expect_none("vectors",
                  "SELECT v.chunk_id FROM chunk_vectors v JOIN chunks c ON c.id = v.chunk_id WHERE c.searchable = 0 "
                  "ORDER BY v.chunk_id",
                  "vectors belong to chunks that are not searchable");
      expect_none(
          "vectors",
          "SELECT chunk_id FROM chunk_vectors WHERE generation > " + std::to_string(generation_) + " ORDER BY chunk_id",
          "vectors were written after the KB generation " + std::to_string(generation_));
    }
    if (store_.embedder().name == "none") return;
    const auto waiting = ids_from(database_,
                                  "SELECT c.id FROM chunks c WHERE c.searchable = 1 AND NOT EXISTS "
                                  "(SELECT 1 FROM chunk_vectors v WHERE v.chunk_id = c.id) ORDER BY c.id");
    if (!waiting.empty()) {
      const auto documents = database_.query_int64(
          "SELECT count(DISTINCT c.document_id) FROM chunks c WHERE c.searchable = 1 AND NOT EXISTS "
          "(SELECT 1 FROM chunk_vectors v WHERE v.chunk_id = c.id)");
      report_.pending.push_back({"vectors", count_and_sample(waiting) + " searchable chunks of " +
                                                std::to_string(documents.value_or(0)) +
                                                " documents wait for their vectors; the next ingest embeds them"});
    }
  }

  void check_vector_file() {
    std::optional<std::pair<VectorIndex, VectorIndexHeader>> loaded;
    try {
      loaded = VectorIndex::load(vector_file_);
    } catch (const Error& error) {
      finding("vector index", std::string(error.what()) + " (derived: repair or the next open rebuilds it)");
      return;
    }
    if (!loaded) return;  // derived; built on first use
    const auto& [index, header] = *loaded;
    const std::string name = vector_file_.filename().string();
    const std::string kb_id = store_.kb_id();
    if (!kb_id.empty() && header.kb_id != kb_id) {
      finding("vector index", name + " belongs to another KB (KB id \"" + header.kb_id + "\"; this KB is \"" + kb_id +
                                  "\"); searches ignore it and rebuild the index from kb.sqlite");
      return;
    }
    if (header.generation > generation_) {
      finding("vector index", name + " is at generation " + std::to_string(header.generation) +
                                  ", newer than kb.sqlite (" + std::to_string(generation_) + ")");
      return;
    }
    const std::string embedder_id = store_.embedder_id();
    if (embedder_id.empty()) {
      if (index.size() > 0) finding("vector index", name + " holds vectors but kb.sqlite has none");
      return;
    }
    if (header.embedder_id != embedder_id || header.dimension != dimension_) {
      finding("vector index", name + " holds vectors of " + header.embedder_id + " (dimension " +
                                  std::to_string(header.dimension) + "); kb.sqlite has " + embedder_id +
                                  " (dimension " + std::to_string(dimension_) + ")");
      return;
    }
    if (header.generation < store_.removals_pruned_through()) {
      report_.pending.push_back({"vector index", name + " (generation " + std::to_string(header.generation) +
                                                     ") is older than the removal log reaches; the next open "
                                                     "rebuilds it"});
      return;
    }
    // Catch the file's ids up the way SyncedVectorIndex does; they must then equal kb.sqlite's.
    const auto file_ids = index.ids();
    std::set<std::int64_t> caught_up(file_ids.begin(), file_ids.end());
    for (auto id : store_.vector_removals_since(header.generation)) caught_up.erase(id);
    for (auto id : ids_from(
             database_, "SELECT chunk_id FROM chunk_vectors WHERE generation > " + std::to_string(header.generation))) {
      caught_up.insert(id);
    }
    const auto stored = ids_from(database_, "SELECT chunk_id FROM chunk_vectors ORDER BY chunk_id");
    std::vector<std::int64_t> extra, missing;
    std::set_difference(caught_up.begin(), caught_up.end(), stored.begin(), stored.end(), std::back_inserter(extra));
    std::set_difference(stored.begin(), stored.end(), caught_up.begin(), caught_up.end(), std::back_inserter(missing));
    if (!extra.empty()) {
      finding("vector index", count_and_sample(extra) + " ids in " + name + " (generation " +
                                  std::to_string(header.generation) + ") have no vector in kb.sqlite");
    }
    if (!missing.empty()) {
      finding("vector index", count_and_sample(missing) + " vectors kb.sqlite had at generation " +
                                  std::to_string(header.generation) + " are missing from " + name);
    }
    compare_sampled_vectors(index, header.generation, name);
  }

  // The same ids can hold other vectors (a file of the same size copied from a KB without a KB
  // id): up to 64 random vectors the file must already hold are compared with kb.sqlite's.
  void compare_sampled_vectors(const VectorIndex& index, std::int64_t file_generation, const std::string& name) {
    constexpr int kSample = 64;
    auto statement =
        database_.prepare("SELECT chunk_id, vector FROM chunk_vectors WHERE generation <= ?1 ORDER BY random() LIMIT " +
                          std::to_string(kSample));
    statement.bind(1, file_generation);
    std::vector<std::int64_t> differing;
    while (statement.step()) {
      const auto chunk_id = statement.column_int64(0);
      const auto held = index.vector(chunk_id);
      if (!held) {
        if (index.config().type == "ivf" && index.config().pq_m > 0) return;  // codes only: nothing to compare
        continue;                                                             // missing ids are reported above
      }
      const auto* stored = static_cast<const float*>(sqlite3_column_blob(statement.get(), 1));
      const auto bytes = static_cast<std::size_t>(sqlite3_column_bytes(statement.get(), 1));
      if (bytes != held->size() * sizeof(float)) continue;  // wrong sizes are reported above
      for (std::size_t i = 0; i < held->size(); ++i) {
        // IVF-Flat reconstructs exactly (a small tolerance keeps float noise out); flat's int8
        // codes decode to within their quantisation step.
        if (std::abs((*held)[i] - stored[i]) > index.vector_tolerance()) {
          differing.push_back(chunk_id);
          break;
        }
      }
    }
    if (!differing.empty()) {
      std::sort(differing.begin(), differing.end());
      finding("vector index", count_and_sample(differing) + " of up to " + std::to_string(kSample) +
                                  " sampled vectors in " + name + " differ from kb.sqlite's (a file of another KB?)");
    }
  }

  Store& store_;
  Database& database_;
  std::filesystem::path vector_file_;
  std::int64_t generation_ = 0;
  std::size_t dimension_ = 0;
  CheckReport report_;
};

std::size_t run_counted(Database& database, std::string_view sql) {
  database.exec(sql);
  return static_cast<std::size_t>(database.changes());
}

}  // namespace

CheckReport check_kb(Store& store, const std::filesystem::path& vector_file) {
  return Checker(store, vector_file).run();
}

std::vector<std::string> repair_store(Store& store) {
  Database& database = store.database();
  std::vector<std::string> actions;
  WriteTransaction transaction(database);
  if (!integrity_problems(database).empty()) {
    database.exec("REINDEX");
    actions.push_back("rebuilt SQLite's indexes (REINDEX)");
  }
  const std::string generation = setting_text(database, "generation");
  if (!is_integer(generation)) {
    // The highest generation anything was written at is a safe floor: vectors.faiss is rebuilt.
    database.exec(
        "UPDATE settings SET value = CAST(max(coalesce((SELECT max(generation) FROM chunk_vectors), 0), "
        "coalesce((SELECT max(generation) FROM vector_removals), 0)) AS TEXT) WHERE key = 'generation'");
    actions.push_back("reset the unreadable generation setting");
  }
  // Documents that lose chunks here are marked changed, so the next ingest of their source
  // writes them whole again.
  const std::size_t marked = run_counted(
      database,
      "UPDATE documents SET content_hash = '' WHERE content_hash != '' AND id IN (SELECT c.document_id FROM chunks c "
      "WHERE c.parent_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM chunks p WHERE p.id = c.parent_id))");
  if (marked > 0) actions.push_back("marked " + std::to_string(marked) + " documents with lost chunks for re-ingest");
  std::size_t chunks_deleted = 0;
  for (;;) {
    // Repeated: deleting a chunk orphans its children.
    const std::size_t deleted = run_counted(database,
                                            "DELETE FROM chunks WHERE document_id NOT IN (SELECT id FROM documents) OR "
                                            "(parent_id IS NOT NULL AND parent_id NOT IN (SELECT id FROM chunks))");
    if (deleted == 0) break;
    chunks_deleted += deleted;
  }
  if (chunks_deleted > 0) actions.push_back("deleted " + std::to_string(chunks_deleted) + " orphan chunks");
  const std::size_t dimension = store.vector_dimension();
  const struct {
    std::string sql;
    const char* what;
  } deletions[] = {
      {"DELETE FROM metadata WHERE document_id NOT IN (SELECT id FROM documents)", "orphan metadata rows"},
      {"DELETE FROM chunk_vectors WHERE chunk_id NOT IN (SELECT id FROM chunks WHERE searchable = 1)",
       "vectors without a searchable chunk"},
      {"DELETE FROM chunk_vectors WHERE length(vector) != " + std::to_string(dimension * sizeof(float)),
       "vectors of the wrong size (their chunks are embedded again by the next ingest)"},
  };
  for (const auto& deletion : deletions) {
    if (dimension == 0 && deletion.sql.find("length(vector)") != std::string::npos) continue;
    const std::size_t deleted = run_counted(database, deletion.sql);
    if (deleted > 0) actions.push_back("deleted " + std::to_string(deleted) + " " + deletion.what);
  }
  // The FTS5 'rebuild' command would index every row of the content view, including chunks
  // that are not searchable; the index is emptied and refilled from the searchable ones instead.
  database.exec("INSERT INTO chunk_keywords(chunk_keywords) VALUES('delete-all')");
  const std::size_t indexed = run_counted(
      database,
      "INSERT INTO chunk_keywords(rowid, text, title, heading_path) SELECT c.id, c.text, d.title, c.heading_path "
      "FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.searchable = 1");
  actions.push_back("rebuilt the keyword index from " + std::to_string(indexed) + " searchable chunks");
  database.exec(
      "UPDATE settings SET value = CAST((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'generation') AS "
      "TEXT) WHERE key = 'removals_pruned_through' AND CAST(value AS INTEGER) > "
      "(SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'generation')");
  store.bump_generation();
  transaction.commit();
  return actions;
}

}  // namespace ragline::index
