#include "ir/serializer.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "ir/functor.h"
#include "ir/op.h"
#include "kiln/error.h"
#include "support/checked_size.h"
#include "support/file.h"
#include "support/sha256.h"

namespace kiln::ir {

using nlohmann::json;

namespace {

constexpr size_t kDataAlignment = 64;
// magic(8) version(4) flags(4) header_size(8) data_size(8) sha256(32)
constexpr size_t kPreambleSize = 8 + 4 + 4 + 8 + 8 + 32;

size_t align_up(size_t value) {
  return (value + kDataAlignment - 1) / kDataAlignment * kDataAlignment;
}

// ---- writing ---------------------------------------------------------------------------------

json float_to_json(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return value;
}

json attr_to_json(const AttrValue& value) {
  switch (attr_kind(value)) {
    case AttrKind::kInt:
      return {{"int", std::get<int64_t>(value)}};
    case AttrKind::kFloat:
      return {{"float", float_to_json(std::get<double>(value))}};
    case AttrKind::kString:
      return {{"string", std::get<std::string>(value)}};
    case AttrKind::kInts:
      return {{"ints", std::get<std::vector<int64_t>>(value)}};
    case AttrKind::kFloats: {
      json items = json::array();
      for (double item : std::get<std::vector<double>>(value)) items.push_back(float_to_json(item));
      return {{"floats", items}};
    }
    case AttrKind::kStrings:
      return {{"strings", std::get<std::vector<std::string>>(value)}};
  }
  return nullptr;
}

json shape_to_json(const Shape& shape) {
  json dims = json::array();
  for (const Dim& dim : shape) {
    if (dim.is_static()) {
      dims.push_back(dim.value());
    } else {
      dims.push_back(dim.symbol_name());
    }
  }
  return dims;
}

}  // namespace

std::string serialize_module(const Module& module) {
  json header;
  header["format"] = "kiln-model";
  header["version"] = kModelFileVersion;
  header["metadata"] = module.metadata();
  header["output_names"] = module.output_names();

  std::unordered_map<const ExprNode*, int64_t> ids;
  json inputs = json::array();
  for (const Var& param : module.inputs()) {
    ids[param.get()] = static_cast<int64_t>(ids.size());
    inputs.push_back({{"name", param->name},
                      {"dtype", dtype_name(param->tensor_type().dtype)},
                      {"shape", shape_to_json(param->tensor_type().shape)}});
  }
  header["inputs"] = inputs;

  std::string data;
  json constants = json::array();
  json nodes = json::array();
  for (const Expr& node : post_order(module.main()->body)) {
    if (ids.count(node.get())) continue;
    json entry;
    switch (node->kind()) {
      case ExprKind::kVar:
        throw Error("cannot save the model: variable '" + as<VarNode>(node)->name +
                    "' is not an input of main");
      case ExprKind::kConstant: {
        const auto* constant = as<ConstantNode>(node);
        size_t offset = align_up(data.size());
        data.resize(offset);
        data.append(static_cast<const char*>(constant->value.data()), constant->value.nbytes());
        entry = {{"kind", "constant"}, {"index", constants.size()}};
        constants.push_back({{"name", constant->name},
                             {"dtype", dtype_name(constant->value.dtype())},
                             {"shape", constant->value.shape()},
                             {"offset", offset},
                             {"nbytes", constant->value.nbytes()}});
        break;
      }
      case ExprKind::kCall: {
        const auto* call_node = as<CallNode>(node);
        json args = json::array();
        for (const Expr& arg : call_node->args) args.push_back(ids.at(arg.get()));
        json attrs = json::object();
        for (const auto& [name, value] : call_node->attrs.values())
          attrs[name] = attr_to_json(value);
        entry = {{"kind", "call"},
                 {"op", call_node->op.name},
                 {"args", args},
                 {"attrs", attrs},
                 {"source_name", call_node->source_name}};
        break;
      }
      case ExprKind::kTuple: {
        json fields = json::array();
        for (const Expr& field : as<TupleNode>(node)->fields) fields.push_back(ids.at(field.get()));
        entry = {{"kind", "tuple"}, {"fields", fields}};
        break;
      }
      case ExprKind::kTupleGetItem: {
        const auto* item = as<TupleGetItemNode>(node);
        entry = {
            {"kind", "get_item"}, {"tuple", ids.at(item->tuple.get())}, {"index", item->index}};
        break;
      }
      case ExprKind::kFunction:
        throw Error("cannot save the model: nested functions");
    }
    ids[node.get()] = static_cast<int64_t>(ids.size());
    nodes.push_back(std::move(entry));
  }
  header["constants"] = constants;
  header["nodes"] = nodes;
  header["body"] = ids.at(module.main()->body.get());

  // Names are valid UTF-8 (frontends escape what they read); replace is only a safety net, so
  // that a name built in C++ from raw bytes cannot make saving fail with a JSON exception.
  std::string header_text = header.dump(-1, ' ', false, json::error_handler_t::replace);
  size_t data_start = align_up(kPreambleSize + header_text.size());
  std::string contents(data_start - kPreambleSize, '\0');
  std::memcpy(contents.data(), header_text.data(), header_text.size());
  contents += data;

  uint64_t header_size = header_text.size();
  uint64_t data_size = data.size();
  uint32_t version = kModelFileVersion;
  uint32_t flags = 0;
  support::Sha256Digest digest = support::sha256(contents.data(), contents.size());

  std::string file(kPreambleSize, '\0');
  char* cursor = file.data();
  std::memcpy(cursor, kModelFileMagic, 8);
  std::memcpy(cursor + 8, &version, 4);
  std::memcpy(cursor + 12, &flags, 4);
  std::memcpy(cursor + 16, &header_size, 8);
  std::memcpy(cursor + 24, &data_size, 8);
  std::memcpy(cursor + 32, digest.data(), digest.size());
  return file + contents;
}

// ---- reading ---------------------------------------------------------------------------------

namespace {

// Every field of the header is read through these accessors, which check the JSON type before
// converting it, so that a malformed file is a kiln::Error naming the file and the field (e.g.
// "nodes[3].op must be a string"), never a JSON library exception.
class Reader {
 public:
  explicit Reader(std::string display_name) : name_(std::move(display_name)) {}

