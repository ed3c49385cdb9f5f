#include "ir/serializer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "ir/op.h"
#include "ir/printer.h"
#include "kiln/error.h"

namespace kiln::ir {
namespace {

Module module_with_everything() {
  TensorType input_type;
  input_type.dtype = DType::kFloat32;
  input_type.shape = {Dim::symbol("batch"), 4};
  Var x = VarNode::make("x", input_type);
  Tensor half(DType::kFloat16, {4});
  for (int i = 0; i < 4; ++i) half.set_element_from_double(i, 0.5 * i);
  Constant w = ConstantNode::make(Tensor::from_float32s({1.5f, -2.0f, NAN, INFINITY}, {4}), "w");
  Constant h = ConstantNode::make(half, "h");
  Expr sum = call("add", {x, w}, {}, "add_node");
  Expr clipped = call("clip", {sum}, {{"min", -INFINITY}, {"max", 6.0}});
  Expr parts =
      call("split", {clipped}, {{"axis", int64_t{1}}, {"sections", std::vector<int64_t>{1, 3}}});
  Expr casted = call("cast", {h}, {{"dtype", std::string("float32")}});
  Expr second =
      call("add", {TupleGetItemNode::make(parts, 1), call("strided_slice", {casted},
                                                          {{"begin", std::vector<int64_t>{1}},
                                                           {"end", std::vector<int64_t>{4}},
                                                           {"axes", std::vector<int64_t>{0}},
                                                           {"strides", std::vector<int64_t>{1}}})});
  Expr body = TupleNode::make({TupleGetItemNode::make(parts, 0), second});
  return Module(FunctionNode::make({x}, body), {"first", "second"},
                {{"source_format", "onnx"}, {"producer", "test"}});
}

TEST(SerializerTest, RoundTripKeepsTextAndWeightsExactly) {
  Module original = module_with_everything();
  Module loaded = deserialize_module(serialize_module(original), "memory");
  EXPECT_EQ(print_module(loaded), print_module(original));
  auto a = original.constants();
  auto b = loaded.constants();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(a[i]->value.identical(b[i]->value)) << a[i]->name;
    EXPECT_EQ(a[i]->name, b[i]->name);
  }
  EXPECT_EQ(loaded.metadata(), original.metadata());
  EXPECT_EQ(loaded.output_names(), original.output_names());
}

TEST(SerializerTest, SavesAndLoadsFiles) {
  auto path = std::filesystem::temp_directory_path() / "kiln_serializer_test.kiln";
  Module original = module_with_everything();
  save_module(original, path.string());
  EXPECT_TRUE(is_model_file(path.string()));
  EXPECT_EQ(print_module(load_module(path.string())), print_module(original));
  std::filesystem::remove(path);
}

TEST(SerializerTest, EveryTruncationIsAClearError) {
  std::string bytes = serialize_module(module_with_everything());
  for (size_t size :
       {size_t{0}, size_t{7}, size_t{40}, size_t{64}, bytes.size() / 2, bytes.size() - 1}) {
    try {
      deserialize_module(bytes.substr(0, size), "cut.kiln");
      FAIL() << "truncation to " << size << " bytes was accepted";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("cut.kiln"), std::string::npos) << error.what();
    }
  }
}

TEST(SerializerTest, FlippedBytesAreDetected) {
  std::string bytes = serialize_module(module_with_everything());
  for (size_t position : {size_t{90}, bytes.size() / 2, bytes.size() - 3}) {
    std::string tampered = bytes;
    tampered[position] = static_cast<char>(tampered[position] ^ 0x5a);
    EXPECT_THROW(deserialize_module(tampered, "tampered.kiln"), Error) << position;
  }
}

TEST(SerializerTest, MissingFileIsAClearError) {
  try {
    load_module("/nonexistent/model.kiln");
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("/nonexistent/model.kiln"), std::string::npos);
  }
}

}  // namespace
}  // namespace kiln::ir
