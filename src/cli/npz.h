// Reading and writing numpy .npz files (a zip of .npy arrays) for `kiln run -i/-o`.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::cli {

// Arrays by name (the member name without ".npy"). kiln::Error naming the file for anything
// that is not a readable npz of little-endian C-order arrays of a supported dtype.
std::vector<std::pair<std::string, Tensor>> read_npz(const std::string& path);
// One .npy array file (for `--constant-input NAME=FILE.npy`); same checks as read_npz.
Tensor read_npy(const std::string& path);
void write_npz(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& arrays);

}  // namespace kiln::cli
