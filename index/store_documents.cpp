// Store: documents with their chunks, metadata and keyword-index entries (writes, listings).

#include <nlohmann/json.hpp>

#include "core/check.hpp"
#include "index/store.hpp"
#include "index/store_internal.hpp"

namespace ragline::index {
namespace {

void bind_metadata_value(Statement& statement, int type_index, int value_index, const MetadataValue& value) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          statement.bind(type_index, "string").bind(value_index, v);
        } else if constexpr (std::is_same_v<T, double>) {
          statement.bind(type_index, "number").bind(value_index, v);
        } else if constexpr (std::is_same_v<T, bool>) {
          statement.bind(type_index, "boolean").bind(value_index, static_cast<std::int64_t>(v ? 1 : 0));
        } else {
          statement.bind(type_index, "string_list").bind(value_index, nlohmann::json(v).dump());
        }
      },
      value);
}

MetadataValue read_metadata_value(std::string_view type, const Statement& statement, int column) {
  if (type == "number") return statement.column_double(column);
  if (type == "boolean") return statement.column_int64(column) != 0;
  if (type == "string_list")
    return nlohmann::json::parse(statement.column_text(column)).get<std::vector<std::string>>();
  return statement.column_string(column);
}

}  // namespace

using detail::json_id_array;

std::optional<StoredDocumentState> Store::find_document(const std::string& uri) {
  auto statement = statements_.get("SELECT id, content_hash, source_path FROM documents WHERE uri = ?1");
  statement->bind(1, uri);
  if (!statement->step()) return std::nullopt;
  return StoredDocumentState{statement->column_int64(0), statement->column_string(1), statement->column_string(2)};
}

void Store::delete_keyword_entries(std::int64_t document_id) {
  // External-content FTS5 needs the exact indexed values to remove a row's terms, so they are
  // read back through the same view before the chunks go.
  auto statement = statements_.get(
      "INSERT INTO chunk_keywords(chunk_keywords, rowid, text, title, heading_path) "
      "SELECT 'delete', c.id, c.text, d.title, c.heading_path FROM chunks c JOIN documents d ON d.id = c.document_id "
      "WHERE c.document_id = ?1 AND c.searchable = 1");
  statement->bind(1, document_id).run();
}

