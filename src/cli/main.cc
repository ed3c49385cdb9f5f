// The `kiln` command line: argument parsing only; all work happens in the C++ driver.
// Exit codes: 0 ok, 2 usage error, 3 internal error (a bug), 4 Kiln error (bad model, ...),
// 5 a missing optional dependency (the message says how to install it), 130 interrupted (Ctrl-C).
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/npz.h"
#include "codegen/target.h"
#include "driver/model_formats.h"
#include "kiln/kiln.h"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitInternal = 3;
constexpr int kExitKilnError = 4;
constexpr int kExitMissingDependency = 5;
constexpr int kExitInterrupted = 130;  // 128 + SIGINT, as shells report a Ctrl-C

// The first Ctrl-C asks the running compile or run to stop between two passes/kernels (so that
// no half-written package is left behind); SA_RESETHAND makes a second one end the process.
void on_interrupt(int) { kiln::request_interrupt(); }

void install_interrupt_handler() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &action, nullptr);
}

// -v, -vv, -vvv: what the command does, with timings (1), the options it resolved (2), every
// kernel of the package (3). On stderr, so that stdout stays the command's output.
int verbosity = 0;

void log(int level, const std::string& message) {
  if (verbosity >= level) std::cerr << "kiln: " << message << "\n";
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string fixed(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", digits, value);
  return buffer;
}

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
    // Names are valid UTF-8 (escaped where they enter Kiln); replace is only a safety net.
    std::cout << report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
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
  std::string desired_layout_ops;
  std::string tuning_records;
  std::string target_host;
  std::string cross_compiler;
  std::string cross_compiler_options;
  std::string output_format = "so";
  std::string mod_name = "default";
  std::vector<std::string> pass_configs;
  std::map<std::string, std::string> llvm_options;  // --target-llvm-<name> -> value
};

void log_kernels(const kiln::Package& package) {
  if (verbosity < 3) return;
  try {
    nlohmann::json graph = nlohmann::json::parse(package.graph_json());
    for (const auto& node : graph.at("nodes")) {
      std::string ops;
      for (const auto& op : node.value("ops", nlohmann::json::array())) {
        ops += (ops.empty() ? "" : " + ") + op.get<std::string>();
      }
      log(3, "kernel " + node.at("kernel").get<std::string>() + " (" + ops + ") for node '" +
                 node.value("name", "") + "'");
    }
  } catch (const nlohmann::json::exception& error) {
    // A JSON type error is the package's fault, not Kiln's: a user error naming the file.
    throw kiln::Error(package.path() + ": mod.json is malformed (" + error.what() + ")");
  }
}

int run_compile(const CompileArgs& args) {
  auto start = std::chrono::steady_clock::now();
  kiln::Model model =
      kiln::load(args.path, load_options(args.format, args.shapes, args.constant_inputs));
  log(1, "loaded " + args.path + " (" + model.source_format() + ") in " +
             fixed(seconds_since(start), 2) + " s");
  kiln::CompileOptions options;
  options.target = args.target;
  options.package_path = args.output;
  options.opt_level = args.opt_level;
  options.dump_code = split_list(args.dump_code);
  options.disabled_pass = split_list(args.disabled_pass);
  options.desired_layout = args.desired_layout;
  options.desired_layout_ops = split_list(args.desired_layout_ops);
  options.tuning_records = args.tuning_records;
  options.target_host = args.target_host;
  options.cross_compiler = args.cross_compiler;
  options.cross_compiler_options = args.cross_compiler_options;
  options.output_format = args.output_format;
  options.mod_name = args.mod_name;
  options.pass_context_configs = args.pass_configs;
  if (!args.llvm_options.empty()) options.additional_target_options["llvm"] = args.llvm_options;
  log(2, "target '" + args.target + "', opt-level " + std::to_string(args.opt_level) +
             ", output format " + args.output_format);
  for (const auto& [name, value] : args.llvm_options)
    log(2, "target option -" + name + "=" + value);
  for (const std::string& config : args.pass_configs) log(2, "pass config " + config);
  if (!args.cross_compiler.empty()) log(2, "linking with " + args.cross_compiler);
  auto compile_start = std::chrono::steady_clock::now();
  kiln::Package package = kiln::compile(model, options);
  log(1, "compiled in " + fixed(seconds_since(compile_start), 2) + " s");
  log_kernels(package);
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
  bool profile = false;
  bool end_to_end = false;
  std::string rpc_tracker;
  std::string rpc_key;
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
  if (!args.rpc_tracker.empty() || !args.rpc_key.empty()) {
    throw kiln::Error(
        "not supported yet: running on a remote device (--rpc-tracker/--rpc-key); copy the "
        "package to the device and run it there");
  }
  auto start = std::chrono::steady_clock::now();
  kiln::Package package(args.path);
  log(1, "opened " + args.path + " (target '" + package.target() + "', " +
             std::to_string(package.num_kernels()) + " kernel launches)");
  log_kernels(package);
  kiln::RunOptions options;
  options.device = args.device;
  options.fill_mode = args.fill_mode;
  options.benchmark = args.print_time;
  options.repeat = args.repeat;
  options.number = args.number;
  options.profile = args.profile;
  options.end_to_end = args.end_to_end;
  if (!args.inputs.empty()) {
    for (auto& [name, tensor] : kiln::cli::read_npz(args.inputs)) {
      log(2, "input '" + name + "' from " + args.inputs);
      options.inputs[name] = tensor;
    }
  }
  log(2, "device " + args.device + ", fill mode " + args.fill_mode + ", repeat " +
             std::to_string(args.repeat) + ", number " + std::to_string(args.number));
  kiln::RunResult result = kiln::run(package, options);
  log(1, "ran in " + fixed(seconds_since(start), 3) + " s");
  if (result.has_profile) std::cout << kiln::format_profile(result.profile);
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
  if (!args.print_time && args.print_top == 0 && args.outputs.empty() && !args.profile) {
    std::cout << "Ran " << args.path << ": outputs";
    for (const auto& [name, tensor] : result.outputs) std::cout << " '" << name << "'";
    std::cout << " (use --print-time, --print-top N or -o out.npz to see them)\n";
  }
  return 0;
}

