// SHA-256 digests (OpenSSL's libcrypto), for integrity checks of model files and packages.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace kiln::support {

using Sha256Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t size);
  Sha256Digest finish();

 private:
  void* context_;
};

Sha256Digest sha256(const void* data, size_t size);
std::string to_hex(const Sha256Digest& digest);

}  // namespace kiln::support
