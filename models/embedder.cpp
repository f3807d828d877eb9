#include "models/embedder.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <string_view>

#include "core/check.hpp"
#include "models/local/bert.hpp"
#include "text/text_analyzer.hpp"

namespace ragline::models {
namespace {

constexpr std::size_t kLexicalDefaultDimension = 768;

// 64-bit FNV-1a, seeded per feature family so that a word and the same bytes as a character
// n-gram land in unrelated buckets. fnv1a_update continues a hash over more bytes.
std::uint64_t fnv1a_update(std::uint64_t state, std::string_view bytes) {
  for (unsigned char c : bytes) {
    state ^= c;
    state *= 0x100000001b3ull;
  }
  return state;
}

std::uint64_t fnv1a_start(std::uint64_t seed) { return 0xcbf29ce484222325ull ^ seed; }

// FNV's low bits mix poorly; a final avalanche (splitmix64) spreads them over the buckets.
std::uint64_t fnv1a_finish(std::uint64_t hash) {
  hash ^= hash >> 30;
  hash *= 0xbf58476d1ce4e5b9ull;
  hash ^= hash >> 27;
  hash *= 0x94d049bb133111ebull;
  hash ^= hash >> 31;
  return hash;
}

std::uint64_t fnv1a(std::string_view bytes, std::uint64_t seed) {
  return fnv1a_finish(fnv1a_update(fnv1a_start(seed), bytes));
}

constexpr std::uint64_t kWordSeed = 0x57;
constexpr std::uint64_t kBigramSeed = 0xb1;
constexpr std::uint64_t kCharGramSeed = 0xc4;

// Signed feature hashing (Weinberger et al.): each feature adds +w or -w to one coordinate, so
// collisions cancel out on average instead of piling up.
void add_feature(std::vector<float>& vector, std::uint64_t hash, float weight) {
  const std::size_t slot = static_cast<std::size_t>(hash % vector.size());
  vector[slot] += (hash >> 63) ? -weight : weight;
}

std::size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xe) return 3;
  if ((lead >> 3) == 0x1e) return 4;
  return 1;
}

// The built-in offline embedder. It is lexical, not semantic: texts are close when they share
// words, word pairs and word fragments, not when they mean the same thing in different words.
// Character 3-5-grams make it robust to typos and inflection ("retrieval" ~ "retrieve"), which
// is what it adds to BM25's exact, stemmed terms.
class LexicalEmbedder final : public Embedder, public TermWeightedEmbedder {
 public:
  LexicalEmbedder(std::size_t dimension, const AnalyzerConfig& analyzer)
      : dimension_(dimension),
        language_(analyzer.language),
        analyzer_(AnalyzerConfig{analyzer.language, /*stemming=*/true, /*stopwords=*/true}) {}

  std::string id() const override { return "lexical-v1/" + std::to_string(dimension_) + "/" + language_; }
  std::size_t dimension() const override { return dimension_; }
  bool cacheable() const override { return false; }

  // scripts/fusion-sweep.sh: its dense side is weaker than BM25 and says much the same, so RRF
  // with a small dense weight keeps BM25's top ranks and lets the vectors reorder the tail.
  FusionConfig fusion_defaults() const override {
    FusionConfig fusion;
    fusion.method = "rrf";
    fusion.rrf_k = 5;
    fusion.bm25_weight = 1.0;
    fusion.dense_weight = 0.01;
    return fusion;
  }

