#include "net/api_key.hpp"

#include <cstdlib>

#include "core/check.hpp"

namespace ragline::net {

std::string api_key_from_environment(std::string_view variable, std::string_view default_variable,
                                     std::string_view client) {
  if (variable.empty()) return {};
  const std::string name(variable);
  const char* value = std::getenv(name.c_str());
  if (value != nullptr && *value != '\0') return value;
  RAGLINE_CHECK(variable == default_variable, invalid_argument,
                client << ": the environment variable " << name << " (api_key_env) is not set");
  return {};
}

}  // namespace ragline::net
