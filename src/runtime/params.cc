// mod.params: the binary parameter file (layout in docs/formats.md, "mod.params").
#include <cstring>
#include <string_view>

#include "kiln/error.h"
#include "kiln/limits.h"
#include "runtime/package.h"

namespace kiln::runtime {

namespace {

constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'P', 'A', 'R', 'M'};
constexpr uint32_t kVersion = 1;
constexpr size_t kDataAlignment = 64;
static_assert(kDataAlignment % Tensor::kAlignment == 0, "in-place params need aligned data");
constexpr uint32_t kMaxRank = 64;
constexpr uint32_t kMaxNameLength = 1 << 20;

// Little-endian whatever the host, so that a package moves between machines.
void put_u32(std::string& out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

void put_u64(std::string& out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

void put_string(std::string& out, std::string_view text) {
  put_u32(out, static_cast<uint32_t>(text.size()));
  out.append(text);
}

void pad_to_alignment(std::string& out) {
  out.append((kDataAlignment - out.size() % kDataAlignment) % kDataAlignment, '\0');
}

// Reads the file front to back; every read is bounds-checked and fails naming the file.
class Reader {
 public:
  Reader(std::string_view bytes, const std::string& display_name)
      : bytes_(bytes), display_name_(display_name) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(display_name_ + " is not a valid Kiln parameter file: " + what);
  }

  size_t position() const { return position_; }
  size_t remaining() const { return bytes_.size() - position_; }

  const char* take(size_t size, const char* what) {
    if (size > remaining()) {
      fail(std::string("it ends inside ") + what + " (truncated at byte " +
           std::to_string(bytes_.size()) + ")");
    }
    const char* data = bytes_.data() + position_;
    position_ += size;
    return data;
  }

  uint64_t u64(const char* what) {
    const auto* data = reinterpret_cast<const unsigned char*>(take(8, what));
    uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value |= static_cast<uint64_t>(data[i]) << (8 * i);
    return value;
  }

  uint32_t u32(const char* what) {
    const auto* data = reinterpret_cast<const unsigned char*>(take(4, what));
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) value |= static_cast<uint32_t>(data[i]) << (8 * i);
    return value;
  }

  std::string string(uint32_t max_length, const char* what) {
    uint32_t length = u32(what);
    if (length > max_length) fail(std::string(what) + " is too long");
    return std::string(take(length, what), length);
  }

  void skip_padding() {
    take((kDataAlignment - position_ % kDataAlignment) % kDataAlignment, "padding");
  }

 private:
  std::string_view bytes_;
  const std::string& display_name_;
  size_t position_ = 0;
};

}  // namespace

std::string serialize_params(const std::map<std::string, Tensor>& params) {
  std::string out(kMagic, sizeof(kMagic));
  put_u32(out, kVersion);
  put_u32(out, static_cast<uint32_t>(params.size()));
  for (const auto& [name, tensor] : params) {
    KILN_CHECK(tensor.defined()) << "parameter '" << name << "' has no value";
    put_string(out, name);
    put_string(out, dtype_name(tensor.dtype()));
    put_u32(out, static_cast<uint32_t>(tensor.shape().size()));
    for (int64_t dim : tensor.shape()) put_u64(out, static_cast<uint64_t>(dim));
    put_u64(out, tensor.nbytes());
    pad_to_alignment(out);
    out.append(static_cast<const char*>(tensor.data()), tensor.nbytes());
  }
  return out;
}

