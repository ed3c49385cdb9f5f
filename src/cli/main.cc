// The `kiln` command line: argument parsing only; all work happens in the C++ driver.
// Exit codes: 0 ok, 2 usage error, 3 internal error (a bug), 4 Kiln error (bad model, ...).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

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

int run_inspect(const std::string& path, const std::string& format, const std::string& shapes,
                bool as_json) {
  kiln::ShapeDict shape_dict;
  if (!shapes.empty()) shape_dict = kiln::parse_shape_dict(shapes);
  kiln::Model model = kiln::load(path, shape_dict, format);
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Kiln: compile trained models into fast machine code and run them", "kiln"};
  app.set_version_flag("--version", "kiln " + kiln::version());
  app.require_subcommand(0, 1);

  std::string path;
  std::string format;
  std::string shapes;
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
  inspect->add_flag("--json", as_json, "print one JSON object");

  for (const char* name : {"compile", "run", "tune"}) {
    app.add_subcommand(name, std::string(name) + " (not supported yet)")->allow_extras();
  }

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
    if (inspect->parsed()) return run_inspect(path, format, shapes, as_json);
    for (const char* name : {"compile", "run", "tune"}) {
      if (app.got_subcommand(name)) {
        throw kiln::Error(std::string("not supported yet: kiln ") + name +
                          " arrives with code generation; today kiln inspects models");
      }
    }
  } catch (const kiln::Error& e) {
    std::cerr << "kiln: error: " << e.what() << "\n";
    return kExitKilnError;
  } catch (const std::exception& e) {
    std::cerr << "kiln: internal error (a bug in Kiln, please report it): " << e.what() << "\n";
    return kExitInternal;
  }
  return 0;
}
