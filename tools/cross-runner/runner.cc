// kiln-run-package: runs an unpacked Kiln package with nothing but Kiln's runtime, for checking
// cross-compiled packages on (or emulating) the target machine.
//
//   kiln-run-package PKG_DIR OUT_DIR [NAME=FILE.npy ...]
//
// PKG_DIR holds mod.so, mod.json and mod.params (the members of the package .tar; unpack it on
// the host, which also verifies the checksums). Inputs not given are zeros. Every output i is
// written to OUT_DIR/output_<i>.npy. Exit code 0 on success, 1 with one line on stderr otherwise.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kiln/error.h"
#include "kiln/tensor.h"
#include "runtime/graph_executor.h"
#include "runtime/package.h"

namespace {

using kiln::DType;

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw kiln::Error("cannot read '" + path + "'");
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

// numpy's type strings (little-endian) for the dtypes Kiln has; bfloat16 travels as uint16.
const std::vector<std::pair<std::string, DType>>& npy_types() {
  static const std::vector<std::pair<std::string, DType>> types = {
      {"<f4", DType::kFloat32}, {"<f8", DType::kFloat64}, {"<f2", DType::kFloat16},
      {"|i1", DType::kInt8},    {"<i2", DType::kInt16},   {"<i4", DType::kInt32},
      {"<i8", DType::kInt64},   {"|u1", DType::kUInt8},   {"<u2", DType::kUInt16},
      {"<u4", DType::kUInt32},  {"<u8", DType::kUInt64},  {"|b1", DType::kBool},
  };
  return types;
}

// The value of `key` in a .npy header dict ("{'descr': '<f4', 'fortran_order': False, ...}").
std::string header_field(const std::string& header, const std::string& key,
                         const std::string& path) {
  size_t at = header.find("'" + key + "'");
  if (at == std::string::npos) throw kiln::Error(path + ": .npy header has no '" + key + "'");
  size_t colon = header.find(':', at);
  size_t start = header.find_first_not_of(' ', colon + 1);
  if (header[start] == '(') return header.substr(start, header.find(')', start) - start + 1);
  if (header[start] == '\'')
    return header.substr(start + 1, header.find('\'', start + 1) - start - 1);
  return header.substr(start, header.find_first_of(",}", start) - start);
}

kiln::Tensor read_npy(const std::string& path) {
  std::string bytes = read_file(path);
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
    throw kiln::Error(path + " is not a .npy file");
  }
  size_t header_length = 0, offset = 0;
  if (bytes[6] == 1) {
    header_length = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
    offset = 10;
  } else {
    if (bytes.size() < 12) throw kiln::Error(path + " is truncated");
    for (int i = 0; i < 4; ++i) {
      header_length |= static_cast<size_t>(static_cast<uint8_t>(bytes[8 + i])) << (8 * i);
    }
    offset = 12;
  }
  if (offset + header_length > bytes.size()) throw kiln::Error(path + " is truncated");
  std::string header = bytes.substr(offset, header_length);
  std::string descr = header_field(header, "descr", path);
  if (header_field(header, "fortran_order", path) != "False") {
    throw kiln::Error(path + ": Fortran-order arrays are not supported; save a C-order array");
  }
  std::optional<DType> dtype;
  for (const auto& [name, type] : npy_types()) {
    if (name == descr) dtype = type;
  }
  if (!dtype) throw kiln::Error(path + ": unsupported dtype '" + descr + "'");
  std::vector<int64_t> shape;
  std::string dims = header_field(header, "shape", path);
  for (size_t i = 1; i < dims.size();) {
    size_t end = dims.find_first_of(",)", i);
    std::string dim = dims.substr(i, end - i);
    if (dim.find_first_not_of(' ') != std::string::npos) shape.push_back(std::stoll(dim));
    i = end + 1;
  }
  kiln::Tensor tensor(*dtype, shape);
  size_t data_at = offset + header_length;
  if (bytes.size() - data_at != tensor.nbytes()) {
    throw kiln::Error(path + ": data size does not match the shape in the header");
  }
  if (tensor.nbytes() > 0)
    std::memcpy(tensor.mutable_data(), bytes.data() + data_at, tensor.nbytes());
  return tensor;
}

void write_npy(const std::string& path, const kiln::Tensor& tensor) {
  std::string descr;
  for (const auto& [name, type] : npy_types()) {
    if (type == tensor.dtype()) descr = name;
  }
  if (descr.empty()) descr = "<u2";  // bfloat16: raw bits
  std::string shape = "(";
  for (int64_t dim : tensor.shape()) shape += std::to_string(dim) + ",";
  if (tensor.shape().size() > 1) shape.pop_back();
  shape += ")";
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Version 1.0: magic, version, 2-byte length, header padded with spaces to 64 bytes, newline.
  size_t total = 10 + header.size() + 1;
  header += std::string((64 - total % 64) % 64, ' ') + "\n";
  std::ofstream file(path, std::ios::binary);
  if (!file) throw kiln::Error("cannot write '" + path + "'");
  file.write("\x93NUMPY\x01\x00", 8);
  char length[2] = {static_cast<char>(header.size() & 0xff), static_cast<char>(header.size() >> 8)};
  file.write(length, 2);
  file << header;
  file.write(static_cast<const char*>(tensor.data()),
             static_cast<std::streamsize>(tensor.nbytes()));
}

int run(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: kiln-run-package PKG_DIR OUT_DIR [NAME=FILE.npy ...]\n";
    return 1;
  }
  std::string dir = argv[1], out = argv[2];
  auto module = kiln::runtime::load_shared_library(dir + "/mod.so");
  auto params = kiln::runtime::deserialize_params(read_file(dir + "/mod.params"), "mod.params");
  kiln::runtime::GraphExecutor executor(read_file(dir + "/mod.json"), module, params);
  for (int i = 3; i < argc; ++i) {
    std::string arg = argv[i];
    size_t equals = arg.find('=');
    if (equals == std::string::npos) throw kiln::Error("input '" + arg + "' is not NAME=FILE.npy");
    executor.set_input(arg.substr(0, equals), read_npy(arg.substr(equals + 1)));
  }
  executor.run();
  for (size_t i = 0; i < executor.outputs().size(); ++i) {
    write_npy(out + "/output_" + std::to_string(i) + ".npy", executor.get_output(i));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "kiln-run-package: error: " << error.what() << "\n";
    return 1;
  }
}
