#pragma once
// An incremental parser of server-sent events (the text/event-stream format of the WHATWG HTML
// standard, section 9.2 "Server-sent events"), as streamed by OpenAI-compatible chat endpoints.
//
// Bytes are fed as they arrive, split anywhere (inside a line, between CR and LF, inside a
// UTF-8 sequence); complete events come out in order. Lines end in LF, CRLF or CR. A line
// starting with ':' is a comment; "field: value" drops one space after the colon; repeated
// data lines are joined with '\n'; an empty line dispatches the event (an event without data
// lines is dropped, as the standard says). The parser only splits: "[DONE]" is ordinary data
// for the caller to recognise. Pure (no I/O), so fuzz targets can drive it directly.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace ragline::net {

struct SseEvent {
  std::string event;  // the "event:" field; empty means the default type "message"
  std::string data;   // data lines joined with '\n'
  std::string id;     // the last "id:" seen so far in the stream
};

class SseParser {
 public:
  using EventHandler = std::function<void(const SseEvent&)>;

  // Lines longer than max_line_bytes throw Error(format): a peer sending no newline must not
  // grow memory without bound.
  explicit SseParser(std::size_t max_line_bytes = 16 << 20) : max_line_bytes_(max_line_bytes) {}

  // Parses `bytes` and calls on_event for every event completed by them. An exception thrown
  // by on_event propagates; the parser then stays usable for the bytes after that event.
  void feed(std::string_view bytes, const EventHandler& on_event);

  // End of stream: a final line without its terminator is processed; an event that was not
  // followed by an empty line is discarded (the standard's rule). Returns true when the stream
  // ended cleanly on an event boundary (nothing pending).
  bool finish(const EventHandler& on_event);

  // Events dispatched so far.
  std::size_t events() const { return events_; }

 private:
  void process_line(std::string_view line, const EventHandler& on_event);

  std::size_t max_line_bytes_;
  std::string line_;
  bool after_cr_ = false;  // the previous byte was CR: a following LF belongs to the same line end
  bool has_data_ = false;
  bool pending_fields_ = false;  // some field line seen since the last dispatch
  SseEvent current_;
  std::string last_id_;
  std::size_t events_ = 0;
};

}  // namespace ragline::net
