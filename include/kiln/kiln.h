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
#include "kiln/runtime.h"
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

// Input name -> value. Kiln compiles for static shapes, so inputs that decide shapes (Reshape's
// shape, Reduce axes, Resize scales, Pad pads, TopK's k, an If condition ...) must be known when
// the model is loaded: a constant input becomes a constant of the graph (the compiled model no
// longer takes it). Its dtype and shape must match the input's declaration.
using ConstantInputs = std::map<std::string, Tensor>;

struct LoadOptions {
  ShapeDict shape_dict;            // fixes input shapes; the graph is re-inferred with them
  std::string model_format;        // "onnx", "kiln", ... (any case); "" guesses from the file
  ConstantInputs constant_inputs;  // inputs whose values are fixed at load time
};

// Loads a model. `model_format` ("onnx", "kiln", ...; any case) overrides the format guessed
// from the file's extension and contents. `shape_dict` fixes input shapes; the graph is
// re-inferred with them.
Model load(const std::string& path, const ShapeDict& shape_dict = {},
           const std::string& model_format = "");
// The same with every option; unknown names in shape_dict or constant_inputs are a kiln::Error
// listing the model's inputs.
Model load(const std::string& path, const LoadOptions& options);

// Parses TVMC's --input-shapes syntax: "data:[1,3,224,224] mask:[1,128]".
ShapeDict parse_shape_dict(const std::string& text);

// ---- compile ---------------------------------------------------------------------------------

struct CompileOptions {
  std::string target = "llvm";  // "llvm", "llvm -mcpu=znver4", "llvm -mtriple=aarch64-linux-gnu"
  int opt_level = 3;            // 0..3
  // Where the package (.tar) is written. Required.
  std::string package_path;
  // Any of "ll", "asm", "tir", "ir": written next to the package as <package_path>.<ext>
  // (.ll, .s, .tir, .ir).
  std::vector<std::string> dump_code;
  // Graph passes not to run, by name: infer_types, simplify_inference, fold_constant,
  // fold_scale_axis, eliminate_common_subexpr, simplify_expr, convert_layout, fuse_ops (TVM's
  // names, e.g. "FoldConstant", work too). An unknown name is a kiln::Error listing the passes.
  std::vector<std::string> disabled_pass;
  // Data layout for convolutions and pools: "" (keep the model's NCHW) or "NCHW"; "NHWC" is
  // rejected as not supported yet.
  std::string desired_layout;
  // Operators the layout request applies to (registry names: "conv2d", "max_pool2d", ...); empty:
  // all of them. Needs desired_layout.
  std::vector<std::string> desired_layout_ops;
  // Host part of the target: "" or a target for the same machine as `target` (a CPU target is
  // its own host; heterogeneous targets are not supported yet).
  std::string target_host;
  // Options merged into the target (they override the target string's): kind -> option -> value,
  // e.g. {"llvm": {"mcpu": "znver4"}} (the CLI's --target-llvm-mcpu).
  std::map<std::string, std::map<std::string, std::string>> additional_target_options;
  // "name=value" settings of the passes (see pass_config_names()): tir.disable_vectorize,
  // tir.disable_unroll, kiln.verify_each_pass, kiln.dump_dir.
  std::vector<std::string> pass_context_configs;
  // Links mod.so with this compiler driver (e.g. aarch64-linux-gnu-gcc) instead of lld, passing
  // `cross_compiler_options` (split at spaces). A missing compiler is a MissingDependency error.
  std::string cross_compiler;
  std::string cross_compiler_options;
  // "so": the package holds the linked mod.so; "tar": also the unlinked object (mod.o) for
  // linking into another program.
  std::string output_format = "so";
  // Prefix of the kernels' symbol names ("default": none), so that packages compiled with
  // different names can be linked into one program.
  std::string mod_name = "default";
  // Existing tuning-records file (a missing file is a kiln::Error). Applying records is not
  // supported yet (Kiln has no tuner); an empty path means none.
  std::string tuning_records;
};

// The keys CompileOptions::pass_context_configs accepts, with a line of help each.
std::vector<std::pair<std::string, std::string>> pass_config_names();

