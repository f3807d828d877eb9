// SessionStore: conversation memory in its own SQLite file, kept apart from kb.sqlite so that
// chatting never takes the KB's write lock and a KB can be shared read-only.

#include <algorithm>
#include <utility>

#include "core/check.hpp"
#include "index/sqlite.hpp"
#include "ragline/generation.hpp"

namespace ragline {
namespace {

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
  content TEXT NOT NULL,
  created_at TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'answered', 'failed')),
  error TEXT NOT NULL DEFAULT '',
  citations TEXT NOT NULL DEFAULT '[]',
  search_query TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS messages_by_session ON messages(session_id, id);
)sql";

constexpr std::string_view kNow = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

}  // namespace

struct SessionStore::Impl {
  index::Database database;
};

SessionStore SessionStore::open(const std::filesystem::path& path) {
  if (path.has_parent_path()) {
    std::error_code error;
    std::filesystem::create_directories(path.parent_path(), error);
    RAGLINE_CHECK(!error, io, "cannot create directory " << path.parent_path().string() << ": " << error.message());
  }
  auto impl = std::make_unique<Impl>(Impl{index::Database::open(path, /*create=*/true)});
  auto& database = impl->database;
  database.exec("PRAGMA journal_mode = WAL");
  const auto version = database.query_int64("PRAGMA user_version").value_or(0);
  RAGLINE_CHECK(
      version <= kSchemaVersion, unsupported,
      path.string() << ": sessions schema v" << version << " is newer than this build (v" << kSchemaVersion << ")");
  if (version < kSchemaVersion) {
    index::WriteTransaction transaction(database);
    database.exec(kSchema);
    database.exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    transaction.commit();
  }
  return SessionStore(std::move(impl));
}

std::filesystem::path SessionStore::default_path(const std::filesystem::path& kb_directory) {
  return kb_directory / "sessions.sqlite";
}

SessionStore::SessionStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SessionStore::SessionStore(SessionStore&&) noexcept = default;
SessionStore& SessionStore::operator=(SessionStore&&) noexcept = default;
SessionStore::~SessionStore() = default;

std::vector<SessionMessage> SessionStore::load(const std::string& session_id) const {
  auto statement = impl_->database.prepare(
      "SELECT id, role, content, created_at, status, error, citations, search_query FROM messages "
      "WHERE session_id = ?1 ORDER BY id");
  statement.bind(1, session_id);
  std::vector<SessionMessage> messages;
  while (statement.step()) {
    SessionMessage message;
    message.id = statement.column_int64(0);
    message.role = statement.column_string(1);
    message.content = statement.column_string(2);
    message.created_at = statement.column_string(3);
    message.status = statement.column_string(4);
    message.error = statement.column_string(5);
    message.citations_json = statement.column_string(6);
    message.search_query = statement.column_string(7);
    messages.push_back(std::move(message));
  }
  return messages;
}

std::int64_t SessionStore::append(const std::string& session_id, const SessionMessage& message) {
  RAGLINE_CHECK(!session_id.empty(), invalid_argument, "a session id must not be empty");
  RAGLINE_CHECK(message.role == "user" || message.role == "assistant", invalid_argument,
                "session message role must be user or assistant, not \"" << message.role << '"');
  RAGLINE_CHECK(message.status == "pending" || message.status == "answered" || message.status == "failed",
                invalid_argument, "session message status must be pending, answered or failed");
  auto& database = impl_->database;
  index::WriteTransaction transaction(database);
  database
      .prepare("INSERT INTO sessions(id, created_at, updated_at) VALUES (?1, " + std::string(kNow) + ", " +
               std::string(kNow) + ") ON CONFLICT(id) DO UPDATE SET updated_at = excluded.updated_at")
      .bind(1, session_id)
      .run();
  database
      .prepare(
          "INSERT INTO messages(session_id, role, content, created_at, status, error, citations, search_query) "
          "VALUES (?1, ?2, ?3, " +
          std::string(kNow) + ", ?4, ?5, ?6, ?7)")
      .bind(1, session_id)
      .bind(2, message.role)
      .bind(3, message.content)
      .bind(4, message.status)
      .bind(5, message.error)
      .bind(6, message.citations_json.empty() ? std::string("[]") : message.citations_json)
      .bind(7, message.search_query)
      .run();
  const std::int64_t id = database.last_insert_rowid();
  transaction.commit();
  return id;
}

void SessionStore::update_status(std::int64_t message_id, const std::string& status, const std::string& error,
                                 const std::string& search_query) {
  auto& database = impl_->database;
  auto statement = database.prepare("UPDATE messages SET status = ?2, error = ?3, search_query = ?4 WHERE id = ?1");
  statement.bind(1, message_id).bind(2, status).bind(3, error).bind(4, search_query).run();
  RAGLINE_CHECK(database.changes() == 1, not_found, "no session message with id " << message_id);
}

std::vector<std::string> SessionStore::sessions() const {
  auto statement = impl_->database.prepare("SELECT id FROM sessions ORDER BY updated_at DESC, id");
  std::vector<std::string> ids;
  while (statement.step()) ids.push_back(statement.column_string(0));
  return ids;
}

std::vector<ChatMessage> conversation_history(const std::vector<SessionMessage>& messages) {
  std::vector<ChatMessage> history;
  for (std::size_t at = 0; at < messages.size(); ++at) {
    const auto& message = messages[at];
    // A question enters the history with its answer only: an unanswered one would leave two
    // user turns in a row, which Bedrock refuses and which tells the model nothing.
    if (message.role != "user" || message.status != "answered") continue;
    if (at + 1 >= messages.size() || messages[at + 1].role != "assistant") continue;
    history.push_back({"user", message.content});
    history.push_back({"assistant", messages[at + 1].content});
  }
  return history;
}

}  // namespace ragline
