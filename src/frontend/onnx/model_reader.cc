// The ONNX model reader: the one translation unit that includes the protobuf classes. It parses
// the file, loads every tensor (inline or external data) into a kiln::Tensor and copies nodes and
// attributes into the plain structs of onnx_model.h.
#include <onnx/onnx_pb.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>

#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "frontend/onnx/onnx_model.h"
#include "kiln/error.h"
#include "support/utf8.h"

namespace kiln::frontend::onnx_import {

namespace {

namespace fs = std::filesystem;

// Names and strings from the file may hold any bytes; Kiln keeps them as valid UTF-8.
std::string file_text(const std::string& bytes) { return support::escape_invalid_utf8(bytes); }

struct OnnxTypeEntry {
  int64_t onnx_type;
  const char* onnx_name;
  std::optional<DType> dtype;
};

// ONNX TensorProto.DataType values (onnx.proto), with Kiln's dtype where there is one.
const OnnxTypeEntry kOnnxTypes[] = {
    {1, "FLOAT", DType::kFloat32},
    {2, "UINT8", DType::kUInt8},
    {3, "INT8", DType::kInt8},
    {4, "UINT16", DType::kUInt16},
    {5, "INT16", DType::kInt16},
    {6, "INT32", DType::kInt32},
    {7, "INT64", DType::kInt64},
    {8, "STRING", std::nullopt},
    {9, "BOOL", DType::kBool},
    {10, "FLOAT16", DType::kFloat16},
    {11, "DOUBLE", DType::kFloat64},
    {12, "UINT32", DType::kUInt32},
    {13, "UINT64", DType::kUInt64},
    {14, "COMPLEX64", std::nullopt},
    {15, "COMPLEX128", std::nullopt},
    {16, "BFLOAT16", DType::kBFloat16},
    {17, "FLOAT8E4M3FN", DType::kFloat8E4M3FN},
    {18, "FLOAT8E4M3FNUZ", DType::kFloat8E4M3FNUZ},
    {19, "FLOAT8E5M2", DType::kFloat8E5M2},
    {20, "FLOAT8E5M2FNUZ", DType::kFloat8E5M2FNUZ},
    {21, "UINT4", DType::kUInt4},
    {22, "INT4", DType::kInt4},
    {23, "FLOAT4E2M1", DType::kFloat4E2M1},
    {24, "FLOAT8E8M0", DType::kFloat8E8M0},
    {25, "UINT2", DType::kUInt2},
    {26, "INT2", DType::kInt2},
};

// Elements per byte in a TensorProto's raw_data / int32_data: ONNX packs the 4-bit types two to
// a byte and the 2-bit types four, the first element in the lowest bits.
int64_t elements_per_byte(DType dtype) {
  if (dtype == DType::kInt4 || dtype == DType::kUInt4 || dtype == DType::kFloat4E2M1) return 2;
  if (dtype == DType::kInt2 || dtype == DType::kUInt2) return 4;
  return 1;
}

// Spreads packed elements to one per byte (Kiln's layout), each keeping its low bits.
void unpack_elements(Tensor& tensor, const uint8_t* packed) {
  int64_t per_byte = elements_per_byte(tensor.dtype());
  int bits = static_cast<int>(8 / per_byte);
  auto* out = tensor.mutable_data_as<uint8_t>();
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    int shift = static_cast<int>(i % per_byte) * bits;
    out[i] = static_cast<uint8_t>((packed[i / per_byte] >> shift) & ((1u << bits) - 1));
  }
}

// Error context for one tensor: "model.onnx: initializer 'conv1.weight'".
struct TensorSite {
  const std::string& path;
  std::string what;
  [[noreturn]] void fail(const std::string& message) const {
    throw Error(path + ": " + what + ": " + message);
  }
};

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

// Element count of `dims`, rejecting negative dims and counts that overflow.
int64_t checked_count(const std::vector<int64_t>& dims, const TensorSite& site) {
  int64_t count = 1;
  for (int64_t dim : dims) {
    if (dim < 0) site.fail("dims " + dims_text(dims) + " hold a negative size");
    if (dim != 0 && count > (int64_t{1} << 40) / dim) {
      site.fail("dims " + dims_text(dims) + " describe more than 2^40 elements");
    }
    count *= dim;
  }
  return count;
}

// True when `location` stays inside the model's directory: relative, without "..".
bool location_is_contained(const std::string& location) {
  fs::path relative(location);
  if (location.empty() || relative.is_absolute() || relative.has_root_name() ||
      relative.has_root_directory()) {
    return false;
  }
  for (const fs::path& part : relative) {
    if (part == "..") return false;
  }
  return true;
}

int64_t parse_external_number(const std::string& key, const std::string& text,
                              const TensorSite& site) {
  size_t used = 0;
  int64_t value = -1;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value < 0) {
    site.fail("external data " + key + " '" + text + "' is not a non-negative integer");
  }
  return value;
}

