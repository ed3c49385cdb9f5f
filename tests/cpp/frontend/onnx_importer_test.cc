// ONNX importer tests on small models built here with the ONNX protobuf classes.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <variant>

#include "frontend/frontend.h"
#include "ir/functor.h"
#include "ir/op.h"
#include "kiln/error.h"

namespace kiln::frontend {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Model building helpers
// ---------------------------------------------------------------------------------------------

using DimSpec = std::variant<int64_t, std::string>;

onnx::AttributeProto attr_int(const std::string& name, int64_t value) {
  onnx::AttributeProto attr;
  attr.set_name(name);
  attr.set_type(onnx::AttributeProto::INT);
  attr.set_i(value);
  return attr;
}

onnx::AttributeProto attr_float(const std::string& name, float value) {
  onnx::AttributeProto attr;
  attr.set_name(name);
  attr.set_type(onnx::AttributeProto::FLOAT);
  attr.set_f(value);
  return attr;
}

onnx::AttributeProto attr_ints(const std::string& name, const std::vector<int64_t>& values) {
  onnx::AttributeProto attr;
  attr.set_name(name);
  attr.set_type(onnx::AttributeProto::INTS);
  for (int64_t value : values) attr.add_ints(value);
  return attr;
}

onnx::AttributeProto attr_string(const std::string& name, const std::string& value) {
  onnx::AttributeProto attr;
  attr.set_name(name);
  attr.set_type(onnx::AttributeProto::STRING);
  attr.set_s(value);
  return attr;
}

onnx::TensorProto float_tensor(const std::string& name, const std::vector<int64_t>& dims,
                               const std::vector<float>& values) {
  onnx::TensorProto tensor;
  tensor.set_name(name);
  tensor.set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t dim : dims) tensor.add_dims(dim);
  for (float value : values) tensor.add_float_data(value);
  return tensor;
}

onnx::TensorProto int64_tensor(const std::string& name, const std::vector<int64_t>& dims,
                               const std::vector<int64_t>& values) {
  onnx::TensorProto tensor;
  tensor.set_name(name);
  tensor.set_data_type(onnx::TensorProto::INT64);
  for (int64_t dim : dims) tensor.add_dims(dim);
  for (int64_t value : values) tensor.add_int64_data(value);
  return tensor;
}

onnx::AttributeProto attr_tensor(const std::string& name, const onnx::TensorProto& value) {
  onnx::AttributeProto attr;
  attr.set_name(name);
  attr.set_type(onnx::AttributeProto::TENSOR);
  *attr.mutable_t() = value;
  return attr;
}

std::vector<float> iota_floats(size_t count) {
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i) values[i] = 0.01f * static_cast<float>(i % 97);
  return values;
}

// A ModelProto under construction.
class ModelBuilder {
 public:
  explicit ModelBuilder(int64_t opset = 17) {
    model_.set_ir_version(8);
    model_.set_producer_name("kiln-test");
    auto* import = model_.add_opset_import();
    import->set_domain("");
    import->set_version(opset);
    model_.mutable_graph()->set_name("test");
  }

  ModelBuilder& input(const std::string& name, const std::vector<DimSpec>& dims,
                      int elem_type = onnx::TensorProto::FLOAT) {
    auto* value = graph()->add_input();
    value->set_name(name);
    auto* tensor_type = value->mutable_type()->mutable_tensor_type();
    tensor_type->set_elem_type(elem_type);
    auto* shape = tensor_type->mutable_shape();
    for (const DimSpec& dim : dims) {
      auto* added = shape->add_dim();
      if (std::holds_alternative<int64_t>(dim)) {
        added->set_dim_value(std::get<int64_t>(dim));
      } else {
        added->set_dim_param(std::get<std::string>(dim));
      }
    }
    return *this;
  }

  ModelBuilder& output(const std::string& name) {
    graph()->add_output()->set_name(name);
    return *this;
  }

  ModelBuilder& initializer(const onnx::TensorProto& tensor) {
    *graph()->add_initializer() = tensor;
    return *this;
  }

  ModelBuilder& weight(const std::string& name, const std::vector<int64_t>& dims) {
    size_t count = 1;
    for (int64_t dim : dims) count *= static_cast<size_t>(dim);
    return initializer(float_tensor(name, dims, iota_floats(count)));
  }

  ModelBuilder& node(const std::string& op, const std::vector<std::string>& inputs,
                     const std::vector<std::string>& outputs, const std::string& name = "",
                     const std::vector<onnx::AttributeProto>& attrs = {},
                     const std::string& domain = "") {
    auto* added = graph()->add_node();
    added->set_op_type(op);
    added->set_name(name);
    added->set_domain(domain);
    for (const auto& input : inputs) added->add_input(input);
    for (const auto& output : outputs) added->add_output(output);
    for (const auto& attr : attrs) *added->add_attribute() = attr;
    return *this;
  }

  onnx::GraphProto* graph() { return model_.mutable_graph(); }
  onnx::ModelProto& proto() { return model_; }

 private:
  onnx::ModelProto model_;
};

class OnnxImporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("kiln_onnx_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string save(const onnx::ModelProto& model, const std::string& file = "model.onnx") {
    std::string path = (dir_ / file).string();
    std::ofstream out(path, std::ios::binary);
    model.SerializeToOstream(&out);
    return path;
  }

  ir::Module import(ModelBuilder& builder, const ShapeDict& shape_dict = {}) {
    return import_onnx(save(builder.proto()), shape_dict);
  }

  // The message of the kiln::Error that `action` raises ("" when none).
  static std::string error_of(const std::function<void()>& action) {
    try {
      action();
    } catch (const Error& error) {
      return error.what();
    }
    return "";
  }

  std::string import_error(ModelBuilder& builder, const ShapeDict& shape_dict = {}) {
    std::string path = save(builder.proto());
    return error_of([&] { import_onnx(path, shape_dict); });
  }

  fs::path dir_;
};

std::vector<std::string> op_names(const ir::Module& module) {
  std::vector<std::string> names;
  for (const ir::Expr& node : ir::post_order(module.main()->body)) {
    if (const auto* call = ir::as<ir::CallNode>(node)) names.push_back(call->op.name);
  }
  return names;
}

