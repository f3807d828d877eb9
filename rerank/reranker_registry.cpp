#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <sstream>

#include "core/check.hpp"
#include "rerank/reranker.hpp"

namespace ragline::rerank {
namespace {

// At most this many hits go into a chain (the retriever's own limit on k).
constexpr std::size_t kMaxRerankCandidates = 10000;

std::map<std::string, RerankerFactory>& registry() {
  static std::map<std::string, RerankerFactory> factories = {
      {"mmr", make_mmr_reranker},
      {"reorder", make_reorder_reranker},
      {"http", make_http_reranker},
      {"bedrock", make_bedrock_reranker},
  };
  return factories;
}

std::string known_names() {
  std::string names;
  for (const auto& [name, factory] : registry()) names += (names.empty() ? "" : ", ") + name;
  return names;
}

}  // namespace

std::unique_ptr<Reranker> make_reranker(const RerankerConfig& config) {
  const auto found = registry().find(config.name);
  RAGLINE_CHECK(found != registry().end(), invalid_argument,
                "unknown reranker \"" << config.name << "\" (known: " << known_names() << ")");
  RAGLINE_CHECK(
      config.candidates <= kMaxRerankCandidates, invalid_argument,
      "reranker " << config.name << ": candidates is " << config.candidates << "; at most " << kMaxRerankCandidates);
  RAGLINE_CHECK(!config.min_score || std::isfinite(*config.min_score), invalid_argument,
                "reranker " << config.name << ": min_score is not a finite number");
  return found->second(config);
}

void register_reranker(const std::string& name, RerankerFactory factory) { registry()[name] = std::move(factory); }

std::vector<std::string> reranker_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : registry()) names.push_back(name);
  return names;
}

std::size_t rerank_input_size(const std::vector<RerankerConfig>& stages, std::size_t k) {
  if (stages.empty()) return k;
  const std::size_t first = stages.front().candidates == 0 ? kDefaultRerankCandidates : stages.front().candidates;
  return std::max(k, first);
}

std::vector<Hit> run_rerank_chain(const std::vector<RerankerConfig>& stages, const RerankRequest& request,
                                  std::vector<Hit> hits, SearchExplanation& explanation) {
  std::vector<std::unique_ptr<Reranker>> rerankers;
  rerankers.reserve(stages.size());
  for (const auto& stage : stages) rerankers.push_back(make_reranker(stage));
  for (std::size_t stage = 0; stage < stages.size(); ++stage) {
    const auto started = std::chrono::steady_clock::now();
    if (stages[stage].candidates > 0 && hits.size() > stages[stage].candidates) hits.resize(stages[stage].candidates);
    const std::size_t given = hits.size();
    hits = rerankers[stage]->rerank(request, std::move(hits));
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    std::ostringstream text;
    text << rerankers[stage]->describe() << " in=" << given << " out=" << hits.size() << " ms=" << ms;
    explanation.rerankers.push_back(text.str());
    explanation.rerank_ms += ms;
  }
  return hits;
}

std::size_t output_size(const RerankerConfig& config, const RerankRequest& request) {
  return config.top_n == 0 ? request.k : config.top_n;
}

}  // namespace ragline::rerank