// Reads the bytes of an external-data tensor from a file next to the model.
std::string read_external_bytes(const onnx::TensorProto& proto, size_t expected_bytes,
                                const fs::path& model_dir, const TensorSite& site) {
  std::string location;
  int64_t offset = 0;
  int64_t length = -1;
  for (const auto& entry : proto.external_data()) {
    if (entry.key() == "location") location = entry.value();
    if (entry.key() == "offset") {
      offset = parse_external_number("offset", file_text(entry.value()), site);
    }
    if (entry.key() == "length") {
      length = parse_external_number("length", file_text(entry.value()), site);
    }
  }
  if (location.empty()) site.fail("external data has no 'location'");
  if (!location_is_contained(location)) {
    site.fail("external data location '" + file_text(location) +
              "' leaves the model's directory (it must be a relative path without '..')");
  }
  if (length >= 0 && static_cast<size_t>(length) != expected_bytes) {
    site.fail("external data length " + std::to_string(length) + " does not match the " +
              std::to_string(expected_bytes) + " bytes its dims and type need");
  }
  fs::path file = model_dir / location;
  std::string file_name = file_text(file.string());
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    site.fail("external data file '" + file_name + "' does not exist");
  }
  uintmax_t file_size = fs::file_size(file, ec);
  if (ec || static_cast<uintmax_t>(offset) > file_size ||
      file_size - static_cast<uintmax_t>(offset) < expected_bytes) {
    site.fail("external data file '" + file_name + "' is too short: it needs " +
              std::to_string(expected_bytes) + " bytes at offset " + std::to_string(offset) +
              (ec ? std::string() : ", the file has " + std::to_string(file_size) + " bytes"));
  }
  std::ifstream stream(file, std::ios::binary);
  std::string bytes(expected_bytes, '\0');
  stream.seekg(static_cast<std::streamoff>(offset));
  stream.read(bytes.data(), static_cast<std::streamsize>(expected_bytes));
  if (!stream && expected_bytes > 0) {
    site.fail("external data file '" + file_name + "' could not be read");
  }
  return bytes;
}

// The typed repeated field that holds a tensor's values when it has no raw_data, and how many
// entries the tensor's dims need there (the 4-/2-bit types pack 2 or 4 elements per entry).
struct TypedField {
  const char* name;
  int64_t size;
  int64_t needed;
};

TypedField typed_field_of(DType dtype, int64_t count, const onnx::TensorProto& proto) {
  switch (dtype) {
    case DType::kFloat32:
      return {"float_data", proto.float_data_size(), count};
    case DType::kFloat64:
      return {"double_data", proto.double_data_size(), count};
    case DType::kInt64:
      return {"int64_data", proto.int64_data_size(), count};
    case DType::kUInt32:
    case DType::kUInt64:
      return {"uint64_data", proto.uint64_data_size(), count};
    case DType::kInt4:
    case DType::kUInt4:
    case DType::kInt2:
    case DType::kUInt2:
    case DType::kFloat4E2M1: {
      int64_t per_byte = elements_per_byte(dtype);
      return {"int32_data", proto.int32_data_size(), (count + per_byte - 1) / per_byte};
    }
    default:  // int8/16/32, uint8/16, bool; float16/bfloat16 and float8 as bit patterns
      return {"int32_data", proto.int32_data_size(), count};
  }
}

// Copies the typed repeated field into the tensor (its size was checked by typed_field_of's
// caller), converting each element.
template <typename Field, typename Store>
void fill_from_field(Tensor& tensor, const Field& field, Store store) {
  for (int64_t i = 0; i < tensor.numel(); ++i) store(tensor, i, field[static_cast<int>(i)]);
}

