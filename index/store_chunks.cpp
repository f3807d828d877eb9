// Store: chunks read back by id, for hydrating results and expanding to parents.

#include "index/store.hpp"
#include "index/store_internal.hpp"

namespace ragline::index {

using detail::json_id_array;

std::vector<StoredChunk> Store::chunks_by_id(const std::vector<std::int64_t>& chunk_ids) {
  // One statement for the whole list; json_each's key keeps the order the ids were given in.
  auto statement = statements_.get(
      "SELECT c.id, c.document_id, c.parent_id, d.uri, d.title, c.heading_path, c.text, c.byte_start, c.byte_end, "
      "c.page FROM json_each(?1) j JOIN chunks c ON c.id = j.value JOIN documents d ON d.id = c.document_id "
      "ORDER BY j.key");
  statement->bind(1, json_id_array(chunk_ids));
  std::vector<StoredChunk> found;
  found.reserve(chunk_ids.size());
  while (statement->step()) {
    StoredChunk chunk;
    chunk.id = statement->column_int64(0);
    chunk.document_id = statement->column_int64(1);
    if (!statement->column_is_null(2)) chunk.parent_id = statement->column_int64(2);
    chunk.document_uri = statement->column_string(3);
    chunk.title = statement->column_string(4);
    chunk.heading_path = statement->column_string(5);
    chunk.text = statement->column_string(6);
    chunk.byte_start = static_cast<std::size_t>(statement->column_int64(7));
    chunk.byte_end = static_cast<std::size_t>(statement->column_int64(8));
    if (!statement->column_is_null(9)) chunk.page = static_cast<int>(statement->column_int64(9));
    found.push_back(std::move(chunk));
  }
  return found;
}

std::vector<std::int64_t> Store::parents_of(const std::vector<std::int64_t>& chunk_ids) {
  auto statement = statements_.get(
      "SELECT coalesce(c.parent_id, j.value) FROM json_each(?1) j LEFT JOIN chunks c ON c.id = j.value "
      "ORDER BY j.key");
  statement->bind(1, json_id_array(chunk_ids));
  std::vector<std::int64_t> parents;
  parents.reserve(chunk_ids.size());
  while (statement->step()) parents.push_back(statement->column_int64(0));
  return parents;
}

}  // namespace ragline::index
