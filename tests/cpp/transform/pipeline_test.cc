#include "driver/pipeline.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "kiln/kiln.h"
#include "transform_test_util.h"

namespace kiln {
namespace {

using transform::test::count_calls;
using transform::test::f32_var;
using transform::test::random_constant;

// conv -> bias_add -> batch_norm -> relu -> conv -> batch_norm -> add(residual) -> pool -> dense,
// with a duplicated reshape and a no-op transpose, like an imported CNN.
ir::Module small_cnn() {
  ir::Var x = f32_var("x", {1, 3, 8, 8});
  auto batch_norm = [](const ir::Expr& data, int64_t channels, uint32_t seed) {
    return ir::call("batch_norm", {data, random_constant("gamma", {channels}, seed),
                                   random_constant("beta", {channels}, seed + 1),
                                   random_constant("mean", {channels}, seed + 2),
                                   random_constant("var", {channels}, seed + 3, 0.5, 2.0)});
  };
  ir::Attrs same = {{"padding", std::vector<int64_t>{1, 1, 1, 1}}};
  ir::Expr y = ir::call("conv2d", {x, random_constant("w1", {4, 3, 3, 3}, 1)}, same);
  y = ir::call("bias_add", {y, random_constant("b1", {4}, 2)});
  ir::Expr first = ir::call("relu", {batch_norm(y, 4, 10)});
  y = ir::call("conv2d", {first, random_constant("w2", {4, 4, 3, 3}, 3)}, same);
  y = ir::call("relu", {ir::call("add", {batch_norm(y, 4, 20), first})});
  y = ir::call("global_avg_pool2d", {y});
  y = ir::call("transpose", {ir::call("reshape", {y}, {{"newshape", std::vector<int64_t>{1, 4}}})},
               {{"axes", std::vector<int64_t>{0, 1}}});
  ir::Expr logits = ir::call("dense", {y, random_constant("fc", {5, 4}, 4)});
  return transform::test::make_module({x}, logits);
}

PassOptions options_at(int opt_level, std::vector<std::string> disabled = {}) {
  PassOptions options;
  options.opt_level = opt_level;
  options.disabled_passes = std::move(disabled);
  options.verify_each_pass = true;
  return options;
}

TEST(Pipeline, OptLevelZeroRunsNothing) {
  ir::Module module = small_cnn();
  EXPECT_EQ(optimize(module, options_at(0)).main(), module.main());
}

TEST(Pipeline, OptLevelOneRemovesBatchNorm) {
  ir::Module module = small_cnn();
  ir::Module optimized = optimize(module, options_at(1));
  EXPECT_EQ(count_calls(optimized, "batch_norm"), 0);
  EXPECT_EQ(count_calls(optimized, "multiply"), 2);  // not folded into the convs at level 1
  transform::test::expect_same_values(module, optimized, 1e-4, 1e-5);
}

TEST(Pipeline, OptLevelThreeFoldsBatchNormIntoTheConvs) {
  ir::Module module = small_cnn();
  ir::Module optimized = optimize(module, options_at(3));
  EXPECT_EQ(transform::test::text(optimized),
            "def @main(%x: float32[1, 3, 8, 8]) -> float32[1, 5] {\n"
            "  %0 = conv2d(%x, $w1, dilation=[1, 1], groups=1, padding=[1, 1, 1, 1], strides=[1, "
            "1]) : float32[1, 4, 8, 8]\n"
            "  %1 = bias_add(%0, $b1, axis=1) : float32[1, 4, 8, 8]\n"
            "  %2 = relu(%1) : float32[1, 4, 8, 8]\n"
            "  %3 = conv2d(%2, $w2, dilation=[1, 1], groups=1, padding=[1, 1, 1, 1], strides=[1, "
            "1]) : float32[1, 4, 8, 8]\n"
            "  %4 = bias_add(%3, $const_3, axis=1) : float32[1, 4, 8, 8]\n"
            "  %5 = add(%4, %2) : float32[1, 4, 8, 8]\n"
            "  %6 = relu(%5) : float32[1, 4, 8, 8]\n"
            "  %7 = global_avg_pool2d(%6) : float32[1, 4, 1, 1]\n"
            "  %8 = reshape(%7, allowzero=0, newshape=[1, 4]) : float32[1, 4]\n"
            "  %9 = dense(%8, $fc) : float32[1, 5]\n"
            "  return %9\n"
            "}\n"
            "constants (5, 280 values):\n"
            "  $w1: float32[4, 3, 3, 3]\n"
            "  $b1: float32[4] = [-0.686425269, 0.328499794, -0.756521106, 0.490887642]\n"
            "  $w2: float32[4, 4, 3, 3]\n"
            "  $const_3: float32[4] = [0.343314588, -0.115481645, -1.12002063, 0.786544144]\n"
            "  $fc: float32[5, 4]\n"
            "outputs: y\n");
  transform::test::expect_same_values(module, optimized, 1e-4, 1e-5);
}

TEST(Pipeline, DisabledPassesByKilnOrTvmName) {
  ir::Module module = small_cnn();
  ir::Module without_scale_folding = optimize(module, options_at(3, {"FoldScaleAxis"}));
  EXPECT_EQ(count_calls(without_scale_folding, "multiply"), 2);
  ir::Module without_bn = optimize(module, options_at(3, {"simplify_inference"}));
  EXPECT_EQ(count_calls(without_bn, "batch_norm"), 2);
  EXPECT_EQ(count_calls(without_bn, "transpose"), 0);  // simplify_expr still ran
}

TEST(Pipeline, UnknownPassNamesAreListed) {
  try {
    optimize(small_cnn(), options_at(3, {"fold_constants"}));
    FAIL() << "an unknown pass was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()),
              "unknown pass 'fold_constants' in disabled_pass; the passes are: infer_types, "
              "simplify_inference, fold_constant, fold_scale_axis, eliminate_common_subexpr, "
              "simplify_expr, convert_layout, alter_op_layout, fuse_ops");
  }
  EXPECT_THROW(optimize(small_cnn(), options_at(4)), Error);
}

TEST(Pipeline, PassEnabledFollowsLevelsAndDisabledNames) {
  EXPECT_FALSE(pass_enabled("fuse_ops", options_at(0)));
  EXPECT_TRUE(pass_enabled("fuse_ops", options_at(1)));
  EXPECT_FALSE(pass_enabled("fuse_ops", options_at(3, {"FuseOps"})));
  EXPECT_FALSE(pass_enabled("fold_scale_axis", options_at(1)));
  EXPECT_TRUE(pass_enabled("fold_scale_axis", options_at(2)));
}

TEST(Pipeline, DesiredLayout) {
  PassOptions options = options_at(3);
  options.desired_layout = "NCHW";
  EXPECT_EQ(count_calls(optimize(small_cnn(), options), "conv2d"), 2);
  options.desired_layout = "NHWC";
  EXPECT_EQ(count_calls(optimize(small_cnn(), options), "conv2d"), 0);
  EXPECT_EQ(count_calls(optimize(small_cnn(), options), "conv2d_nchwc"), 2);
  options.desired_layout = "NCWH";
  EXPECT_THROW(optimize(small_cnn(), options), Error);
  options.disabled_passes = {"convert_layout"};
  EXPECT_NO_THROW(optimize(small_cnn(), options));
}

TEST(Pipeline, DumpWritesTheIrAfterEveryStep) {
  std::filesystem::path dir = std::filesystem::path(testing::TempDir()) / "kiln_pipeline_dump";
  std::filesystem::remove_all(dir);
  PassOptions options = options_at(3, {"eliminate_common_subexpr"});
  options.dump_dir = dir.string();
  ir::Module optimized = optimize(small_cnn(), options);
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"00_input.ir", "01_infer_types.ir",
                                             "02_simplify_inference.ir", "03_fold_constant.ir",
                                             "04_fold_scale_axis.ir", "05_fold_constant.ir",
                                             "06_simplify_expr.ir"}));
  std::ifstream last(dir / "06_simplify_expr.ir");
  std::stringstream text;
  text << last.rdbuf();
  EXPECT_EQ(text.str(), ir::print_module(optimized));
  std::filesystem::remove_all(dir);
}