// ---- --config presets ---------------------------------------------------------------------

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Directories searched for --config NAME: $KILN_CONFIG_PATH (colon-separated), then the configs
// shipped beside the executable (installed: <prefix>/share/kiln/configs; a build tree:
// <repo>/configs).
std::vector<std::filesystem::path> config_dirs(const char* argv0) {
  std::vector<std::filesystem::path> dirs;
  if (const char* env = std::getenv("KILN_CONFIG_PATH")) {
    std::string text = env;
    size_t start = 0;
    while (start <= text.size()) {
      size_t colon = text.find(':', start);
      std::string dir = text.substr(start, colon == std::string::npos ? colon : colon - start);
      if (!dir.empty()) dirs.emplace_back(dir);
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  }
  std::error_code error;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) exe = std::filesystem::absolute(argv0, error);
  std::filesystem::path bin = exe.parent_path();
  dirs.push_back(bin / ".." / "share" / "kiln" / "configs");
  dirs.push_back(bin / ".." / ".." / "configs");
  dirs.push_back(bin / ".." / "configs");
  return dirs;
}

std::vector<std::string> preset_names(const std::vector<std::filesystem::path>& dirs) {
  std::set<std::string> names;
  for (const auto& dir : dirs) {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
      if (entry.path().extension() == ".json") names.insert(entry.path().stem().string());
    }
  }
  return {names.begin(), names.end()};
}

nlohmann::json read_config(const std::string& spec, const char* argv0) {
  std::filesystem::path file;
  bool is_path = spec.find('/') != std::string::npos || spec.ends_with(".json");
  if (is_path) {
    file = spec;
    if (!std::filesystem::is_regular_file(file)) {
      throw UsageError("--config: the file '" + spec + "' does not exist");
    }
  } else {
    auto dirs = config_dirs(argv0);
    for (const auto& dir : dirs) {
      if (std::filesystem::is_regular_file(dir / (spec + ".json"))) {
        file = dir / (spec + ".json");
        break;
      }
    }
    if (file.empty()) {
      std::string names;
      for (const std::string& name : preset_names(dirs))
        names += (names.empty() ? "" : ", ") + name;
      throw UsageError("--config: no preset named '" + spec + "'; presets: " +
                       (names.empty() ? "(none found)" : names) + ", or a path to a .json file");
    }
  }
  std::ifstream stream(file);
  try {
    nlohmann::json config = nlohmann::json::parse(stream);
    if (!config.is_object()) throw UsageError("--config " + spec + ": not a JSON object");
    return config;
  } catch (const nlohmann::json::exception& error) {
    throw UsageError("--config " + file.string() + " is not valid JSON: " + error.what());
  }
}

