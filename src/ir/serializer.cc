#include "ir/serializer.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "ir/functor.h"
#include "ir/op.h"
#include "kiln/error.h"
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

  std::string header_text = header.dump();
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
    size_t available = bytes.size() - kPreambleSize;
    if (header_size > available || data_size > available) corrupt("sizes exceed the file");
    size_t data_start = align_up(kPreambleSize + header_size);
    if (data_start + data_size != bytes.size()) corrupt("the file size does not match its header");
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
      return build(header);
    } catch (const json::exception& error) {
      corrupt(std::string("malformed header (") + error.what() + ")");
    }
  }

 private:
  Shape read_shape(const json& dims) const {
    Shape shape;
    for (const json& dim : dims) {
      if (dim.is_string()) {
        shape.push_back(Dim::symbol(dim.get<std::string>()));
      } else {
        int64_t value = dim.get<int64_t>();
        if (value < 0) corrupt("negative dimension");
        shape.emplace_back(value);
      }
    }
    return shape;
  }

  DType read_dtype(const json& name) const {
    auto dtype = dtype_from_name(name.get<std::string>());
    if (!dtype) corrupt("unknown dtype '" + name.get<std::string>() + "'");
    return *dtype;
  }

  double read_float(const json& value) const {
    if (value.is_string()) {
      std::string text = value.get<std::string>();
      if (text == "nan") return std::nan("");
      if (text == "inf") return INFINITY;
      if (text == "-inf") return -INFINITY;
      corrupt("bad float '" + text + "'");
    }
    return value.get<double>();
  }

  AttrValue read_attr(const json& value) const {
    if (!value.is_object() || value.size() != 1) corrupt("malformed attribute");
    const std::string& kind = value.begin().key();
    const json& item = value.begin().value();
    if (kind == "int") return item.get<int64_t>();
    if (kind == "float") return read_float(item);
    if (kind == "string") return item.get<std::string>();
    if (kind == "ints") return item.get<std::vector<int64_t>>();
    if (kind == "strings") return item.get<std::vector<std::string>>();
    if (kind == "floats") {
      std::vector<double> items;
      for (const json& element : item) items.push_back(read_float(element));
      return items;
    }
    corrupt("unknown attribute kind '" + kind + "'");
  }

  Constant read_constant(const json& entry) const {
    DType dtype = read_dtype(entry.at("dtype"));
    std::vector<int64_t> shape = entry.at("shape").get<std::vector<int64_t>>();
    size_t offset = entry.at("offset").get<size_t>();
    size_t nbytes = entry.at("nbytes").get<size_t>();
    if (offset > data_.size() || nbytes > data_.size() - offset) corrupt("weight out of range");
    Tensor value(dtype, shape);
    if (value.nbytes() != nbytes) corrupt("weight size does not match its shape");
    if (nbytes > 0) std::memcpy(value.mutable_data(), data_.data() + offset, nbytes);
    return ConstantNode::make(std::move(value), entry.at("name").get<std::string>());
  }

  const Expr& node_at(const std::vector<Expr>& nodes, const json& id) const {
    int64_t index = id.get<int64_t>();
    if (index < 0 || index >= static_cast<int64_t>(nodes.size()))
      corrupt("dangling node reference");
    return nodes[static_cast<size_t>(index)];
  }

  Module build(const json& header) {
    if (header.at("format") != "kiln-model") corrupt("wrong format tag");
    std::vector<Var> params;
    std::vector<Expr> nodes;
    for (const json& input : header.at("inputs")) {
      TensorType type;
      type.dtype = read_dtype(input.at("dtype"));
      type.shape = read_shape(input.at("shape"));
      params.push_back(VarNode::make(input.at("name").get<std::string>(), type));
      nodes.push_back(params.back());
    }
    const json& constants = header.at("constants");
    for (const json& entry : header.at("nodes")) {
      const std::string kind = entry.at("kind").get<std::string>();
      if (kind == "constant") {
        size_t index = entry.at("index").get<size_t>();
        if (index >= constants.size()) corrupt("constant index out of range");
        nodes.push_back(read_constant(constants.at(index)));
      } else if (kind == "call") {
        std::string op_name = entry.at("op").get<std::string>();
        const OpDef* def = OpRegistry::global().find(op_name);
        if (def == nullptr) corrupt("unknown operator '" + op_name + "'");
        std::vector<Expr> args;
        for (const json& id : entry.at("args")) args.push_back(node_at(nodes, id));
        Attrs attrs;
        for (const auto& [name, value] : entry.at("attrs").items())
          attrs.set(name, read_attr(value));
        try {
          nodes.push_back(CallNode::make(*def, std::move(args), std::move(attrs),
                                         entry.at("source_name").get<std::string>()));
        } catch (const Error& error) {
          corrupt(std::string("a node does not type-check: ") + error.what());
        }
      } else if (kind == "tuple") {
        std::vector<Expr> fields;
        for (const json& id : entry.at("fields")) fields.push_back(node_at(nodes, id));
        nodes.push_back(TupleNode::make(std::move(fields)));
      } else if (kind == "get_item") {
        try {
          nodes.push_back(TupleGetItemNode::make(node_at(nodes, entry.at("tuple")),
                                                 entry.at("index").get<int64_t>()));
        } catch (const Error& error) {
          corrupt(error.what());
        }
      } else {
        corrupt("unknown node kind '" + kind + "'");
      }
    }
    Expr body = node_at(nodes, header.at("body"));
    auto output_names = header.at("output_names").get<std::vector<std::string>>();
    size_t output_count = as<TupleNode>(body) ? as<TupleNode>(body)->fields.size() : 1;
    if (output_names.size() != output_count) corrupt("output names do not match the outputs");
    auto metadata = header.at("metadata").get<std::map<std::string, std::string>>();
    return Module(FunctionNode::make(std::move(params), std::move(body)), std::move(output_names),
                  std::move(metadata));
  }

  std::string name_;
  std::string_view data_;
};

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error("cannot open '" + path + "' for reading");
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

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

Module load_module(const std::string& path) { return deserialize_module(read_file(path), path); }

bool is_model_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  char magic[8] = {};
  file.read(magic, 8);
  return file && std::memcmp(magic, kModelFileMagic, 8) == 0;
}

}  // namespace kiln::ir
