#pragma once
// A small progress bar for ingest on a terminal (Debian ships no progress-bar library).
// Draws on stderr only when stderr is a terminal; redraws at most ten times a second.

#include <chrono>

#include "ragline/types.hpp"

namespace ragline::tools {

class ProgressBar {
 public:
  ProgressBar();
  void update(const IngestProgress& progress);
  // Clears the bar so the summary line starts on a clean line.
  void finish();

 private:
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace ragline::tools
