#include "net/sse.hpp"

#include "core/check.hpp"

namespace ragline::net {

void SseParser::feed(std::string_view bytes, const EventHandler& on_event) {
  std::size_t position = 0;
  while (position < bytes.size()) {
    if (after_cr_) {
      after_cr_ = false;
      if (bytes[position] == '\n') {
        ++position;
        continue;
      }
    }
    const std::size_t end = bytes.find_first_of("\r\n", position);
    if (end == std::string_view::npos) {
      RAGLINE_CHECK(line_.size() + (bytes.size() - position) <= max_line_bytes_, format,
                    "server-sent events: a line longer than " << max_line_bytes_ << " bytes");
      line_.append(bytes.substr(position));
      return;
    }
    after_cr_ = bytes[end] == '\r';
    std::string line = std::move(line_);
    line_.clear();
    line.append(bytes.substr(position, end - position));
    position = end + 1;
    process_line(line, on_event);
  }
}

bool SseParser::finish(const EventHandler& on_event) {
  if (!line_.empty()) {
    std::string line = std::move(line_);
    line_.clear();
    process_line(line, on_event);
  }
  after_cr_ = false;
  const bool clean = !pending_fields_;
  current_ = SseEvent{};
  has_data_ = false;
  pending_fields_ = false;
  return clean;
}

void SseParser::process_line(std::string_view line, const EventHandler& on_event) {
  if (line.empty()) {
    const bool dispatch = has_data_;
    SseEvent event = std::move(current_);
    current_ = SseEvent{};
    has_data_ = false;
    pending_fields_ = false;
    if (!dispatch) return;
    event.id = last_id_;
    ++events_;
    on_event(event);
    return;
  }
  if (line.front() == ':') return;
  pending_fields_ = true;
  const auto colon = line.find(':');
  const std::string_view field = line.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
  if (value.starts_with(' ')) value.remove_prefix(1);
  if (field == "data") {
    if (has_data_) current_.data.push_back('\n');
    current_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    current_.event.assign(value);
  } else if (field == "id") {
    // The standard ignores ids containing NUL.
    if (value.find('\0') == std::string_view::npos) last_id_.assign(value);
  }
  // "retry" and unknown fields are ignored: the client does not reconnect on its own.
}

}  // namespace ragline::net
