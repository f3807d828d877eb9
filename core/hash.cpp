#include "core/hash.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstdint>

#include "core/check.hpp"

namespace ragline::core {

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  RAGLINE_CHECK(context_ != nullptr, internal, "EVP_MD_CTX_new failed");
  RAGLINE_CHECK(EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(context_), EVP_sha256(), nullptr) == 1, internal,
                "SHA-256 init failed");
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(context_)); }

Sha256& Sha256::update(std::string_view bytes) {
  RAGLINE_CHECK(EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(context_), bytes.data(), bytes.size()) == 1, internal,
                "SHA-256 update failed");
  return *this;
}

Sha256& Sha256::update_field(std::string_view bytes) {
  std::array<char, 8> length{};
  std::uint64_t size = bytes.size();
  for (auto& byte : length) {
    byte = static_cast<char>(size & 0xff);
    size >>= 8;
  }
  update(std::string_view(length.data(), length.size()));
  return update(bytes);
}

std::string Sha256::digest() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  RAGLINE_CHECK(EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(context_), digest.data(), &length) == 1, internal,
                "SHA-256 final failed");
  return std::string(reinterpret_cast<const char*>(digest.data()), length);
}

std::string Sha256::hex_digest() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char byte : digest()) {
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 0xf]);
  }
  return hex;
}

std::string sha256_hex(std::string_view bytes) { return Sha256().update(bytes).hex_digest(); }

std::string sha256(std::string_view bytes) { return Sha256().update(bytes).digest(); }

}  // namespace ragline::core
