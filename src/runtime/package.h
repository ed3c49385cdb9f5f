// Packages: one .tar holding mod.so (the kernels), mod.json (the graph), mod.params (the weights)
// and metadata.json (Kiln version, target, inputs/outputs, SHA-256 of every other member), and
// optionally mod.o (the same kernels unlinked, for linking into another program).
// Reading verifies every checksum; a corrupt or tampered package is a clear kiln::Error.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::runtime {

// mod.params: named tensors, exact bytes (format in docs/formats.md).
std::string serialize_params(const std::map<std::string, Tensor>& params);
std::map<std::string, Tensor> deserialize_params(const std::string& bytes,
                                                 const std::string& display_name);

struct PackageContents {
  std::string library;        // bytes of mod.so
  std::string graph_json;     // mod.json
  std::string params;         // mod.params bytes
  std::string metadata_json;  // metadata.json as stored (checksums included)
  std::string object;         // optional mod.o: the unlinked kernels (output_format "tar")
};

// Writes the tar; metadata_json is completed with the members' SHA-256 ("checksums") here.
void write_package(const std::string& path, const PackageContents& contents);
// Reads and verifies a package. kiln::Error naming the file and the problem.
PackageContents read_package(const std::string& path);

}  // namespace kiln::runtime
