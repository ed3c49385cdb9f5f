// kiln::Package (opening a compiled model) and kiln::run (loading its kernels and running it).
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
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

void check_options(const RunOptions& options) {
  if (options.repeat < 1 || options.number < 1) {
    throw Error("repeat and number must be at least 1, got repeat=" +
                std::to_string(options.repeat) + " number=" + std::to_string(options.number));
  }
}

Tensor filled_input(const TensorSpec& spec, const std::string& mode, std::mt19937_64& rng) {
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

// Sums the per-launch timings of each kernel (identical fused groups share one kernel), adds the
// input and output copies when end_to_end, and sorts the rows by time.
RunProfile profile_run(Session& executor, const std::vector<std::pair<std::string, Tensor>>& inputs,
                       int runs, bool end_to_end) {
  RunProfile profile;
  profile.runs = runs;
  profile.end_to_end = end_to_end;
  std::map<std::string, size_t> row_of;
  for (const auto& timing : executor.profile(runs)) {
    auto [it, added] = row_of.emplace(timing.kernel, profile.rows.size());
    if (added) profile.rows.push_back({timing.kernel, timing.ops, {}, 0.0, 0, 0.0});
    KernelProfile& row = profile.rows[it->second];
    row.names.push_back(timing.name);
    row.seconds += timing.seconds / runs;
    row.calls += timing.calls / runs;
  }
  if (end_to_end) {
    using Clock = std::chrono::steady_clock;
    double copy_in = 0, copy_out = 0;
    for (int run = 0; run < runs; ++run) {
      auto start = Clock::now();
      for (const auto& [name, value] : inputs) executor.set_input(name, value);
      auto middle = Clock::now();
      for (size_t i = 0; i < executor.outputs().size(); ++i) (void)executor.get_output(i);
      auto stop = Clock::now();
      copy_in += std::chrono::duration<double>(middle - start).count();
      copy_out += std::chrono::duration<double>(stop - middle).count();
    }
    profile.rows.push_back(
        {"(copy inputs)", {"copy"}, {}, copy_in / runs, static_cast<int64_t>(inputs.size()), 0.0});
    profile.rows.push_back({"(copy outputs)",
                            {"copy"},
                            {},
                            copy_out / runs,
                            static_cast<int64_t>(executor.outputs().size()),
                            0.0});
  }
  for (const KernelProfile& row : profile.rows) profile.total_seconds += row.seconds;
  for (KernelProfile& row : profile.rows) {
    row.percent = profile.total_seconds > 0 ? 100.0 * row.seconds / profile.total_seconds : 0.0;
  }
  std::stable_sort(
      profile.rows.begin(), profile.rows.end(),
      [](const KernelProfile& a, const KernelProfile& b) { return a.seconds > b.seconds; });
  return profile;
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

static void check_runnable_here(const std::string& target, const std::string& path) {
  codegen::Target parsed = codegen::parse_target(target);
  if (!parsed.is_host()) {
    throw Error(path + " was compiled for " + parsed.effective_triple() +
                " and cannot run on this machine; run it where that target lives");
  }
}

RunResult run(const Package& package, const RunOptions& options) {
  check_device(options.device);
  check_options(options);
  check_runnable_here(package.target(), package.path());
  Session session(package.path());
  return run(session, options);
}

RunResult run(Session& session, const RunOptions& options) {
  check_device(options.device);
  check_options(options);
  check_runnable_here(session.target(), session.path());
  for (const auto& [name, value] : options.inputs) (void)session.input_index(name);
  RunResult result;
  result.storage_bytes = session.storage_bytes();
  result.param_bytes = session.param_bytes();
  std::mt19937_64 rng(options.seed);
  for (const TensorSpec& spec : session.inputs()) {
    auto given = options.inputs.find(spec.name);
    Tensor value =
        given != options.inputs.end() ? given->second : filled_input(spec, options.fill_mode, rng);
    session.set_input(spec.name, value);
    result.inputs.emplace_back(spec.name, value);
  }
  session.run();
  for (size_t i = 0; i < session.outputs().size(); ++i) {
    result.outputs.emplace_back(session.outputs()[i].name, session.get_output(i));
  }
  if (options.benchmark) {
    // end_to_end: what a caller pays per inference, inputs in and outputs out included.
    auto end_to_end = [&] {
      for (const auto& [name, value] : result.inputs) session.set_input(name, value);
      session.run();
      for (size_t i = 0; i < session.outputs().size(); ++i) (void)session.get_output(i);
    };
    runtime::BenchmarkResult bench =
        options.end_to_end ? runtime::time_evaluator(end_to_end, options.number, options.repeat,
                                                     options.min_repeat_ms)
                           : runtime::time_evaluator([&] { session.run(); }, options.number,
                                                     options.repeat, options.min_repeat_ms);
    result.has_times = true;
    result.times = {bench.results, bench.mean, bench.median, bench.max, bench.min, bench.std};
  }
  if (options.profile) {
    result.profile = profile_run(session, result.inputs, options.repeat, options.end_to_end);
    result.has_profile = true;
  }
  return result;
}

std::string format_profile(const RunProfile& profile) {
  std::vector<std::string> ops_text;
  size_t kernel_width = 6, ops_width = 15;
  for (const KernelProfile& row : profile.rows) {
    std::string ops;
    for (const std::string& op : row.ops) ops += (ops.empty() ? "" : " + ") + op;
    if (ops.size() > 60) ops = ops.substr(0, 57) + "...";
    kernel_width = std::max(kernel_width, row.kernel.size());
    ops_width = std::max(ops_width, ops.size());
    ops_text.push_back(std::move(ops));
  }
  auto pad = [](const std::string& text, size_t width) {
    return text + std::string(width > text.size() ? width - text.size() : 0, ' ');
  };
  std::string text = "Profile (mean of " + std::to_string(profile.runs) + " inference" +
                     (profile.runs == 1 ? "" : "s") +
                     (profile.end_to_end ? ", end to end: input and output copies included" : "") +
                     "):\n";
  text += pad("Kernel", kernel_width) + "  " + pad("Fused operators", ops_width) +
          "   Time (us)  Percent  Calls\n";
  char numbers[64];
  for (size_t i = 0; i < profile.rows.size(); ++i) {
    const KernelProfile& row = profile.rows[i];
    std::snprintf(numbers, sizeof(numbers), "  %10.2f  %6.2f%%  %5lld\n", row.seconds * 1e6,
                  row.percent, static_cast<long long>(row.calls));
    text += pad(row.kernel, kernel_width) + "  " + pad(ops_text[i], ops_width) + numbers;
  }
  int64_t calls = 0;
  for (const KernelProfile& row : profile.rows) calls += row.calls;
  std::snprintf(numbers, sizeof(numbers), "  %10.2f  %6.2f%%  %5lld\n", profile.total_seconds * 1e6,
                profile.rows.empty() ? 0.0 : 100.0, static_cast<long long>(calls));
  text += pad("Total", kernel_width) + "  " + pad("", ops_width) + numbers;
  return text;
}

}  // namespace kiln
