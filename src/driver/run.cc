// kiln::Package (opening a compiled model) and kiln::run (loading its kernels and running it).
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "codegen/target.h"
#include "kiln/kiln.h"
#include "runtime/graph_executor.h"
#include "runtime/package.h"

namespace kiln {

namespace {

using nlohmann::json;

std::vector<TensorInfo> infos_from_json(const json& items, const std::string& path) {
  std::vector<TensorInfo> infos;
  for (const json& item : items) {
    TensorInfo info;
    info.name = item.at("name").get<std::string>();
    auto dtype = dtype_from_name(item.at("dtype").get<std::string>());
    if (!dtype) throw Error(path + ": metadata.json names an unknown dtype");
    info.dtype = *dtype;
    info.shape = item.at("shape").get<std::vector<int64_t>>();
    info.dim_names.assign(info.shape.size(), "");
    infos.push_back(std::move(info));
  }
  return infos;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

void check_device(const std::string& device) {
  std::string name = lower(device);
  if (name == "cpu" || name == "llvm") return;
  for (const char* later : {"cuda", "cl", "opencl", "vulkan", "metal", "rocm"}) {
    if (name == later)
      throw Error("not supported yet: device '" + device + "'; Kiln runs on cpu today");
  }
  throw Error("unknown device '" + device +
              "'; devices: cpu (cuda, cl, vulkan, metal, rocm: not supported yet)");
}

Tensor filled_input(const runtime::TensorSpec& spec, const std::string& mode,
                    std::mt19937_64& rng) {
  Tensor value(spec.dtype, spec.shape);
  if (mode == "zeros") return value;
  if (mode == "ones") {
    for (int64_t i = 0; i < value.numel(); ++i) value.set_element_from_double(i, 1.0);
    return value;
  }
  if (mode != "random") {
    throw Error("unknown fill_mode '" + mode + "'; choose random, zeros or ones");
  }
  // Integers are 0 or 1 so that index inputs (token ids, masks) stay in range.
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::uniform_int_distribution<int> bit(0, 1);
  for (int64_t i = 0; i < value.numel(); ++i) {
    if (dtype_is_float(spec.dtype)) {
      value.set_element_from_double(i, uniform(rng));
    } else {
      value.set_element_from_int64(i, bit(rng));
    }
  }
  return value;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

}  // namespace

Package::Package(const std::string& path) : path_(path) {
  std::error_code ignored;
  if (!std::filesystem::exists(path, ignored)) throw Error("package '" + path + "' does not exist");
  runtime::PackageContents contents = runtime::read_package(path);
  metadata_json_ = contents.metadata_json;
  graph_json_ = contents.graph_json;
  try {
    json metadata = json::parse(metadata_json_);
    target_ = metadata.at("target").get<std::string>();
    inputs_ = infos_from_json(metadata.at("inputs"), path);
    outputs_ = infos_from_json(metadata.at("outputs"), path);
    num_kernels_ = static_cast<int64_t>(json::parse(graph_json_).at("nodes").size());
  } catch (const json::exception& error) {
    throw Error(path + " is not a valid Kiln package: metadata.json or mod.json is malformed (" +
                error.what() + ")");
  }
}

RunResult run(const Package& package, const RunOptions& options) {
  check_device(options.device);
  if (options.repeat < 1 || options.number < 1) {
    throw Error("repeat and number must be at least 1, got repeat=" +
                std::to_string(options.repeat) + " number=" + std::to_string(options.number));
  }
  codegen::Target target = codegen::parse_target(package.target());
  if (!target.is_host()) {
    throw Error(package.path() + " was compiled for " + target.effective_triple() +
                " and cannot run on this machine; run it where that target lives");
  }
  runtime::PackageContents contents = runtime::read_package(package.path());
  std::shared_ptr<runtime::KernelModule> module =
      runtime::load_shared_library_bytes(contents.library, package.path() + ":mod.so");
  auto params = runtime::deserialize_params(contents.params, package.path() + ":mod.params");
  // The executor binds the weights in place; drop the package's raw bytes so that only one copy
  // of the weights stays in memory.
  std::string graph_json = std::move(contents.graph_json);
  contents = runtime::PackageContents();
  runtime::GraphExecutor executor(graph_json, module, params);

  for (const auto& [name, value] : options.inputs) {
    bool known = false;
    for (const auto& spec : executor.inputs()) known = known || spec.name == name;
    if (!known) {
      std::string listed;
      for (const auto& spec : executor.inputs()) {
        listed += (listed.empty() ? "'" : ", '") + spec.name + "' " +
                  std::string(dtype_name(spec.dtype)) + shape_text(spec.shape);
      }
      throw Error("the model has no input '" + name + "'; its inputs are: " + listed);
    }
  }
  RunResult result;
  result.storage_bytes = executor.storage_bytes();
  result.param_bytes = executor.param_bytes();
  std::mt19937_64 rng(options.seed);
  for (const auto& spec : executor.inputs()) {
    auto given = options.inputs.find(spec.name);
    Tensor value =
        given != options.inputs.end() ? given->second : filled_input(spec, options.fill_mode, rng);
    executor.set_input(spec.name, value);
    result.inputs.emplace_back(spec.name, value);
  }
  executor.run();
  for (size_t i = 0; i < executor.outputs().size(); ++i) {
    result.outputs.emplace_back(executor.outputs()[i].name, executor.get_output(i));
  }
  if (options.benchmark) {
    runtime::BenchmarkResult bench = runtime::time_evaluator(
        [&] { executor.run(); }, options.number, options.repeat, options.min_repeat_ms);
    result.has_times = true;
    result.times = {bench.results, bench.mean, bench.median, bench.max, bench.min, bench.std};
  }
  return result;
}

}  // namespace kiln
