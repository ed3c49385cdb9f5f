// The `kiln` command line: argument parsing only; all work happens in the C++ driver.
// Exit codes: 0 ok, 2 usage error, 3 internal error (a bug), 4 Kiln error (bad model, ...).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/npz.h"
#include "kiln/kiln.h"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitInternal = 3;
constexpr int kExitKilnError = 4;

std::string group_thousands(int64_t value) {
  std::string digits = std::to_string(value);
  std::string text;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) text += ',';
    text += digits[i];
  }
  return text;
}

std::string scaled(double value, const char* unit) {
  const char* prefixes[] = {"", "K", "M", "G", "T"};
  int index = 0;
  while (value >= 1000.0 && index < 4) {
    value /= 1000.0;
    ++index;
  }
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.2f %s%s", value, prefixes[index], unit);
  return buffer;
}

nlohmann::json tensor_infos_json(const std::vector<kiln::TensorInfo>& infos) {
  nlohmann::json items = nlohmann::json::array();
  for (const kiln::TensorInfo& info : infos) {
    nlohmann::json shape = nlohmann::json::array();
    for (size_t i = 0; i < info.shape.size(); ++i) {
      if (info.shape[i] >= 0) {
        shape.push_back(info.shape[i]);
      } else {
        shape.push_back(info.dim_names[i]);
      }
    }
    items.push_back(
        {{"name", info.name}, {"shape", shape}, {"dtype", kiln::dtype_name(info.dtype)}});
  }
  return items;
}

void print_tensor_table(const char* title, const std::vector<kiln::TensorInfo>& infos) {
  size_t width = 4;
  for (const auto& info : infos) width = std::max(width, info.name.size());
  std::cout << title << ":\n";
  for (const auto& info : infos) {
    std::cout << "  " << info.name << std::string(width - info.name.size() + 2, ' ')
              << info.shape_string() << "  " << kiln::dtype_name(info.dtype) << "\n";
  }
}

// Load options from the command line: --input-shapes text and --constant-input NAME=FILE.npy
// items (repeatable).
kiln::LoadOptions load_options(const std::string& format, const std::string& shapes,
                               const std::vector<std::string>& constant_inputs) {
  kiln::LoadOptions options;
  options.model_format = format;
  if (!shapes.empty()) options.shape_dict = kiln::parse_shape_dict(shapes);
  for (const std::string& item : constant_inputs) {
    size_t equals = item.find('=');
    if (equals == std::string::npos || equals == 0 || equals + 1 == item.size()) {
      throw kiln::Error("--constant-input '" + item + "' must be NAME=FILE.npy");
    }
    std::string name = item.substr(0, equals);
    if (options.constant_inputs.count(name)) {
      throw kiln::Error("--constant-input gives input '" + name + "' twice");
    }
    options.constant_inputs[name] = kiln::cli::read_npy(item.substr(equals + 1));
  }
  return options;
}

