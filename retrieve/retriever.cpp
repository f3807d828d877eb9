#include "retrieve/retriever.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <unordered_set>

#include "core/check.hpp"
#include "ingest/chunker.hpp"
#include "retrieve/filter.hpp"
#include "retrieve/fusion.hpp"

namespace ragline::retrieve {
namespace {

using Clock = std::chrono::steady_clock;

double elapsed_ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

constexpr std::size_t kQueryCacheEntries = 256;
// A query may ask for at most this many results (and candidates per side).
constexpr std::size_t kMaxResults = 10000;

// One ranked candidate list of a query, best first.
using RankedList = std::vector<ScoredId>;

}  // namespace

FusionConfig resolve_fusion(const FusionConfig& config, const models::Embedder* embedder) {
  if (config.method != "auto") return config;
  FusionConfig resolved = embedder ? embedder->fusion_defaults() : models::model_fusion_defaults();
  RAGLINE_CHECK(resolved.method != "auto", invalid_argument,
                "embedder " << embedder->id() << ": fusion_defaults() must name a method, not \"auto\"");
  // Candidates the query chose stay; left at the default, the embedder's count applies.
  if (config.candidates != FusionConfig{}.candidates) resolved.candidates = config.candidates;
  return resolved;
}

std::string describe(const FusionConfig& config) {
  std::ostringstream text;
  text << config.method;
  if (config.method == "rrf") {
    text << " k=" << config.rrf_k << " bm25_weight=" << config.bm25_weight << " dense_weight=" << config.dense_weight;
  } else if (config.method == "weighted") {
    text << " " << config.normalization << " alpha=" << config.alpha;
  } else {
    text << " alpha=" << config.alpha;
  }
  text << " candidates=" << config.candidates;
  return text.str();
}

std::vector<float> StoredEmbeddingReader::find(const std::string& embedder_id, const std::string& key) {
  if (embedder_id.empty()) return {};
  auto found = store_.cached_embeddings(embedder_id, {key});
  if (found.empty()) return {};
  return std::move(found.begin()->second);
}

Retriever::Retriever(index::Store& store, index::KeywordIndex& keywords, index::SyncedVectorIndex& vectors,
                     std::shared_ptr<models::Embedder> embedder, LogCallback log)
    : store_(store),
      keywords_(keywords),
      vectors_(vectors),
      embedder_(std::move(embedder)),
      term_weighted_(dynamic_cast<models::TermWeightedEmbedder*>(embedder_.get())),
      returns_parents_(ingest::make_chunker(store_.chunker())->returns_parents()),
      log_(std::move(log)),
      stored_embeddings_(store_),
      // Term-weighted vectors depend on this KB's statistics and are never in kb.sqlite.
      query_vectors_(kQueryCacheEntries, term_weighted_ ? nullptr : &stored_embeddings_) {
  if (embedder_ && !term_weighted_) query_embedder_.emplace(*embedder_, query_vectors_);
}

std::vector<float> Retriever::embed_query(const std::string& text) {
  RAGLINE_CHECK(embedder_ != nullptr, unsupported,
                "KB " << store_.directory().string() << " has no embedder (created with \"none\"): use mode bm25");
  if (term_weighted_) {
    // Term weights come from the KB's statistics, so these vectors last one generation.
    if (const std::int64_t generation = store_.generation(); generation != query_vectors_generation_) {
      query_vectors_.clear();
      query_vectors_generation_ = generation;
    }
    const std::string id = embedder_->id();
    const std::string key = models::embedding_cache_key(text, models::EmbedPurpose::query);
    if (auto cached = query_vectors_.find(id, key); !cached.empty()) return cached;
    auto vector = term_weighted_->embed_query(text, [&](std::string_view term) { return term_idf(term); });
    query_vectors_.keep(id, key, vector);
    return vector;
  }
  query_embedder_->expect_id(store_.embedder_id());
  const std::string one[] = {text};
  const auto matrix = query_embedder_->embed(one, models::EmbedPurpose::query);
  RAGLINE_CHECK(matrix.rows == 1, internal, "embedder returned " << matrix.rows << " vectors for one query");
  return std::move(matrix.values);
}

std::vector<std::vector<float>> Retriever::hit_vectors(std::span<const Hit> hits) {
  RAGLINE_CHECK(
      embedder_ != nullptr, unsupported,
      "KB " << store_.directory().string() << " has no embedder (created with \"none\"): no vectors to rerank by");
  std::vector<std::int64_t> ids;
  for (const auto& hit : hits) ids.push_back(hit.chunk_id);
  const auto stored = store_.vectors_of(ids);
  const std::size_t dimension = stored.ids.empty() ? 0 : stored.values.size() / stored.ids.size();
  std::unordered_map<std::int64_t, std::size_t> row_of;
  for (std::size_t row = 0; row < stored.ids.size(); ++row) row_of.emplace(stored.ids[row], row);
  std::vector<std::vector<float>> vectors(hits.size());
  std::vector<std::string> missing_texts;
  std::vector<std::size_t> missing;
  for (std::size_t i = 0; i < hits.size(); ++i) {
    if (auto found = row_of.find(hits[i].chunk_id); found != row_of.end()) {
      const auto begin = stored.values.begin() + static_cast<std::ptrdiff_t>(found->second * dimension);
      vectors[i].assign(begin, begin + static_cast<std::ptrdiff_t>(dimension));
    } else {
      missing.push_back(i);
      missing_texts.push_back(hits[i].text);
    }
  }
  if (!missing.empty()) {
    const auto matrix = embedder_->embed(missing_texts, models::EmbedPurpose::document);
    RAGLINE_CHECK(matrix.rows == missing.size(), internal,
                  "embedder returned " << matrix.rows << " vectors for " << missing.size() << " texts");
    for (std::size_t row = 0; row < missing.size(); ++row) {
      const auto begin = matrix.values.begin() + static_cast<std::ptrdiff_t>(row * matrix.dimension);
      vectors[missing[row]].assign(begin, begin + static_cast<std::ptrdiff_t>(matrix.dimension));
    }
  }
  return vectors;
}

float Retriever::term_idf(std::string_view term) {
  auto& database = store_.database();
  if (!vocabulary_) {
    database.exec(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.ragline_vocabulary USING fts5vocab(main, chunk_keywords, 'row')");
    vocabulary_.emplace(database.prepare("SELECT doc FROM temp.ragline_vocabulary WHERE term = ?1"));
  }
  const std::int64_t generation = store_.generation();
  if (generation != searchable_generation_) {
    searchable_chunks_ = database.query_int64("SELECT count(*) FROM chunks WHERE searchable = 1").value_or(0);
    searchable_generation_ = generation;
  }
  vocabulary_->bind(1, term);
  const double n = vocabulary_->step() ? static_cast<double>(vocabulary_->column_int64(0)) : 0.0;
  vocabulary_->reset();
  const double total = static_cast<double>(searchable_chunks_);
  return static_cast<float>(std::log(1.0 + (total - n + 0.5) / (n + 0.5)));
}

void validate_query(const Query& query) {
  RAGLINE_CHECK(query.k <= kMaxResults, invalid_argument, "k is " << query.k << "; at most " << kMaxResults);
  FusionConfig fusion = query.fusion;
  // "auto" is the embedder's to resolve; the other fields are checked as given.
  if (fusion.method == "auto") fusion.method = "rrf";
  validate(fusion);
  RAGLINE_CHECK(fusion.candidates <= kMaxResults, invalid_argument,
                "fusion candidates is " << fusion.candidates << "; at most " << kMaxResults);
  if (!query.filter.empty()) Filter::parse(query.filter);
}

Retriever::Plan Retriever::plan(const Query& query, SearchExplanation& explanation) const {
  validate_query(query);
  Plan plan;
  plan.fusion = resolve_fusion(query.fusion, embedder_.get());
  if (query.mode == SearchMode::hybrid) {
    validate(plan.fusion);
    RAGLINE_CHECK(plan.fusion.candidates <= kMaxResults, invalid_argument,
                  "fusion candidates is " << plan.fusion.candidates << "; at most " << kMaxResults);
  }
  plan.mode = query.mode;
  if (plan.mode != SearchMode::bm25 && !embedder_) {
    RAGLINE_CHECK(
        plan.mode == SearchMode::hybrid, unsupported,
        "KB " << store_.directory().string() << " was created without an embedder: dense search is unavailable");
    plan.mode = SearchMode::bm25;
  }
  explanation.mode = plan.mode;
  if (plan.mode == SearchMode::hybrid) explanation.fusion = describe(plan.fusion);
  plan.returns_parents = returns_parents_;
  plan.depth = plan.mode == SearchMode::hybrid ? std::max(plan.fusion.candidates, query.k) : query.k;
  if (plan.returns_parents) plan.depth = std::max(plan.depth, query.k * 4);
  return plan;
}

std::optional<index::ChunkIdSet> Retriever::filter_chunks(const Query& query, SearchExplanation& explanation) {
  if (query.filter.empty()) return std::nullopt;
  const auto started = Clock::now();
  const Filter filter = Filter::parse(query.filter);
  auto allowed = matching_chunks(store_.database(), filter);
  explanation.filtered = true;
  explanation.filter_matches = allowed.size();
  explanation.filter_ms = elapsed_ms(started);
  return allowed;
}

// The dense side of one query: the in-memory vector index brought up to the snapshot, and the
// rule that scores a small filtered set exactly instead of through the ANN index.
class Retriever::DenseSide {
 public:
  DenseSide(Retriever& retriever, const Query& query, std::vector<float> query_vector, const index::ChunkIdSet* allowed,
            SearchExplanation& explanation)
      : retriever_(retriever),
        query_(query),
        query_vector_(std::move(query_vector)),
        allowed_(allowed),
        explanation_(explanation) {
    const auto started = Clock::now();
    retriever_.vectors_.refresh(retriever_.store_, retriever_.log_);
    vector_index_ = retriever_.vectors_.index();
    explanation_.dense_ms += elapsed_ms(started);
    exact_threshold_ = query.exact_search_threshold;
    if (exact_threshold_ == 0) {
      exact_threshold_ = kDefaultExactSearchThreshold;
      const auto& config = retriever_.store_.vector_index_config();
      const bool vectors_in_memory = !(config.type == "ivf" && config.pq_m > 0) && config.type != "flat";
      if (vector_index_ && vectors_in_memory && vector_index_->dimension() > 0) {
        exact_threshold_ = std::max(exact_threshold_, kExactSearchFloats / vector_index_->dimension());
      }
    }
  }

  // The `depth` nearest allowed chunks, best first.
  RankedList search(std::size_t depth) {
    RankedList list;
    if (!vector_index_ || vector_index_->size() == 0) return list;
    if (query_vector_.size() != vector_index_->dimension()) {
      RAGLINE_THROW(invalid_argument, "query vector has dimension " << query_vector_.size()
                                                                    << "; the KB's vectors have "
                                                                    << vector_index_->dimension());
    }
    std::vector<index::VectorHit> hits;
    if (allowed_ && allowed_->size() <= exact_threshold_) {
      hits = exact(depth);
    } else {
      explanation_.dense_path = "index:" + vector_index_->description();
      index::VectorSearchOptions options;
      options.ef_search = query_.ef_search;
      options.nprobe = query_.nprobe;
      // flat keeps int8 codes in memory: its candidates are rescored from kb.sqlite's floats.
      hits = index::search_rescored(retriever_.store_, *vector_index_, query_vector_, depth, allowed_, options);
      // An ANN structure can miss allowed vectors under a filter; k matching chunks must still
      // give k hits, so a short answer is redone exactly.
      if (allowed_ && hits.size() < std::min(depth, allowed_->size())) hits = exact(depth);
    }
    list.reserve(hits.size());
    for (const auto& hit : hits) list.push_back({hit.chunk_id, static_cast<double>(hit.score)});
    return list;
  }

 private:
  std::vector<index::VectorHit> exact(std::size_t depth) {
    explanation_.dense_path = "exact";
    const auto ids = allowed_->ids();
    if (auto in_memory = vector_index_->search_exact(query_vector_, depth, ids)) return std::move(*in_memory);
    const auto stored = retriever_.store_.vectors_of(ids);
    return index::exact_top_k(query_vector_, depth, stored.ids, stored.values);
  }

  Retriever& retriever_;
  const Query& query_;
  std::vector<float> query_vector_;
  const index::ChunkIdSet* allowed_;
  SearchExplanation& explanation_;
  const index::VectorIndex* vector_index_ = nullptr;
  std::size_t exact_threshold_ = 0;
};

Retriever::Ranking Retriever::rank_candidates(const Query& query, const Plan& plan, const index::ChunkIdSet* allowed,
                                              DenseSide* dense, SearchExplanation& explanation) {
  Ranking ranking;
  std::size_t depth = plan.depth;
  for (;;) {
    RankedList bm25_list;
    RankedList dense_list;
    if (plan.mode != SearchMode::dense) {
      const auto started = Clock::now();
      for (const auto& hit : keywords_.search(query.text, depth, query.bm25, allowed)) {
        bm25_list.push_back({hit.chunk_id, hit.score});
      }
      explanation.bm25_ms += elapsed_ms(started);
    }
    if (plan.mode != SearchMode::bm25) {
      const auto started = Clock::now();
      dense_list = dense->search(depth);
      explanation.dense_ms += elapsed_ms(started);
    }
    explanation.bm25_candidates = bm25_list.size();
    explanation.dense_candidates = dense_list.size();

    const auto fusion_started = Clock::now();
    auto& ranked = ranking.ranked;
    ranked.clear();
    if (plan.mode == SearchMode::hybrid) {
      ranked = fuse(plan.fusion, bm25_list, dense_list);
    } else {
      const RankedList& list = plan.mode == SearchMode::bm25 ? bm25_list : dense_list;
      for (std::size_t i = 0; i < list.size(); ++i) {
        FusedHit hit;
        hit.id = list[i].id;
        hit.score = list[i].score;
        (plan.mode == SearchMode::bm25 ? hit.bm25 : hit.dense) = SourceScore{i + 1, list[i].score};
        ranked.push_back(hit);
      }
    }
    explanation.fusion_ms += elapsed_ms(fusion_started);

    auto& ids = ranking.ids;
    auto& by_id = ranking.by_id;
    ids.clear();
    by_id.clear();
    if (plan.returns_parents) {
      // Children are searched and each parent is returned once, scored by its best child.
      // Children of one parent can crowd the top, so the search deepens until k parents are
      // found or the candidates run out.
      std::vector<std::int64_t> child_ids;
      for (const auto& hit : ranked) child_ids.push_back(hit.id);
      const auto parents = store_.parents_of(child_ids);
      for (std::size_t i = 0; i < ranked.size() && ids.size() < query.k; ++i) {
        if (by_id.emplace(parents[i], &ranked[i]).second) ids.push_back(parents[i]);
      }
    } else {
      for (std::size_t i = 0; i < ranked.size() && ids.size() < query.k; ++i) {
        ids.push_back(ranked[i].id);
        by_id.emplace(ranked[i].id, &ranked[i]);
      }
    }
    const bool exhausted = bm25_list.size() < depth && dense_list.size() < depth;
    if (!plan.returns_parents || ids.size() >= query.k || exhausted || depth >= kMaxResults) break;
    depth = std::min(depth * 4, kMaxResults);
  }
  return ranking;
}

std::vector<Hit> Retriever::hydrate(const Ranking& ranking) {
  auto chunks = store_.chunks_by_id(ranking.ids);
  std::vector<std::int64_t> document_ids;
  for (const auto& chunk : chunks) document_ids.push_back(chunk.document_id);
  auto metadata = store_.metadata_of(document_ids);
  std::vector<Hit> hits;
  hits.reserve(chunks.size());
  for (auto& chunk : chunks) {
    const FusedHit& scores = *ranking.by_id.at(chunk.id);
    Hit hit;
    hit.chunk_id = chunk.id;
    hit.document_uri = std::move(chunk.document_uri);
    hit.title = std::move(chunk.title);
    hit.heading_path = std::move(chunk.heading_path);
    hit.text = std::move(chunk.text);
    hit.byte_start = chunk.byte_start;
    hit.byte_end = chunk.byte_end;
    hit.page = chunk.page;
    hit.metadata = metadata[chunk.document_id];
    hit.score = scores.score;
    hit.bm25 = scores.bm25;
    hit.dense = scores.dense;
    hits.push_back(std::move(hit));
  }
  return hits;
}

SearchResult Retriever::search(const Query& query) {
  SearchResult result;
  SearchExplanation& explanation = result.explanation;
  Plan plan = this->plan(query, explanation);
  if (query.k == 0) return result;
  // Without a searchable term (empty, blank, only stopwords) no chunk is more relevant than any
  // other: every mode answers nothing rather than arbitrary chunks.
  if (keywords_.match_expression(query.text).empty()) {
    explanation.warnings.push_back(
        "the query has no searchable terms (it is empty, blank or only stopwords): no results");
    return result;
  }

  // The query is embedded before the read snapshot opens: a model service may take a while, and
  // an open snapshot keeps the WAL from being checkpointed past it.
  std::vector<float> query_vector;
  if (plan.mode != SearchMode::bm25) {
    const auto started = Clock::now();
    try {
      query_vector = embed_query(query.text);
    } catch (const Error& error) {
      // A model service that is down must not take keyword search down with it: hybrid answers
      // from BM25 alone and says so; dense has nothing to fall back on.
      if (plan.mode != SearchMode::hybrid || error.kind() != ErrorKind::network) throw;
      const std::string warning =
          std::string("the query could not be embedded, so the results are BM25 only: ") + error.what();
      explanation.warnings.push_back(warning);
      if (log_) log_(LogLevel::warning, warning);
      plan.mode = SearchMode::bm25;
      explanation.mode = SearchMode::bm25;
      explanation.fusion.clear();
    }
    explanation.embed_ms = elapsed_ms(started);
  }

  index::ReadTransaction snapshot(store_.database());
  const auto allowed = filter_chunks(query, explanation);
  if (allowed && allowed->empty()) return result;
  const index::ChunkIdSet* allowed_set = allowed ? &*allowed : nullptr;

  std::optional<DenseSide> dense;
  if (plan.mode != SearchMode::bm25) dense.emplace(*this, query, std::move(query_vector), allowed_set, explanation);
  const Ranking ranking = rank_candidates(query, plan, allowed_set, dense ? &*dense : nullptr, explanation);

  const auto hydrate_started = Clock::now();
  result.hits = hydrate(ranking);
  explanation.hydrate_ms = elapsed_ms(hydrate_started);
  return result;
}

}  // namespace ragline::retrieve