// A config's section for one command ({"compile": {"target": "...", "opt-level": 2}}) as
// command-line tokens. They go before the user's own: single-valued options take the last
// value, so what the user types wins.
std::vector<std::string> config_tokens(const nlohmann::json& config, const std::string& command,
                                       const std::string& spec) {
  std::vector<std::string> tokens;
  auto section = config.find(command);
  if (section == config.end()) return tokens;
  if (!section->is_object()) {
    throw UsageError("--config " + spec + ": \"" + command + "\" must be an object");
  }
  for (const auto& [key, value] : section->items()) {
    std::string flag = "--" + key;
    auto add = [&](const nlohmann::json& item) {
      if (item.is_boolean()) {
        if (item.get<bool>()) tokens.push_back(flag);
      } else if (item.is_string()) {
        tokens.push_back(flag + "=" + item.get<std::string>());
      } else if (item.is_number()) {
        tokens.push_back(flag + "=" + item.dump());
      } else {
        throw UsageError("--config " + spec + ": \"" + key +
                         "\" must be a string, number, "
                         "boolean or a list of them");
      }
    };
    if (value.is_array()) {
      for (const auto& item : value) add(item);
    } else {
      add(value);
    }
  }
  return tokens;
}

// Replaces "--config X" in the arguments by the preset's options for the command being run.
std::vector<std::string> expand_config(const std::vector<std::string>& args, const char* argv0) {
  const std::set<std::string> commands = {"compile", "run", "inspect"};
  size_t command_at = args.size();
  for (size_t i = 1; i < args.size(); ++i) {
    if (commands.count(args[i])) {
      command_at = i;
      break;
    }
  }
  std::vector<std::string> result;
  std::string spec;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config") {
      if (i + 1 >= args.size()) throw UsageError("--config needs a preset name or a .json file");
      spec = args[++i];
    } else if (args[i].starts_with("--config=")) {
      spec = args[i].substr(9);
    } else {
      result.push_back(args[i]);
    }
  }
  if (spec.empty()) return args;
  if (command_at == args.size()) throw UsageError("--config applies to compile, run or inspect");
  nlohmann::json config = read_config(spec, argv0);
  std::vector<std::string> tokens = config_tokens(config, args[command_at], spec);
  // The command's position is unchanged: --config came after it (or before, and is removed).
  size_t insert_at = 0;
  for (size_t i = 0; i < result.size(); ++i) {
    if (result[i] == args[command_at]) {
      insert_at = i + 1;
      break;
    }
  }
  result.insert(result.begin() + static_cast<std::ptrdiff_t>(insert_at), tokens.begin(),
                tokens.end());
  return result;
}

// ---- bash completion ---------------------------------------------------------------------------

// A bash completion script generated from the parser itself, so it never goes stale:
// `source <(kiln completion bash)`.
std::string bash_completion(const CLI::App& app) {
  std::string script =
      "# bash completion for kiln (generated by `kiln completion bash`)\n"
      "_kiln() {\n"
      "  local cur=${COMP_WORDS[COMP_CWORD]} cmd=\"\" i\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    case ${COMP_WORDS[i]} in -*) ;; *) cmd=${COMP_WORDS[i]}; break ;; esac\n"
      "  done\n"
      "  local words\n"
      "  case $cmd in\n";
  std::string commands;
  for (const CLI::App* sub : app.get_subcommands({})) {
    commands += (commands.empty() ? "" : " ") + sub->get_name();
    std::string flags;
    for (const CLI::Option* option : sub->get_options()) {
      for (const std::string& name : option->get_lnames()) flags += " --" + name;
      for (const std::string& name : option->get_snames()) flags += " -" + name;
    }
    script +=
        "    " + sub->get_name() + ") words=\"" + flags.substr(flags.empty() ? 0 : 1) + "\" ;;\n";
  }
  script += "    *) words=\"" + commands +
            " --help --version\" ;;\n"
            "  esac\n"
            "  if [[ -n $cmd && $cur != -* ]]; then\n"
            "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
            "  else\n"
            "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
            "  fi\n"
            "}\n"
            "complete -o filenames -F _kiln kiln\n";
  return script;
}

// An integer option's bounds, said in words ("--repeat must be at least 1, got 0"; CLI11 puts
// the option's name in front): CLI11's own range checks print the type's whole range, hundreds of
// digits for a double.
CLI::Validator at_least(int64_t minimum) {
  return CLI::Validator(
      [minimum](std::string& text) -> std::string {
        int64_t value = 0;
        if (!CLI::detail::lexical_cast(text, value)) {
          return "must be a whole number, got '" + text + "'";
        }
        if (value < minimum) return "must be at least " + std::to_string(minimum) + ", got " + text;
        return "";
      },
      "INT>=" + std::to_string(minimum));
}

