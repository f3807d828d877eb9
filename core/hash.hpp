#pragma once

#include <string>
#include <string_view>

namespace ragline::core {

// Incremental SHA-256 (OpenSSL libcrypto); hex digest, lower case.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  Sha256& update(std::string_view bytes);
  // Adds a length prefix first, so that ("ab","c") and ("a","bc") hash differently.
  Sha256& update_field(std::string_view bytes);
  std::string hex_digest();
  std::string digest();  // the 32 raw bytes

 private:
  void* context_;
};

std::string sha256_hex(std::string_view bytes);
std::string sha256(std::string_view bytes);  // raw 32 bytes

}  // namespace ragline::core