// The optimised module compiles and runs to the same outputs as the original (generated code,
// not the interpreter).
TEST(Pipeline, OptimizedModuleCompilesAndMatches) {
  ir::Module module = small_cnn();
  std::filesystem::path dir = std::filesystem::path(testing::TempDir()) / "kiln_pipeline_run";
  std::filesystem::create_directories(dir);
  auto compile_and_run = [&](const ir::Module& variant, const std::string& name) {
    Model model(std::make_shared<const ir::Module>(variant), "kiln", "");
    CompileOptions options;
    options.opt_level = 0;  // compile() must not optimise again: compare the graphs as given
    options.package_path = (dir / (name + ".tar")).string();
    Package package = compile(model, options);
    RunOptions run_options;
    run_options.seed = 3;
    return std::pair{run(package, run_options).outputs.at(0).second, package.num_kernels()};
  };
  auto [expected, kernels_before] = compile_and_run(module, "original");
  auto [actual, kernels_after] = compile_and_run(optimize(module, options_at(3)), "optimized");
  op::lower_test::expect_close(actual, expected, 1e-4, 1e-5);
  EXPECT_LT(kernels_after, kernels_before);
  std::filesystem::remove_all(dir);
}

// kiln.dump_dir names a directory the user chose: failing to create or write it is their error
// (kiln::Error naming the setting, the path and the OS's reason), not an internal one.
TEST(Pipeline, UnwritableDumpDirIsAUserError) {
  for (const char* dir : {"/proc/x", "/dev/null/sub"}) {
    PassOptions options = options_at(1);
    options.dump_dir = dir;
    try {
      optimize(small_cnn(), options);
      FAIL() << "no error for dump_dir " << dir;
    } catch (const Error& error) {
      std::string message = error.what();
      EXPECT_NE(
          message.find(std::string("kiln.dump_dir: cannot create the directory '") + dir + "': "),
          std::string::npos)
          << message;
    }
  }
}

}  // namespace
}  // namespace kiln