void fill_from_typed_fields(Tensor& tensor, const onnx::TensorProto& proto) {
  auto store_double = [](Tensor& t, int64_t i, double v) { t.set_element_from_double(i, v); };
  auto store_int = [](Tensor& t, int64_t i, int64_t v) { t.set_element_from_int64(i, v); };
  // float16/bfloat16 travel as their bit patterns in int32_data.
  auto store_bits16 = [](Tensor& t, int64_t i, int32_t v) {
    t.mutable_data_as<uint16_t>()[i] = static_cast<uint16_t>(v);
  };
  switch (tensor.dtype()) {
    case DType::kFloat32:
      return fill_from_field(tensor, proto.float_data(), store_double);
    case DType::kFloat64:
      return fill_from_field(tensor, proto.double_data(), store_double);
    case DType::kFloat16:
    case DType::kBFloat16:
      return fill_from_field(tensor, proto.int32_data(), store_bits16);
    case DType::kInt64:
      return fill_from_field(tensor, proto.int64_data(), store_int);
    case DType::kFloat8E4M3FN:
    case DType::kFloat8E4M3FNUZ:
    case DType::kFloat8E5M2:
    case DType::kFloat8E5M2FNUZ:
    case DType::kFloat8E8M0:
      // float8 values travel as their bit patterns in int32_data, one per entry.
      return fill_from_field(tensor, proto.int32_data(), [](Tensor& t, int64_t i, int32_t v) {
        t.mutable_data_as<uint8_t>()[i] = static_cast<uint8_t>(v);
      });
    case DType::kInt4:
    case DType::kUInt4:
    case DType::kInt2:
    case DType::kUInt2:
    case DType::kFloat4E2M1: {
      // Packed: each int32_data entry holds one byte of 2 or 4 elements.
      std::vector<uint8_t> packed(proto.int32_data().begin(), proto.int32_data().end());
      return unpack_elements(tensor, packed.data());
    }
    case DType::kUInt32:
    case DType::kUInt64:
      return fill_from_field(tensor, proto.uint64_data(), [](Tensor& t, int64_t i, uint64_t v) {
        t.set_element_from_int64(i, static_cast<int64_t>(v));
      });
    default:  // int8/16/32, uint8/16, bool
      return fill_from_field(tensor, proto.int32_data(), store_int);
  }
}

// Converts a TensorProto. Element types Kiln lacks give an OnnxInitializer error, not a throw,
// so that a model only fails when such a tensor is actually used.
OnnxInitializer convert_tensor(const onnx::TensorProto& proto, const fs::path& model_dir,
                               const TensorSite& site) {
  OnnxInitializer out;
  out.name = file_text(proto.name());
  std::optional<DType> dtype = dtype_from_onnx(proto.data_type());
  if (!dtype) {
    out.error =
        "has element type " + onnx_type_name(proto.data_type()) + ", which Kiln does not support";
    return out;
  }
  std::vector<int64_t> dims(proto.dims().begin(), proto.dims().end());
  int64_t count = checked_count(dims, site);
  int64_t per_byte = elements_per_byte(*dtype);
  size_t expected_bytes =
      static_cast<size_t>((count + per_byte - 1) / per_byte) * dtype_size(*dtype);
  // The data present must match the dims before anything is allocated: a few bytes of file must
  // not make Kiln reserve gigabytes for a tensor the file does not hold.
  std::string external_bytes;
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    external_bytes = read_external_bytes(proto, expected_bytes, model_dir, site);
  } else if (proto.has_raw_data()) {
    if (proto.raw_data().size() != expected_bytes) {
      site.fail("raw_data has " + std::to_string(proto.raw_data().size()) + " bytes, dims " +
                dims_text(dims) + " of " + std::string(dtype_name(*dtype)) + " need " +
                std::to_string(expected_bytes));
    }
  } else {
    TypedField field = typed_field_of(*dtype, count, proto);
    if (field.size != field.needed) {
      site.fail(std::string(field.name) + " holds " + std::to_string(field.size) +
                " values, dims " + dims_text(dims) + " of " + std::string(dtype_name(*dtype)) +
                " need " + std::to_string(field.needed));
    }
  }
  Tensor tensor(*dtype, dims);
  // Bytes as stored in the file; the 4-/2-bit types are unpacked to one element per byte.
  auto store_bytes = [&](const char* bytes) {
    if (expected_bytes == 0) return;
    if (per_byte == 1) {
      std::memcpy(tensor.mutable_data(), bytes, expected_bytes);
    } else {
      unpack_elements(tensor, reinterpret_cast<const uint8_t*>(bytes));
    }
  };
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    store_bytes(external_bytes.data());
  } else if (proto.has_raw_data()) {
    store_bytes(proto.raw_data().data());
  } else {
    fill_from_typed_fields(tensor, proto);
  }
  out.value = std::move(tensor);
  return out;
}

Tensor convert_attr_tensor(const onnx::TensorProto& proto, const fs::path& model_dir,
                           const TensorSite& site) {
  OnnxInitializer converted = convert_tensor(proto, model_dir, site);
  if (!converted.error.empty()) site.fail(converted.error);
  return converted.value;
}

