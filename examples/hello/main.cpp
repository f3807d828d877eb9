// hello: ingest a path into a knowledge base and print the best chunks for a question.
//   hello KB_DIR PATH "question"

#include <iostream>
#include <ragline/ragline.hpp>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: hello KB_DIR PATH QUESTION\n";
    return 2;
  }
  try {
    auto kb = ragline::KnowledgeBase::open(argv[1]);
    const auto report = kb.ingest({argv[2]});
    std::cout << report.documents_added << " documents added, " << report.chunks_written << " chunks\n";
    const auto hits = kb.retrieve({argv[3], 3});
    for (const auto& hit : hits) std::cout << hit.score << "  " << hit.title << "  " << hit.document_uri << "\n";
    return hits.empty() ? 1 : 0;
  } catch (const ragline::Error& error) {
    std::cerr << "hello: " << error.what() << "\n";
    return 1;
  }
}