bool has_op(const ir::Module& module, const std::string& name) {
  auto names = op_names(module);
  return std::find(names.begin(), names.end(), name) != names.end();
}

const ir::TensorType& output_type(const ir::Module& module, size_t i = 0) {
  return module.outputs().at(i)->type().as_tensor();
}

std::string shape_of_output(const ir::Module& module, size_t i = 0) {
  return ir::shape_to_string(output_type(module, i).shape);
}

#define EXPECT_CONTAINS(haystack, needle)                          \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) \
      << "expected to find: " << (needle) << "\n             in: " << (haystack)

// A conv + relu + pool + flatten + gemm classifier.
ModelBuilder small_cnn() {
  ModelBuilder builder(13);
  builder.input("data", {int64_t{1}, int64_t{3}, int64_t{8}, int64_t{8}})
      .weight("conv1.w", {4, 3, 3, 3})
      .weight("conv1.b", {4})
      .weight("fc.w", {10, 4})
      .weight("fc.b", {10})
      .node("Conv", {"data", "conv1.w", "conv1.b"}, {"c1"}, "conv1",
            {attr_ints("pads", {1, 1, 1, 1}), attr_ints("kernel_shape", {3, 3})})
      .node("Relu", {"c1"}, {"r1"}, "relu1")
      .node("GlobalAveragePool", {"r1"}, {"p1"}, "pool")
      .node("Flatten", {"p1"}, {"f1"}, "flatten")
      .node("Gemm", {"f1", "fc.w", "fc.b"}, {"logits"}, "fc", {attr_int("transB", 1)})
      .output("logits");
  return builder;
}

// ---------------------------------------------------------------------------------------------
// Successful imports
// ---------------------------------------------------------------------------------------------

TEST_F(OnnxImporterTest, ConvReluGemm) {
  ModelBuilder builder = small_cnn();
  std::string path = save(builder.proto());
  ir::Module module = import_onnx(path, {});
  ASSERT_EQ(module.inputs().size(), 1u);
  EXPECT_EQ(module.inputs()[0]->name, "data");
  EXPECT_EQ(module.output_names(), std::vector<std::string>{"logits"});
  EXPECT_EQ(output_type(module).to_string(), "float32[1, 10]");
  for (const char* op : {"conv2d", "bias_add", "relu", "global_avg_pool2d", "reshape", "dense"}) {
    EXPECT_TRUE(has_op(module, op)) << op;
  }
  EXPECT_EQ(module.metadata().at("source_format"), "onnx");
  EXPECT_EQ(module.metadata().at("source_path"), path);
  EXPECT_EQ(module.metadata().at("opset"), "13");
  EXPECT_EQ(module.metadata().at("producer"), "kiln-test");
  // Calls carry the ONNX node names; weights keep their initializer names.
  bool found_conv = false;
  for (const ir::Expr& node : ir::post_order(module.main()->body)) {
    if (const auto* call = ir::as<ir::CallNode>(node); call && call->op.name == "conv2d") {
      EXPECT_EQ(call->source_name, "conv1");
      found_conv = true;
    }
  }
  EXPECT_TRUE(found_conv);
  bool found_weight = false;
  for (const auto& constant : module.constants()) found_weight |= constant->name == "conv1.w";
  EXPECT_TRUE(found_weight);
}

TEST_F(OnnxImporterTest, EmptyNodeNamesGetOpTypeAndIndex) {
  ModelBuilder builder;
  builder.input("x", {int64_t{2}}).node("Relu", {"x"}, {"y"}).output("y");
  ir::Module module = import(builder);
  const auto* call = ir::as<ir::CallNode>(module.main()->body);
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->source_name, "Relu_0");
}

// Shape -> Gather -> Unsqueeze -> Concat -> Reshape: folds to constants when shapes are static.
ModelBuilder shape_subgraph(const std::vector<DimSpec>& input_dims) {
  ModelBuilder builder(13);
  builder.input("x", input_dims)
      .initializer(int64_tensor("zero", {}, {0}))
      .initializer(int64_tensor("axes0", {1}, {0}))
      .initializer(int64_tensor("minus_one", {1}, {-1}))
      .node("Shape", {"x"}, {"shape"}, "shape")
      .node("Gather", {"shape", "zero"}, {"batch"}, "gather", {attr_int("axis", 0)})
      .node("Unsqueeze", {"batch", "axes0"}, {"batch1"}, "unsqueeze")
      .node("Concat", {"batch1", "minus_one"}, {"newshape"}, "concat", {attr_int("axis", 0)})
      .node("Reshape", {"x", "newshape"}, {"y"}, "reshape")
      .output("y");
  return builder;
}

TEST_F(OnnxImporterTest, ShapeSubgraphFoldsToConstants) {
  ModelBuilder builder = shape_subgraph({int64_t{2}, int64_t{3}, int64_t{4}});
  ir::Module module = import(builder);
  EXPECT_EQ(op_names(module), std::vector<std::string>{"reshape"});
  EXPECT_EQ(shape_of_output(module), "[2, 12]");
}

TEST_F(OnnxImporterTest, ShapeDictOverridesBatchAndEnablesFolding) {
  ModelBuilder builder = shape_subgraph({std::string("N"), int64_t{3}, int64_t{4}});
  ir::Module module = import(builder, {{"x", {5, 3, 4}}});
  EXPECT_EQ(module.inputs()[0]->tensor_type().to_string(), "float32[5, 3, 4]");
  EXPECT_EQ(op_names(module), std::vector<std::string>{"reshape"});
  EXPECT_EQ(shape_of_output(module), "[5, 12]");
}

TEST_F(OnnxImporterTest, SymbolicShapeFeedingReshapeSuggestsShapeDict) {
  ModelBuilder builder = shape_subgraph({std::string("N"), int64_t{3}, int64_t{4}});
  std::string error = import_error(builder);
  EXPECT_CONTAINS(error, "node 'reshape' (Reshape)");
  EXPECT_CONTAINS(error, "'newshape'");
  EXPECT_CONTAINS(error, "shape_dict");
}

