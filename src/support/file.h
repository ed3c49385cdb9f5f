// Reading a whole input file with a bound: only regular files (never a device, FIFO or
// directory: `--constant-input x=/dev/zero` must not read forever) and never more than a named
// limit, checked before anything is allocated.
#pragma once

#include <cstdint>
#include <string>

namespace kiln::support {

// The file's bytes. kiln::Error naming `path` when it is missing, not a regular file,
// unreadable, or larger than `max_bytes` (the message names `limit_name`, the constant that
// sets the limit, so that a user can find it in docs/formats.md).
std::string read_regular_file(const std::string& path, uint64_t max_bytes, const char* limit_name);

// The size of a regular file, with the same checks (nothing is read).
uint64_t regular_file_size(const std::string& path, uint64_t max_bytes, const char* limit_name);

}  // namespace kiln::support
