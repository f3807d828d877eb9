#pragma once
// BERT's tokenizer: the "basic" word splitter followed by WordPiece (Devlin et al. 2018; Wu et
// al. 2016), as Hugging Face's fast BertTokenizer (the `tokenizers` library, what
// sentence-transformers runs) defines them; tests/models/bert_parity_test.cpp checks the ids
// against it on real vocabularies.
//
// Basic tokenizer, in order:
//  1. clean: drop U+0000, U+FFFD (and invalid UTF-8, decoded to it) and every character of a
//     Unicode category C* other than \t \n \r; map white space (the White_Space property:
//     \t \n \r, space, Zs, U+2028, U+2029) to a space;
//  2. put spaces around CJK ideographs (the CJK Unified Ideographs blocks and their extensions
//     and compatibility blocks, not kana or hangul), so each becomes a word;
//  3. split on white space; when strip_accents (default: same as lower_case): NFD, then drop
//     nonspacing marks (Mn); then when lower_case: lower-case each character on its own (full
//     Unicode case mapping without context: a final Σ becomes σ);
//  4. split each word at punctuation: ASCII ! to /, : to @, [ to `, { to ~, and Unicode P*;
//     each punctuation character is a word of its own.
// WordPiece, per word: longer than max_chars_per_word code points -> [UNK]; otherwise greedy
// longest match first from the left, pieces after the first spelled "##piece"; when some
// position has no match the whole word becomes [UNK].
//
// Immutable after construction: every method is const and safe to call from many threads.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ragline::models::local {

struct WordPieceOptions {
  bool lower_case = true;
  std::optional<bool> strip_accents;  // unset: follows lower_case (as Hugging Face's default)
  bool split_cjk = true;
  std::size_t max_chars_per_word = 100;
};

class WordPieceTokenizer {
 public:
  // pieces[id] is the piece of that id; must contain [UNK], [CLS] and [SEP]. Throws
  // Error(format) naming `source` when one is missing.
  WordPieceTokenizer(std::vector<std::string> pieces, const WordPieceOptions& options,
                     const std::string& source = "vocabulary");
  // vocab.txt: one piece per line, id = 0-based line number. Throws Error(not_found) when missing.
  static WordPieceTokenizer load(const std::filesystem::path& vocab_file, const WordPieceOptions& options);

  // Steps 1-4 above: the words WordPiece sees, as UTF-8.
  std::vector<std::string> split_words(std::string_view text) const;
  // WordPiece ids of every word of the text, without [CLS] and [SEP].
  std::vector<int> encode(std::string_view text) const;

  std::optional<int> find(std::string_view piece) const;
  const std::string& piece(int id) const { return pieces_.at(static_cast<std::size_t>(id)); }
  std::size_t vocab_size() const { return pieces_.size(); }
  int unk_id() const { return unk_id_; }
  int cls_id() const { return cls_id_; }
  int sep_id() const { return sep_id_; }
  int pad_id() const { return pad_id_; }  // [PAD], or 0 when the vocabulary lacks it

 private:
  void append_pieces(const std::u32string& word, std::vector<int>& ids) const;

  std::vector<std::string> pieces_;
  std::unordered_map<std::string, int> ids_;
  WordPieceOptions options_;
  bool strip_accents_;
  int unk_id_ = 0, cls_id_ = 0, sep_id_ = 0, pad_id_ = 0;
};

}  // namespace ragline::models::local
