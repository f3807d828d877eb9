// Joining a base URL with a client's route (net/url.hpp) and the API key rule (net/api_key.hpp):
// trailing slashes, /v1 present or not, query strings and fragments kept at the end; named key
// variables required, the default one optional.

#include "net/url.hpp"

#include <gtest/gtest.h>

#include <string>

#include "net/api_key.hpp"
#include "ragline/error.hpp"
#include "support/test_support.hpp"

namespace ragline::net {
namespace {

using testing::ScopedEnvironment;

// The path goes after the base's path, whatever trailing slashes either side has.
TEST(JoinUrl, PathAfterTheBasePath) {
  EXPECT_EQ(join_url("http://h:8080", "/tokenize"), "http://h:8080/tokenize");
  EXPECT_EQ(join_url("http://h:8080/", "/tokenize"), "http://h:8080/tokenize");
  EXPECT_EQ(join_url("http://h:8080///", "tokenize"), "http://h:8080/tokenize");
  EXPECT_EQ(join_url("https://h/base/", "/model/a%3A1/invoke"), "https://h/base/model/a%3A1/invoke");
  EXPECT_EQ(join_url("http://h/x/", ""), "http://h/x");
}

// A query string and a fragment stay after the joined path; a query in the path is merged after the base's.
TEST(JoinUrl, QueryAndFragmentStayAtTheEnd) {
  EXPECT_EQ(join_url("http://127.0.0.1:9/v1?key=Q", "/chat/completions"),
            "http://127.0.0.1:9/v1/chat/completions?key=Q");
  EXPECT_EQ(join_url("https://h/openai/?api-version=2024-06-01", "/embeddings"),
            "https://h/openai/embeddings?api-version=2024-06-01");
  EXPECT_EQ(join_url("http://h/a#frag", "/b"), "http://h/a/b#frag");
  EXPECT_EQ(join_url("http://h/a/?q=1#frag", "/b"), "http://h/a/b?q=1#frag");
  EXPECT_EQ(join_url("http://h/a?q=1", "/b?x=2"), "http://h/a/b?q=1&x=2");
  EXPECT_EQ(join_url("http://h/a?", "/b?x=2"), "http://h/a/b?x=2");
  EXPECT_EQ(join_url("http://h/a", "/b?x=2"), "http://h/a/b?x=2");
  EXPECT_EQ(join_url("http://h?q=1", "/b"), "http://h/b?q=1");
  EXPECT_EQ(join_url("http://h/rerank/?q=1", ""), "http://h/rerank?q=1");
}

// The path test ignores query, fragment and trailing slashes, and matches whole segments only.
TEST(JoinUrl, PathEndsWith) {
  EXPECT_TRUE(url_path_ends_with("http://h/v1", "/v1"));
  EXPECT_TRUE(url_path_ends_with("http://h/v1/", "/v1"));
  EXPECT_TRUE(url_path_ends_with("http://h/x/v1?api-version=1#f", "/v1"));
  EXPECT_FALSE(url_path_ends_with("http://h/apiv1", "/v1"));
  EXPECT_FALSE(url_path_ends_with("http://h?p=/v1", "/v1"));
  EXPECT_FALSE(url_path_ends_with("http://h#/v1", "/v1"));
  EXPECT_TRUE(url_path_ends_with("https://h/custom/rerank", "/rerank"));
}

// An OpenAI-compatible base URL works with or without /v1, with a slash or a query string.
TEST(JoinUrl, VersionedRoute) {
  EXPECT_EQ(join_versioned_url("http://h:1", "/v1", "/embeddings"), "http://h:1/v1/embeddings");
  EXPECT_EQ(join_versioned_url("http://h:1/v1", "/v1", "/embeddings"), "http://h:1/v1/embeddings");
  EXPECT_EQ(join_versioned_url("http://h:1/v1/", "/v1", "/embeddings"), "http://h:1/v1/embeddings");
  EXPECT_EQ(join_versioned_url("http://h:1/v1?key=Q", "/v1", "/chat/completions"),
            "http://h:1/v1/chat/completions?key=Q");
  EXPECT_EQ(join_versioned_url("http://h:1/?key=Q", "/v1", "/chat/completions"),
            "http://h:1/v1/chat/completions?key=Q");
  EXPECT_EQ(join_versioned_url("http://h:1/openai?api-version=2024-06-01#x", "/v1", "/chat/completions"),
            "http://h:1/openai/v1/chat/completions?api-version=2024-06-01#x");
}

// Empty name: no key; the default variable unset: no key; another variable unset or empty: an error naming it.
TEST(ApiKey, NamedVariablesMustBeSet) {
  ScopedEnvironment named("RAGLINE_TEST_NAMED_KEY", nullptr);
  ScopedEnvironment fallback("RAGLINE_TEST_DEFAULT_KEY", nullptr);
  EXPECT_EQ(api_key_from_environment("", "RAGLINE_TEST_DEFAULT_KEY", "client"), "");
  EXPECT_EQ(api_key_from_environment("RAGLINE_TEST_DEFAULT_KEY", "RAGLINE_TEST_DEFAULT_KEY", "client"), "");
  try {
    api_key_from_environment("RAGLINE_TEST_NAMED_KEY", "RAGLINE_TEST_DEFAULT_KEY", "openai chat model");
    ADD_FAILURE() << "an unset named variable must throw";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::invalid_argument);
    EXPECT_STREQ(error.what(),
                 "openai chat model: the environment variable RAGLINE_TEST_NAMED_KEY (api_key_env) is not set");
  }
  {
    ScopedEnvironment empty("RAGLINE_TEST_NAMED_KEY", "");
    EXPECT_THROW(api_key_from_environment("RAGLINE_TEST_NAMED_KEY", "RAGLINE_TEST_DEFAULT_KEY", "c"), Error);
  }
  ScopedEnvironment set_named("RAGLINE_TEST_NAMED_KEY", "sk-named");
  ScopedEnvironment set_default("RAGLINE_TEST_DEFAULT_KEY", "sk-default");
  EXPECT_EQ(api_key_from_environment("RAGLINE_TEST_NAMED_KEY", "RAGLINE_TEST_DEFAULT_KEY", "c"), "sk-named");
  EXPECT_EQ(api_key_from_environment("RAGLINE_TEST_DEFAULT_KEY", "RAGLINE_TEST_DEFAULT_KEY", "c"), "sk-default");
  EXPECT_EQ(api_key_from_environment("", "RAGLINE_TEST_DEFAULT_KEY", "c"), "");
}

}  // namespace
}  // namespace ragline::net
