#include "cli/npz.h"

#include <zip.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <regex>

#include "kiln/error.h"
#include "support/checked_size.h"
#include "support/file.h"
#include "support/utf8.h"

namespace kiln::cli {

namespace {

// numpy's dtype codes for the dtypes Kiln shares with numpy.
struct NpyType {
  DType dtype;
  const char* descr;
};
constexpr NpyType kNpyTypes[] = {
    {DType::kFloat32, "<f4"}, {DType::kFloat16, "<f2"}, {DType::kFloat64, "<f8"},
    {DType::kInt8, "|i1"},    {DType::kInt16, "<i2"},   {DType::kInt32, "<i4"},
    {DType::kInt64, "<i8"},   {DType::kUInt8, "|u1"},   {DType::kUInt16, "<u2"},
    {DType::kUInt32, "<u4"},  {DType::kUInt64, "<u8"},  {DType::kBool, "|b1"},
};

std::string npy_bytes(const Tensor& tensor) {
  const char* descr = nullptr;
  for (const NpyType& type : kNpyTypes) {
    if (type.dtype == tensor.dtype()) descr = type.descr;
  }
  if (descr == nullptr) {
    throw Error("cannot save a " + std::string(dtype_name(tensor.dtype())) + " array to .npz");
  }
  std::string shape = "(";
  for (int64_t dim : tensor.shape()) shape += std::to_string(dim) + ",";
  if (tensor.ndim() > 1) shape.pop_back();
  shape += ")";
  std::string header =
      "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic + version + header length + header, padded with spaces and a newline to 64 bytes.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  uint16_t length = static_cast<uint16_t>(header.size());
  out += static_cast<char>(length & 0xff);
  out += static_cast<char>(length >> 8);
  out += header;
  out.append(static_cast<const char*>(tensor.data()), tensor.nbytes());
  return out;
}

Tensor parse_npy(const std::string& bytes, const std::string& where) {
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
    throw Error(where + " is not a .npy array");
  }
  int major = static_cast<unsigned char>(bytes[6]);
  size_t header_length;
  size_t offset;
  if (major == 1) {
    header_length = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9])
                                                               << 8;
    offset = 10;
  } else {
    if (bytes.size() < 12) throw Error(where + " is truncated");
    uint32_t length;
    std::memcpy(&length, bytes.data() + 8, 4);
    header_length = length;
    offset = 12;
  }
  if (offset + header_length > bytes.size()) throw Error(where + " is truncated");
  std::string header = bytes.substr(offset, header_length);
  std::smatch match;
  if (!std::regex_search(header, match, std::regex("'descr':\\s*'([^']*)'"))) {
    throw Error(where + ": .npy header without a dtype");
  }
  std::string descr = match[1];
  if (descr == "<b1") descr = "|b1";
  const NpyType* found = nullptr;
  for (const NpyType& type : kNpyTypes) {
    if (descr == type.descr) found = &type;
  }
  if (found == nullptr) throw Error(where + ": unsupported array dtype '" + descr + "'");
  if (header.find("'fortran_order': True") != std::string::npos) {
    throw Error(where + ": Fortran-order arrays are not supported; save with np.ascontiguousarray");
  }
  if (!std::regex_search(header, match, std::regex("'shape':\\s*\\(([^)]*)\\)"))) {
    throw Error(where + ": .npy header without a shape");
  }
  std::vector<int64_t> shape;
  std::string dims = match[1];
  std::regex number("[0-9]+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), number);
       it != std::sregex_iterator(); ++it) {
    if (it->str().size() > 12) throw Error(where + ": dimension " + it->str() + " is too large");
    shape.push_back(std::stoll(it->str()));
  }
  // The data must be exactly what the header declares, checked before anything is allocated: a
  // short file is an error, never zero-filled.
  std::optional<uint64_t> needed = support::checked_tensor_bytes(found->dtype, shape);
  if (!needed) throw Error(where + ": the shape describes more than 2^40 elements");
  size_t data_offset = offset + header_length;
  if (bytes.size() - data_offset != *needed) {
    throw Error(where + ": holds " + std::to_string(bytes.size() - data_offset) +
                " bytes of data, its shape needs " + std::to_string(*needed));
  }
  Tensor tensor(found->dtype, shape);
  if (tensor.nbytes() > 0)
    std::memcpy(tensor.mutable_data(), bytes.data() + data_offset, tensor.nbytes());
  return tensor;
}

struct ZipCloser {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};

}  // namespace

