#include "runtime/graph_executor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "kiln/error.h"
#include "runtime_test_util.h"

namespace kiln::runtime {
namespace {

using Json = nlohmann::json;

// Test kernels over float32[2, 3] (compiled kernels have their shapes built in, so do these).
constexpr int kSize = 6;

int32_t add_kernel(void** args) {
  auto* a = static_cast<const float*>(args[0]);
  auto* b = static_cast<const float*>(args[1]);
  auto* out = static_cast<float*>(args[2]);
  for (int i = 0; i < kSize; ++i) out[i] = a[i] + b[i];
  return 0;
}

int32_t relu_kernel(void** args) {
  auto* in = static_cast<const float*>(args[0]);
  auto* out = static_cast<float*>(args[1]);
  for (int i = 0; i < kSize; ++i) out[i] = std::max(in[i], 0.0f);
  return 0;
}

// out = in * 2, one element per task, on the runtime's pool as compiled parallel loops do.
int32_t parallel_double_kernel(void** args) {
  auto task = [](int64_t index, int64_t num_tasks, void* closure) -> int32_t {
    auto** args = static_cast<void**>(closure);
    for (int64_t i = index; i < kSize; i += num_tasks) {
      static_cast<float*>(args[1])[i] = 2 * static_cast<const float*>(args[0])[i];
    }
    return 0;
  };
  return runtime_api()->parallel_launch(kSize, task, args);
}

int32_t failing_kernel(void**) { return 3; }

int32_t accept_any_api(const KilnRuntimeApi*) { return 0; }

// The kernels' table, as a compiled module exports it: every parameter float32[2, 3].
constexpr KilnKernelParam kRead = {"float32", kSize, 0};
constexpr KilnKernelParam kWrite = {"float32", kSize, KILN_PARAM_WRITTEN};
constexpr KilnKernelParam kBinaryParams[] = {kRead, kRead, kWrite};
constexpr KilnKernelParam kUnaryParams[] = {kRead, kWrite};
const KilnKernelInfo kTestKernels[] = {{"add", add_kernel, 3, kBinaryParams},
                                       {"relu", relu_kernel, 2, kUnaryParams},
                                       {"double", parallel_double_kernel, 2, kUnaryParams},
                                       {"fail", failing_kernel, 2, kUnaryParams}};
const KilnKernelTable kTestTable = {KILN_RUNTIME_API_VERSION, 4, kTestKernels, accept_any_api};

class TestModule : public KernelModule {
 public:
  TestModule() : table_(module_from_table(&kTestTable, "test module")) {}
  const KilnKernelInfo* find(const std::string& name) const override { return table_->find(name); }

