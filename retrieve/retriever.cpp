#include "retrieve/retriever.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <unordered_set>

#include "core/check.hpp"
#include "core/hash.hpp"
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

FusionConfig resolve_fusion(const FusionConfig& config, const EmbedderConfig& embedder) {
  if (config.method != "auto") return config;
  FusionConfig resolved = config;
  if (embedder.name == "lexical") {
    resolved.method = "rrf";
    resolved.rrf_k = 5;
    resolved.bm25_weight = 1.0;
    resolved.dense_weight = 0.01;
  } else if (embedder.name == "use-lite") {
    // scripts/fusion-sweep.sh --embedder use-lite: the best mean nDCG@10 of the settings that
    // lose to BM25 on no set; it needs the long candidate lists (100 per side lost on one set).
    resolved.method = "weighted";
    resolved.normalization = "minmax";
    resolved.alpha = 0.2;
    if (config.candidates == FusionConfig{}.candidates) resolved.candidates = 1000;
  } else {
    resolved.method = "weighted";
    resolved.normalization = "minmax";
    resolved.alpha = 0.3;
  }
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

Retriever::Retriever(index::Store& store, index::KeywordIndex& keywords, index::SyncedVectorIndex& vectors,
                     std::unique_ptr<models::Embedder> embedder, LogCallback log)
    : store_(store), keywords_(keywords), vectors_(vectors), embedder_(std::move(embedder)), log_(std::move(log)) {}

std::vector<float> Retriever::embed_query(const std::string& text) {
  RAGLINE_CHECK(embedder_ != nullptr, unsupported,
                "KB " << store_.directory().string() << " has no embedder (created with \"none\"): use mode bm25");
  // Term weights come from the KB's statistics, so cached query vectors last one generation.
  if (const std::int64_t generation = store_.generation(); generation != query_cache_generation_) {
    query_cache_.clear();
    query_cache_index_.clear();
    query_cache_generation_ = generation;
  }
  if (auto found = query_cache_index_.find(text); found != query_cache_index_.end()) {
    query_cache_.splice(query_cache_.begin(), query_cache_, found->second);
    return found->second->second;
  }
  std::vector<float> vector;
  if (auto* weighted = dynamic_cast<models::TermWeightedEmbedder*>(embedder_.get()); weighted) {
    vector = weighted->embed_query(text, [&](std::string_view term) { return term_idf(term); });
  } else {
    // Model vectors are also kept in the KB's embedding cache, so a query asked again in another
    // process does not call the model either. Queries have keys of their own: some models embed
    // a query differently from the same text as a document.
    const std::string embedder_id = embedder_->cacheable() ? store_.embedder_id() : std::string();
    const std::string key = core::sha256("query\n" + text);
    if (!embedder_id.empty()) {
      auto cached = store_.cached_embeddings(embedder_id, {key});
      if (auto found = cached.find(key); found != cached.end()) vector = std::move(found->second);
    }
    if (vector.empty()) {
      const std::string one[] = {text};
      auto matrix = embedder_->embed(one, models::EmbedPurpose::query);
      RAGLINE_CHECK(matrix.rows == 1, internal, "embedder returned " << matrix.rows << " vectors for one query");
      vector.assign(matrix.values.begin(), matrix.values.end());
      if (!embedder_id.empty() && pending_cache_writes_.size() < kQueryCacheEntries) {
        pending_cache_writes_.emplace_back(key, vector);
      }
    }
  }
  query_cache_.emplace_front(text, vector);
  query_cache_index_[text] = query_cache_.begin();
  if (query_cache_.size() > kQueryCacheEntries) {
    query_cache_index_.erase(query_cache_.back().first);
    query_cache_.pop_back();
  }
  return vector;
}

void Retriever::save_query_vectors() {
  if (pending_cache_writes_.empty()) return;
  // Best effort, never waiting: while an ingest holds the write lock the vectors stay pending
  // for the next query (the cache saves model calls; it is not needed for correctness).
  sqlite3* database = store_.database().get();
  sqlite3_busy_timeout(database, 0);
  try {
    index::WriteTransaction transaction(store_.database());
    const std::string embedder_id = store_.embedder_id();
    for (const auto& [key, vector] : pending_cache_writes_) {
      if (vector.size() != store_.vector_dimension()) continue;
      store_.put_cached_embeddings(embedder_id, {key}, vector, vector.size());
    }
    transaction.commit();
    pending_cache_writes_.clear();
  } catch (const Error& error) {
    if (error.kind() != ErrorKind::busy && log_) {
      log_(LogLevel::warning, std::string("query vectors not cached: ") + error.what());
    }
    if (error.kind() != ErrorKind::busy) pending_cache_writes_.clear();
  }
  sqlite3_busy_timeout(database, index::kBusyTimeoutMs);
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

SearchResult Retriever::search(const Query& query) {
  SearchResult result;
  SearchExplanation& explanation = result.explanation;
  RAGLINE_CHECK(query.k <= kMaxResults, invalid_argument, "k is " << query.k << "; at most " << kMaxResults);
  const FusionConfig fusion = resolve_fusion(query.fusion, store_.embedder());
  if (query.mode == SearchMode::hybrid) {
    validate(fusion);
    RAGLINE_CHECK(fusion.candidates <= kMaxResults, invalid_argument,
                  "fusion candidates is " << fusion.candidates << "; at most " << kMaxResults);
  }
  SearchMode mode = query.mode;
  if (mode != SearchMode::bm25 && store_.embedder().name == "none") {
    RAGLINE_CHECK(
        mode == SearchMode::hybrid, unsupported,
        "KB " << store_.directory().string() << " was created without an embedder: dense search is unavailable");
    mode = SearchMode::bm25;
  }
  explanation.mode = mode;
  if (mode == SearchMode::hybrid) explanation.fusion = describe(fusion);
  if (query.k == 0) return result;

  // The query is embedded before the read snapshot opens: a model service may take a while, and
  // an open snapshot keeps the WAL from being checkpointed past it.
  std::vector<float> query_vector;
  if (mode != SearchMode::bm25) {
    const auto started = Clock::now();
    query_vector = embed_query(query.text);
    explanation.embed_ms = elapsed_ms(started);
  }

  index::ReadTransaction snapshot(store_.database());

  std::optional<index::ChunkIdSet> allowed;
  if (!query.filter.empty()) {
    auto started = Clock::now();
    const Filter filter = Filter::parse(query.filter);
    allowed = matching_chunks(store_.database(), filter);
    explanation.filtered = true;
    explanation.filter_matches = allowed->size();
    explanation.filter_ms = elapsed_ms(started);
    if (allowed->empty()) return result;
  }
  const index::ChunkIdSet* allowed_set = allowed ? &*allowed : nullptr;

  const index::VectorIndex* vector_index = nullptr;
  if (mode != SearchMode::bm25) {
    const auto started = Clock::now();
    vectors_.refresh(store_, log_);
    vector_index = vectors_.index();
    explanation.dense_ms += elapsed_ms(started);
  }

  std::size_t exact_threshold = query.exact_search_threshold;
  if (exact_threshold == 0) {
    exact_threshold = kDefaultExactSearchThreshold;
    const auto& config = store_.vector_index_config();
    const bool vectors_in_memory = !(config.type == "ivf" && config.pq_m > 0);
    if (vector_index && vectors_in_memory && vector_index->dimension() > 0) {
      exact_threshold = std::max(exact_threshold, kExactSearchFloats / vector_index->dimension());
    }
  }
  const auto dense_search = [&](std::size_t depth) {
    RankedList list;
    if (!vector_index || vector_index->size() == 0) return list;
    if (query_vector.size() != vector_index->dimension()) {
      RAGLINE_THROW(invalid_argument, "query vector has dimension " << query_vector.size() << "; the KB's vectors have "
                                                                    << vector_index->dimension());
    }
    std::vector<index::VectorHit> hits;
    const auto exact = [&] {
      explanation.dense_path = "exact";
      const auto ids = allowed->ids();
      if (auto in_memory = vector_index->search_exact(query_vector, depth, ids)) return std::move(*in_memory);
      const auto stored = store_.vectors_of(ids);
      return index::exact_top_k(query_vector, depth, stored.ids, stored.values);
    };
    if (allowed && allowed->size() <= exact_threshold) {
      hits = exact();
    } else {
      explanation.dense_path = "index:" + vector_index->description();
      index::VectorSearchOptions options;
      options.ef_search = query.ef_search;
      options.nprobe = query.nprobe;
      hits = vector_index->search(query_vector, depth, allowed_set, options);
      // An ANN structure can miss allowed vectors under a filter; k matching chunks must still
      // give k hits, so a short answer is redone exactly.
      if (allowed && hits.size() < std::min(depth, allowed->size())) hits = exact();
    }
    list.reserve(hits.size());
    for (const auto& hit : hits) list.push_back({hit.chunk_id, static_cast<double>(hit.score)});
    return list;
  };

  const bool hierarchical = store_.chunker().name == "hierarchical";
  std::size_t depth = mode == SearchMode::hybrid ? std::max(fusion.candidates, query.k) : query.k;
  if (hierarchical) depth = std::max(depth, query.k * 4);

  std::vector<FusedHit> ranked;
  std::vector<std::int64_t> ids;
  std::unordered_map<std::int64_t, const FusedHit*> by_id;
  for (;;) {
    RankedList bm25_list;
    RankedList dense_list;
    if (mode != SearchMode::dense) {
      const auto started = Clock::now();
      for (const auto& hit : keywords_.search(query.text, depth, query.bm25, allowed_set)) {
        bm25_list.push_back({hit.chunk_id, hit.score});
      }
      explanation.bm25_ms += elapsed_ms(started);
    }
    if (mode != SearchMode::bm25) {
      const auto started = Clock::now();
      dense_list = dense_search(depth);
      explanation.dense_ms += elapsed_ms(started);
    }
    explanation.bm25_candidates = bm25_list.size();
    explanation.dense_candidates = dense_list.size();

    const auto fusion_started = Clock::now();
    ranked.clear();
    if (mode == SearchMode::hybrid) {
      ranked = fuse(fusion, bm25_list, dense_list);
    } else {
      const RankedList& list = mode == SearchMode::bm25 ? bm25_list : dense_list;
      for (std::size_t i = 0; i < list.size(); ++i) {
        FusedHit hit;
        hit.id = list[i].id;
        hit.score = list[i].score;
        (mode == SearchMode::bm25 ? hit.bm25 : hit.dense) = SourceScore{i + 1, list[i].score};
        ranked.push_back(hit);
      }
    }
    explanation.fusion_ms += elapsed_ms(fusion_started);

    ids.clear();
    by_id.clear();
    if (hierarchical) {
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
    if (!hierarchical || ids.size() >= query.k || exhausted || depth >= kMaxResults) break;
    depth = std::min(depth * 4, kMaxResults);
  }

  const auto hydrate_started = Clock::now();
  auto chunks = store_.chunks_by_id(ids);
  std::vector<std::int64_t> document_ids;
  for (const auto& chunk : chunks) document_ids.push_back(chunk.document_id);
  auto metadata = store_.metadata_of(document_ids);
  result.hits.reserve(chunks.size());
  for (auto& chunk : chunks) {
    const FusedHit& ranking = *by_id.at(chunk.id);
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
    hit.score = ranking.score;
    hit.bm25 = ranking.bm25;
    hit.dense = ranking.dense;
    result.hits.push_back(std::move(hit));
  }
  explanation.hydrate_ms = elapsed_ms(hydrate_started);
  return result;
}

}  // namespace ragline::retrieve