  EmbeddingMatrix embed(std::span<const std::string> texts, EmbedPurpose) override {
    EmbeddingMatrix matrix;
    matrix.rows = texts.size();
    matrix.dimension = dimension_;
    matrix.values.assign(texts.size() * dimension_, 0.0f);
    std::lock_guard lock(mutex_);
    std::vector<float> row(dimension_);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      embed_one(texts[i], row);
      std::memcpy(matrix.values.data() + i * dimension_, row.data(), dimension_ * sizeof(float));
    }
    normalize_rows(matrix);
    return matrix;
  }

  std::vector<float> embed_query(std::string_view text,
                                 const std::function<float(std::string_view term)>& weight) override {
    std::lock_guard lock(mutex_);
    std::vector<float> vector(dimension_);
    embed_one(text, vector, &weight);
    EmbeddingMatrix matrix{1, dimension_, std::move(vector)};
    normalize_rows(matrix);
    return std::move(matrix.values);
  }

 private:
  void embed_one(std::string_view text, std::vector<float>& vector,
                 const std::function<float(std::string_view)>* term_weight = nullptr) {
    std::fill(vector.begin(), vector.end(), 0.0f);
    // Terms go into one arena and are counted by sorting their hashes: no allocation per word.
    arena_.clear();
    terms_.clear();
    analyzer_.analyze(text, [&](const text::AnalyzedToken& token) {
      terms_.push_back({fnv1a(token.term, kWordSeed), static_cast<std::uint32_t>(arena_.size()),
                        static_cast<std::uint32_t>(token.term.size())});
      arena_.append(token.term);
      return true;
    });
    const auto term_text = [&](const Term& term) { return std::string_view(arena_).substr(term.offset, term.length); };
    // Sublinear term frequency (1 + log tf): a word said ten times is not ten times as telling.
    const auto sublinear = [](std::size_t count) { return 1.0f + std::log(static_cast<float>(count)); };

    pairs_.clear();
    for (std::size_t i = 1; i < terms_.size(); ++i) {
      std::uint64_t state = fnv1a_update(fnv1a_start(kBigramSeed), term_text(terms_[i - 1]));
      state = fnv1a_update(fnv1a_update(state, " "), term_text(terms_[i]));
      pairs_.push_back({fnv1a_finish(state), static_cast<std::uint32_t>(i)});
    }
    std::sort(pairs_.begin(), pairs_.end(), [](const Pair& x, const Pair& y) { return x.hash < y.hash; });
    for (std::size_t i = 0; i < pairs_.size();) {
      std::size_t j = i;
      while (j < pairs_.size() && pairs_[j].hash == pairs_[i].hash) ++j;
      float pair_weight = 1.0f;
      if (term_weight) {
        const std::uint32_t second = pairs_[i].second;
        pair_weight =
            0.5f * ((*term_weight)(term_text(terms_[second - 1])) + (*term_weight)(term_text(terms_[second])));
      }
      add_feature(vector, pairs_[i].hash, sublinear(j - i) * kBigramWeight * pair_weight);
      i = j;
    }

    std::sort(terms_.begin(), terms_.end(), [](const Term& x, const Term& y) { return x.hash < y.hash; });
    for (std::size_t i = 0; i < terms_.size();) {
      std::size_t j = i;
      while (j < terms_.size() && terms_[j].hash == terms_[i].hash) ++j;
      const std::string_view word = term_text(terms_[i]);
      const float weight = sublinear(j - i) * (term_weight ? (*term_weight)(word) : 1.0f);
      add_feature(vector, terms_[i].hash, weight);
      add_character_grams(vector, word, weight * kCharGramWeight);
      i = j;
    }
  }

  // Character 3-5-grams of "<word>" (code points, with boundary marks so prefixes and suffixes
  // are features of their own). A word's grams share its weight: a long word does not outweigh
  // a short one merely by having more fragments.
  void add_character_grams(std::vector<float>& vector, std::string_view word, float weight) {
    marked_.assign("<");
    marked_.append(word);
    marked_.push_back('>');
    starts_.clear();
    for (std::size_t i = 0; i < marked_.size(); i += utf8_length(static_cast<unsigned char>(marked_[i]))) {
      starts_.push_back(i);
    }
    const std::size_t code_points = starts_.size();
    starts_.push_back(marked_.size());
    std::size_t grams = 0;
    for (std::size_t n = 3; n <= 5; ++n) grams += code_points >= n ? code_points - n + 1 : 0;
    if (grams == 0) return;
    const float gram_weight = weight / std::sqrt(static_cast<float>(grams));
    for (std::size_t n = 3; n <= 5; ++n) {
      for (std::size_t first = 0; first + n <= code_points; ++first) {
        const std::string_view gram(marked_.data() + starts_[first], starts_[first + n] - starts_[first]);
        add_feature(vector, fnv1a(gram, kCharGramSeed + n), gram_weight);
      }
    }
  }

  // Chosen on Cranfield, MED and CISI together (dense nDCG@10, bench/README.md): character
  // n-grams carry twice a word's weight, bigrams a quarter; stemmed words beat folded ones.
  static constexpr float kBigramWeight = 0.25f;
  static constexpr float kCharGramWeight = 2.0f;

  std::size_t dimension_;
  std::string language_;
  std::mutex mutex_;
  text::TextAnalyzer analyzer_;
  struct Term {
    std::uint64_t hash;
    std::uint32_t offset;  // into arena_
    std::uint32_t length;
  };
  struct Pair {
    std::uint64_t hash;
    std::uint32_t second;  // index of the pair's second term in terms_ (before sorting)
  };
  std::string arena_;
  std::vector<Term> terms_;
  std::vector<Pair> pairs_;
  std::string marked_;
  std::vector<std::size_t> starts_;
};

}  // namespace

