#include "net/sigv4.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "core/hash.hpp"
#include "ragline/error.hpp"

namespace ragline::net {
namespace {

// The AWS SigV4 test suite's fixed inputs
// (https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html).
const AwsCredentials kSuiteCredentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
const SigV4Scope kSuiteScope{"us-east-1", "service"};
const std::string kSuiteCredentialScope = "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";
const std::string kEmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::chrono::system_clock::time_point suite_time() {
  // 2015-08-30T12:36:00Z
  return std::chrono::system_clock::time_point(std::chrono::seconds(1440938160));
}

std::string authorization_of(const SigV4Signature& signature) {
  for (const auto& [name, value] : signature.headers) {
    if (name == "Authorization") return value;
  }
  return {};
}

std::string header_of(const SigV4Signature& signature, std::string_view wanted) {
  for (const auto& [name, value] : signature.headers) {
    if (name == wanted) return value;
  }
  return {};
}

std::string canonical_uri_line(const SigV4Signature& signature) {
  const auto first = signature.canonical_request.find('\n');
  return signature.canonical_request.substr(first + 1, signature.canonical_request.find('\n', first + 1) - first - 1);
}

// get-vanilla: the smallest request, published signature 5fa00fa3...
TEST(SigV4, SuiteGetVanilla) {
  const auto signature = sigv4_sign("GET", "https://example.amazonaws.com/", {{"Host", "example.amazonaws.com"}}, "",
                                    kSuiteScope, kSuiteCredentials, suite_time());
  EXPECT_EQ(
      signature.canonical_request,
      "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" + kEmptyPayloadHash);
  EXPECT_EQ(signature.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  EXPECT_EQ(authorization_of(signature),
            "AWS4-HMAC-SHA256 " + kSuiteCredentialScope +
                ", SignedHeaders=host;x-amz-date, "
                "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  EXPECT_EQ(header_of(signature, "X-Amz-Date"), "20150830T123600Z");
  EXPECT_EQ(header_of(signature, "X-Amz-Security-Token"), "");
}

// get-vanilla-query-order-key-case: query parameters sorted by name; host derived from the URL.
TEST(SigV4, SuiteQueryOrderKeyCase) {
  const auto signature = sigv4_sign("GET", "https://example.amazonaws.com/?Param2=value2&Param1=value1", {}, "",
                                    kSuiteScope, kSuiteCredentials, suite_time());
  EXPECT_NE(signature.canonical_request.find("\n/\nParam1=value1&Param2=value2\n"), std::string::npos);
  EXPECT_EQ(signature.signature, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

// post-x-www-form-urlencoded: a signed body and a signed Content-Type.
TEST(SigV4, SuitePostFormUrlencoded) {
  const auto signature =
      sigv4_sign("POST", "https://example.amazonaws.com/", {{"Content-Type", "application/x-www-form-urlencoded"}},
                 "Param1=value1", kSuiteScope, kSuiteCredentials, suite_time());
  EXPECT_EQ(signature.canonical_request,
            "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n"
            "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n"
            "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
  EXPECT_EQ(authorization_of(signature),
            "AWS4-HMAC-SHA256 " + kSuiteCredentialScope +
                ", SignedHeaders=content-type;host;x-amz-date, "
                "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}

// get-header-value-trim: values trimmed and inner runs of spaces collapsed, names lower-cased.
TEST(SigV4, SuiteHeaderValueTrim) {
  const auto signature =
      sigv4_sign("GET", "https://example.amazonaws.com/", {{"My-Header1", " value1"}, {"My-Header2", "\"a   b   c\""}},
                 "", kSuiteScope, kSuiteCredentials, suite_time());
  EXPECT_NE(signature.canonical_request.find("my-header1:value1\nmy-header2:\"a b c\"\n"), std::string::npos);
  EXPECT_EQ(authorization_of(signature),
            "AWS4-HMAC-SHA256 " + kSuiteCredentialScope +
                ", SignedHeaders=host;my-header1;my-header2;x-amz-date, "
                "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
}

// post-sts-header-before: a session token is sent and signed as X-Amz-Security-Token.
TEST(SigV4, SuiteSessionToken) {
  AwsCredentials credentials = kSuiteCredentials;
  credentials.session_token =
      "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8Y"
      "UuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6f"
      "E8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj"
      "2ICCR/oLxBA==";
  const auto signature =
      sigv4_sign("POST", "https://example.amazonaws.com/", {}, "", kSuiteScope, credentials, suite_time());
  EXPECT_EQ(header_of(signature, "X-Amz-Security-Token"), credentials.session_token);
  EXPECT_EQ(authorization_of(signature),
            "AWS4-HMAC-SHA256 " + kSuiteCredentialScope +
                ", SignedHeaders=host;x-amz-date;x-amz-security-token, "
                "Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead");
}

// The IAM ListUsers example of the AWS documentation.
TEST(SigV4, DocumentedIamListUsers) {
  const auto signature = sigv4_sign("GET", "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
                                    {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}}, "",
                                    {"us-east-1", "iam"}, kSuiteCredentials, suite_time());
  EXPECT_EQ(signature.signature, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
  EXPECT_NE(authorization_of(signature).find("/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;"
                                             "x-amz-date, "),
            std::string::npos);
}

// Non-S3 services encode the already-encoded path once more; dot segments and empty segments go.
TEST(SigV4, CanonicalPathIsEncodedTwiceAndNormalised) {
  const auto bedrock =
      sigv4_sign("POST", "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.titan-embed-text-v2%3A0/invoke",
                 {}, "{}", {"us-east-1", "bedrock"}, kSuiteCredentials, suite_time());
  EXPECT_EQ(canonical_uri_line(bedrock), "/model/amazon.titan-embed-text-v2%253A0/invoke");
  const auto dotted = sigv4_sign("GET", "https://example.amazonaws.com/a/./b/../c//d/", {}, "", kSuiteScope,
                                 kSuiteCredentials, suite_time());
  EXPECT_EQ(canonical_uri_line(dotted), "/a/c/d/");
  const auto unreserved = sigv4_sign("GET", "https://example.amazonaws.com/-._~09AZaz", {}, "", kSuiteScope,
                                     kSuiteCredentials, suite_time());
  EXPECT_EQ(canonical_uri_line(unreserved), "/-._~09AZaz");
}

// Host is taken from the URL as curl sends it: with a non-default port, without the default one.
TEST(SigV4, HostHeaderFollowsTheUrl) {
  const auto with_port =
      sigv4_sign("GET", "http://127.0.0.1:8080/x", {}, "", kSuiteScope, kSuiteCredentials, suite_time());
  EXPECT_NE(with_port.canonical_request.find("\nhost:127.0.0.1:8080\n"), std::string::npos);
  const auto default_port =
      sigv4_sign("GET", "https://Example.amazonaws.com:443/", {}, "", kSuiteScope, kSuiteCredentials, suite_time());
  EXPECT_EQ(default_port.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

// x-amz-content-sha256 is added and signed when asked for; re-signing replaces old signature headers.
TEST(SigV4, ContentHashHeaderAndResigning) {
  HttpRequest request;
  request.url = "https://example.amazonaws.com/";
  request.body = "payload";
  sigv4_sign_request(request, kSuiteScope, kSuiteCredentials, suite_time(), /*add_content_sha256=*/true);
  sigv4_sign_request(request, kSuiteScope, kSuiteCredentials, suite_time() + std::chrono::hours(24), true);
  int authorizations = 0;
  std::string date, content_hash, authorization;
  for (const auto& [name, value] : request.headers) {
    if (name == "Authorization") ++authorizations, authorization = value;
    if (name == "X-Amz-Date") date = value;
    if (name == "x-amz-content-sha256") content_hash = value;
  }
  EXPECT_EQ(authorizations, 1);
  EXPECT_EQ(date, "20150831T123600Z");
  EXPECT_EQ(content_hash, core::sha256_hex("payload"));
  EXPECT_NE(authorization.find("SignedHeaders=host;x-amz-content-sha256;x-amz-date,"), std::string::npos);
}

// Credentials come from the environment; a missing variable is named, a present secret is not.
TEST(SigV4, CredentialsFromEnvironment) {
  ::setenv("AWS_ACCESS_KEY_ID", "AKIDTESTONLY", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "secret-from-test-environment", 1);
  ::setenv("AWS_SESSION_TOKEN", "token-from-test", 1);
  const auto credentials = credentials_from_environment();
  EXPECT_EQ(credentials.access_key_id, "AKIDTESTONLY");
  EXPECT_EQ(credentials.secret_access_key, "secret-from-test-environment");
  EXPECT_EQ(credentials.session_token, "token-from-test");

  ::unsetenv("AWS_ACCESS_KEY_ID");
  try {
    credentials_from_environment();
    FAIL() << "missing AWS_ACCESS_KEY_ID accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::invalid_argument);
    EXPECT_NE(std::string(error.what()).find("AWS_ACCESS_KEY_ID"), std::string::npos) << error.what();
    EXPECT_EQ(std::string(error.what()).find("secret-from-test-environment"), std::string::npos) << error.what();
  }
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ::unsetenv("AWS_SESSION_TOKEN");
}

}  // namespace
}  // namespace ragline::net
