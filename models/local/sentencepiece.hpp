#pragma once
// A SentencePiece unigram tokenizer (Kudo 2018, "Subword Regularization"), as the Universal
// Sentence Encoder Lite's JavaScript reference (@energetic-ai/embeddings 0.2.0, lib/tokenizer.ts)
// applies it: the ids must match that reference exactly, quirks included.
//
// encode(text):
// 1. NFKC-normalise the text (ICU); an empty result gives no ids.
// 2. Prefix "▁" (U+2581) and replace every ASCII space with "▁" (tabs and line breaks stay).
// 3. Over the code points, a Viterbi search for the segmentation with the highest sum of piece
//    scores (log probabilities). A position where no piece starts contributes its one code
//    point as the unknown piece (id 0, score 0). The reference's tie-breaks are kept: positions
//    are relaxed in order of start position and a later candidate wins a tie; a position that no
//    piece reaches keeps score 0; the best path is read back stepping by each piece's length in
//    UTF-16 units.
// 4. Consecutive unknown ids collapse into one.
// The first kReservedPieces entries of the vocabulary (unknown, <s>, </s>, extra ids) are never
// produced except id 0 for unknown text.
//
// Thread safety: a loaded tokenizer is immutable; encode() may run on any number of threads.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ragline::models::local {

class SentencePieceUnigram {
 public:
  static constexpr std::size_t kReservedPieces = 6;

  // vocab.json: a JSON array of [piece, score] pairs, the index being the id. Throws
  // Error(not_found) for a missing file, Error(format) naming the file and entry otherwise.
  static SentencePieceUnigram load_vocab_json(const std::filesystem::path& path);
  // The same from parsed (piece, score) pairs, e.g. for tests.
  static SentencePieceUnigram from_pieces(std::vector<std::pair<std::string, double>> pieces);

  // Piece ids for UTF-8 text (invalid bytes count as U+FFFD).
  std::vector<int> encode(std::string_view utf8) const;

  std::size_t size() const { return pieces_.size(); }
  const std::string& piece(int id) const { return pieces_.at(static_cast<std::size_t>(id)).text; }

 private:
  struct Piece {
    std::string text;  // UTF-8
    double score = 0;
    std::size_t utf16_length = 0;  // the reference steps back by this when reading the path
  };
  struct Match {
    int id;
    double score;
  };

  std::vector<Piece> pieces_;
  // Code points of a piece → id and score (later duplicates win, as in the reference's trie).
  std::unordered_map<std::u32string, Match> lookup_;
  std::size_t longest_piece_ = 0;  // in code points
};

}  // namespace ragline::models::local
