#pragma once
// A loopback HTTP/1.1 server for tests of HTTP clients: listens on 127.0.0.1 on an ephemeral
// port, serves each connection on its own thread (one request per connection, then
// Connection: close), records every request and answers through a handler.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace ragline::testing {

struct RecordedRequest {
  std::string method;
  std::string target;                                        // path and query as received, e.g. /v1/embeddings
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, values trimmed
  std::string body;

  std::optional<std::string> header(std::string_view lower_case_name) const;
};

// One piece of a streamed body, sent after waiting `delay`.
struct TestChunk {
  std::chrono::milliseconds delay{0};
  std::string bytes;
};

struct TestResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Length is added
  std::string body;
  // Wait this long before answering (interrupted by stop()), e.g. to provoke client timeouts.
  std::chrono::milliseconds delay{0};
  // When not empty: after `body` (usually empty), the response continues with these pieces,
  // each flushed on its own after its delay (Transfer-Encoding: chunked instead of
  // Content-Length), for streaming clients. With abort_stream the connection is closed after
  // the last piece without the terminating chunk, as a dropped connection would.
  std::vector<TestChunk> chunks{};
  bool abort_stream = false;
};

// Called concurrently from the connection threads: must be thread-safe. `sequence` numbers the
// requests from 0 in order of arrival.
using TestHandler = std::function<TestResponse(const RecordedRequest& request, std::size_t sequence)>;

class HttpTestServer {
 public:
  explicit HttpTestServer(TestHandler handler);
  ~HttpTestServer();  // stop()
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  int port() const { return port_; }
  std::string url() const;                        // http://127.0.0.1:<port>
  std::vector<RecordedRequest> requests() const;  // complete requests received so far
  // Most requests that were being handled at the same time.
  std::size_t peak_concurrency() const;
  // Stops accepting, interrupts delays and joins every thread. Idempotent.
  void stop();

 private:
  void accept_loop();
  void serve(int connection);
  void send_chunked(int connection, std::string head, const TestResponse& response);

  TestHandler handler_;
  int listener_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::condition_variable stopping_;
  bool stopped_ = false;
  std::vector<std::thread> connections_;
  std::vector<RecordedRequest> requests_;
  std::size_t active_ = 0;
  std::size_t peak_ = 0;
};

// A port on 127.0.0.1 where nothing listens (bound, then closed), for connection failures.
int unused_local_port();

}  // namespace ragline::testing