std::int64_t Store::put_document(const Document& document, const std::string& content_hash,
                                 const std::vector<Chunk>& chunks, std::int64_t ingested_at,
                                 std::vector<std::int64_t>* chunk_ids_out) {
  std::optional<std::int64_t> document_id;
  if (auto existing = find_document(document.uri)) {
    document_id = existing->id;
    delete_keyword_entries(existing->id);
    statements_.get("DELETE FROM chunks WHERE document_id = ?1")->bind(1, existing->id).run();
    statements_.get("DELETE FROM metadata WHERE document_id = ?1")->bind(1, existing->id).run();
  }

  std::string page_starts;
  if (!document.page_starts.empty()) page_starts = nlohmann::json(document.page_starts).dump();
  auto upsert = statements_.get(
      "INSERT INTO documents(id, uri, source_path, title, content_hash, mime_type, size_bytes, mtime, ingested_at, "
      "text, page_starts) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
      "ON CONFLICT(id) DO UPDATE SET uri = excluded.uri, source_path = excluded.source_path, title = excluded.title, "
      "content_hash = excluded.content_hash, mime_type = excluded.mime_type, size_bytes = excluded.size_bytes, "
      "mtime = excluded.mtime, ingested_at = excluded.ingested_at, text = excluded.text, "
      "page_starts = excluded.page_starts");
  if (document_id) {
    upsert->bind(1, *document_id);
  } else {
    upsert->bind_null(1);
  }
  upsert->bind(2, document.uri)
      .bind(3, document.source_path)
      .bind(4, document.title)
      .bind(5, content_hash)
      .bind(6, document.mime_type)
      .bind(7, document.size_bytes)
      .bind(8, document.mtime)
      .bind(9, ingested_at)
      .bind(10, document.text);
  if (page_starts.empty()) {
    upsert->bind_null(11);
  } else {
    upsert->bind(11, page_starts);
  }
  upsert->run();
  if (!document_id) document_id = database_.last_insert_rowid();

  auto put_metadata = statements_.get("INSERT INTO metadata(document_id, key, type, value) VALUES(?1, ?2, ?3, ?4)");
  for (const auto& [key, value] : document.metadata) {
    put_metadata->bind(1, *document_id).bind(2, key);
    bind_metadata_value(*put_metadata, 3, 4, value);
    put_metadata->run();
    put_metadata->reset();
  }

  auto put_chunk = statements_.get(
      "INSERT INTO chunks(document_id, ordinal, parent_id, searchable, text, byte_start, byte_end, heading_path, "
      "token_count, page) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  auto put_keywords =
      statements_.get("INSERT INTO chunk_keywords(rowid, text, title, heading_path) VALUES(?1, ?2, ?3, ?4)");
  std::vector<std::int64_t> chunk_ids;
  chunk_ids.reserve(chunks.size());
  for (const auto& chunk : chunks) {
    put_chunk->bind(1, *document_id).bind(2, chunk.ordinal);
    if (chunk.parent_ordinal) {
      const auto parent = static_cast<std::size_t>(*chunk.parent_ordinal);
      RAGLINE_CHECK(parent < chunk_ids.size(), internal,
                    "chunk " << chunk.ordinal << " of " << document.uri << " names a later parent " << parent);
      put_chunk->bind(3, chunk_ids[parent]);
    } else {
      put_chunk->bind_null(3);
    }
    put_chunk->bind(4, chunk.searchable ? 1 : 0)
        .bind(5, chunk.text)
        .bind(6, static_cast<std::int64_t>(chunk.byte_start))
        .bind(7, static_cast<std::int64_t>(chunk.byte_end))
        .bind(8, chunk.heading_path)
        .bind(9, chunk.token_count);
    if (auto page = page_at(document, chunk.byte_start)) {
      put_chunk->bind(10, *page);
    } else {
      put_chunk->bind_null(10);
    }
    put_chunk->run();
    put_chunk->reset();
    const std::int64_t chunk_id = database_.last_insert_rowid();
    chunk_ids.push_back(chunk_id);
    if (chunk.searchable) {
      put_keywords->bind(1, chunk_id).bind(2, chunk.text).bind(3, document.title).bind(4, chunk.heading_path).run();
      put_keywords->reset();
    }
  }
  if (chunk_ids_out) *chunk_ids_out = std::move(chunk_ids);
  return *document_id;
}

bool Store::delete_document(std::int64_t document_id) {
  delete_keyword_entries(document_id);
  statements_.get("DELETE FROM documents WHERE id = ?1")->bind(1, document_id).run();
  return database_.changes() > 0;
}

std::vector<std::pair<std::int64_t, std::string>> Store::documents_from(const std::filesystem::path& path) {
  // '0' is the character after '/', so [p + "/", p + "0") is every path below directory p.
  std::string root = path.string();
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  auto statement = database_.prepare(
      "SELECT id, uri FROM documents WHERE source_path = ?1 OR (source_path >= ?2 AND source_path < ?3)");
  statement.bind(1, root).bind(2, root == "/" ? root : root + "/").bind(3, root == "/" ? "0" : root + "0");
  std::vector<std::pair<std::int64_t, std::string>> found;
  while (statement.step()) found.emplace_back(statement.column_int64(0), statement.column_string(1));
  return found;
}

std::unordered_map<std::int64_t, Metadata> Store::metadata_of(const std::vector<std::int64_t>& document_ids) {
  auto statement = statements_.get(
      "SELECT m.document_id, m.key, m.type, m.value FROM json_each(?1) j JOIN metadata m ON m.document_id = j.value");
  statement->bind(1, json_id_array(document_ids));
  std::unordered_map<std::int64_t, Metadata> metadata;
  for (std::int64_t document_id : document_ids) metadata.try_emplace(document_id);
  while (statement->step()) {
    metadata[statement->column_int64(0)].emplace(statement->column_string(1),
                                                 read_metadata_value(statement->column_text(2), *statement, 3));
  }
  return metadata;
}

Metadata Store::document_metadata(std::int64_t document_id) {
  return std::move(metadata_of({document_id})[document_id]);
}

std::vector<DocumentInfo> Store::documents(const std::vector<std::int64_t>* only, std::size_t limit,
                                           std::size_t offset) {
  // The ids go in as one JSON array (json_each): no statement per id, no bound-parameter limit.
  const std::string ids_json = only ? json_id_array(*only) : std::string();
  auto statement = database_.prepare(
      std::string("SELECT d.id, d.uri, d.title, d.mime_type, d.content_hash, d.size_bytes, d.mtime, d.ingested_at, "
                  "(SELECT count(*) FROM chunks c WHERE c.document_id = d.id) FROM documents d ") +
      (only ? "WHERE d.id IN (SELECT value FROM json_each(?3)) " : "") + "ORDER BY d.uri LIMIT ?1 OFFSET ?2");
  statement.bind(1, limit == 0 ? std::int64_t{-1} : static_cast<std::int64_t>(limit));
  statement.bind(2, static_cast<std::int64_t>(offset));
  if (only) statement.bind(3, ids_json);
  std::vector<DocumentInfo> found;
  std::vector<std::int64_t> document_ids;
  while (statement.step()) {
    DocumentInfo info;
    info.id = statement.column_int64(0);
    info.uri = statement.column_string(1);
    info.title = statement.column_string(2);
    info.mime_type = statement.column_string(3);
    info.content_hash = statement.column_string(4);
    info.size_bytes = statement.column_int64(5);
    info.mtime = statement.column_int64(6);
    info.ingested_at = statement.column_int64(7);
    info.chunk_count = statement.column_int64(8);
    document_ids.push_back(info.id);
    found.push_back(std::move(info));
  }
  auto metadata = metadata_of(document_ids);
  for (auto& info : found) info.metadata = std::move(metadata[info.id]);
  return found;
}

std::optional<StoredDocument> Store::stored_document(const std::string& uri) {
  auto statement = database_.prepare(
      "SELECT d.id, d.uri, d.title, d.text, d.content_hash, (SELECT count(*) FROM chunks c WHERE c.document_id = d.id) "
      "FROM documents d WHERE d.uri = ?1");
  statement.bind(1, uri);
  if (!statement.step()) return std::nullopt;
  StoredDocument document;
  const std::int64_t document_id = statement.column_int64(0);
  document.id = statement.column_string(1);
  document.title = statement.column_string(2);
  document.text = statement.column_string(3);
  document.content_hash = statement.column_string(4);
  document.chunk_count = statement.column_int64(5);
  document.metadata = document_metadata(document_id);
  return document;
}

}  // namespace ragline::index
