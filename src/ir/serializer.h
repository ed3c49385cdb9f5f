// The Kiln model file (.kiln): a module with its weights, round-tripped exactly. Layout and
// fields are described in docs/formats.md. Loading checks the magic, sizes and a SHA-256 of the
// contents, and rebuilds every node through the same constructors as a frontend, so a corrupt
// or tampered file is a clear kiln::Error naming the file, never a crash.
#pragma once

#include <string>

#include "ir/module.h"

namespace kiln::ir {

inline constexpr char kModelFileMagic[9] = "KILNMODL";
inline constexpr uint32_t kModelFileVersion = 1;
// The largest .kiln file load_module reads (64 GiB): a bound checked before reading, so that a
// device or a runaway file is refused instead of exhausting memory.
inline constexpr uint64_t kMaxModelFileBytes = uint64_t{64} << 30;

std::string serialize_module(const Module& module);
// `display_name` names the source in error messages (usually the file path).
Module deserialize_module(const std::string& bytes, const std::string& display_name);

void save_module(const Module& module, const std::string& path);
Module load_module(const std::string& path);

// True when the file starts with the Kiln model magic.
bool is_model_file(const std::string& path);

}  // namespace kiln::ir