void normalize_vector(std::span<float> vector) {
  double norm = 0;
  for (const float value : vector) norm += static_cast<double>(value) * value;
  if (norm <= 0) return;
  const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
  for (float& value : vector) value *= scale;
}

void normalize_rows(EmbeddingMatrix& matrix) {
  for (std::size_t i = 0; i < matrix.rows; ++i) normalize_vector(matrix.row(i));
}

namespace {

std::unique_ptr<Embedder> make_lexical_embedder(const EmbedderConfig& config, const AnalyzerConfig& analyzer) {
  const std::size_t dimension =
      config.dimension > 0 ? static_cast<std::size_t>(config.dimension) : kLexicalDefaultDimension;
  RAGLINE_CHECK(dimension >= 16 && dimension <= 65536, invalid_argument,
                "lexical embedder dimension " << dimension << " is outside 16..65536");
  return std::make_unique<LexicalEmbedder>(dimension, analyzer);
}

// The names KBs may have recorded for the built-in embedders: an application may not replace them.
bool is_built_in(const std::string& name) {
  return name == "lexical" || name == "openai" || name == "bedrock" || name == "bert" || name == "use-lite";
}

struct Registry {
  std::mutex mutex;
  std::map<std::string, EmbedderFactory> factories = {
      {"lexical", make_lexical_embedder},
      {"openai", [](const EmbedderConfig& config, const AnalyzerConfig&) { return make_openai_embedder(config); }},
      {"bedrock", [](const EmbedderConfig& config, const AnalyzerConfig&) { return make_bedrock_embedder(config); }},
      {"bert", [](const EmbedderConfig& config, const AnalyzerConfig&) { return local::make_bert_embedder(config); }},
      {"use-lite", [](const EmbedderConfig& config, const AnalyzerConfig&) { return make_use_lite_embedder(config); }},
  };
};

Registry& registry() {
  static Registry instance;
  return instance;
}

std::string known_names() {
  std::string names;
  for (const auto& name : registered_embedders()) names += name + ", ";
  return names + "none";
}

}  // namespace

FusionConfig model_fusion_defaults() {
  FusionConfig fusion;
  fusion.method = "weighted";
  fusion.normalization = "minmax";
  fusion.alpha = 0.3;
  return fusion;
}

std::unique_ptr<Embedder> make_embedder(const EmbedderConfig& config, const AnalyzerConfig& analyzer) {
  RAGLINE_CHECK(config.dimension >= 0, invalid_argument, "embedder dimension must not be negative");
  check_embedder_name(config.name);
  RAGLINE_CHECK(config.name != "none", invalid_argument, "the embedder \"none\" makes no vectors");
  EmbedderFactory factory;
  {
    std::lock_guard lock(registry().mutex);
    factory = registry().factories.at(config.name);
  }
  auto embedder = factory(config, analyzer);
  RAGLINE_CHECK(embedder != nullptr, invalid_argument, "the factory of embedder \"" << config.name << "\" made none");
  return embedder;
}

bool is_registered_embedder(const std::string& name) {
  std::lock_guard lock(registry().mutex);
  return registry().factories.count(name) > 0;
}

void check_embedder_name(const std::string& name) {
  if (name == "none" || is_registered_embedder(name)) return;
  RAGLINE_THROW(invalid_argument, "unknown embedder \"" << name << "\" (known: " << known_names()
                                                        << "; an application adds names with register_embedder)");
}

}  // namespace ragline::models

namespace ragline {

Embedder::~Embedder() = default;

FusionConfig Embedder::fusion_defaults() const { return models::model_fusion_defaults(); }

void register_embedder(const std::string& name, EmbedderFactory factory) {
  RAGLINE_CHECK(!name.empty(), invalid_argument, "register_embedder: the name is empty");
  RAGLINE_CHECK(name != "none" && name != "application" && !models::is_built_in(name), invalid_argument,
                "register_embedder: \"" << name << "\" is reserved (built in, or recorded by KBs with that meaning)");
  RAGLINE_CHECK(factory != nullptr, invalid_argument, "register_embedder(\"" << name << "\"): the factory is empty");
  auto& registry = models::registry();
  std::lock_guard lock(registry.mutex);
  registry.factories[name] = std::move(factory);
}

std::vector<std::string> registered_embedders() {
  auto& registry = models::registry();
  std::lock_guard lock(registry.mutex);
  std::vector<std::string> names;
  for (const auto& [name, factory] : registry.factories) names.push_back(name);
  return names;
}

}  // namespace ragline
