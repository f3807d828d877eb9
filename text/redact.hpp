#pragma once
// PII redaction: detectors for e-mail addresses, phone numbers, payment card numbers, US social
// security numbers, IBANs and IP addresses, plus user regular expressions (ICU syntax). Matches
// become typed placeholders ("[EMAIL]", "[PHONE]", "[CARD]", "[SSN]", "[IBAN]", "[IP]",
// "[NAME]" for a user pattern) before chunks are embedded or indexed, and the same Redactor
// rewrites queries, so the placeholders are searched alike on both sides. What each detector
// matches and what it leaves alone is listed in ingest/README.md.
//
// Thread safety: a Redactor is immutable after construction; redact() may run on several
// threads at once (each call makes its own ICU matchers).

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/document.hpp"
#include "ragline/types.hpp"

namespace ragline::text {

// The names RedactionConfig::types accepts, in the order ties between built-ins are broken.
const std::vector<std::string>& redaction_types();

// One replaced match: bytes [start, end) of the input became `placeholder`.
struct Redaction {
  std::size_t start = 0;
  std::size_t end = 0;
  std::string type;  // email ... ip, or a pattern name
};

struct RedactedText {
  std::string text;
  std::map<std::string, std::size_t> counts;  // by type; types without a match are absent
  std::vector<Redaction> redactions;          // in input order, non-overlapping
};

class Redactor {
 public:
  // Checks the config: known types, pattern names (a letter, then letters, digits or '_'; unique,
  // not a built-in's name) and regexes. Throws Error(invalid_argument) naming the offending
  // type or pattern; a regex ICU refuses is named with ICU's error and its line and offset.
  explicit Redactor(const RedactionConfig& config);
  Redactor(Redactor&&) noexcept;
  Redactor& operator=(Redactor&&) noexcept;
  ~Redactor();

  // The text with every match replaced. Overlapping candidates are resolved deterministically:
  // the longest wins; among equally long ones, user patterns (in config order) before the
  // built-ins in redaction_types() order; then the leftmost. Linear in the text for the
  // built-ins (a cheap byte test picks the positions worth a detector); user patterns cost
  // what ICU's matcher costs. Any bytes are accepted; the detectors look at ASCII only.
  RedactedText redact(std::string_view text) const;

  // Redacts a document's title, text and string metadata values (list items too) in place and
  // moves page_starts to the redacted text; adds to `counts`.
  void redact_document(Document& document, std::map<std::string, std::size_t>& counts) const;

  const RedactionConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "[" + upper-case type + "]": the placeholder a match of `type` becomes.
std::string redaction_placeholder(std::string_view type);

// Where byte `offset` of a redacted input lies in the output (an offset inside a match moves to
// the start of its placeholder).
std::size_t redacted_offset(const std::vector<Redaction>& redactions, std::size_t offset);

// Whether a config redacts anything (some type or some pattern).
bool redaction_active(const RedactionConfig& config);

// The canonical JSON recorded in the KB's settings ("types" sorted, "patterns" in order), and
// back. from_json throws Error(corrupt) naming `source` when the JSON is not such a config.
std::string redaction_config_json(const RedactionConfig& config);
RedactionConfig redaction_config_from_json(std::string_view json, std::string_view source);

// Key of the KB setting that holds the recorded config (absent: the KB does not redact).
inline constexpr std::string_view kRedactionSetting = "redaction";

}  // namespace ragline::text