// Old models leave AttributeProto.type unset; infer it from the field that holds a value.
int effective_attr_type(const onnx::AttributeProto& attr) {
  if (attr.type() != onnx::AttributeProto::UNDEFINED) return attr.type();
  if (attr.has_f()) return onnx::AttributeProto::FLOAT;
  if (attr.has_i()) return onnx::AttributeProto::INT;
  if (attr.has_s()) return onnx::AttributeProto::STRING;
  if (attr.has_t()) return onnx::AttributeProto::TENSOR;
  if (attr.has_g()) return onnx::AttributeProto::GRAPH;
  if (attr.floats_size() > 0) return onnx::AttributeProto::FLOATS;
  if (attr.ints_size() > 0) return onnx::AttributeProto::INTS;
  if (attr.strings_size() > 0) return onnx::AttributeProto::STRINGS;
  return onnx::AttributeProto::UNDEFINED;
}

OnnxGraph convert_graph(const onnx::GraphProto& graph, const fs::path& model_dir,
                        const std::string& path);

OnnxAttr convert_attr(const onnx::AttributeProto& attr, const fs::path& model_dir,
                      const TensorSite& site) {
  switch (effective_attr_type(attr)) {
    case onnx::AttributeProto::FLOAT:
      return static_cast<double>(attr.f());
    case onnx::AttributeProto::INT:
      return static_cast<int64_t>(attr.i());
    case onnx::AttributeProto::STRING:
      return file_text(attr.s());
    case onnx::AttributeProto::FLOATS:
      return std::vector<double>(attr.floats().begin(), attr.floats().end());
    case onnx::AttributeProto::INTS:
      return std::vector<int64_t>(attr.ints().begin(), attr.ints().end());
    case onnx::AttributeProto::STRINGS: {
      std::vector<std::string> strings;
      for (const std::string& item : attr.strings()) strings.push_back(file_text(item));
      return strings;
    }
    case onnx::AttributeProto::TENSOR: {
      TensorSite tensor_site{site.path, site.what + ": attribute '" + file_text(attr.name()) + "'"};
      return convert_attr_tensor(attr.t(), model_dir, tensor_site);
    }
    case onnx::AttributeProto::GRAPH:
      // Nesting depth is bounded by protobuf's recursion limit (100) when the file was parsed.
      return std::make_shared<const OnnxGraph>(convert_graph(attr.g(), model_dir, site.path));
    case onnx::AttributeProto::GRAPHS:
      return UnreadableAttr{"list of graphs"};
    case onnx::AttributeProto::SPARSE_TENSOR:
    case onnx::AttributeProto::SPARSE_TENSORS:
      return UnreadableAttr{"sparse tensor"};
    case onnx::AttributeProto::TENSORS:
      return UnreadableAttr{"list of tensors"};
    case onnx::AttributeProto::TYPE_PROTO:
    case onnx::AttributeProto::TYPE_PROTOS:
      return UnreadableAttr{"type"};
    default:
      return UnreadableAttr{"undefined"};
  }
}

OnnxNode convert_node(const onnx::NodeProto& proto, const fs::path& model_dir,
                      const std::string& path) {
  OnnxNode node;
  node.op_type = file_text(proto.op_type());
  node.name = file_text(proto.name());
  node.domain = proto.domain() == "ai.onnx" ? "" : file_text(proto.domain());
  for (const std::string& input : proto.input()) node.inputs.push_back(file_text(input));
  for (const std::string& output : proto.output()) node.outputs.push_back(file_text(output));
  TensorSite site{path, "node '" + node.name + "' (" + node.op_type + ")"};
  for (const auto& attr : proto.attribute()) {
    node.attrs[file_text(attr.name())] = convert_attr(attr, model_dir, site);
  }
  return node;
}

OnnxValueInfo convert_value_info(const onnx::ValueInfoProto& proto) {
  OnnxValueInfo info;
  info.name = file_text(proto.name());
  if (!proto.type().has_tensor_type()) {
    info.type_text = proto.type().has_sequence_type()   ? "sequence"
                     : proto.type().has_map_type()      ? "map"
                     : proto.type().has_optional_type() ? "optional"
                                                        : "untyped";
    return info;
  }
  const auto& tensor_type = proto.type().tensor_type();
  info.dtype = dtype_from_onnx(tensor_type.elem_type());
  info.type_text =
      info.dtype ? std::string(dtype_name(*info.dtype)) : onnx_type_name(tensor_type.elem_type());
  info.has_shape = tensor_type.has_shape();
  for (const auto& dim : tensor_type.shape().dim()) {
    if (dim.has_dim_value() && dim.dim_value() >= 0) {
      info.shape.emplace_back(static_cast<int64_t>(dim.dim_value()));
    } else if (dim.has_dim_param() && !dim.dim_param().empty()) {
      info.shape.push_back(ir::Dim::symbol(file_text(dim.dim_param())));
    } else {
      info.shape.push_back(ir::Dim::unknown());
    }
  }
  return info;
}