  [[noreturn]] void corrupt(const std::string& what) const {
    throw Error(name_ + " is not a valid Kiln model file: " + what +
                " (was it truncated or modified? save the model again)");
  }

  Module read(const std::string& bytes) {
    if (bytes.size() < kPreambleSize || std::memcmp(bytes.data(), kModelFileMagic, 8) != 0) {
      corrupt("it does not start with the Kiln model header");
    }
    uint32_t version;
    uint64_t header_size;
    uint64_t data_size;
    std::memcpy(&version, bytes.data() + 8, 4);
    std::memcpy(&header_size, bytes.data() + 16, 8);
    std::memcpy(&data_size, bytes.data() + 24, 8);
    if (version != kModelFileVersion) {
      throw Error(name_ + " is a Kiln model file of version " + std::to_string(version) +
                  "; this Kiln reads version " + std::to_string(kModelFileVersion));
    }
    // Each declared length is checked against the bytes that remain before it is used.
    size_t available = bytes.size() - kPreambleSize;
    if (header_size > available || data_size > available) corrupt("sizes exceed the file");
    size_t data_start = align_up(kPreambleSize + header_size);
    if (data_start > bytes.size() || bytes.size() - data_start != data_size) {
      corrupt("the file size does not match its header");
    }
    support::Sha256Digest expected;
    std::memcpy(expected.data(), bytes.data() + 32, expected.size());
    if (support::sha256(bytes.data() + kPreambleSize, bytes.size() - kPreambleSize) != expected) {
      corrupt("the SHA-256 checksum does not match the contents");
    }
    data_ = std::string_view(bytes).substr(data_start);
    json header;
    try {
      header =
          json::parse(bytes.begin() + kPreambleSize,
                      bytes.begin() + static_cast<std::ptrdiff_t>(kPreambleSize + header_size));
    } catch (const json::exception& error) {
      corrupt(std::string("the header is not valid JSON (") + error.what() + ")");
    }
    try {
      return build(header);
    } catch (const json::exception& error) {
      // Not expected (every field is type-checked first); kept so that no JSON exception leaves.
      corrupt(std::string("malformed header (") + error.what() + ")");
    }
  }

