// Fused kernels end to end: a group compiles into one kernel launch whose numbers match the
// operators run one by one, with the generic anchor schedule (compute_at) and with the fallback
// taken when an anchor's schedule cannot handle an epilogue.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ir/module.h"
#include "ir/op.h"
#include "kiln/error.h"
#include "kiln/kiln.h"
#include "op/op_impl.h"

namespace kiln {
namespace {

// x[1, C, H, W] -> max_pool2d 2x2 stride 1 -> multiply by a per-channel scale -> relu.
struct PoolModel {
  int64_t channels, height, width;
  std::vector<float> data, scale;

  Model model() const {
    ir::Var x =
        ir::VarNode::make("x", ir::tensor_type(DType::kFloat32, {1, channels, height, width}));
    ir::Expr pooled =
        ir::call("max_pool2d", {x}, {{"pool_size", std::vector<int64_t>{2, 2}}}, "pool");
    ir::Constant gain =
        ir::ConstantNode::make(Tensor::from_float32s(scale, {channels, 1, 1}), "gain");
    ir::Expr y = ir::call("relu", {ir::call("multiply", {pooled, gain}, {}, "scale")}, {}, "act");
    auto module = std::make_shared<const ir::Module>(ir::FunctionNode::make({x}, y),
                                                     std::vector<std::string>{"y"});
    return Model(module, "kiln", "");
  }

  std::vector<float> expected() const {
    std::vector<float> out;
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t i = 0; i + 1 < height; ++i) {
        for (int64_t j = 0; j + 1 < width; ++j) {
          auto at = [&](int64_t di, int64_t dj) {
            return data[static_cast<size_t>((c * height + i + di) * width + j + dj)];
          };
          float best = std::max(std::max(at(0, 0), at(0, 1)), std::max(at(1, 0), at(1, 1)));
          out.push_back(std::max(best * scale[static_cast<size_t>(c)], 0.0f));
        }
      }
    }
    return out;
  }
};

PoolModel make_pool_model(int64_t channels, int64_t height, int64_t width) {
  PoolModel model{channels, height, width, {}, {}};
  for (int64_t i = 0; i < channels * height * width; ++i) {
    model.data.push_back(static_cast<float>(std::sin(0.37 * static_cast<double>(i))));
  }
  for (int64_t c = 0; c < channels; ++c) model.scale.push_back(c % 3 == 0 ? -0.5f : 1.5f);
  return model;
}

class FusedCompileTest : public ::testing::TestWithParam<int64_t> {
 protected:
  std::string package_path(const std::string& name) const {
    return (std::filesystem::temp_directory_path() /
            ("kiln_fused_" + name + "_" + std::to_string(GetParam()) + "_" +
             std::to_string(::getpid()) + ".tar"))
        .string();
  }

  void expect_fused_and_correct(const PoolModel& pool, const std::string& name) {
    CompileOptions options;
    options.package_path = package_path(name);
    Package package = compile(pool.model(), options);
    nlohmann::json graph = nlohmann::json::parse(package.graph_json());
    ASSERT_EQ(graph["nodes"].size(), 1u) << graph.dump();
    EXPECT_EQ(graph["nodes"][0]["ops"], nlohmann::json({"max_pool2d", "multiply", "relu"}));
    EXPECT_EQ(graph["nodes"][0]["names"], nlohmann::json({"pool", "scale", "act"}));
    EXPECT_EQ(graph["nodes"][0]["name"], "pool");
    RunOptions run_options;
    run_options.inputs["x"] =
        Tensor::from_float32s(pool.data, {1, pool.channels, pool.height, pool.width});
    RunResult result = run(package, run_options);
    const Tensor& y = result.outputs.at(0).second;
    std::vector<float> want = pool.expected();
    ASSERT_EQ(y.numel(), static_cast<int64_t>(want.size()));
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_FLOAT_EQ(y.data_as<float>()[i], want[i]) << "element " << i;
    }
    std::filesystem::remove(options.package_path);
  }
};

TEST_P(FusedCompileTest, GenericAnchorScheduleComputesThePoolInsideTheEpilogue) {
  expect_fused_and_correct(make_pool_model(3, 5, GetParam()), "generic");
}

TEST_P(FusedCompileTest, AnAnchorScheduleThatRefusesTheEpilogueFallsBackToOneKernel) {
  // A schedule that cannot handle a fused epilogue (throws a kiln::Error when given an anchor).
  op::OpImpl original = *op::find_impl("max_pool2d");
  op::OpImpl refusing = original;
  refusing.schedule = [](te::Schedule&, const std::vector<te::Tensor>&,
                         const op::ScheduleContext& context) {
    if (context.anchor) throw Error("schedule: no epilogue support");
  };
  op::register_impl("max_pool2d", refusing);
  try {
    expect_fused_and_correct(make_pool_model(4, 6, GetParam()), "fallback");
  } catch (...) {
    op::register_impl("max_pool2d", original);
    throw;
  }
  op::register_impl("max_pool2d", original);
}

// Widths around the vector lanes (8 or 16 floats) after the pool removes one column.
INSTANTIATE_TEST_SUITE_P(Widths, FusedCompileTest, ::testing::Values(2, 9, 17, 18, 34));

}  // namespace
}  // namespace kiln
