// TLS certificate verification is on by default: a model service presenting a self-signed
// certificate (openssl s_server on loopback) is refused with an error that says why.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "net/http_client.hpp"
#include "support/http_test_server.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

bool accepts_connections(int port) {
  const int socket_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool connected = ::connect(socket_fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(socket_fd);
  return connected;
}

TEST(TlsVerification, ASelfSignedServiceIsRefused) {
  if (ragline::testing::run_command("command -v openssl").exit_code != 0) GTEST_SKIP() << "openssl is not installed";
  ragline::testing::TempDir dir;
  const auto made =
      ragline::testing::run_command("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout '" +
                                    (dir / "key.pem").string() + "' -out '" + (dir / "cert.pem").string() + "'");
  ASSERT_EQ(made.exit_code, 0) << made.stderr_text;
  const int port = ragline::testing::unused_local_port();
  const pid_t server = ::fork();
  if (server == 0) {
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    const std::string accept = std::to_string(port), cert = (dir / "cert.pem").string(),
                      key = (dir / "key.pem").string();
    ::execlp("openssl", "openssl", "s_server", "-accept", accept.c_str(), "-cert", cert.c_str(), "-key", key.c_str(),
             "-www", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(server, 0);
  for (int attempt = 0; attempt < 100 && !accepts_connections(port); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  net::HttpRequest request;
  request.method = "GET";
  request.url = "https://127.0.0.1:" + std::to_string(port) + "/";
  net::HttpOptions options;
  options.max_retries = 0;
  options.timeout_seconds = 10;
  try {
    net::perform_http_requests({request}, options);
    ADD_FAILURE() << "a self-signed certificate was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::network);
    EXPECT_NE(std::string(error.what()).find("certificate"), std::string::npos) << error.what();
  }
  ::kill(server, SIGTERM);
  ::waitpid(server, nullptr, 0);
}

}  // namespace
}  // namespace ragline