// An attribute-like input computed from a model input names that input: it is the one that
// must become an initializer.
TEST_F(OnnxImporterTest, ComputedConstantInputNamesTheModelInputs) {
  ModelBuilder builder(13);
  builder.input("x", {int64_t{2}, int64_t{3}})
      .input("p", {int64_t{4}}, onnx::TensorProto::INT64)
      .node("Add", {"p", "p"}, {"pads"}, "twice")
      .node("Pad", {"x", "pads"}, {"y"}, "pad")
      .output("y");
  std::string error = import_error(builder);
  EXPECT_CONTAINS(error, "node 'pad' (Pad): input 1 'pads' (pads) must be known");
  EXPECT_CONTAINS(error, "computed from the model's inputs 'p'");
}

TEST_F(OnnxImporterTest, SymbolicDimsAndUnknownDims) {
  ModelBuilder builder;
  builder.input("x", {std::string("batch"), int64_t{4}}).node("Relu", {"x"}, {"y"}).output("y");
  builder.graph()
      ->mutable_input(0)
      ->mutable_type()
      ->mutable_tensor_type()
      ->mutable_shape()
      ->add_dim();
  ir::Module module = import(builder);
  EXPECT_EQ(module.inputs()[0]->tensor_type().to_string(), "float32[batch, 4, ?]");
}

TEST_F(OnnxImporterTest, InitializerInputsAreConstantsUnlessInShapeDict) {
  ModelBuilder builder;
  builder.input("x", {int64_t{2}})
      .input("w", {int64_t{2}})
      .initializer(float_tensor("w", {2}, {1, 2}))
      .node("Add", {"x", "w"}, {"y"})
      .output("y");
  ir::Module as_constant = import(builder);
  EXPECT_EQ(as_constant.inputs().size(), 1u);
  ir::Module as_input = import(builder, {{"w", {2}}});
  ASSERT_EQ(as_input.inputs().size(), 2u);
  EXPECT_EQ(as_input.inputs()[1]->name, "w");
}

TEST_F(OnnxImporterTest, ConstantSubgraphsFold) {
  ModelBuilder builder;
  builder.input("x", {int64_t{2}})
      .node("Constant", {}, {"a"}, "a", {attr_tensor("value", float_tensor("", {2}, {1, 2}))})
      .node("Constant", {}, {"b"}, "b", {attr_float("value_float", 3)})
      .node("Mul", {"a", "b"}, {"ab"}, "ab")
      .node("Add", {"x", "ab"}, {"y"}, "y")
      .output("y");
  ir::Module module = import(builder);
  EXPECT_EQ(op_names(module), std::vector<std::string>{"add"});
  const auto* add = ir::as<ir::CallNode>(module.main()->body);
  ASSERT_NE(add, nullptr);
  const auto* folded = ir::as<ir::ConstantNode>(add->args[1]);
  ASSERT_NE(folded, nullptr);
  EXPECT_EQ(folded->name, "ab");
  EXPECT_FLOAT_EQ(folded->value.data_as<float>()[1], 6.0f);
}

