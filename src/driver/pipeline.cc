#include "driver/pipeline.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "ir/printer.h"
#include "ir/verifier.h"
#include "kiln/error.h"
#include "transform/alter_op_layout.h"
#include "transform/convert_layout.h"
#include "transform/eliminate_common_subexpr.h"
#include "transform/fold_constant.h"
#include "transform/fold_scale_axis.h"
#include "transform/infer_types.h"
#include "transform/simplify_expr.h"
#include "transform/simplify_inference.h"

namespace kiln {
namespace {

struct PassInfo {
  std::string_view name;
  std::string_view tvm_name;  // what TVM's --disabled-pass calls it
  int opt_level;              // the lowest opt_level that runs it
};

// Every pass a user may disable. convert_layout has level 0: it runs whenever a layout is asked.
constexpr PassInfo kPasses[] = {
    {"infer_types", "InferType", 1},
    {"simplify_inference", "SimplifyInference", 1},
    {"fold_constant", "FoldConstant", 1},
    {"fold_scale_axis", "FoldScaleAxis", 2},
    {"eliminate_common_subexpr", "EliminateCommonSubexpr", 2},
    {"simplify_expr", "SimplifyExpr", 2},
    {"convert_layout", "ConvertLayout", 0},
    {"alter_op_layout", "AlterOpLayout", 3},
    {"fuse_ops", "FuseOps", 1},
};

const PassInfo* find_pass(std::string_view name) {
  for (const PassInfo& pass : kPasses) {
    if (pass.name == name || pass.tvm_name == name) return &pass;
  }
  return nullptr;
}

void check_options(const PassOptions& options) {
  if (options.opt_level < 0 || options.opt_level > 3) {
    throw Error("opt_level must be 0 to 3, got " + std::to_string(options.opt_level));
  }
  for (const std::string& name : options.disabled_passes) {
    if (find_pass(name) != nullptr) continue;
    std::string known;
    for (const std::string& pass : known_pass_names()) known += (known.empty() ? "" : ", ") + pass;
    throw Error("unknown pass '" + name + "' in disabled_pass; the passes are: " + known);
  }
}

// Runs the passes in order, with verification and IR dumps after each step.
class PassRunner {
 public:
  PassRunner(const ir::Module& module, const PassOptions& options)
      : module_(module), options_(options) {
    if (!options.dump_dir.empty()) {
      dump_dir_ = options.dump_dir;
    } else if (const char* dir = std::getenv("KILN_DUMP"); dir != nullptr && *dir != '\0') {
      dump_dir_ = dir;
    }
    dump("input");
  }

  void run(std::string_view name, const std::function<ir::Module(const ir::Module&)>& pass) {
    if (!pass_enabled(name, options_)) return;
    module_ = pass(module_);
    if (options_.verify_each_pass) {
      std::vector<std::string> problems = ir::verify(module_);
      if (!problems.empty()) {
        std::string message = "the module is ill-formed after pass " + std::string(name) + ":";
        for (const std::string& problem : problems) message += "\n  " + problem;
        throw InternalError(message + "\n(a bug in Kiln)");
      }
    }
    dump(name);
  }

  const ir::Module& module() const { return module_; }

 private:
  void dump(std::string_view step) {
    if (dump_dir_.empty()) return;
    // A directory the user named (kiln.dump_dir or KILN_DUMP): failing to write it is their
    // error, named with the OS's reason.
    std::string setting = options_.dump_dir.empty() ? "KILN_DUMP" : "kiln.dump_dir";
    std::error_code error;
    std::filesystem::create_directories(dump_dir_, error);
    if (error) {
      throw Error(setting + ": cannot create the directory '" + dump_dir_.string() +
                  "': " + error.message());
    }
    char prefix[16];
    std::snprintf(prefix, sizeof(prefix), "%02d_", step_++);
    std::filesystem::path path = dump_dir_ / (prefix + std::string(step) + ".ir");
    std::ofstream out(path);
    out << ir::print_module(module_);
    out.close();
    if (!out) {
      throw Error(setting + ": cannot write '" + path.string() + "': " + std::strerror(errno));
    }
  }

  ir::Module module_;
  const PassOptions& options_;
  std::filesystem::path dump_dir_;
  int step_ = 0;
};

}  // namespace

ir::Module optimize(const ir::Module& module, const PassOptions& options) {
  check_options(options);
  PassRunner passes(module, options);
  passes.run("infer_types", transform::infer_types);
  passes.run("simplify_inference", transform::simplify_inference);
  passes.run("fold_constant", transform::fold_constant);
  passes.run("fold_scale_axis", transform::fold_scale_axis);
  passes.run("fold_constant", transform::fold_constant);  // what folding the scales exposed
  passes.run("eliminate_common_subexpr", transform::eliminate_common_subexpr);
  passes.run("simplify_expr", transform::simplify_expr);
  if (!options.desired_layout.empty()) {
    passes.run("convert_layout", [&](const ir::Module& current) {
      return transform::convert_layout(current, options.desired_layout);
    });
  }
  if (options.blocked_layout_lanes > 0) {
    passes.run("alter_op_layout", [&](const ir::Module& current) {
      return transform::alter_op_layout(current, options.blocked_layout_lanes);
    });
  }
  return passes.module();
}

std::vector<std::string> known_pass_names() {
  std::vector<std::string> names;
  for (const PassInfo& pass : kPasses) names.emplace_back(pass.name);
  return names;
}

bool pass_enabled(std::string_view name, const PassOptions& options) {
  check_options(options);
  const PassInfo* pass = find_pass(name);
  KILN_CHECK(pass != nullptr) << "pass_enabled: unknown pass " << name;
  if (options.opt_level < pass->opt_level) return false;
  for (const std::string& disabled : options.disabled_passes) {
    if (find_pass(disabled) == pass) return false;
  }
  return true;
}

}  // namespace kiln
