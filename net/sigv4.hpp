#pragma once
// AWS Signature Version 4 (header form), computed with OpenSSL libcrypto:
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
//
// Canonicalisation follows the non-S3 services (Bedrock, IAM, STS...): the path's dot segments
// and repeated slashes are removed and every segment is URI-encoded as sent, so an encoded
// segment is encoded a second time (/model/a%3A0 signs as /model/a%253A0). S3's single
// encoding is not supported.

#include <chrono>
#include <string>
#include <string_view>

#include "net/http_client.hpp"

namespace ragline::net {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term credentials
};

// From AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and (optional) AWS_SESSION_TOKEN. Throws
// Error(invalid_argument) naming the variables that are missing.
AwsCredentials credentials_from_environment();

struct SigV4Scope {
  std::string region;   // e.g. us-east-1
  std::string service;  // e.g. bedrock
};

struct SigV4Signature {
  // To add to the request: Authorization, X-Amz-Date, X-Amz-Security-Token (with a session
  // token) and x-amz-content-sha256 (when asked for).
  HttpHeaders headers;
  // The intermediate strings of the algorithm, for tests and debugging.
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // hex
};

// Signs a request made of `method`, `url`, `headers` and `payload` at `time`. Every given
// header is signed, together with host (derived from the URL unless given, with the port when
// it is not the scheme's default, as curl sends it), x-amz-date, x-amz-security-token and
// x-amz-content-sha256 when present. Given Authorization, X-Amz-Date and X-Amz-Security-Token
// headers are ignored: the signer sets them.
SigV4Signature sigv4_sign(std::string_view method, std::string_view url, const HttpHeaders& headers,
                          std::string_view payload, const SigV4Scope& scope, const AwsCredentials& credentials,
                          std::chrono::system_clock::time_point time, bool add_content_sha256 = false);

// Signs `request` in place: replaces any earlier signature headers with fresh ones for `time`.
void sigv4_sign_request(HttpRequest& request, const SigV4Scope& scope, const AwsCredentials& credentials,
                        std::chrono::system_clock::time_point time = std::chrono::system_clock::now(),
                        bool add_content_sha256 = false);

}  // namespace ragline::net