 private:
  // ---- type-checked access to the header ("where" names the field in messages) ----
  const json& field(const json& object, const std::string& where, const char* key) const {
    if (!object.is_object()) corrupt((where.empty() ? "the header" : where) + " must be an object");
    auto it = object.find(key);
    if (it == object.end()) {
      corrupt((where.empty() ? "the header" : where) + " has no field '" + key + "'");
    }
    return *it;
  }
  static std::string join(const std::string& where, const char* key) {
    return where.empty() ? std::string(key) : where + "." + key;
  }
  static std::string item(const std::string& where, size_t index) {
    return where + "[" + std::to_string(index) + "]";
  }
  const json& array_at(const json& object, const std::string& where, const char* key) const {
    const json& value = field(object, where, key);
    if (!value.is_array()) corrupt(join(where, key) + " must be a list");
    return value;
  }
  std::string string_of(const json& value, const std::string& where) const {
    if (!value.is_string()) corrupt(where + " must be a string");
    return value.get<std::string>();
  }
  std::string string_at(const json& object, const std::string& where, const char* key) const {
    return string_of(field(object, where, key), join(where, key));
  }
  int64_t int_of(const json& value, const std::string& where) const {
    if (value.is_number_unsigned()) {
      if (value.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
        corrupt(where + " is too large");
      return static_cast<int64_t>(value.get<uint64_t>());
    }
    if (!value.is_number_integer()) corrupt(where + " must be an integer");
    return value.get<int64_t>();
  }
  int64_t int_at(const json& object, const std::string& where, const char* key) const {
    return int_of(field(object, where, key), join(where, key));
  }
  uint64_t size_at(const json& object, const std::string& where, const char* key) const {
    int64_t value = int_at(object, where, key);
    if (value < 0) corrupt(join(where, key) + " is negative");
    return static_cast<uint64_t>(value);
  }

  Shape read_shape(const json& dims, const std::string& where) const {
    if (!dims.is_array()) corrupt(where + " must be a list");
    Shape shape;
    for (size_t i = 0; i < dims.size(); ++i) {
      if (dims[i].is_string()) {
        shape.push_back(Dim::symbol(dims[i].get<std::string>()));
      } else {
        int64_t value = int_of(dims[i], item(where, i));
        if (value < 0) corrupt(item(where, i) + " is a negative dimension");
        shape.emplace_back(value);
      }
    }
    return shape;
  }

  std::vector<int64_t> read_static_shape(const json& dims, const std::string& where) const {
    if (!dims.is_array()) corrupt(where + " must be a list");
    std::vector<int64_t> shape;
    for (size_t i = 0; i < dims.size(); ++i) shape.push_back(int_of(dims[i], item(where, i)));
    return shape;
  }

  DType read_dtype(const json& object, const std::string& where) const {
    std::string name = string_at(object, where, "dtype");
    auto dtype = dtype_from_name(name);
    if (!dtype) corrupt(join(where, "dtype") + " names an unknown dtype '" + name + "'");
    return *dtype;
  }

  double read_float(const json& value, const std::string& where) const {
    if (value.is_string()) {
      std::string text = value.get<std::string>();
      if (text == "nan") return std::nan("");
      if (text == "inf") return INFINITY;
      if (text == "-inf") return -INFINITY;
      corrupt(where + " is a bad float '" + text + "'");
    }
    if (!value.is_number()) corrupt(where + " must be a number");
    return value.get<double>();
  }

  AttrValue read_attr(const json& value, const std::string& where) const {
    if (!value.is_object() || value.size() != 1) corrupt(where + " is a malformed attribute");
    const std::string& kind = value.begin().key();
    const json& content = value.begin().value();
    std::string content_where = where + "." + kind;
    if (kind == "int") return int_of(content, content_where);
    if (kind == "float") return read_float(content, content_where);
    if (kind == "string") return string_of(content, content_where);
    if (!content.is_array()) {
      if (kind == "ints" || kind == "strings" || kind == "floats") {
        corrupt(content_where + " must be a list");
      }
      corrupt(where + " has an unknown attribute kind '" + kind + "'");
    }
    if (kind == "ints") return read_static_shape(content, content_where);
    if (kind == "strings") {
      std::vector<std::string> items;
      for (size_t i = 0; i < content.size(); ++i) {
        items.push_back(string_of(content[i], item(content_where, i)));
      }
      return items;
    }
    if (kind == "floats") {
      std::vector<double> items;
      for (size_t i = 0; i < content.size(); ++i) {
        items.push_back(read_float(content[i], item(content_where, i)));
      }
      return items;
    }
    corrupt(where + " has an unknown attribute kind '" + kind + "'");
  }

  Constant read_constant(const json& entry, const std::string& where) const {
    DType dtype = read_dtype(entry, where);
    std::vector<int64_t> shape =
        read_static_shape(field(entry, where, "shape"), join(where, "shape"));
    uint64_t offset = size_at(entry, where, "offset");
    uint64_t nbytes = size_at(entry, where, "nbytes");
    std::string name = string_at(entry, where, "name");
    if (offset > data_.size() || nbytes > data_.size() - offset) {
      corrupt(where + " ('" + name + "') lies outside the data section");
    }
    // The shape's size is checked against the bytes present before the tensor is allocated.
    std::optional<uint64_t> expected = support::checked_tensor_bytes(dtype, shape);
    if (!expected) {
      corrupt(join(where, "shape") + " has a negative dimension or more than 2^40 elements");
    }
    if (*expected != nbytes) corrupt(where + " ('" + name + "'): nbytes does not match its shape");
    Tensor value(dtype, shape);
    if (nbytes > 0) std::memcpy(value.mutable_data(), data_.data() + offset, nbytes);
    return ConstantNode::make(std::move(value), name);
  }

  const Expr& node_at(const std::vector<Expr>& nodes, const json& id,
                      const std::string& where) const {
    int64_t index = int_of(id, where);
    if (index < 0 || index >= static_cast<int64_t>(nodes.size())) {
      corrupt(where + " refers to node " + std::to_string(index) +
              ", which is not defined before it");
    }
    return nodes[static_cast<size_t>(index)];
  }

  Module build(const json& header) {
    if (string_at(header, "", "format") != "kiln-model") corrupt("wrong format tag");
    std::vector<Var> params;
    std::vector<Expr> nodes;
    const json& inputs = array_at(header, "", "inputs");
    for (size_t i = 0; i < inputs.size(); ++i) {
      std::string where = item("inputs", i);
      TensorType type;
      type.dtype = read_dtype(inputs[i], where);
      type.shape = read_shape(field(inputs[i], where, "shape"), join(where, "shape"));
      params.push_back(VarNode::make(string_at(inputs[i], where, "name"), type));
      nodes.push_back(params.back());
    }
    const json& constants = array_at(header, "", "constants");
    const json& node_entries = array_at(header, "", "nodes");
    for (size_t n = 0; n < node_entries.size(); ++n) {
      const json& entry = node_entries[n];
      std::string where = item("nodes", n);
      const std::string kind = string_at(entry, where, "kind");
      if (kind == "constant") {
        uint64_t index = size_at(entry, where, "index");
        if (index >= constants.size()) corrupt(join(where, "index") + " is out of range");
        nodes.push_back(read_constant(constants[index], item("constants", index)));
      } else if (kind == "call") {
        std::string op_name = string_at(entry, where, "op");
        const OpDef* def = OpRegistry::global().find(op_name);
        if (def == nullptr)
          corrupt(join(where, "op") + " names an unknown operator '" + op_name + "'");
        std::vector<Expr> args;
        const json& arg_ids = array_at(entry, where, "args");
        for (size_t i = 0; i < arg_ids.size(); ++i) {
          args.push_back(node_at(nodes, arg_ids[i], item(join(where, "args"), i)));
        }
        Attrs attrs;
        const json& attr_entries = field(entry, where, "attrs");
        if (!attr_entries.is_object()) corrupt(join(where, "attrs") + " must be an object");
        for (const auto& [name, value] : attr_entries.items()) {
          attrs.set(name, read_attr(value, join(where, "attrs") + "." + name));
        }
        std::string source_name = string_at(entry, where, "source_name");
        try {
          nodes.push_back(CallNode::make(*def, std::move(args), std::move(attrs), source_name));
        } catch (const Error& error) {
          corrupt(where + " (" + op_name + ") does not type-check: " + error.what());
        }
      } else if (kind == "tuple") {
        std::vector<Expr> fields;
        const json& field_ids = array_at(entry, where, "fields");
        for (size_t i = 0; i < field_ids.size(); ++i) {
          fields.push_back(node_at(nodes, field_ids[i], item(join(where, "fields"), i)));
        }
        nodes.push_back(TupleNode::make(std::move(fields)));
      } else if (kind == "get_item") {
        const Expr& tuple = node_at(nodes, field(entry, where, "tuple"), join(where, "tuple"));
        int64_t index = int_at(entry, where, "index");
        try {
          nodes.push_back(TupleGetItemNode::make(tuple, index));
        } catch (const Error& error) {
          corrupt(where + ": " + error.what());
        }
      } else {
        corrupt(join(where, "kind") + " is an unknown node kind '" + kind + "'");
      }
    }
    Expr body = node_at(nodes, field(header, "", "body"), "body");
    const json& name_entries = array_at(header, "", "output_names");
    std::vector<std::string> output_names;
    for (size_t i = 0; i < name_entries.size(); ++i) {
      output_names.push_back(string_of(name_entries[i], item("output_names", i)));
    }
    size_t output_count = as<TupleNode>(body) ? as<TupleNode>(body)->fields.size() : 1;
    if (output_names.size() != output_count) corrupt("output names do not match the outputs");
    const json& metadata_entries = field(header, "", "metadata");
    if (!metadata_entries.is_object()) corrupt("metadata must be an object");
    std::map<std::string, std::string> metadata;
    for (const auto& [key, value] : metadata_entries.items()) {
      metadata[key] = string_of(value, "metadata." + key);
    }
    try {
      return Module(FunctionNode::make(std::move(params), std::move(body)), std::move(output_names),
                    std::move(metadata));
    } catch (const Error& error) {
      corrupt(error.what());
    }
  }

  std::string name_;
  std::string_view data_;
};

}  // namespace

Module deserialize_module(const std::string& bytes, const std::string& display_name) {
  return Reader(display_name).read(bytes);
}

void save_module(const Module& module, const std::string& path) {
  std::string bytes = serialize_module(module);
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) throw Error("cannot open '" + path + "' for writing");
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!file) throw Error("failed to write '" + path + "' (disk full?)");
}

Module load_module(const std::string& path) {
  return deserialize_module(
      support::read_regular_file(path, kMaxModelFileBytes, "kiln::ir::kMaxModelFileBytes"), path);
}

bool is_model_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  char magic[8] = {};
  file.read(magic, 8);
  return file && std::memcmp(magic, kModelFileMagic, 8) == 0;
}

}  // namespace kiln::ir
