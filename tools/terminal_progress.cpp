#include "terminal_progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace ragline::tools {

ProgressBar::ProgressBar() : enabled_(::isatty(STDERR_FILENO) == 1) {}

void ProgressBar::update(const IngestProgress& progress) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const bool last = progress.files_done == progress.files_total;
  if (!last && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;

  constexpr int kWidth = 30;
  const double fraction = progress.bytes_total > 0
                              ? static_cast<double>(progress.bytes_done) / static_cast<double>(progress.bytes_total)
                              : 1.0;
  const int filled = static_cast<int>(fraction * kWidth + 0.5);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(kWidth - filled), '.');
  const double megabytes = static_cast<double>(progress.bytes_done) / 1e6;
  const double rate = progress.seconds > 0 ? megabytes / progress.seconds : 0.0;
  std::fprintf(stderr, "\r[%s] %zu/%zu files  %.1f MB  %.1f MB/s ", bar.c_str(), progress.files_done,
               progress.files_total, megabytes, rate);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r%*s\r", 80, "");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace ragline::tools
