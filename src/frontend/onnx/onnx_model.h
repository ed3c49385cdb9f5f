// A protobuf-free picture of an ONNX model: what the model reader (the only translation unit
// that includes the protobuf classes) hands to the graph builder and the per-operator converters.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ir/type.h"
#include "kiln/tensor.h"

namespace kiln::frontend::onnx_import {

// An attribute kind Kiln does not read (a list of graphs, a sparse tensor, a type proto ...);
// kept so that a converter can say which attribute it cannot handle.
struct UnreadableAttr {
  std::string kind;  // "list of graphs", "sparse_tensor", ...
};

struct OnnxGraph;

// ONNX attribute values. FLOAT attributes are widened to double, like ir::AttrValue. A GRAPH
// attribute (If's branches, a Loop or Scan body) is the subgraph, read like the main graph.
using OnnxAttr = std::variant<int64_t, double, std::string, std::vector<int64_t>,
                              std::vector<double>, std::vector<std::string>, Tensor,
                              std::shared_ptr<const OnnxGraph>, UnreadableAttr>;

struct OnnxNode {
  std::string op_type;
  std::string name;                  // as in the file; may be empty
  std::string domain;                // "" for the default domain ("ai.onnx" is normalized to "")
  std::vector<std::string> inputs;   // "" marks an omitted optional input
  std::vector<std::string> outputs;  // "" marks an omitted optional output
  std::map<std::string, OnnxAttr> attrs;
};

// A graph input or output as declared.
struct OnnxValueInfo {
  std::string name;
  std::optional<DType> dtype;  // nullopt: not a tensor, or an element type Kiln lacks
  std::string type_text;       // "float32", "string", "sequence", ... for error messages
  bool has_shape = false;      // false: rank unknown (shape_dict must give the shape)
  ir::Shape shape;             // dim_value -> static, dim_param -> symbol, absent -> unknown
};

struct OnnxInitializer {
  std::string name;
  Tensor value;       // undefined when `error` is set
  std::string error;  // why it cannot be loaded (an element type Kiln lacks); raised on use
};

// The main graph or a subgraph. A subgraph's nodes may read values of the enclosing graphs by
// name (outer scope).
struct OnnxGraph {
  std::string name;
  std::vector<OnnxValueInfo> inputs;  // graph inputs, initializer-backed ones included
  std::vector<OnnxInitializer> initializers;
  std::vector<OnnxNode> nodes;
  std::vector<std::string> outputs;
};

struct OnnxModel : OnnxGraph {
  int64_t ir_version = 0;
  int64_t opset = 0;  // default domain ("" / "ai.onnx"); 0 when the model does not import it
  std::map<std::string, int64_t> domain_opsets;  // other imported domains ("ai.onnx.ml", ...)
  std::string producer;
};

// Reads and converts the model file. Raises kiln::Error naming `path` when the file is missing,
// unreadable, not an ONNX model, or holds malformed tensors (sizes that do not match dims,
// external data outside the model's directory or shorter than declared).
OnnxModel read_onnx_model(const std::string& path);

// "float32" for ONNX element type 1, ...; nullopt for types Kiln lacks (string, complex, fp8).
std::optional<DType> dtype_from_onnx(int64_t onnx_type);
// ONNX's name of an element type ("FLOAT", "STRING", ...) for error messages.
std::string onnx_type_name(int64_t onnx_type);

}  // namespace kiln::frontend::onnx_import
