// libFuzzer target: the .npz / .npy readers of the CLI (src/cli/npz.cc).
// The first byte picks the reader (even: .npz, odd: .npy); the rest is the file.
#include <cstddef>
#include <cstdint>

#include "cli/npz.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  bool npy = (data[0] & 1) != 0;
  std::string path =
      kiln::fuzz::write_scratch(npy ? "array.npy" : "arrays.npz", data + 1, size - 1);
  kiln::fuzz::expect_clean([&] {
    if (npy) {
      kiln::cli::read_npy(path);
    } else {
      kiln::cli::read_npz(path);
    }
  });
  return 0;
}
