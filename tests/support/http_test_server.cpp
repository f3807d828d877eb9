#include "support/http_test_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace ragline::testing {
namespace {

std::string to_lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

sockaddr_in loopback_address(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

void send_all(int connection, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t sent = ::send(connection, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent <= 0) return;  // the client gave up (a timeout test): nothing to do
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
}

// Reads one request: head up to the blank line, then Content-Length bytes of body. False when
// the client closed or sent something unparseable.
bool read_request(int connection, RecordedRequest& request) {
  std::string data;
  std::array<char, 8192> buffer{};
  std::size_t head_end = std::string::npos;
  while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t received = ::recv(connection, buffer.data(), buffer.size(), 0);
    if (received <= 0) return false;
    data.append(buffer.data(), static_cast<std::size_t>(received));
  }
  const std::string_view head(data.data(), head_end);
  auto line_end = head.find("\r\n");
  const std::string_view request_line = head.substr(0, line_end);
  const auto first_space = request_line.find(' ');
  const auto second_space = request_line.find(' ', first_space + 1);
  if (first_space == std::string_view::npos || second_space == std::string_view::npos) return false;
  request.method = std::string(request_line.substr(0, first_space));
  request.target = std::string(request_line.substr(first_space + 1, second_space - first_space - 1));

  std::size_t content_length = 0;
  while (line_end != std::string_view::npos) {
    const std::size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string_view line = head.substr(start, line_end == std::string_view::npos ? head.npos : line_end - start);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name = to_lower(trim(line.substr(0, colon)));
    std::string value(trim(line.substr(colon + 1)));
    if (name == "content-length") content_length = std::stoul(value);
    request.headers.emplace_back(std::move(name), std::move(value));
  }
  request.body = data.substr(head_end + 4);
  while (request.body.size() < content_length) {
    const ssize_t received = ::recv(connection, buffer.data(), buffer.size(), 0);
    if (received <= 0) return false;
    request.body.append(buffer.data(), static_cast<std::size_t>(received));
  }
  request.body.resize(content_length);
  return true;
}

}  // namespace

std::optional<std::string> RecordedRequest::header(std::string_view lower_case_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_case_name) return value;
  }
  return std::nullopt;
}

HttpTestServer::HttpTestServer(TestHandler handler) : handler_(std::move(handler)) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address = loopback_address(0);
  socklen_t length = sizeof(address);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || ::listen(listener_, 64) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const std::string reason = std::strerror(errno);
    ::close(listener_);
    throw std::runtime_error("test server cannot listen on 127.0.0.1: " + reason);
  }
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

HttpTestServer::~HttpTestServer() { stop(); }

std::string HttpTestServer::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::vector<RecordedRequest> HttpTestServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::size_t HttpTestServer::peak_concurrency() const {
  std::lock_guard lock(mutex_);
  return peak_;
}

void HttpTestServer::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_ && !acceptor_.joinable()) return;
    stopped_ = true;
  }
  stopping_.notify_all();
  if (acceptor_.joinable()) acceptor_.join();
  // The acceptor is gone: no connection thread is added any more.
  for (auto& connection : connections_) {
    if (connection.joinable()) connection.join();
  }
  if (listener_ >= 0) ::close(listener_);
  listener_ = -1;
}

void HttpTestServer::send_chunked(int connection, std::string head, const TestResponse& response) {
  auto chunk = [](std::string_view piece) {
    char size[32];
    std::snprintf(size, sizeof(size), "%zx\r\n", piece.size());
    return std::string(size) + std::string(piece) + "\r\n";
  };
  head += "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  if (!response.body.empty()) head += chunk(response.body);
  send_all(connection, head);
  for (const auto& piece : response.chunks) {
    if (piece.delay.count() > 0) {
      std::unique_lock lock(mutex_);
      if (stopping_.wait_for(lock, piece.delay, [this] { return stopped_; })) return;
    }
    // An empty piece would read as the end of the body.
    if (!piece.bytes.empty()) send_all(connection, chunk(piece.bytes));
  }
  if (!response.abort_stream) send_all(connection, "0\r\n\r\n");
}

void HttpTestServer::accept_loop() {
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
    }
    pollfd waiting{listener_, POLLIN, 0};
    if (::poll(&waiting, 1, 20) <= 0) continue;
    const int connection = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) continue;
    std::lock_guard lock(mutex_);
    connections_.emplace_back([this, connection] { serve(connection); });
  }
}

void HttpTestServer::serve(int connection) {
  timeval receive_timeout{10, 0};
  ::setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &receive_timeout, sizeof(receive_timeout));
  RecordedRequest request;
  if (!read_request(connection, request)) {
    ::close(connection);
    return;
  }
  std::size_t sequence = 0;
  {
    std::lock_guard lock(mutex_);
    sequence = requests_.size();
    requests_.push_back(request);
    peak_ = std::max(peak_, ++active_);
  }
  TestResponse response;
  try {
    response = handler_(request, sequence);
  } catch (const std::exception& error) {
    response = TestResponse{500, {}, std::string("test handler threw: ") + error.what(), {}};
  }
  bool stopped = false;
  {
    std::unique_lock lock(mutex_);
    stopped = stopping_.wait_for(lock, response.delay, [this] { return stopped_; });
  }
  // A request stops counting as active before its response leaves: the client may start its
  // next request as soon as it has the response, and must not be seen overlapping this one.
  {
    std::lock_guard lock(mutex_);
    --active_;
  }
  if (!stopped || response.delay.count() == 0) {
    std::string bytes =
        "HTTP/1.1 " + std::to_string(response.status) + " " + std::string(reason_phrase(response.status)) + "\r\n";
    for (const auto& [name, value] : response.headers) bytes += name + ": " + value + "\r\n";
    if (response.chunks.empty()) {
      bytes += "Content-Length: " + std::to_string(response.body.size()) + "\r\nConnection: close\r\n\r\n";
      bytes += response.body;
      send_all(connection, bytes);
    } else {
      send_chunked(connection, bytes, response);
    }
  }
  ::close(connection);
}

int unused_local_port() {
  const int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = loopback_address(0);
  socklen_t length = sizeof(address);
  if (probe < 0 || ::bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("cannot find a free loopback port");
  }
  ::close(probe);
  return ntohs(address.sin_port);
}

}  // namespace ragline::testing
