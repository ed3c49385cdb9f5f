// libFuzzer target: the .kiln model file reader (src/ir/serializer.cc).
// The file's SHA-256 is recomputed over the mutated contents before reading, so that mutations
// reach the header and the weights instead of stopping at the checksum (which is tested
// separately); the preamble's sizes stay as mutated.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_util.h"
#include "ir/printer.h"
#include "ir/serializer.h"
#include "support/sha256.h"

namespace {
// magic(8) version(4) flags(4) header_size(8) data_size(8) sha256(32), docs/formats.md.
constexpr size_t kPreambleSize = 64;
constexpr size_t kDigestOffset = 32;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (bytes.size() >= kPreambleSize) {
    kiln::support::Sha256Digest digest =
        kiln::support::sha256(bytes.data() + kPreambleSize, bytes.size() - kPreambleSize);
    std::memcpy(bytes.data() + kDigestOffset, digest.data(), digest.size());
  }
  kiln::fuzz::expect_clean([&] {
    kiln::ir::Module module = kiln::ir::deserialize_module(bytes, "fuzz.kiln");
    kiln::ir::print_module(module);
  });
  return 0;
}
