// Reading and writing numpy .npz files (a zip of .npy arrays) for `kiln run -i/-o`.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::cli {

// Limits on what the readers accept, checked before anything is allocated (docs/formats.md).
// The largest .npy or .npz file read.
inline constexpr uint64_t kMaxArrayFileBytes = uint64_t{16} << 30;
// The most bytes all members of one .npz may decompress to.
inline constexpr uint64_t kMaxNpzUncompressedBytes = uint64_t{16} << 30;
// The most an .npz may decompress to, as a multiple of its size (plus kNpzRatioSlackBytes, so
// that small archives of small arrays are never refused): a zip bomb declares far more.
inline constexpr uint64_t kMaxNpzCompressionRatio = 200;
inline constexpr uint64_t kNpzRatioSlackBytes = uint64_t{1} << 20;

// Arrays by name (the member name without ".npy"). kiln::Error naming the file for anything
// that is not a readable npz of little-endian C-order arrays of a supported dtype.
std::vector<std::pair<std::string, Tensor>> read_npz(const std::string& path);
// One .npy array file (for `--constant-input NAME=FILE.npy`); same checks as read_npz.
Tensor read_npy(const std::string& path);
void write_npz(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& arrays);

}  // namespace kiln::cli