TEST_F(OnnxImporterTest, SeveralOutputsMakeATuple) {
  ModelBuilder builder(18);
  builder.input("x", {int64_t{2}, int64_t{6}})
      .node("Split", {"x"}, {"a", "b", "c"}, "split",
            {attr_int("axis", 1), attr_int("num_outputs", 3)})
      .output("a")
      .output("c");
  ir::Module module = import(builder);
  ASSERT_NE(ir::as<ir::TupleNode>(module.main()->body), nullptr);
  EXPECT_EQ(module.output_names(), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(shape_of_output(module, 1), "[2, 2]");
}

// ---------------------------------------------------------------------------------------------
// Opset differences
// ---------------------------------------------------------------------------------------------

TEST_F(OnnxImporterTest, ClipBoundsAsAttributesAndInputs) {
  ModelBuilder old_clip(7);
  old_clip.input("x", {int64_t{4}})
      .node("Clip", {"x"}, {"y"}, "clip", {attr_float("min", 0), attr_float("max", 6)})
      .output("y");
  ir::Module old_module = import(old_clip);
  const auto* old_call = ir::as<ir::CallNode>(old_module.main()->body);
  ASSERT_NE(old_call, nullptr);
  EXPECT_EQ(old_call->attrs.get_float("max"), 6.0);

  ModelBuilder new_clip(13);
  new_clip.input("x", {int64_t{4}})
      .initializer(float_tensor("lo", {}, {0}))
      .initializer(float_tensor("hi", {}, {6}))
      .node("Clip", {"x", "lo", "hi"}, {"y"}, "clip")
      .output("y");
  ir::Module new_module = import(new_clip);
  const auto* new_call = ir::as<ir::CallNode>(new_module.main()->body);
  ASSERT_NE(new_call, nullptr);
  EXPECT_EQ(new_call->op.name, "clip");
  EXPECT_EQ(new_call->attrs.get_float("min"), 0.0);
  EXPECT_EQ(new_call->attrs.get_float("max"), 6.0);
}

TEST_F(OnnxImporterTest, SqueezeAxesAttributeBefore13InputAfter) {
  ModelBuilder v11(11);
  v11.input("x", {int64_t{1}, int64_t{3}, int64_t{1}})
      .node("Squeeze", {"x"}, {"y"}, "sq", {attr_ints("axes", {0})})
      .output("y");
  EXPECT_EQ(shape_of_output(import(v11)), "[3, 1]");
  ModelBuilder v13(13);
  v13.input("x", {int64_t{1}, int64_t{3}, int64_t{1}})
      .initializer(int64_tensor("axes", {1}, {2}))
      .node("Squeeze", {"x", "axes"}, {"y"}, "sq")
      .output("y");
  EXPECT_EQ(shape_of_output(import(v13)), "[1, 3]");
}

TEST_F(OnnxImporterTest, ReduceMeanAxesAttributeBefore18InputAfter) {
  ModelBuilder v13(13);
  v13.input("x", {int64_t{2}, int64_t{3}})
      .node("ReduceMean", {"x"}, {"y"}, "m", {attr_ints("axes", {1}), attr_int("keepdims", 0)})
      .output("y");
  EXPECT_EQ(shape_of_output(import(v13)), "[2]");
  ModelBuilder v18(18);
  v18.input("x", {int64_t{2}, int64_t{3}})
      .initializer(int64_tensor("axes", {1}, {0}))
      .node("ReduceMean", {"x", "axes"}, {"y"}, "m")
      .output("y");
  EXPECT_EQ(shape_of_output(import(v18)), "[1, 3]");
}

TEST_F(OnnxImporterTest, OldSoftmaxCoercesTo2D) {
  ModelBuilder v11(11);
  v11.input("x", {int64_t{2}, int64_t{3}, int64_t{4}})
      .node("Softmax", {"x"}, {"y"}, "sm")  // axis defaults to 1: rows of 3 * 4
      .output("y");
  ir::Module module = import(v11);
  EXPECT_EQ(op_names(module), (std::vector<std::string>{"reshape", "softmax", "reshape"}));
  EXPECT_EQ(shape_of_output(module), "[2, 3, 4]");
  ModelBuilder v13(13);
  v13.input("x", {int64_t{2}, int64_t{3}, int64_t{4}})
      .node("Softmax", {"x"}, {"y"}, "sm")
      .output("y");
  EXPECT_EQ(op_names(import(v13)), std::vector<std::string>{"softmax"});
}

TEST_F(OnnxImporterTest, OpsetsNewerThan27AreReadWithOpset27Semantics) {
  ModelBuilder builder(28);
  builder.input("x", {int64_t{2}}).node("Relu", {"x"}, {"y"}).output("y");
  EXPECT_EQ(import(builder).metadata().at("opset"), "28");
}

TEST_F(OnnxImporterTest, Opset23AttentionDecomposesOntoMatmulAndSoftmax) {
  ModelBuilder builder(23);
  builder.input("q", {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{8}})
      .input("k", {int64_t{1}, int64_t{1}, int64_t{5}, int64_t{8}})
      .input("v", {int64_t{1}, int64_t{1}, int64_t{5}, int64_t{4}})
      .node("Attention", {"q", "k", "v"}, {"y"}, "attn", {attr_int("is_causal", 1)})
      .output("y");
  ir::Module module = import(builder);
  EXPECT_EQ(shape_of_output(module), "[1, 2, 3, 4]");
  EXPECT_TRUE(has_op(module, "matmul"));
  EXPECT_TRUE(has_op(module, "softmax"));
}

TEST_F(OnnxImporterTest, Conv1DRunsAs2DAndAutoPadResolves) {
  ModelBuilder builder(13);
  builder.input("x", {int64_t{1}, int64_t{2}, int64_t{10}})
      .weight("w", {4, 2, 3})
      .node("Conv", {"x", "w"}, {"y"}, "conv",
            {attr_string("auto_pad", "SAME_UPPER"), attr_ints("strides", {2})})
      .output("y");
  ir::Module module = import(builder);
  EXPECT_EQ(shape_of_output(module), "[1, 4, 5]");
  EXPECT_TRUE(has_op(module, "conv2d"));
}

TEST_F(OnnxImporterTest, ConvTransposeOutputShapeBecomesPadding) {
  ModelBuilder builder(13);
  builder.input("x", {int64_t{1}, int64_t{2}, int64_t{4}, int64_t{4}})
      .weight("w", {2, 3, 3, 3})
      .node("ConvTranspose", {"x", "w"}, {"y"}, "deconv",
            {attr_ints("strides", {2, 2}), attr_ints("output_shape", {8, 8})})
      .output("y");
  EXPECT_EQ(shape_of_output(import(builder)), "[1, 3, 8, 8]");
}

TEST_F(OnnxImporterTest, LstmFillsMissingInputsWithZeros) {
  ModelBuilder builder(14);
  builder.input("x", {int64_t{5}, int64_t{2}, int64_t{3}})
      .weight("W", {1, 16, 3})
      .weight("R", {1, 16, 4})
      .node("LSTM", {"x", "W", "R"}, {"Y", "Y_h"}, "lstm", {attr_int("hidden_size", 4)})
      .output("Y")
      .output("Y_h");
  ir::Module module = import(builder);
  EXPECT_EQ(shape_of_output(module, 0), "[5, 1, 2, 4]");
  EXPECT_EQ(shape_of_output(module, 1), "[1, 2, 4]");
}

TEST_F(OnnxImporterTest, TypedTensorFields) {
  onnx::TensorProto half;
  half.set_name("h");
  half.set_data_type(onnx::TensorProto::FLOAT16);
  half.add_dims(2);
  half.add_int32_data(0x3c00);  // 1.0
  half.add_int32_data(0xc000);  // -2.0
  ModelBuilder builder;
  builder.input("x", {int64_t{2}}, onnx::TensorProto::FLOAT16)
      .initializer(half)
      .node("Add", {"x", "h"}, {"y"})
      .output("y");
  ir::Module module = import(builder);
  ASSERT_EQ(module.constants().size(), 1u);
  const Tensor& value = module.constants()[0]->value;
  EXPECT_EQ(value.dtype(), DType::kFloat16);
  EXPECT_EQ(value.element_as_double(1), -2.0);
}

// ---------------------------------------------------------------------------------------------
// External data
// ---------------------------------------------------------------------------------------------

class OnnxExternalDataTest : public OnnxImporterTest {
 protected:
  // A model adding an external [4] float weight read from `location` at `offset`.
  ModelBuilder external_model(const std::string& location, int64_t offset = 0,
                              int64_t length = -1) {
    onnx::TensorProto weight;
    weight.set_name("w");
    weight.set_data_type(onnx::TensorProto::FLOAT);
    weight.add_dims(4);
    weight.set_data_location(onnx::TensorProto::EXTERNAL);
    auto add_entry = [&](const std::string& key, const std::string& value) {
      auto* entry = weight.add_external_data();
      entry->set_key(key);
      entry->set_value(value);
    };
    add_entry("location", location);
    if (offset) add_entry("offset", std::to_string(offset));
    if (length >= 0) add_entry("length", std::to_string(length));
    ModelBuilder builder;
    builder.input("x", {int64_t{4}}).initializer(weight).node("Add", {"x", "w"}, {"y"}).output("y");
    return builder;
  }

  void write_weights(const std::string& file, const std::vector<float>& values, size_t skip = 0) {
    std::ofstream out(dir_ / file, std::ios::binary);
    std::string padding(skip, 'x');
    out.write(padding.data(), static_cast<std::streamsize>(padding.size()));
    out.write(reinterpret_cast<const char*>(values.data()),
              static_cast<std::streamsize>(values.size() * sizeof(float)));
  }
};

TEST_F(OnnxExternalDataTest, LoadsRelativeToTheModel) {
  write_weights("weights.bin", {1, 2, 3, 4}, 8);
  ModelBuilder builder = external_model("weights.bin", 8, 16);
  ir::Module module = import(builder);
  ASSERT_EQ(module.constants().size(), 1u);
  EXPECT_EQ(module.constants()[0]->value.data_as<float>()[3], 4.0f);
}

TEST_F(OnnxExternalDataTest, LocationOutsideTheDirectoryIsRejected) {
  for (const std::string location : {"../weights.bin", "/etc/passwd", "sub/../../x.bin"}) {
    ModelBuilder builder = external_model(location);
    std::string error = import_error(builder);
    EXPECT_CONTAINS(error, "initializer 'w'");
    EXPECT_CONTAINS(error, "leaves the model's directory");
  }
}

TEST_F(OnnxExternalDataTest, MissingOrShortFilesAreRejected) {
  ModelBuilder missing = external_model("absent.bin");
  std::string error = import_error(missing);
  EXPECT_CONTAINS(error, "initializer 'w'");
  EXPECT_CONTAINS(error, "does not exist");

  write_weights("short.bin", {1, 2});
  ModelBuilder short_file = external_model("short.bin");
  error = import_error(short_file);
  EXPECT_CONTAINS(error, "initializer 'w'");
  EXPECT_CONTAINS(error, "too short");
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

TEST_F(OnnxImporterTest, MissingFile) {
  std::string path = (dir_ / "absent.onnx").string();
  EXPECT_EQ(error_of([&] { import_onnx(path, {}); }), path + ": no such file");
}

TEST_F(OnnxImporterTest, GarbageIsNotAValidModel) {
  std::string path = (dir_ / "garbage.onnx").string();
  std::ofstream(path, std::ios::binary) << "\xff\xff\xff\xff not a protobuf at all";
  EXPECT_EQ(error_of([&] { import_onnx(path, {}); }),
            path +
                " is not a valid ONNX model: the protobuf could not be parsed (truncated or "
                "not an ONNX file?)");
}

TEST_F(OnnxImporterTest, TruncatedModelIsNotValid) {
  ModelBuilder builder = small_cnn();
  std::string bytes = builder.proto().SerializeAsString();
  std::string path = (dir_ / "truncated.onnx").string();
  std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  EXPECT_CONTAINS(error_of([&] { import_onnx(path, {}); }), "is not a valid ONNX model");
}

TEST_F(OnnxImporterTest, EmptyFileDoesNotLookLikeOnnx) {
  std::string path = (dir_ / "empty.onnx").string();
  std::ofstream(path, std::ios::binary).flush();
  EXPECT_CONTAINS(error_of([&] { import_onnx(path, {}); }), "does not look like an ONNX model");
  onnx::ModelProto no_opset;
  no_opset.set_ir_version(8);
  no_opset.mutable_graph();
  EXPECT_CONTAINS(error_of([&] { import_onnx(save(no_opset), {}); }), "no opset_import");
}

TEST_F(OnnxImporterTest, OldOpsetReadsListedOperatorsOnly) {
  ModelBuilder relu(6);
  relu.input("x", {int64_t{2}}).node("Relu", {"x"}, {"y"}).output("y");
  EXPECT_EQ(import(relu).main()->body->type().to_string(), "float32[2]");
  ModelBuilder builder(6);
  builder.input("x", {int64_t{2}})
      .node("Relu", {"x"}, {"r"})
      .node("Upsample", {"r"}, {"y"}, "up")
      .output("y");
  EXPECT_CONTAINS(import_error(builder),
                  "opset 6; reading these operators at opsets older than 7 is not supported yet: "
                  "Upsample (node 'up')");
}

TEST_F(OnnxImporterTest, ConstantInputBecomesConstant) {
  ModelBuilder builder(13);
  builder.input("x", {int64_t{2}, int64_t{6}})
      .input("shape", {int64_t{2}}, onnx::TensorProto::INT64)
      .node("Reshape", {"x", "shape"}, {"y"}, "reshape")
      .output("y");
  std::string path = save(builder.proto());
  EXPECT_CONTAINS(error_of([&] { import_onnx(path, {}); }),
                  "node 'reshape' (Reshape): input 1 'shape' (shape) must be known when the model "
                  "is imported, but it is the model input 'shape' (int64[2]); give its value with "
                  "constant_inputs={'shape': ...}");
  ir::Module module = import_onnx(path, {}, {{"shape", Tensor::from_int64s({3, 4})}});
  ASSERT_EQ(module.inputs().size(), 1u);
  EXPECT_EQ(module.inputs()[0]->name, "x");
  EXPECT_EQ(module.main()->body->type().to_string(), "float32[3, 4]");
  EXPECT_CONTAINS(error_of([&] {
                    import_onnx(path, {}, {{"other", Tensor::from_int64s({1})}});
                  }),
                  "constant_inputs names input 'other', which " + path +
                      " does not have; its inputs are: 'x' [2, 6] float32, 'shape' [2] int64");
  EXPECT_CONTAINS(error_of([&] {
                    import_onnx(path, {}, {{"shape", Tensor::from_int64s({3, 2, 2})}});
                  }),
                  "constant_inputs gives input 'shape' a int64[3] value, but " + path +
                      " declares it as 'shape' [2] int64");
}

TEST_F(OnnxImporterTest, IfInlinesTheTakenBranchWithOuterScope) {
  ModelBuilder builder(13);
  builder.input("x", {int64_t{3}}).input("c", {}, onnx::TensorProto::BOOL);
  auto branch = [](const std::string& op, const std::string& out) {
    onnx::GraphProto graph;
    graph.set_name(op);
    auto* node = graph.add_node();
    node->set_op_type(op);
    node->add_input("x");  // an outer-scope value
    node->add_output(out);
    graph.add_output()->set_name(out);
    return graph;
  };
  onnx::AttributeProto then_branch, else_branch;
  then_branch.set_name("then_branch");
  then_branch.set_type(onnx::AttributeProto::GRAPH);
  *then_branch.mutable_g() = branch("Neg", "t");
  else_branch.set_name("else_branch");
  else_branch.set_type(onnx::AttributeProto::GRAPH);
  *else_branch.mutable_g() = branch("Relu", "e");
  builder.node("If", {"c"}, {"y"}, "if", {then_branch, else_branch}).output("y");
  std::string path = save(builder.proto());
  Tensor yes(DType::kBool, {});
  yes.set_element_from_int64(0, 1);
  ir::Module module = import_onnx(path, {}, {{"c", yes}});
  const auto* call = ir::as<ir::CallNode>(module.main()->body);
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->op.name, "neg");
  EXPECT_CONTAINS(error_of([&] { import_onnx(path, {}); }),
                  "node 'if' (If): input 0 'c' (condition) must be known when the model is "
                  "imported");
}

TEST_F(OnnxImporterTest, UndefinedInputIsNamed) {
  ModelBuilder builder;
  builder.input("x", {int64_t{2}}).node("Add", {"x", "foo"}, {"y"}, "add_3").output("y");
  std::string error = import_error(builder);
  EXPECT_CONTAINS(error,
                  "node 'add_3' (Add) uses 'foo', which no input, initializer or earlier node "
                  "produces");
}

TEST_F(OnnxImporterTest, OutOfOrderAndCyclicReferencesAreRejected) {
  ModelBuilder builder;
  builder.input("x", {int64_t{2}})
      .node("Relu", {"b"}, {"a"}, "first")
      .node("Relu", {"a"}, {"b"}, "second")
      .output("b");
  EXPECT_CONTAINS(import_error(builder), "node 'first' (Relu) uses 'b'");
}

TEST_F(OnnxImporterTest, TypeRelationErrorsNameTheNode) {
  ModelBuilder builder(13);
  builder.input("data", {int64_t{1}, int64_t{3}, int64_t{8}, int64_t{8}})
      .weight("w", {4, 5, 3, 3})
      .node("Conv", {"data", "w"}, {"y"}, "conv1")
      .output("y");
  std::string error = import_error(builder);
  EXPECT_CONTAINS(error, "model.onnx: node 'conv1' (Conv): conv2d: ");
}

TEST_F(OnnxImporterTest, UnsupportedOperatorsAreListedTogether) {
  ModelBuilder builder(13);
  builder.input("x", {int64_t{2}})
      .node("NonMaxSuppression", {"x"}, {"a"}, "nms_1")
      .node("Relu", {"a"}, {"b"}, "fine")
      .node("SequenceEmpty", {}, {"c"}, "seq")
      .node("FusedConv", {"c"}, {"d"}, "c", {}, "com.microsoft")
      .output("d");
  EXPECT_CONTAINS(import_error(builder),
                  "model.onnx: 3 operators are not supported: NonMaxSuppression (node 'nms_1'), "
                  "SequenceEmpty (node 'seq'), com.microsoft.FusedConv (node 'c')");
}

TEST_F(OnnxImporterTest, ShapeDictWithUnknownInputListsTheInputs) {
  ModelBuilder builder = small_cnn();
  std::string error = import_error(builder, {{"x", {1, 3, 8, 8}}});
  EXPECT_CONTAINS(error, "shape_dict names input 'x', which ");
  EXPECT_CONTAINS(error, "model.onnx does not have; its inputs are: 'data' [1, 3, 8, 8] float32");
}

TEST_F(OnnxImporterTest, RawDataSizeMismatchNamesTheTensor) {
  onnx::TensorProto weight;
  weight.set_name("bad");
  weight.set_data_type(onnx::TensorProto::FLOAT);
  weight.add_dims(3);
  weight.set_raw_data(std::string(10, '\0'));
  ModelBuilder builder;
  builder.input("x", {int64_t{3}}).initializer(weight).node("Add", {"x", "bad"}, {"y"}).output("y");
  std::string error = import_error(builder);
  EXPECT_CONTAINS(error, "initializer 'bad'");
  EXPECT_CONTAINS(error, "raw_data has 10 bytes");
}

TEST_F(OnnxImporterTest, MaliciousDimsAreErrors) {
  for (const std::vector<int64_t>& dims :
       {std::vector<int64_t>{-4}, std::vector<int64_t>{int64_t{1} << 40, int64_t{1} << 40}}) {
    onnx::TensorProto weight;
    weight.set_name("huge");
    weight.set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t dim : dims) weight.add_dims(dim);
    weight.set_raw_data(std::string(4, '\0'));
    ModelBuilder builder;
    builder.input("x", {int64_t{1}})
        .initializer(weight)
        .node("Add", {"x", "huge"}, {"y"})
        .output("y");
    EXPECT_CONTAINS(import_error(builder), "initializer 'huge'");
  }
}

