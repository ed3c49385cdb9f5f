#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "ir/op.h"
#include "ir/serializer.h"
#include "kiln/kiln.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

// A temp directory removed at the end of each test.
class LoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kiln_load_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& contents) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << contents;
    return path;
  }

  std::string saved_model(const std::string& name) {
    ir::TensorType type;
    type.dtype = DType::kFloat32;
    type.shape = {ir::Dim::symbol("batch"), 4};
    ir::Var x = ir::VarNode::make("x", type);
    ir::Constant w = ir::ConstantNode::make(Tensor::from_float32s({1, 2, 3, 4}, {4}), "w");
    ir::Module module(ir::FunctionNode::make({x}, ir::call("add", {x, w})), {"y"});
    std::string path = (dir_ / name).string();
    ir::save_module(module, path);
    return path;
  }

  static std::string message_of(const std::function<void()>& action) {
    try {
      action();
    } catch (const Error& error) {
      return error.what();
    }
    return "<no error>";
  }

  fs::path dir_;
};

TEST_F(LoadTest, ConstantInputsOnSavedModel) {
  std::string path = saved_model("m.kiln");
  LoadOptions options;
  options.constant_inputs["x"] = Tensor::from_float32s({1, 1, 1, 1, 2, 2, 2, 2}, {2, 4});
  Model model = load(path, options);
  EXPECT_TRUE(model.inputs().empty());
  EXPECT_EQ(model.outputs()[0].shape, (std::vector<int64_t>{2, 4}));
  options.constant_inputs["x"] = Tensor::from_float32s({1, 2, 3}, {3});
  EXPECT_NE(message_of([&] { load(path, options); }).find("gives input 'x' a float32[3] value"),
            std::string::npos);
  options.constant_inputs.clear();
  options.constant_inputs["y"] = Tensor::from_float32s({1}, {1});
  EXPECT_NE(message_of([&] { load(path, options); }).find("constant_inputs names input 'y'"),
            std::string::npos);
}

TEST_F(LoadTest, MissingFileAndDirectory) {
  std::string missing = (dir_ / "absent.onnx").string();
  EXPECT_NE(message_of([&] { load(missing); }).find("does not exist"), std::string::npos);
  EXPECT_NE(message_of([&] { load(dir_.string()); }).find("directory"), std::string::npos);
}

TEST_F(LoadTest, FormatFromExtensionOrName) {
  std::string unknown = write("model.xyz", "hello");
  std::string message = message_of([&] { load(unknown); });
  EXPECT_NE(message.find("failed to infer the model format"), std::string::npos) << message;
  EXPECT_NE(message.find(".xyz"), std::string::npos) << message;
  // Only formats that load are offered.
  EXPECT_NE(message.find("one of: onnx, kiln"), std::string::npos) << message;
  EXPECT_EQ(message.find("tflite"), std::string::npos) << message;
  message = message_of([&] { load(unknown, {}, "caffe"); });
  EXPECT_NE(message.find("unknown model format 'caffe'"), std::string::npos) << message;
  message = message_of([&] { load(write("m.tflite", "x")); });
  EXPECT_NE(message.find("not supported yet"), std::string::npos) << message;
}

TEST_F(LoadTest, KilnFilesAreRecognisedByContentsWhateverTheirName) {
  std::string path = saved_model("model.bin");
  Model model = load(path);
  EXPECT_EQ(model.source_format(), "kiln");
  EXPECT_EQ(model.inputs()[0].shape_string(), "[batch, 4]");
  EXPECT_EQ(model.outputs()[0].name, "y");
  Model same = load(path, {}, "KILN");
  EXPECT_EQ(same.summary(), model.summary());
}

TEST_F(LoadTest, ShapeDictOnASavedModelReinfersTheGraph) {
  std::string path = saved_model("model.kiln");
  Model model = load(path, {{"x", {8, 4}}});
  EXPECT_EQ(model.inputs()[0].shape_string(), "[8, 4]");
  EXPECT_EQ(model.outputs()[0].shape_string(), "[8, 4]");
  std::string message = message_of([&] { load(path, {{"image", {1, 4}}}); });
  EXPECT_NE(message.find("'image'"), std::string::npos) << message;
  EXPECT_NE(message.find("'x'"), std::string::npos) << message;  // names the inputs that exist
  message = message_of([&] { load(path, {{"x", {8, 5}}}); });
  EXPECT_NE(message.find("does not accept the shapes"), std::string::npos) << message;
}

TEST_F(LoadTest, StatsCountParametersAndOperators) {
  Model model = load(saved_model("model.kiln"));
  ModelStats stats = model.stats();
  EXPECT_EQ(stats.num_params, 4);
  EXPECT_EQ(stats.op_histogram.at("add"), 1);
  EXPECT_EQ(stats.macs, 0);
  auto params = model.params();
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0].first, "w");
}

// Two inputs of one name are the file's mistake: a kiln::Error naming the input, not an internal
// error from the verifier.
TEST_F(LoadTest, DuplicateInputNamesAreAUserError) {
  ir::TensorType type;
  type.dtype = DType::kFloat32;
  type.shape = {4};
  ir::Var first = ir::VarNode::make("x", type);
  ir::Var second = ir::VarNode::make("x", type);
  ir::Module module(ir::FunctionNode::make({first, second}, ir::call("add", {first, second})),
                    {"y"});
  std::string path = (dir_ / "dup.kiln").string();
  ir::save_module(module, path);
  std::string message = message_of([&] { load(path); });
  EXPECT_NE(message.find(path + ": the model has two inputs named 'x'; input names must be "
                                "unique"),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace kiln
