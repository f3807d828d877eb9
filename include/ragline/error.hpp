#pragma once
// The one exception family ragline throws. An operation that cannot proceed throws
// ragline::Error; the failure of one item inside a batch (a bad file during ingest) is not an
// exception but an entry in the IngestReport.

#include <stdexcept>
#include <string>
#include <string_view>

#include "ragline/export.hpp"

namespace ragline {

enum class ErrorKind {
  invalid_argument,  // the caller passed something unusable (bad option, unknown chunker name)
  not_found,         // a KB, document or file that was asked for does not exist
  io,                // reading or writing a file failed (the message names the path)
  database,          // SQLite reported an error (the message carries sqlite3_errmsg)
  corrupt,           // on-disk data failed a consistency check
  format,            // input could not be parsed (the message names file and line or field)
  busy,              // another writer holds the KB
  unsupported,       // a feature this build or this KB does not offer
  internal,          // a bug: an invariant that should have held did not
  network,           // a model service failed after its retries (the message names endpoint and status)
};

RAGLINE_API std::string_view to_string(ErrorKind kind) noexcept;

class RAGLINE_API Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message);
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace ragline
