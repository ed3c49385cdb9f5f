// Packages: one .tar holding mod.so (the kernels), mod.json (the graph), mod.params (the weights)
// and metadata.json (Kiln version, target, inputs/outputs, SHA-256 of every other member), and
// optionally mod.o (the same kernels unlinked, for linking into another program).
// Reading verifies every checksum; a corrupt or tampered package is a clear kiln::Error.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::runtime {

// mod.params: named tensors, exact bytes (format in docs/formats.md).
std::string serialize_params(const std::map<std::string, Tensor>& params);
// The tensors of a mod.params held in `storage` (Tensor::kAlignment-aligned, `size` bytes), each
// viewing its bytes there (the format aligns every tensor's data): the storage lives as long as
// any of them, and nothing is copied.
std::map<std::string, Tensor> deserialize_params_in_place(std::shared_ptr<std::byte[]> storage,
                                                          size_t size,
                                                          const std::string& display_name);
std::map<std::string, Tensor> deserialize_params(const std::string& bytes,
                                                 const std::string& display_name);

struct PackageContents {
  std::string library;        // bytes of mod.so
  std::string graph_json;     // mod.json
  std::string params;         // mod.params bytes
  std::string metadata_json;  // metadata.json as stored (checksums included)
  std::string object;         // optional mod.o: the unlinked kernels (output_format "tar")
  // With read_package(path, /*aligned_params=*/true): mod.params in a Tensor::kAlignment-aligned
  // buffer instead of `params` (left empty), so that the weights can be used in place
  // (deserialize_params_in_place) without a second copy.
  std::shared_ptr<std::byte[]> params_storage;
  size_t params_size = 0;
};

// Writes the tar; metadata_json is completed with the members' SHA-256 ("checksums") here.
void write_package(const std::string& path, const PackageContents& contents);
// Reads and verifies a package: a .tar, or a directory holding the same members as files (an
// unpacked package). kiln::Error naming the file and the problem.
PackageContents read_package(const std::string& path, bool aligned_params = false);

}  // namespace kiln::runtime