TEST_F(OnnxImporterTest, OutOfRangeAttributesAreErrors) {
  ModelBuilder split(18);
  split.input("x", {int64_t{2}, int64_t{6}})
      .node("Split", {"x"}, {"a"}, "split", {attr_int("axis", 99), attr_int("num_outputs", 0)})
      .output("a");
  EXPECT_CONTAINS(import_error(split), "node 'split' (Split)");
  ModelBuilder conv(13);
  conv.input("x", {int64_t{1}, int64_t{1}, int64_t{4}, int64_t{4}})
      .weight("w", {1, 1, 3, 3})
      .node("Conv", {"x", "w"}, {"y"}, "conv", {attr_ints("strides", {0, -1})})
      .output("y");
  EXPECT_CONTAINS(import_error(conv), "node 'conv' (Conv)");
}

TEST_F(OnnxImporterTest, BatchNormStatisticsOutputsNeedTrainingMode) {
  ModelBuilder builder(15);
  builder.input("x", {int64_t{1}, int64_t{2}, int64_t{2}, int64_t{2}});
  for (const char* name : {"s", "b", "m", "v"}) builder.weight(name, {2});
  builder.node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y", "mean"}, "bn")
      .output("y")
      .output("mean");
  EXPECT_CONTAINS(import_error(builder),
                  "node 'bn' (BatchNormalization): the running or saved statistics outputs need "
                  "training_mode=1");
}

