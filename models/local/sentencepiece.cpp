#include "models/local/sentencepiece.hpp"

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.hpp"

namespace ragline::models::local {
namespace {

constexpr char32_t kWordBoundary = U'\u2581';

// ICU works in UTF-16, as JavaScript strings do: the reference normalises the same units.
std::u32string code_points(const icu::UnicodeString& text) {
  std::u32string result;
  result.reserve(static_cast<std::size_t>(text.length()));
  for (std::int32_t i = 0; i < text.length();) {
    const UChar32 c = text.char32At(i);
    result.push_back(static_cast<char32_t>(c));
    i += U16_LENGTH(c);
  }
  return result;
}

std::u32string utf8_code_points(std::string_view utf8) {
  return code_points(
      icu::UnicodeString::fromUTF8(icu::StringPiece(utf8.data(), static_cast<std::int32_t>(utf8.size()))));
}

}  // namespace

SentencePieceUnigram SentencePieceUnigram::load_vocab_json(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  RAGLINE_CHECK(file, not_found, "cannot open SentencePiece vocabulary " << path.string());
  std::stringstream content;
  content << file.rdbuf();
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(content.str());
  } catch (const nlohmann::json::exception& error) {
    RAGLINE_THROW(format, "SentencePiece vocabulary " << path.string() << " is not JSON: " << error.what());
  }
  RAGLINE_CHECK(json.is_array(), format, "SentencePiece vocabulary " << path.string() << " is not a JSON array");
  std::vector<std::pair<std::string, double>> pieces;
  pieces.reserve(json.size());
  for (std::size_t i = 0; i < json.size(); ++i) {
    const auto& entry = json[i];
    RAGLINE_CHECK(
        entry.is_array() && entry.size() == 2 && entry[0].is_string() && (entry[1].is_number() || entry[1].is_null()),
        format, "SentencePiece vocabulary " << path.string() << ": entry " << i << " is not [piece, score]");
    // The published vocabulary has a null score (for ":"); JavaScript's arithmetic reads it as 0.
    pieces.emplace_back(entry[0].get<std::string>(), entry[1].is_null() ? 0.0 : entry[1].get<double>());
  }
  RAGLINE_CHECK(pieces.size() > kReservedPieces, format,
                "SentencePiece vocabulary " << path.string() << " has only " << pieces.size() << " entries");
  return from_pieces(std::move(pieces));
}

SentencePieceUnigram SentencePieceUnigram::from_pieces(std::vector<std::pair<std::string, double>> pieces) {
  RAGLINE_CHECK(!pieces.empty(), invalid_argument, "a SentencePiece vocabulary needs at least the unknown piece");
  SentencePieceUnigram tokenizer;
  tokenizer.pieces_.reserve(pieces.size());
  for (std::size_t id = 0; id < pieces.size(); ++id) {
    auto& [text, score] = pieces[id];
    const std::u32string points = utf8_code_points(text);
    std::size_t utf16_length = 0;
    for (char32_t c : points) utf16_length += c > 0xffff ? 2 : 1;
    if (id >= kReservedPieces && !points.empty()) {
      tokenizer.lookup_[points] = Match{static_cast<int>(id), score};
      tokenizer.longest_piece_ = std::max(tokenizer.longest_piece_, points.size());
    }
    tokenizer.pieces_.push_back(Piece{std::move(text), score, utf16_length});
  }
  return tokenizer;
}

std::vector<int> SentencePieceUnigram::encode(std::string_view utf8) const {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfkc = icu::Normalizer2::getNFKCInstance(status);
  RAGLINE_CHECK(U_SUCCESS(status), internal, "ICU NFKC normaliser unavailable: " << u_errorName(status));
  const icu::UnicodeString source =
      icu::UnicodeString::fromUTF8(icu::StringPiece(utf8.data(), static_cast<std::int32_t>(utf8.size())));
  const icu::UnicodeString normalised = nfkc->normalize(source, status);
  RAGLINE_CHECK(U_SUCCESS(status), internal, "ICU NFKC normalisation failed: " << u_errorName(status));
  if (normalised.isEmpty()) return {};

  std::u32string symbols;
  symbols.push_back(kWordBoundary);
  for (char32_t c : code_points(normalised)) symbols.push_back(c == U' ' ? kWordBoundary : c);
  const std::size_t n = symbols.size();

  // ends[e] lists the candidate pieces ending at code point e, in increasing start order (the
  // order in which the reference relaxes them).
  struct Candidate {
    std::size_t start;
    int id;
    double score;
  };
  std::vector<std::vector<Candidate>> ends(n + 1);
  std::u32string key;
  for (std::size_t start = 0; start < n; ++start) {
    bool matched = false;
    const std::size_t longest = std::min(longest_piece_, n - start);
    for (std::size_t length = 1; length <= longest; ++length) {
      key.assign(symbols, start, length);
      const auto found = lookup_.find(key);
      if (found == lookup_.end()) continue;
      ends[start + length].push_back({start, found->second.id, found->second.score});
      matched = true;
    }
    if (!matched) ends[start + 1].push_back({start, 0, 0.0});
  }

  // best[e] == 0 means "not reached yet" in the reference, even where a path of score 0 reached
  // it; kept so that the ids match.
  std::vector<double> best(n + 1, 0.0);
  std::vector<int> best_id(n + 1, 0);
  for (std::size_t end = 0; end <= n; ++end) {
    for (const Candidate& candidate : ends[end]) {
      const double score = candidate.score + best[candidate.start];
      if (best[end] == 0.0 || score >= best[end]) {
        best[end] = score;
        best_id[end] = candidate.id;
      }
    }
  }

  std::vector<int> reversed;
  for (std::ptrdiff_t position = static_cast<std::ptrdiff_t>(n); position > 0;) {
    const int id = best_id[static_cast<std::size_t>(position)];
    reversed.push_back(id);
    position -=
        static_cast<std::ptrdiff_t>(std::max<std::size_t>(1, pieces_[static_cast<std::size_t>(id)].utf16_length));
  }
  std::vector<int> ids;
  ids.reserve(reversed.size());
  bool previous_unknown = false;
  for (int id : reversed) {
    if (!(previous_unknown && id == 0)) ids.push_back(id);
    previous_unknown = id == 0;
  }
  std::reverse(ids.begin(), ids.end());
  return ids;
}

}  // namespace ragline::models::local
