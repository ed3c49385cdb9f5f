#include "support/file.h"

#include <filesystem>
#include <fstream>

#include "kiln/error.h"

namespace kiln::support {

namespace fs = std::filesystem;

uint64_t regular_file_size(const std::string& path, uint64_t max_bytes, const char* limit_name) {
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw Error("cannot read '" + path + "': no such file");
  if (fs::is_directory(status)) throw Error("cannot read '" + path + "': it is a directory");
  if (!fs::is_regular_file(status)) {
    throw Error("cannot read '" + path +
                "': it is not a regular file (a device, pipe or socket); give a file");
  }
  uintmax_t size = fs::file_size(path, ec);
  if (ec) throw Error("cannot read '" + path + "': " + ec.message());
  if (size > max_bytes) {
    throw Error("cannot read '" + path + "': it has " + std::to_string(size) +
                " bytes, more than the limit of " + std::to_string(max_bytes) + " (" + limit_name +
                ")");
  }
  return size;
}

std::string read_regular_file(const std::string& path, uint64_t max_bytes, const char* limit_name) {
  uint64_t size = regular_file_size(path, max_bytes, limit_name);
  std::ifstream stream(path, std::ios::binary);
  if (!stream) throw Error("cannot read '" + path + "' (permissions?)");
  std::string bytes(size, '\0');
  stream.read(bytes.data(), static_cast<std::streamsize>(size));
  if (static_cast<uint64_t>(stream.gcount()) != size) {
    throw Error("cannot read '" + path + "': it changed size while being read");
  }
  return bytes;
}

}  // namespace kiln::support
