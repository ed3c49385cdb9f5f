// Limits shared by the compiler and the runtime, so that the compiler refuses what the runtime
// would refuse (at compile time, naming the tensor) instead of writing a package that cannot run.
#pragma once

#include <cstdint>

namespace kiln {

// The most elements a tensor may have. The runtime refuses larger tensors in mod.json and
// mod.params (and, since the executor's storages are byte tensors, larger storages in bytes); the
// compiler refuses models that would need them. Also keeps element and byte counts far from
// overflowing int64.
inline constexpr int64_t kMaxTensorElements = int64_t{1} << 40;

}  // namespace kiln