TEST_F(OnnxImporterTest, TrainingModeBatchNormOutputsRunningStatistics) {
  ModelBuilder builder(15);
  builder.input("x", {int64_t{4}, int64_t{2}, int64_t{3}});
  for (const char* name : {"s", "b", "m", "v"}) builder.weight(name, {2});
  builder
      .node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y", "mean", "var"}, "bn",
            {attr_int("training_mode", 1)})
      .output("y")
      .output("mean")
      .output("var");
  ir::Module module = import(builder);
  EXPECT_EQ(shape_of_output(module, 0), "[4, 2, 3]");
  EXPECT_EQ(shape_of_output(module, 1), "[2]");
  EXPECT_EQ(shape_of_output(module, 2), "[2]");
  EXPECT_FALSE(has_op(module, "batch_norm"));  // batch statistics, not the running ones
}

// A model may import only ai.onnx.ml or ai.onnx.preview.training; the node's domain picks its
// converter, and an unknown domain is listed as unsupported.
TEST_F(OnnxImporterTest, ModelOfAnotherDomainOnly) {
  ModelBuilder builder;
  builder.proto().mutable_opset_import(0)->set_domain("ai.onnx.ml");
  builder.proto().mutable_opset_import(0)->set_version(1);
  builder.input("x", {int64_t{2}, int64_t{3}})
      .node("Binarizer", {"x"}, {"y"}, "bin", {}, "ai.onnx.ml")
      .output("y");
  ir::Module module = import(builder);
  EXPECT_TRUE(has_op(module, "greater"));
  EXPECT_EQ(module.metadata().at("opset"), "0");

  ModelBuilder plain;  // the default domain's Binarizer does not exist
  plain.input("x", {int64_t{2}}).node("Binarizer", {"x"}, {"y"}, "bin").output("y");
  EXPECT_CONTAINS(import_error(plain), "1 operator is not supported: Binarizer (node 'bin')");

  ModelBuilder mixed;  // default-domain nodes still need the default opset
  mixed.proto().mutable_opset_import(0)->set_domain("ai.onnx.ml");
  mixed.input("x", {int64_t{2}}).node("Relu", {"x"}, {"y"}, "relu").output("y");
  EXPECT_CONTAINS(import_error(mixed), "does not import the default ONNX operator set");
}