std::vector<std::pair<std::string, Tensor>> read_npz(const std::string& path) {
  uint64_t file_size = support::regular_file_size(path, kMaxArrayFileBytes, "kMaxArrayFileBytes");
  int error_code = 0;
  std::unique_ptr<zip_t, ZipCloser> archive(zip_open(path.c_str(), ZIP_RDONLY, &error_code));
  if (!archive) {
    zip_error_t error;
    zip_error_init_with_code(&error, error_code);
    std::string reason = zip_error_strerror(&error);
    zip_error_fini(&error);
    throw Error("cannot read '" + path + "' as an .npz file: " + reason);
  }
  // Decompression is bounded before anything is allocated: by the total the archive declares,
  // and by the ratio of that total to the archive's size (a zip bomb declares huge members).
  uint64_t budget = std::min<uint64_t>(kMaxNpzUncompressedBytes,
                                       file_size * kMaxNpzCompressionRatio + kNpzRatioSlackBytes);
  uint64_t total = 0;
  std::vector<std::pair<std::string, Tensor>> arrays;
  zip_int64_t count = zip_get_num_entries(archive.get(), 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_stat_t stat;
    zip_stat_init(&stat);
    if (zip_stat_index(archive.get(), static_cast<zip_uint64_t>(i), 0, &stat) != 0 ||
        (stat.valid & ZIP_STAT_NAME) == 0 || (stat.valid & ZIP_STAT_SIZE) == 0) {
      throw Error(path + ": member " + std::to_string(i) + " of the archive cannot be read");
    }
    std::string name = support::escape_invalid_utf8(stat.name);
    if (stat.size > budget - total) {
      throw Error(path + ": member '" + name + "' declares " + std::to_string(stat.size) +
                  " uncompressed bytes, beyond the limit for this archive (" +
                  std::to_string(budget) + " bytes in all: at most kMaxNpzCompressionRatio = " +
                  std::to_string(kMaxNpzCompressionRatio) +
                  " times the file's size, and at most "
                  "kMaxNpzUncompressedBytes = " +
                  std::to_string(kMaxNpzUncompressedBytes) +
                  "); save such arrays with np.savez, which does not compress");
    }
    total += stat.size;
    zip_file_t* file = zip_fopen_index(archive.get(), static_cast<zip_uint64_t>(i), 0);
    if (file == nullptr) throw Error(path + ": cannot read member '" + name + "'");
    std::string bytes(stat.size, '\0');
    zip_int64_t read = stat.size == 0 ? 0 : zip_fread(file, bytes.data(), stat.size);
    // One more byte must not be there: a member longer than declared is as corrupt as a short one.
    char extra = 0;
    zip_int64_t beyond = zip_fread(file, &extra, 1);
    zip_fclose(file);
    if (read != static_cast<zip_int64_t>(stat.size) || beyond != 0) {
      throw Error(path + ": member '" + name + "' does not hold the " + std::to_string(stat.size) +
                  " bytes its entry declares (truncated or corrupt archive)");
    }
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0)
      name.resize(name.size() - 4);
    arrays.emplace_back(name, parse_npy(bytes, path + ":" + name));
  }
  return arrays;
}

Tensor read_npy(const std::string& path) {
  return parse_npy(support::read_regular_file(path, kMaxArrayFileBytes, "kMaxArrayFileBytes"),
                   path);
}

void write_npz(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& arrays) {
  int error_code = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error_code);
  if (archive == nullptr) throw Error("cannot write '" + path + "'");
  std::vector<std::unique_ptr<std::string>> buffers;  // alive until zip_close
  for (const auto& [name, tensor] : arrays) {
    buffers.push_back(std::make_unique<std::string>(npy_bytes(tensor)));
    zip_source_t* source =
        zip_source_buffer(archive, buffers.back()->data(), buffers.back()->size(), 0);
    zip_int64_t index = source == nullptr ? -1
                                          : zip_file_add(archive, (name + ".npy").c_str(), source,
                                                         ZIP_FL_OVERWRITE);
    // Stored uncompressed, as np.savez does (and so never refused by the ratio limit on reading).
    if (index < 0 ||
        zip_set_file_compression(archive, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0) != 0) {
      if (source && index < 0) zip_source_free(source);
      zip_discard(archive);
      throw Error("cannot add " + name + " to '" + path + "'");
    }
  }
  if (zip_close(archive) != 0) {
    zip_discard(archive);
    throw Error("cannot write '" + path + "'");
  }
}

}  // namespace kiln::cli
