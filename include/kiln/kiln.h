// Kiln's public C++ API: the driver that the Python module and the `kiln` command line wrap.
//
//   kiln::Model model = kiln::load("resnet50.onnx");
//   std::cout << model.summary();
//   model.save("resnet50.kiln");
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kiln/error.h"
#include "kiln/tensor.h"

namespace kiln {

namespace ir {
class Module;
}

// Input name -> full shape (batch included) that replaces the shape declared in the model.
using ShapeDict = std::map<std::string, std::vector<int64_t>>;

// Name, shape and dtype of a model input or output. A symbolic dimension has shape[i] == -1 and
// its name in dim_names[i] ("batch", or "?" when unknown); static dims have an empty name.
struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<std::string> dim_names;
  DType dtype = DType::kFloat32;

  // "[1, 3, 224, 224]" / "[batch, 128]"
  std::string shape_string() const;
};

// Summary statistics of a model, as `kiln inspect` shows them.
struct ModelStats {
  std::map<std::string, int64_t> op_histogram;  // operator name -> number of calls
  int64_t num_params = 0;     // elements of floating-point constants (the weights), folded or not
  int64_t num_constants = 0;  // constant tensors of any dtype
  int64_t macs = 0;           // multiply-accumulates of conv/dense/matmul/rnn (static shapes)
  int64_t flops = 0;          // estimate: 2 * macs + one per element of every other operator
};

// An imported model: the graph IR with its weights. Copies share the same immutable module.
class Model {
 public:
  // `source_format` and `source_path` say where this model was loaded from ("onnx", "kiln", ...);
  // they are not part of the module, so saving a loaded model reproduces the file exactly.
  Model(std::shared_ptr<const ir::Module> module, std::string source_format,
        std::string source_path);

  std::vector<TensorInfo> inputs() const;
  std::vector<TensorInfo> outputs() const;
  // The text IR: one line per value with its type (see docs/formats.md).
  std::string summary() const;
  // Writes a Kiln model file (.kiln) that load() reads back exactly.
  void save(const std::string& path) const;
  // Named constants (weights), in first-use order; unnamed folded constants get "const_<i>".
  std::vector<std::pair<std::string, Tensor>> params() const;
  ModelStats stats() const;
  // "onnx", "kiln", ... and the file the model came from.
  std::string source_format() const;
  std::string source_path() const;

  const ir::Module& module() const { return *module_; }

 private:
  std::shared_ptr<const ir::Module> module_;
  std::string source_format_;
  std::string source_path_;
};

// Model formats Kiln knows by name; those whose frontend is not written yet raise a clear
// "not supported yet" error.
std::vector<std::string> known_model_formats();

// Loads a model. `model_format` ("onnx", "kiln", ...; any case) overrides the format guessed
// from the file's extension and contents. `shape_dict` fixes input shapes; the graph is
// re-inferred with them.
Model load(const std::string& path, const ShapeDict& shape_dict = {},
           const std::string& model_format = "");

// Parses TVMC's --input-shapes syntax: "data:[1,3,224,224] mask:[1,128]".
ShapeDict parse_shape_dict(const std::string& text);

// "0.1.0"
std::string version();

}  // namespace kiln