TEST_F(OnnxImporterTest, Conv3DImportsAsConv3d) {
  ModelBuilder builder(13);
  builder.input("x", {int64_t{1}, int64_t{1}, int64_t{4}, int64_t{4}, int64_t{4}})
      .weight("w", {1, 1, 3, 3, 3})
      .node("Conv", {"x", "w"}, {"y"}, "conv3d")
      .output("y");
  ir::Module module = import(builder);
  EXPECT_TRUE(has_op(module, "conv3d"));
  EXPECT_EQ(shape_of_output(module), "[1, 1, 2, 2, 2]");
}

TEST_F(OnnxImporterTest, MaxPoolIndicesAreComputedOnlyWhenUsed) {
  ModelBuilder unused(13);
  unused.input("x", {int64_t{1}, int64_t{1}, int64_t{4}, int64_t{4}})
      .node("MaxPool", {"x"}, {"y", "idx"}, "mp", {attr_ints("kernel_shape", {2, 2})})
      .output("y");
  ir::Module without = import(unused);
  EXPECT_EQ(shape_of_output(without), "[1, 1, 3, 3]");
  EXPECT_FALSE(has_op(without, "max_pool2d_indices"));
  ModelBuilder used(13);
  used.input("x", {int64_t{1}, int64_t{1}, int64_t{4}, int64_t{4}})
      .node("MaxPool", {"x"}, {"y", "idx"}, "mp", {attr_ints("kernel_shape", {2, 2})})
      .output("idx");
  ir::Module with = import(used);
  EXPECT_TRUE(has_op(with, "max_pool2d_indices"));
  EXPECT_EQ(output_type(with).to_string(), "int64[1, 1, 3, 3]");
}

TEST_F(OnnxImporterTest, EinsumImportsAndChecksItsEquation) {
  ModelBuilder builder(13);
  builder.input("x", {int64_t{2}, int64_t{3}})
      .input("z", {int64_t{3}, int64_t{5}})
      .node("Einsum", {"x", "z"}, {"y"}, "e", {attr_string("equation", "ij,jk->ik")})
      .output("y");
  ir::Module module = import(builder);
  EXPECT_TRUE(has_op(module, "einsum"));
  EXPECT_EQ(shape_of_output(module), "[2, 5]");

  ModelBuilder bad(13);
  bad.input("x", {int64_t{2}, int64_t{3}})
      .node("Einsum", {"x"}, {"y"}, "e", {attr_string("equation", "ijk->i")})
      .output("y");
  EXPECT_CONTAINS(import_error(bad), "node 'e' (Einsum): einsum: operand 0 has rank 2");
}

TEST_F(OnnxImporterTest, ResizeByScalesKeepsTheScales) {
  ModelBuilder builder(13);
  builder.input("x", {int64_t{1}, int64_t{2}, int64_t{5}, int64_t{5}})
      .node("Resize", {"x", "", "scales"}, {"y"}, "resize", {attr_string("mode", "linear")})
      .output("y");
  builder.initializer(float_tensor("scales", {4}, {1, 1, 1.7f, 0.5f}));
  ir::Module module = import(builder);
  EXPECT_EQ(shape_of_output(module), "[1, 2, 8, 2]");
  const auto* call = ir::as<ir::CallNode>(module.outputs().at(0));
  ASSERT_NE(call, nullptr);
  const std::vector<double>& scales = call->attrs.get_floats("scales");
  ASSERT_EQ(scales.size(), 2u);
  EXPECT_FLOAT_EQ(static_cast<float>(scales[0]), 1.7f);
  EXPECT_EQ(scales[1], 0.5);
}