 private:
  std::shared_ptr<KernelModule> table_;
};

Json tensor(const std::string& name, const std::string& kind, Json storage) {
  Json item = {{"name", name}, {"dtype", "float32"}, {"shape", {2, 3}}, {"kind", kind}};
  if (!storage.is_null()) item["storage"] = storage;
  return item;
}

// y = relu(relu(x + w) + x): t2 reuses t0's storage (t0 is dead once t1 exists), as the
// compiler's liveness planning does.
Json test_graph() {
  return {
      {"format", "kiln-graph"},
      {"version", 1},
      {"storages",
       {{{"nbytes", 24}}, {{"nbytes", 24}}, {{"nbytes", 64}}, {{"nbytes", 24}}, {{"nbytes", 24}}}},
      {"tensors",
       {tensor("x", "input", 0), tensor("w", "param", 1), tensor("t0", "intermediate", 2),
        tensor("t1", "intermediate", 3), tensor("t2", "intermediate", 2),
        tensor("y", "output", 4)}},
      {"inputs", {0}},
      {"outputs", {5}},
      {"params", {1}},
      {"nodes",
       {{{"kernel", "add"}, {"args", {0, 1, 2}}, {"name", "/add"}, {"ops", {"add"}}},
        {{"kernel", "relu"}, {"args", {2, 3}}, {"name", "/relu"}, {"ops", {"relu"}}},
        {{"kernel", "add"}, {"args", {3, 0, 4}}, {"name", "/add2"}, {"num_outputs", 1}},
        {{"kernel", "relu"}, {"args", {4, 5}}, {"name", "/relu2"}}}}};
}

std::map<std::string, Tensor> test_params() {
  return {{"w", Tensor::from_float32s({1, -2, 3, -4, 5, -6}, {2, 3})}};
}

std::vector<float> values(const Tensor& tensor) {
  const float* data = tensor.data_as<float>();
  return std::vector<float>(data, data + tensor.numel());
}

std::vector<float> expected_output(const std::vector<float>& x, const std::vector<float>& w) {
  std::vector<float> y;
  for (size_t i = 0; i < x.size(); ++i)
    y.push_back(std::max(std::max(x[i] + w[i], 0.0f) + x[i], 0.0f));
  return y;
}

TEST(GraphExecutorTest, RunsAGraphWithSharedStorages) {
  GraphExecutor executor(test_graph().dump(), std::make_shared<TestModule>(), test_params());
  ASSERT_EQ(executor.inputs().size(), 1u);
  EXPECT_EQ(executor.inputs()[0].name, "x");
  EXPECT_EQ(executor.inputs()[0].shape, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(executor.outputs().size(), 1u);
  EXPECT_EQ(executor.outputs()[0].name, "y");
  EXPECT_EQ(executor.storage_bytes(), 24u * 4 + 64);
  EXPECT_EQ(executor.param_bytes(), 24u);

  std::vector<float> w = {1, -2, 3, -4, 5, -6};
  // Twice with different inputs: the second run must not see the first's intermediates.
  for (std::vector<float> x :
       {std::vector<float>{0.5f, 1, -1, 2, -3, 4}, std::vector<float>{-1, -1, -1, 1, 1, 1}}) {
    executor.set_input("x", Tensor::from_float32s(x, {2, 3}));
    executor.run();
    Tensor y = executor.get_output(0);
    EXPECT_EQ(y.shape(), (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(values(y), expected_output(x, w));
  }
}

TEST(GraphExecutorTest, OutputIsACopy) {
  GraphExecutor executor(test_graph().dump(), std::make_shared<TestModule>(), test_params());
  executor.set_input("x", Tensor::from_float32s({1, 1, 1, 1, 1, 1}, {2, 3}));
  executor.run();
  Tensor first = executor.get_output(0);
  std::vector<float> before = values(first);
  executor.set_input("x", Tensor::from_float32s({9, 9, 9, 9, 9, 9}, {2, 3}));
  executor.run();
  EXPECT_EQ(values(first), before);
  EXPECT_KILN_ERROR(executor.get_output(1), "output index 1 is out of range (the model has 1");
}

TEST(GraphExecutorTest, ParametersWithoutStorageAreReferenced) {
  Json graph = test_graph();
  graph["tensors"][1].erase("storage");
  auto params = test_params();
  GraphExecutor executor(graph.dump(), std::make_shared<TestModule>(), params);
  EXPECT_EQ(executor.param_bytes(), 24u);
  std::vector<float> x = {1, 2, 3, 4, 5, 6};
  executor.set_input("x", Tensor::from_float32s(x, {2, 3}));
  executor.run();
  EXPECT_EQ(values(executor.get_output(0)), expected_output(x, values(params["w"])));
}

TEST(GraphExecutorTest, ParallelKernelsUseThePool) {
  Json graph = {{"format", "kiln-graph"},
                {"version", 1},
                {"storages", {{{"nbytes", 24}}, {{"nbytes", 24}}}},
                {"tensors", {tensor("x", "input", 0), tensor("y", "output", 1)}},
                {"inputs", {0}},
                {"outputs", {1}},
                {"params", Json::array()},
                {"nodes", {{{"kernel", "double"}, {"args", {0, 1}}, {"name", "double"}}}}};
  int saved = num_threads();
  set_num_threads(3);
  GraphExecutor executor(graph.dump(), std::make_shared<TestModule>(), {});
  executor.set_input("x", Tensor::from_float32s({1, 2, 3, 4, 5, 6}, {2, 3}));
  executor.run();
  EXPECT_EQ(values(executor.get_output(0)), (std::vector<float>{2, 4, 6, 8, 10, 12}));
  set_num_threads(saved);
}

TEST(GraphExecutorTest, SetInputNamesWhatItExpects) {
  GraphExecutor executor(test_graph().dump(), std::make_shared<TestModule>(), test_params());
  EXPECT_KILN_ERROR(executor.set_input("x", Tensor::from_float32s({1, 2}, {2})),
                    "input 'x' expects float32[2, 3], got float32[2]");
  EXPECT_KILN_ERROR(executor.set_input("x", Tensor(DType::kInt64, {2, 3})),
                    "input 'x' expects float32[2, 3], got int64[2, 3]");
  EXPECT_KILN_ERROR(executor.set_input("x", Tensor()),
                    "input 'x' expects float32[2, 3], got nothing");
  EXPECT_KILN_ERROR(executor.set_input("data", Tensor(DType::kFloat32, {2, 3})),
                    "the model has no input 'data'; its inputs are: 'x' float32[2, 3]");
}

TEST(GraphExecutorTest, ParametersAreChecked) {
  auto module = std::make_shared<TestModule>();
  EXPECT_KILN_ERROR(GraphExecutor(test_graph().dump(), module, {}),
                    "parameter 'w' (float32[2, 3]) is missing");
  EXPECT_KILN_ERROR(
      GraphExecutor(test_graph().dump(), module, {{"w", Tensor(DType::kFloat32, {3, 2})}}),
      "parameter 'w' expects float32[2, 3], got float32[3, 2]");
  EXPECT_KILN_ERROR(
      GraphExecutor(test_graph().dump(), module, {{"w", Tensor(DType::kFloat16, {2, 3})}}),
      "parameter 'w' expects float32[2, 3], got float16[2, 3]");
}

TEST(GraphExecutorTest, KernelFailureNamesKernelAndNode) {
  Json graph = test_graph();
  graph["nodes"][1]["kernel"] = "fail";
  GraphExecutor executor(graph.dump(), std::make_shared<TestModule>(), test_params());
  EXPECT_KILN_ERROR(executor.run(), "kernel 'fail' (node '/relu') failed with code 3");
  EXPECT_KILN_ERROR(executor.profile(1), "kernel 'fail' (node '/relu') failed with code 3");
}

TEST(GraphExecutorTest, MissingKernelIsReported) {
  Json graph = test_graph();
  graph["nodes"][3]["kernel"] = "fused_conv2d_relu";
  EXPECT_KILN_ERROR(GraphExecutor(graph.dump(), std::make_shared<TestModule>(), test_params()),
                    "the compiled module has no kernel 'fused_conv2d_relu' (node '/relu2'");
}

TEST(GraphExecutorTest, ProfileTimesEveryKernel) {
  GraphExecutor executor(test_graph().dump(), std::make_shared<TestModule>(), test_params());
  auto timings = executor.profile(5);
  ASSERT_EQ(timings.size(), 4u);
  EXPECT_EQ(timings[0].kernel, "add");
  EXPECT_EQ(timings[3].name, "/relu2");
  // The fused operators come from mod.json's "ops" (absent: none).
  Json with_ops = test_graph();
  with_ops["nodes"][0]["ops"] = {"add", "relu"};
  with_ops["nodes"][1].erase("ops");
  GraphExecutor labelled(with_ops.dump(), std::make_shared<TestModule>(), test_params());
  auto labelled_timings = labelled.profile(1);
  EXPECT_EQ(labelled_timings[0].ops, (std::vector<std::string>{"add", "relu"}));
  EXPECT_TRUE(labelled_timings[1].ops.empty());
  for (const auto& timing : timings) {
    EXPECT_EQ(timing.calls, 5);
    EXPECT_GE(timing.seconds, 0.0);
  }
  EXPECT_KILN_ERROR(executor.profile(0), "at least one run");
}

struct MalformedCase {
  const char* what;
  std::function<void(Json&)> mutate;
  const char* message;
};

TEST(GraphExecutorTest, MalformedGraphsAreRefusedClearly) {
  const MalformedCase cases[] = {
      {"wrong format", [](Json& g) { g["format"] = "tvm-graph"; }, "it is not a Kiln graph"},
      {"no tensors", [](Json& g) { g.erase("tensors"); }, "the graph has no \"tensors\""},
      {"storage size", [](Json& g) { g["storages"][0]["nbytes"] = -1; },
       "storages[0].nbytes must be a non-negative integer"},
      {"bad dtype", [](Json& g) { g["tensors"][0]["dtype"] = "float8"; },
       "tensors[0] ('x') has an unknown dtype 'float8'"},
      {"negative dim",
       [](Json& g) {
         g["tensors"][0]["shape"] = {2, -3};
       },
       "tensors[0] ('x').shape must be a non-negative integer"},
      {"bad kind", [](Json& g) { g["tensors"][2]["kind"] = "scratch"; }, "is not one of"},
      {"storage id", [](Json& g) { g["tensors"][2]["storage"] = 9; },
       "tensors[2] ('t0').storage = 9 is not a storage id (there are 5 storages)"},
      {"too big for storage",
       [](Json& g) {
         g["tensors"][3]["shape"] = {2, 4};
       },
       "tensors[3] ('t1') (32 bytes at offset 0) does not fit in storage 3 (24 bytes)"},
      {"offset overflow", [](Json& g) { g["tensors"][2]["offset"] = 64; },
       "does not fit in storage 2"},
      {"misaligned offset", [](Json& g) { g["tensors"][2]["offset"] = 8; },
       "tensors[2] ('t0').offset = 8 is not a multiple of 64"},
      {"intermediate without storage", [](Json& g) { g["tensors"][3].erase("storage"); },
       "tensors[3] ('t1') has no \"storage\""},
      {"input id", [](Json& g) { g["inputs"] = {6}; },
       "inputs[0] = 6 is not a tensor id (there are 6 tensors)"},
      {"input of wrong kind",
       [](Json& g) {
         g["inputs"] = {0, 2};
       },
       "\"inputs\" lists tensor 2 ('t0'), which is not of that kind"},
      {"input not listed", [](Json& g) { g["inputs"] = Json::array(); },
       "tensor 'x' is missing from \"inputs\""},
      {"param not listed", [](Json& g) { g["params"] = Json::array(); },
       "tensor 'w' is missing from \"params\""},
      {"input shares storage", [](Json& g) { g["tensors"][3]["storage"] = 0; },
       "tensor 'x' (an input or parameter) shares storage 0 with another tensor"},
      {"node arg id",
       [](Json& g) {
         g["nodes"][0]["args"] = {0, 1, 17};
       },
       "nodes[0].args[2] = 17 is not a tensor id"},
      {"node writes input",
       [](Json& g) {
         g["nodes"][0]["args"] = {1, 2, 0};
       },
       "nodes[0] (kernel 'add') writes to 'x', an input or parameter"},
      {"num_outputs", [](Json& g) { g["nodes"][0]["num_outputs"] = 4; },
       "nodes[0].num_outputs exceeds its argument count"},
      {"node without kernel", [](Json& g) { g["nodes"][1].erase("kernel"); },
       "nodes[1] has no \"kernel\""},
      {"nodes not a list", [](Json& g) { g["nodes"] = 3; }, "\"nodes\" must be a list"},
  };
  auto module = std::make_shared<TestModule>();
  for (const MalformedCase& test : cases) {
    SCOPED_TRACE(test.what);
    Json graph = test_graph();
    test.mutate(graph);
    EXPECT_KILN_ERROR(GraphExecutor(graph.dump(), module, test_params()), test.message);
    EXPECT_KILN_ERROR(GraphExecutor(graph.dump(), module, test_params()),
                      "the graph (mod.json) is malformed");
  }
  EXPECT_KILN_ERROR(GraphExecutor("{\"format\": ", module, {}),
                    "the graph (mod.json) is not valid JSON");
  EXPECT_KILN_ERROR(GraphExecutor("[1, 2]", module, {}), "it is not a Kiln graph");
  Json newer = test_graph();
  newer["version"] = 2;
  EXPECT_KILN_ERROR(GraphExecutor(newer.dump(), module, test_params()),
                    "the graph (mod.json) has format version 2, this runtime reads version 1");
}

// Every call is checked against its kernel's signature in the module's table before the first
// run: a tampered graph is an error, never a kernel reading or writing out of bounds.
TEST(GraphExecutorTest, CallsNotMatchingTheKernelSignatureAreRefused) {
  const MalformedCase cases[] = {
      {"dropped argument",
       [](Json& g) {
         g["nodes"][0]["args"] = {0, 2};
       },
       "node '/add' (nodes[0], kernel 'add') passes 2 arguments, the kernel takes 3"},
      {"extra argument",
       [](Json& g) {
         g["nodes"][1]["args"] = {2, 3, 4};
       },
       "node '/relu' (nodes[1], kernel 'relu') passes 3 arguments, the kernel takes 2"},
      {"smaller tensor",
       [](Json& g) {
         g["tensors"][3]["shape"] = {1, 3};
       },
       "node '/relu' (nodes[1], kernel 'relu') argument 1: the kernel expects float32 with 6 "
       "elements, got 't1' float32[1, 3] (3 elements)"},
      {"other dtype", [](Json& g) { g["tensors"][3]["dtype"] = "int32"; },
       "argument 1: the kernel expects float32 with 6 elements, got 't1' int32[2, 3]"},
      {"output declared as input",
       [](Json& g) {
         g["nodes"][0]["num_outputs"] = 0;
         g["nodes"][0]["args"] = {2, 1, 0};
       },
       "node '/add' (nodes[0], kernel 'add') argument 2: the kernel writes it, and 'x' "
       "float32[2, 3] is an input or parameter"},
      {"output over parameter",
       [](Json& g) {
         g["nodes"][1]["num_outputs"] = 0;
         g["nodes"][1]["args"] = {2, 1};
       },
       "argument 1: the kernel writes it, and 'w' float32[2, 3] is an input or parameter"},
      {"output aliases an input",
       [](Json& g) {
         g["nodes"][1]["args"] = {2, 4};
       },
       "argument 1: the kernel writes 't2' float32[2, 3], which overlaps argument 0 ('t0') in "
       "storage 2"},
  };
  auto module = std::make_shared<TestModule>();
  for (const MalformedCase& test : cases) {
    SCOPED_TRACE(test.what);
    Json graph = test_graph();
    test.mutate(graph);
    EXPECT_KILN_ERROR(GraphExecutor(graph.dump(), module, test_params()), test.message);
    EXPECT_KILN_ERROR(GraphExecutor(graph.dump(), module, test_params()),
                      "the graph (mod.json) does not match the compiled module (mod.so)");
  }
  // Names of C functions the module links are not kernels.
  for (const char* name : {"exit", "abort", "system", "kiln_module_init"}) {
    Json graph = test_graph();
    graph["nodes"][1]["kernel"] = name;
    EXPECT_KILN_ERROR(GraphExecutor(graph.dump(), module, test_params()),
                      std::string("the compiled module has no kernel '") + name + "'");
  }
}

}  // namespace
}  // namespace kiln::runtime