// Parses the protobuf. CodedInputStream's default 64 MiB limit is raised to INT_MAX (the most
// protobuf allows) so that large models with inline weights load.
onnx::ModelProto parse_model(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path + ": no such file");
  if (fs::is_directory(path, ec)) throw Error(path + ": is a directory, not an ONNX model file");
  // A device or FIFO (/dev/zero) would be read without end; protobuf reads at most INT_MAX bytes.
  if (!fs::is_regular_file(path, ec)) {
    throw Error(path +
                ": is not a regular file (a device, pipe or socket), not an ONNX model file");
  }
  uintmax_t size = fs::file_size(path, ec);
  if (!ec && size > static_cast<uintmax_t>(INT_MAX)) {
    throw Error(path + ": has " + std::to_string(size) +
                " bytes, more than the 2 GiB protobuf reads (INT_MAX); store the weights as "
                "external data (onnx.save_model(..., save_as_external_data=True))");
  }
  std::ifstream stream(path, std::ios::binary);
  if (!stream) throw Error(path + ": the file cannot be read (permissions?)");
  google::protobuf::io::IstreamInputStream raw_input(&stream);
  google::protobuf::io::CodedInputStream coded(&raw_input);
  coded.SetTotalBytesLimit(INT_MAX);
  onnx::ModelProto model;
  if (!model.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage()) {
    throw Error(path +
                " is not a valid ONNX model: the protobuf could not be parsed (truncated or not "
                "an ONNX file?)");
  }
  if (stream.bad()) throw Error(path + ": the file cannot be read");
  return model;
}

void check_looks_like_onnx(const onnx::ModelProto& model, const std::string& path) {
  std::string missing;
  if (model.ir_version() <= 0)
    missing = "no ir_version";
  else if (!model.has_graph())
    missing = "no graph";
  else if (model.opset_import_size() == 0)
    missing = "no opset_import";
  if (!missing.empty()) {
    throw Error(path + " does not look like an ONNX model (" + missing +
                "); is it the right file?");
  }
}

OnnxGraph convert_graph(const onnx::GraphProto& graph, const fs::path& model_dir,
                        const std::string& path) {
  OnnxGraph out;
  out.name = file_text(graph.name());
  for (const auto& input : graph.input()) out.inputs.push_back(convert_value_info(input));
  for (const auto& initializer : graph.initializer()) {
    TensorSite site{path, "initializer '" + file_text(initializer.name()) + "'"};
    out.initializers.push_back(convert_tensor(initializer, model_dir, site));
  }
  for (const auto& sparse : graph.sparse_initializer()) {
    OnnxInitializer unreadable;
    unreadable.name = file_text(sparse.values().name());
    unreadable.error = "is a sparse tensor, which Kiln does not support";
    out.initializers.push_back(std::move(unreadable));
  }
  out.nodes.reserve(static_cast<size_t>(graph.node_size()));
  for (const auto& node : graph.node()) out.nodes.push_back(convert_node(node, model_dir, path));
  for (const auto& output : graph.output()) out.outputs.push_back(file_text(output.name()));
  return out;
}

}  // namespace

std::optional<DType> dtype_from_onnx(int64_t onnx_type) {
  for (const auto& entry : kOnnxTypes) {
    if (entry.onnx_type == onnx_type) return entry.dtype;
  }
  return std::nullopt;
}

std::string onnx_type_name(int64_t onnx_type) {
  for (const auto& entry : kOnnxTypes) {
    if (entry.onnx_type == onnx_type) return entry.onnx_name;
  }
  return "unknown type " + std::to_string(onnx_type);
}

OnnxModel read_onnx_model(const std::string& path) {
  onnx::ModelProto proto = parse_model(path);
  check_looks_like_onnx(proto, path);
  fs::path model_dir = fs::path(path).parent_path();

  OnnxModel model;
  model.ir_version = proto.ir_version();
  model.producer = file_text(proto.producer_name());
  for (const auto& opset : proto.opset_import()) {
    if (opset.domain().empty() || opset.domain() == "ai.onnx") {
      model.opset = opset.version();
    } else {
      model.domain_opsets[file_text(opset.domain())] = opset.version();
    }
  }
  static_cast<OnnxGraph&>(model) = convert_graph(proto.graph(), model_dir, path);
  return model;
}

}  // namespace kiln::frontend::onnx_import