int run_inspect(const std::string& path, const kiln::LoadOptions& load, bool as_json) {
  kiln::Model model = kiln::load(path, load);
  kiln::ModelStats stats = model.stats();
  if (as_json) {
    nlohmann::json report = {{"file", path},
                             {"format", model.source_format()},
                             {"inputs", tensor_infos_json(model.inputs())},
                             {"outputs", tensor_infos_json(model.outputs())},
                             {"operators", stats.op_histogram},
                             {"num_params", stats.num_params},
                             {"num_constants", stats.num_constants},
                             {"macs", stats.macs},
                             {"flops", stats.flops}};
    std::cout << report.dump(2) << "\n";
    return 0;
  }
  std::cout << "Model: " << path << " (" << model.source_format() << ")\n";
  print_tensor_table("Inputs", model.inputs());
  print_tensor_table("Outputs", model.outputs());
  int64_t calls = 0;
  size_t width = 4;
  for (const auto& [name, count] : stats.op_histogram) {
    calls += count;
    width = std::max(width, name.size());
  }
  std::vector<std::pair<std::string, int64_t>> ops(stats.op_histogram.begin(),
                                                   stats.op_histogram.end());
  std::stable_sort(ops.begin(), ops.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::cout << "Operators (" << calls << " calls, " << ops.size() << " kinds):\n";
  for (const auto& [name, count] : ops) {
    std::cout << "  " << name << std::string(width - name.size() + 2, ' ') << count << "\n";
  }
  std::cout << "Parameters: " << group_thousands(stats.num_params) << " ("
            << scaled(static_cast<double>(stats.num_params), "") << ") in " << stats.num_constants
            << " constants\n";
  std::cout << "Compute: " << scaled(static_cast<double>(stats.macs), "MAC") << " ("
            << scaled(static_cast<double>(stats.flops), "FLOP") << ", estimated)\n";
  return 0;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) items.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

struct CompileArgs {
  std::string path;
  std::string format;
  std::string shapes;
  std::vector<std::string> constant_inputs;
  std::string target = "llvm";
  std::string output = "module.tar";
  std::string dump_code;
  int opt_level = 3;
  std::string disabled_pass;
  std::string desired_layout;
};

int run_compile(const CompileArgs& args) {
  kiln::Model model =
      kiln::load(args.path, load_options(args.format, args.shapes, args.constant_inputs));
  kiln::CompileOptions options;
  options.target = args.target;
  options.package_path = args.output;
  options.opt_level = args.opt_level;
  options.dump_code = split_list(args.dump_code);
  options.disabled_pass = split_list(args.disabled_pass);
  options.desired_layout = args.desired_layout;
  kiln::Package package = kiln::compile(model, options);
  std::cout << "Compiled " << args.path << " for '" << package.target() << "' into "
            << package.path() << " (" << package.num_kernels() << " kernel launches)\n";
  return 0;
}

struct RunArgs {
  std::string path;
  std::string device = "cpu";
  std::string inputs;
  std::string outputs;
  std::string fill_mode = "random";
  bool print_time = false;
  int print_top = 0;
  int repeat = 10;
  int number = 10;
};

void print_top(const std::string& name, const kiln::Tensor& output, int count) {
  // Ranks a copy of the scores: the output itself is left untouched for --outputs.
  std::vector<std::pair<double, int64_t>> scores;
  for (int64_t i = 0; i < output.numel(); ++i) scores.emplace_back(output.element_as_double(i), i);
  size_t shown = std::min(scores.size(), static_cast<size_t>(count));
  std::partial_sort(scores.begin(), scores.begin() + static_cast<std::ptrdiff_t>(shown),
                    scores.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::cout << "Top " << shown << " of output '" << name << "' (output_0):\n";
  std::cout << "  rank       index        score\n";
  for (size_t i = 0; i < shown; ++i) {
    char line[96];
    std::snprintf(line, sizeof(line), "  %4zu  %10lld  %11.6g\n", i + 1,
                  static_cast<long long>(scores[i].second), scores[i].first);
    std::cout << line;
  }
}

int run_run(const RunArgs& args) {
  kiln::Package package(args.path);
  kiln::RunOptions options;
  options.device = args.device;
  options.fill_mode = args.fill_mode;
  options.benchmark = args.print_time;
  options.repeat = args.repeat;
  options.number = args.number;
  if (!args.inputs.empty()) {
    for (auto& [name, tensor] : kiln::cli::read_npz(args.inputs)) options.inputs[name] = tensor;
  }
  kiln::RunResult result = kiln::run(package, options);
  if (args.print_time) {
    const kiln::BenchmarkTimes& t = result.times;
    char line[160];
    std::cout << "Execution time summary:\n";
    std::snprintf(line, sizeof(line), "%-12s %-12s %-12s %-12s %-12s\n", " mean (ms)",
                  " median (ms)", " max (ms)", " min (ms)", " std (ms)");
    std::cout << line;
    std::snprintf(line, sizeof(line), "%12.4f %12.4f %12.4f %12.4f %12.4f\n", t.mean * 1e3,
                  t.median * 1e3, t.max * 1e3, t.min * 1e3, t.std * 1e3);
    std::cout << line;
  }
  if (args.print_top > 0 && !result.outputs.empty()) {
    print_top(result.outputs[0].first, result.outputs[0].second, args.print_top);
  }
  if (!args.outputs.empty()) {
    std::vector<std::pair<std::string, kiln::Tensor>> named;
    for (size_t i = 0; i < result.outputs.size(); ++i) {
      named.emplace_back("output_" + std::to_string(i), result.outputs[i].second);
    }
    kiln::cli::write_npz(args.outputs, named);
  }
  if (!args.print_time && args.print_top == 0 && args.outputs.empty()) {
    std::cout << "Ran " << args.path << ": outputs";
    for (const auto& [name, tensor] : result.outputs) std::cout << " '" << name << "'";
    std::cout << " (use --print-time, --print-top N or -o out.npz to see them)\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Kiln: compile trained models into fast machine code and run them", "kiln"};
  app.set_version_flag("--version", "kiln " + kiln::version());
  app.require_subcommand(0, 1);

  std::string path;
  std::string format;
  std::string shapes;
  std::vector<std::string> constant_inputs;
  bool as_json = false;
  CLI::App* inspect =
      app.add_subcommand("inspect", "show a model's inputs, outputs, operators and cost");
  inspect->add_option("FILE", path, "model file (.onnx, .kiln)")->required();
  inspect->add_option(
      "--model-format", format, "model format: " + [] {
        std::string names;
        for (const auto& name : kiln::known_model_formats())
          names += (names.empty() ? "" : ", ") + name;
        return names;
      }());
  inspect->add_option("--input-shapes", shapes,
                      "override input shapes: \"name:[1,3,224,224] ...\"");
  inspect
      ->add_option("--constant-input", constant_inputs,
                   "fix an input's value: NAME=FILE.npy (repeatable)")
      ->allow_extra_args(false);
  inspect->add_flag("--json", as_json, "print one JSON object");

  CompileArgs compile_args;
  CLI::App* compile = app.add_subcommand("compile", "compile a model into a package (.tar)");
  compile->add_option("FILE", compile_args.path, "model file (.onnx, .kiln)")->required();
  compile->add_option("--target", compile_args.target, "target, e.g. \"llvm -mcpu=znver4\"");
  compile->add_option("-o,--output", compile_args.output, "package to write (default module.tar)");
  compile->add_option("--model-format", compile_args.format,
                      "model format (default: from the extension)");
  compile->add_option("--input-shapes", compile_args.shapes,
                      "override input shapes: \"name:[1,3,224,224] ...\"");
  compile
      ->add_option("--constant-input", compile_args.constant_inputs,
                   "fix an input's value: NAME=FILE.npy (repeatable)")
      ->allow_extra_args(false);
  compile->add_option("--dump-code", compile_args.dump_code, "comma-separated: ll, asm, tir, ir");
  compile->add_option("-O,--opt-level", compile_args.opt_level, "optimisation level 0-3")
      ->check(CLI::Range(0, 3));
  compile->add_option("--disabled-pass", compile_args.disabled_pass,
                      "comma-separated graph passes not to run, e.g. fold_scale_axis,fuse_ops");
  compile->add_option("--desired-layout", compile_args.desired_layout,
                      "data layout of convolutions: NCHW or NHWC");

  RunArgs run_args;
  CLI::App* run = app.add_subcommand("run", "run a compiled package");
  run->add_option("PACKAGE", run_args.path, "package (.tar) from kiln compile")->required();
  run->add_option("--device", run_args.device, "device (cpu)");
  run->add_option("-i,--inputs", run_args.inputs, "inputs as an .npz file");
  run->add_option("-o,--outputs", run_args.outputs, "write the outputs to an .npz file");
  run->add_option("--fill-mode", run_args.fill_mode, "inputs not given: random, zeros or ones");
  run->add_flag("--print-time", run_args.print_time, "benchmark and print the timing summary");
  run->add_option("--print-top", run_args.print_top, "print the N highest scores of output 0");
  run->add_option("--repeat", run_args.repeat, "measurements when timing")
      ->check(CLI::PositiveNumber);
  run->add_option("--number", run_args.number, "runs per measurement")->check(CLI::PositiveNumber);

  app.add_subcommand("tune", "tune kernels (not supported yet)")->allow_extras();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "kiln: error: " << e.what() << " (see kiln --help)\n";
    return kExitUsage;
  }

  if (app.get_subcommands().empty()) {
    std::cerr
        << "kiln: error: a command is required: inspect, compile, run or tune (see kiln --help)\n";
    return kExitUsage;
  }
  try {
    if (inspect->parsed()) {
      return run_inspect(path, load_options(format, shapes, constant_inputs), as_json);
    }
    if (compile->parsed()) return run_compile(compile_args);
    if (run->parsed()) return run_run(run_args);
    if (app.got_subcommand("tune")) {
      throw kiln::Error("not supported yet: kiln tune (auto-tuning) arrives in a later release");
    }
  } catch (const kiln::Error& e) {
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    std::cerr << "kiln: error: " << message << "\n";
    return kExitKilnError;
  } catch (const std::exception& e) {
    std::cerr << "kiln: internal error (a bug in Kiln, please report it): " << e.what() << "\n";
    return kExitInternal;
  }
  return 0;
}