namespace {

// Reads the records of mod.params; `make_tensor(dtype, shape, data, nbytes)` builds each tensor
// from its bytes (a copy, or a view into the storage).
template <typename MakeTensor>
std::map<std::string, Tensor> read_params(std::string_view bytes, const std::string& display_name,
                                          MakeTensor make_tensor) {
  Reader reader(bytes, display_name);
  if (std::memcmp(reader.take(sizeof(kMagic), "the header"), kMagic, sizeof(kMagic)) != 0) {
    reader.fail("it does not start with KILNPARM");
  }
  uint32_t version = reader.u32("the header");
  if (version != kVersion) {
    reader.fail("format version " + std::to_string(version) + " is not version " +
                std::to_string(kVersion) + " (compile the model again with this Kiln)");
  }
  uint32_t count = reader.u32("the header");
  // Each record takes at least 20 bytes: refuse a count the file cannot hold before looping.
  if (count > reader.remaining() / 20) {
    reader.fail("it claims " + std::to_string(count) + " tensors in " +
                std::to_string(bytes.size()) + " bytes");
  }

  std::map<std::string, Tensor> params;
  for (uint32_t index = 0; index < count; ++index) {
    std::string name = reader.string(kMaxNameLength, "a tensor name");
    std::string where = "tensor '" + name + "'";
    std::string dtype_text = reader.string(64, "a dtype name");
    auto dtype = dtype_from_name(dtype_text);
    if (!dtype) reader.fail(where + " has an unknown dtype '" + dtype_text + "'");
    uint32_t rank = reader.u32("a shape");
    if (rank > kMaxRank) reader.fail(where + " has " + std::to_string(rank) + " dimensions");
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    for (uint32_t d = 0; d < rank; ++d) {
      uint64_t dim = reader.u64("a shape");
      // Tensors hold at most kMaxTensorElements; this also keeps the byte count from
      // overflowing.
      constexpr auto kMax = static_cast<uint64_t>(kMaxTensorElements);
      if (dim > kMax || (dim != 0 && numel > kMax / dim)) {
        reader.fail(where + " has an impossible shape (more than " + std::to_string(kMax) +
                    " elements)");
      }
      numel *= dim;
      shape.push_back(static_cast<int64_t>(dim));
    }
    uint64_t nbytes = reader.u64("a tensor size");
    if (nbytes != numel * dtype_size(*dtype)) {
      reader.fail(where + " declares " + std::to_string(nbytes) + " bytes, its shape needs " +
                  std::to_string(numel * dtype_size(*dtype)));
    }
    reader.skip_padding();
    if (nbytes > reader.remaining()) {
      reader.fail(where + " needs " + std::to_string(nbytes) + " bytes, the file has " +
                  std::to_string(reader.remaining()) + " left (truncated)");
    }
    const char* data = reader.take(static_cast<size_t>(nbytes), "tensor data");
    if (params.count(name) != 0) reader.fail(where + " appears twice");
    params.emplace(name, make_tensor(*dtype, std::move(shape), data, static_cast<size_t>(nbytes)));
  }
  if (reader.remaining() != 0) {
    reader.fail(std::to_string(reader.remaining()) + " unexpected bytes after the last tensor");
  }
  return params;
}

}  // namespace

std::map<std::string, Tensor> deserialize_params(const std::string& bytes,
                                                 const std::string& display_name) {
  return read_params(bytes, display_name,
                     [](DType dtype, std::vector<int64_t> shape, const char* data, size_t nbytes) {
                       return Tensor::from_bytes(dtype, std::move(shape), data, nbytes);
                     });
}

std::map<std::string, Tensor> deserialize_params_in_place(std::shared_ptr<std::byte[]> storage,
                                                          size_t size,
                                                          const std::string& display_name) {
  const char* base = reinterpret_cast<const char*>(storage.get());
  KILN_CHECK(reinterpret_cast<uintptr_t>(base) % Tensor::kAlignment == 0)
      << "deserialize_params_in_place: storage is not aligned";
  return read_params(
      std::string_view(base, size), display_name,
      [&](DType dtype, std::vector<int64_t> shape, const char* data, size_t /*nbytes*/) {
        // The record's data starts at a multiple of kDataAlignment (>= Tensor::kAlignment) from
        // the aligned base: a view that shares the storage's ownership.
        std::shared_ptr<std::byte[]> view(storage,
                                          reinterpret_cast<std::byte*>(const_cast<char*>(data)));
        return Tensor::from_storage(dtype, std::move(shape), std::move(view));
      });
}

}  // namespace kiln::runtime
