// What every frontend offers: a model file in, an ir::Module out.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/module.h"
#include "kiln/tensor.h"

namespace kiln::frontend {

// Input name -> full shape (batch included) that replaces the shape declared in the model.
using ShapeDict = std::map<std::string, std::vector<int64_t>>;

// Input name -> value fixed at import time (the input becomes a constant of the graph).
using ConstantInputs = std::map<std::string, Tensor>;

// Imports an ONNX model file (src/frontend/onnx). Weights stored as external data are read from
// files next to the model. Every failure is a kiln::Error that names the file (and the node and
// operator when there is one).
ir::Module import_onnx(const std::string& path, const ShapeDict& shape_dict,
                       const ConstantInputs& constant_inputs = {});

// ONNX operator types the importer converts, sorted: op_type for the default domain,
// "<domain>.<op_type>" for the others ("ai.onnx.ml.Binarizer").
std::vector<std::string> onnx_supported_operators();

}  // namespace kiln::frontend