// Imports the real models listed in KILN_ONNX_MODELS (colon separated; "path=name:dim,dim" is
// not needed: static models only). Skipped when unset.
TEST(OnnxRealModels, ImportListedModels) {
  const char* list = std::getenv("KILN_ONNX_MODELS");
  if (list == nullptr || *list == '\0') GTEST_SKIP() << "KILN_ONNX_MODELS is not set";
  std::string remaining = list;
  while (!remaining.empty()) {
    size_t colon = remaining.find(':');
    std::string path = remaining.substr(0, colon);
    remaining = colon == std::string::npos ? "" : remaining.substr(colon + 1);
    if (path.empty()) continue;
    try {
      ir::Module module = import_onnx(path, {});
      std::cout << "[ imported ] " << path << ": " << op_names(module).size() << " calls, "
                << module.constants().size() << " constants, outputs";
      for (const ir::Expr& output : module.outputs())
        std::cout << " " << output->type().to_string();
      std::cout << "\n";
    } catch (const Error& error) {
      ADD_FAILURE() << error.what();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Hostile files: sizes checked before allocation, names escaped to valid UTF-8
// ---------------------------------------------------------------------------------------------

// Peak resident memory of this process so far, in bytes.
int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

TEST_F(OnnxImporterTest, TinyInitializersWithHugeDimsFailBeforeAllocating) {
  // Each declares far more elements than its few bytes hold: 2^30 floats in 4 bytes of raw_data
  // (4 GiB), 2^40 in the typed fields, 2^30 in an attribute tensor, 2^32 int64 with no data.
  onnx::TensorProto raw;
  raw.set_name("raw_huge");
  raw.set_data_type(onnx::TensorProto::FLOAT);
  raw.add_dims(int64_t{1} << 30);
  raw.set_raw_data(std::string(4, '\0'));
  onnx::TensorProto typed = float_tensor("typed_huge", {int64_t{1} << 40}, {1.0f});
  onnx::TensorProto empty = int64_tensor("empty_huge", {int64_t{1} << 16, int64_t{1} << 16}, {});
  struct Case {
    ModelBuilder builder;
    std::string facts[2];
  };
  std::vector<Case> cases;
  for (const onnx::TensorProto* tensor : {&raw, &typed, &empty}) {
    ModelBuilder builder;
    builder.input("x", {int64_t{1}})
        .initializer(*tensor)
        .node("Add", {"x", tensor->name()}, {"y"})
        .output("y");
    std::string field = tensor == &raw     ? "raw_data has 4 bytes"
                        : tensor == &typed ? "float_data holds 1 values"
                                           : "int64_data holds 0 values";
    cases.push_back({builder, {"initializer '" + tensor->name() + "'", field}});
  }
  ModelBuilder constant;
  constant.node("Constant", {}, {"y"}, "const", {attr_tensor("value", raw)}).output("y");
  cases.push_back(
      {constant, {"node 'const' (Constant): attribute 'value'", "raw_data has 4 bytes"}});

  int64_t before = peak_rss_bytes();
  for (Case& c : cases) {
    std::string error = import_error(c.builder);
    EXPECT_CONTAINS(error, c.facts[0]);
    EXPECT_CONTAINS(error, c.facts[1]);
  }
  // Nothing near the declared sizes was reserved (the smallest case declares 4 GiB).
  EXPECT_LT(peak_rss_bytes() - before, int64_t{256} << 20);
}

TEST_F(OnnxImporterTest, NamesWithInvalidUtf8AreEscaped) {
  // Bytes that are not UTF-8 in every kind of name: they come back as "\xnn" escapes, which is
  // what Python's bytes.decode("utf-8", "backslashreplace") shows.
  ModelBuilder builder;
  builder.input("in\xff", {int64_t{2}})
      .node("Relu", {"in\xff"}, {"out\xfe"}, "relu\xc3")
      .output("out\xfe");
  builder.graph()->set_name("graph\x80");
  ir::Module module = import(builder);
  ASSERT_EQ(module.inputs().size(), 1u);
  EXPECT_EQ(module.inputs()[0]->name, "in\\xff");
  EXPECT_EQ(module.output_names(), std::vector<std::string>{"out\\xfe"});

  ModelBuilder unsupported;
  unsupported.input("x", {int64_t{2}})
      .node("NoSuchOp\xff", {"x"}, {"y"}, "node\xfe", {attr_string("mode", "m\xff")})
      .output("y");
  std::string error = import_error(unsupported);
  EXPECT_CONTAINS(error, "NoSuchOp\\xff");
  EXPECT_CONTAINS(error, "node\\xfe");
}

TEST_F(OnnxImporterTest, ReshapeToAShapeWhoseSizeOverflowsIsAnError) {
  // Found by fuzz_onnx: (2^61 + 1) * 192 wraps to 192 in int64 arithmetic, so this reshape of
  // 192 elements used to be accepted (and was undefined behaviour).
  ModelBuilder builder;
  builder.input("volume", {int64_t{1}, int64_t{3}, int64_t{8}, int64_t{8}})
      .initializer(int64_tensor("target", {2}, {(int64_t{1} << 61) + 1, 192}))
      .node("Reshape", {"volume", "target"}, {"flat"}, "flatten")
      .output("flat");
  EXPECT_CONTAINS(import_error(builder), "describes more than 2^40 elements");
}

TEST_F(OnnxImporterTest, ConstantOfShapeWhoseSizeOverflowsIsAnError) {
  // Found by fuzz_onnx: the element count of the result type overflowed int64.
  ModelBuilder builder;
  builder.initializer(int64_tensor("shape", {2}, {788529154, (int64_t{1} << 61) + 3}))
      .node("ConstantOfShape", {"shape"}, {"y"}, "fill")
      .output("y");
  EXPECT_CONTAINS(import_error(builder), "would hold more than 2^40 elements");
}

}  // namespace
}  // namespace kiln::frontend