CLI::Validator between(int64_t minimum, int64_t maximum) {
  return CLI::Validator(
      [minimum, maximum](std::string& text) -> std::string {
        int64_t value = 0;
        if (!CLI::detail::lexical_cast(text, value) || value < minimum || value > maximum) {
          return "must be a whole number from " + std::to_string(minimum) + " to " +
                 std::to_string(maximum) + ", got '" + text + "'";
        }
        return "";
      },
      "INT in " + std::to_string(minimum) + ".." + std::to_string(maximum));
}

// Model formats that load today, for help texts (the others are known by name and refused).
std::string loadable_formats(const char* separator) {
  std::string names;
  for (const std::string& name : kiln::known_model_formats()) {
    if (kiln::model_format_supported(name)) names += (names.empty() ? "" : separator) + name;
  }
  return names;
}

constexpr const char* kExitCodesHelp =
    "Exit codes: 0 success; 2 bad usage (unknown flag, value out of range); 3 internal error (a "
    "bug in Kiln); 4 Kiln error (bad model file, unsupported operator, wrong shapes, ...); 5 a "
    "missing optional dependency (the message says what to install); 130 interrupted (Ctrl-C).";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Kiln: compile trained models into fast machine code and run them", "kiln"};
  app.set_version_flag("--version", "kiln " + kiln::version());
  app.require_subcommand(0, 1);
  app.footer(kExitCodesHelp);
  // A preset's options come first; the user's own, later on the line, replace them. Help shows
  // every option's default; global flags (-v) may also follow the command (subcommands created
  // below inherit both settings).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.option_defaults()->always_capture_default();
  app.fallthrough();
  app.add_flag("-v,--verbose", verbosity,
               "log what happens on stderr: -v steps and timings, -vv options, -vvv kernels");
  std::string config_help_only;
  app.add_option("--config", config_help_only,
                 "preset NAME (configs/NAME.json) or a .json file of options, per command");

  std::string path;
  std::string format;
  std::string shapes;
  std::vector<std::string> constant_inputs;
  bool as_json = false;
  std::string format_help =
      "model format instead of guessing from the extension: " + loadable_formats(", ");
  CLI::App* inspect =
      app.add_subcommand("inspect", "show a model's inputs, outputs, operators and cost");
  inspect->add_option("FILE", path, "model file (" + loadable_formats(", ") + ")")->required();
  inspect->add_option("--model-format", format, format_help);
  inspect->add_option("--input-shapes", shapes,
                      "override input shapes: \"name:[1,3,224,224] ...\"");
  inspect
      ->add_option("--constant-input", constant_inputs,
                   "fix an input's value: NAME=FILE.npy (repeatable)")
      ->allow_extra_args(false);
  inspect->add_flag("--json", as_json, "print one JSON object");

  CompileArgs compile_args;
  CLI::App* compile = app.add_subcommand("compile", "compile a model into a package (.tar)");
  compile->add_option("FILE", compile_args.path, "model file (" + loadable_formats(", ") + ")")
      ->required();
  compile->add_option("--target", compile_args.target, "target, e.g. \"llvm -mcpu=znver4\"");
  compile->add_option("-o,--output", compile_args.output, "package to write");
  compile->add_option("--model-format", compile_args.format, format_help);
  compile->add_option("--input-shapes", compile_args.shapes,
                      "override input shapes: \"name:[1,3,224,224] ...\"");
  compile
      ->add_option("--constant-input", compile_args.constant_inputs,
                   "fix an input's value: NAME=FILE.npy (repeatable)")
      ->allow_extra_args(false);
  compile->add_option("--dump-code", compile_args.dump_code, "comma-separated: ll, asm, tir, ir");
  compile->add_option("-O,--opt-level", compile_args.opt_level, "optimisation level 0-3")
      ->check(between(0, 3));
  compile->add_option("--disabled-pass", compile_args.disabled_pass,
                      "comma-separated graph passes not to run, e.g. fold_scale_axis,fuse_ops");
  compile->add_option("--desired-layout", compile_args.desired_layout,
                      "data layout of convolutions: NCHW or NHWC");
  compile->add_option("--desired-layout-ops", compile_args.desired_layout_ops,
                      "comma-separated operators the layout applies to (default: all)");
  compile->add_option("--tuning-records", compile_args.tuning_records,
                      "tuning records file (applying records: not supported yet)");
  compile->add_option("--target-host", compile_args.target_host,
                      "host target (a CPU target is its own host)");
  compile->add_option("--cross-compiler", compile_args.cross_compiler,
                      "link mod.so with this compiler, e.g. aarch64-linux-gnu-gcc");
  compile->add_option("--cross-compiler-options", compile_args.cross_compiler_options,
                      "flags for the cross compiler (write --cross-compiler-options=\"-O2 ...\")");
  compile
      ->add_option("--output-format", compile_args.output_format,
                   "so: the package holds mod.so; tar: also the unlinked mod.o")
      ->check(CLI::IsMember({"so", "tar"}));
  compile
      ->add_option(
          "--pass-config", compile_args.pass_configs,
          "name=value, repeatable: " +
              [] {
                std::string names;
                for (const auto& [name, help] : kiln::pass_config_names())
                  names += (names.empty() ? "" : ", ") + name;
                return names;
              }())
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);  // one value per flag: never swallow the FILE after it
  compile->add_option("--mod-name", compile_args.mod_name,
                      "prefix of the kernels' symbols (\"default\": no prefix)");
  // One flag per option of the llvm target, from the target's own option table.
  std::map<std::string, std::string> llvm_values;
  std::vector<std::pair<std::string, CLI::Option*>> llvm_flags;
  for (const auto& option : kiln::codegen::llvm_target_options()) {
    llvm_flags.emplace_back(
        option.name,
        compile->add_option("--target-llvm-" + option.name, llvm_values[option.name], option.help));
  }

  RunArgs run_args;
  CLI::App* run = app.add_subcommand("run", "run a compiled package");
  run->add_option("PACKAGE", run_args.path, "package (.tar) from kiln compile")->required();
  run->add_option("--device", run_args.device, "device (cpu), any case");
  run->add_option("-i,--inputs", run_args.inputs, "inputs as an .npz file");
  run->add_option("-o,--outputs", run_args.outputs, "write the outputs to an .npz file");
  run->add_option("--fill-mode", run_args.fill_mode, "inputs not given: random, zeros or ones")
      ->check(CLI::IsMember({"random", "zeros", "ones"}));
  run->add_flag("--print-time", run_args.print_time, "benchmark and print the timing summary");
  run->add_option("--print-top", run_args.print_top, "print the N highest scores of output 0")
      ->check(at_least(0));
  run->add_option("--repeat", run_args.repeat, "measurements when timing")->check(at_least(1));
  run->add_option("--number", run_args.number, "runs per measurement")->check(at_least(1));
  run->add_flag("--profile", run_args.profile, "print the time of every kernel");
  run->add_flag("--end-to-end", run_args.end_to_end,
                "timings include copying inputs in and outputs out");
  run->add_option("--rpc-tracker", run_args.rpc_tracker, "host:port (not supported yet)");
  run->add_option("--rpc-key", run_args.rpc_key, "device key (not supported yet)");

  app.add_subcommand("tune", "tune kernels (not supported yet)")->allow_extras();
  std::string shell;
  CLI::App* completion = app.add_subcommand("completion", "print a shell completion script");
  completion->add_option("SHELL", shell, "bash")->required()->check(CLI::IsMember({"bash"}));

  try {
    std::vector<std::string> args(argv, argv + argc);
    args = expand_config(args, argv[0]);
    std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);  // CLI11 wants them so
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ValidationError& e) {
    std::string message = e.what();  // "--repeat: must be ...": one sentence
    if (size_t colon = message.find(": must be "); colon != std::string::npos) {
      message.erase(colon, 1);
    }
    std::cerr << "kiln: error: " << message << " (see kiln --help)\n";
    return kExitUsage;
  } catch (const CLI::ParseError& e) {
    std::cerr << "kiln: error: " << e.what() << " (see kiln --help)\n";
    return kExitUsage;
  } catch (const UsageError& e) {
    std::cerr << "kiln: error: " << e.what() << "\n";
    return kExitUsage;
  }
  for (const auto& [name, option] : llvm_flags) {
    if (option->count() > 0) compile_args.llvm_options[name] = llvm_values[name];
  }

  if (app.get_subcommands().empty()) {
    std::cerr << "kiln: error: a command is required: inspect, compile, run, tune or completion "
                 "(see kiln --help)\n";
    return kExitUsage;
  }
  install_interrupt_handler();
  try {
    if (inspect->parsed()) {
      return run_inspect(path, load_options(format, shapes, constant_inputs), as_json);
    }
    if (compile->parsed()) return run_compile(compile_args);
    if (run->parsed()) return run_run(run_args);
    if (completion->parsed()) {
      std::cout << bash_completion(app);
      return 0;
    }
    if (app.got_subcommand("tune")) {
      throw kiln::Error("not supported yet: kiln tune (auto-tuning) arrives in a later release");
    }
  } catch (const kiln::Interrupted&) {
    std::cerr << "kiln: interrupted\n";
    return kExitInterrupted;
  } catch (const kiln::MissingDependency& e) {
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    std::cerr << "kiln: error: " << message << "\n";
    return kExitMissingDependency;
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