// A compiled model on disk: a .tar with the kernels (mod.so), the graph (mod.json), the weights
// (mod.params) and metadata.json. Opening verifies the checksums of every member.
class Package {
 public:
  // kiln::Error when the file is missing, not a package, corrupt or tampered with.
  explicit Package(const std::string& path);

  const std::string& path() const { return path_; }
  const std::string& target() const { return target_; }
  const std::vector<TensorInfo>& inputs() const { return inputs_; }
  const std::vector<TensorInfo>& outputs() const { return outputs_; }
  const std::string& metadata_json() const { return metadata_json_; }
  const std::string& graph_json() const { return graph_json_; }
  // Number of kernel launches per inference.
  int64_t num_kernels() const { return num_kernels_; }

 private:
  std::string path_;
  std::string target_;
  std::string metadata_json_;
  std::string graph_json_;
  std::vector<TensorInfo> inputs_;
  std::vector<TensorInfo> outputs_;
  int64_t num_kernels_ = 0;
};

// Compiles the model for `options.target` and writes the package. kiln::Error naming the
// operators that cannot be compiled yet, symbolic shapes (fix them with shape_dict), or a bad
// target string.
Package compile(const Model& model, const CompileOptions& options);

// ---- run -------------------------------------------------------------------------------------

struct RunOptions {
  std::string device = "cpu";  // any case
  // Input name -> value. Inputs not given are filled according to fill_mode.
  std::map<std::string, Tensor> inputs;
  std::string fill_mode =
      "random";  // "random" (floats in [0, 1), integers 0 or 1), "zeros", "ones"
  bool benchmark = false;
  int repeat = 10;
  int number = 10;
  double min_repeat_ms = 0;
  uint64_t seed = 0;  // for fill_mode random
  // Time every kernel launch over `repeat` inferences (RunResult::profile). The executor's
  // ordinary run() is untouched: profiling costs nothing when off.
  bool profile = false;
  // Timings (benchmark and profile) include copying the inputs in and the outputs out.
  bool end_to_end = false;
};

// Timing of a benchmark, in seconds: `results` holds one mean-per-run value per repeat.
struct BenchmarkTimes {
  std::vector<double> results;
  double mean = 0, median = 0, max = 0, min = 0, std = 0;
};

// One row of a profile: a kernel (all its launches in one inference), or, with end_to_end, the
// input or output copies ("(copy inputs)", "(copy outputs)").
struct KernelProfile {
  std::string kernel;              // symbol name in mod.so
  std::vector<std::string> ops;    // the fused operators
  std::vector<std::string> names;  // source node names of its launches
  double seconds = 0;              // mean time per inference, all launches together
  int64_t calls = 0;               // launches per inference
  double percent = 0;              // of total_seconds
};

struct RunProfile {
  std::vector<KernelProfile> rows;  // sorted by time, slowest first
  double total_seconds = 0;         // mean per inference, the sum of the rows
  int runs = 0;                     // inferences measured
  bool end_to_end = false;
};

struct RunResult {
  std::vector<std::pair<std::string, Tensor>> outputs;  // in model order, by output name
  std::vector<std::pair<std::string, Tensor>> inputs;   // the inputs used (given or filled)
  bool has_times = false;
  BenchmarkTimes times;
  // The graph executor's memory: bytes of the planned storages (inputs, intermediates, outputs,
  // after buffer sharing) and bytes of the parameters bound (shared with the loaded mod.params).
  size_t storage_bytes = 0;
  size_t param_bytes = 0;
  bool has_profile = false;
  RunProfile profile;
};

// The profile as a table: kernel, fused operators, time (us), % of total, calls; then the total.
std::string format_profile(const RunProfile& profile);

// Loads the package's kernels, feeds the inputs, runs once (and `repeat` x `number` more times
// when benchmarking). kiln::Error for a missing or misshapen input (naming the expected name,
// shape and dtype), an unknown device, or a package built for another machine.
// Opens the package (a Session) for this call only: to run a model repeatedly, open a Session once
// and use the overload below.
RunResult run(const Package& package, const RunOptions& options = {});
// The same on an open session (no reload): its inputs are set, it runs, the outputs are copied.
RunResult run(Session& session, const RunOptions& options = {});

// "0.1.0"
std::string version();

}  // namespace kiln
