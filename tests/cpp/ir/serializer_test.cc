#include "ir/serializer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "ir/op.h"
#include "ir/printer.h"
#include "kiln/error.h"
#include "support/sha256.h"

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

// A .kiln file whose JSON header is changed by `edit`, rewritten with consistent sizes and a
// correct SHA-256 (the layout of docs/formats.md), so that the reader's checks of the header
// itself are what is tested.
std::string with_header(const std::string& bytes,
                        const std::function<void(nlohmann::json&)>& edit) {
  constexpr size_t kPreamble = 64;
  auto align = [](size_t value) { return (value + 63) / 64 * 64; };
  uint64_t header_size;
  uint64_t data_size;
  std::memcpy(&header_size, bytes.data() + 16, 8);
  std::memcpy(&data_size, bytes.data() + 24, 8);
  nlohmann::json header = nlohmann::json::parse(bytes.substr(kPreamble, header_size));
  std::string data = bytes.substr(align(kPreamble + header_size), data_size);
  edit(header);
  std::string text = header.dump();
  std::string contents(align(kPreamble + text.size()) - kPreamble, '\0');
  std::memcpy(contents.data(), text.data(), text.size());
  contents += data;
  std::string file = bytes.substr(0, kPreamble);
  uint64_t new_size = text.size();
  std::memcpy(file.data() + 16, &new_size, 8);
  support::Sha256Digest digest = support::sha256(contents.data(), contents.size());
  std::memcpy(file.data() + 32, digest.data(), digest.size());
  return file + contents;
}

std::string load_error(const std::string& bytes) {
  try {
    deserialize_module(bytes, "edited.kiln");
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(SerializerTest, RewrittenHeaderStillLoads) {
  // The helper below must itself produce loadable files, or the other tests prove nothing.
  std::string bytes = serialize_module(module_with_everything());
  Module loaded = deserialize_module(with_header(bytes, [](nlohmann::json&) {}), "same.kiln");
  EXPECT_EQ(print_module(loaded), print_module(module_with_everything()));
}

TEST(SerializerTest, HugeDeclaredShapesFailBeforeAllocating) {
  std::string bytes = serialize_module(module_with_everything());
  // A constant of 2^40 float32 (4 TiB) over the 16 bytes present, and one over 2^40 elements.
  for (const nlohmann::json& shape :
       {nlohmann::json::array({int64_t{1} << 40}),
        nlohmann::json::array({int64_t{1} << 32, 1 << 20}), nlohmann::json::array({-1})}) {
    std::string error = load_error(with_header(
        bytes, [&](nlohmann::json& header) { header["constants"][0]["shape"] = shape; }));
    EXPECT_NE(error.find("edited.kiln is not a valid Kiln model file: constants[0]"),
              std::string::npos)
        << error;
  }
  // Declared offsets and sizes beyond the data section.
  for (const char* key : {"offset", "nbytes"}) {
    std::string error = load_error(with_header(
        bytes, [&](nlohmann::json& header) { header["constants"][0][key] = uint64_t{1} << 62; }));
    EXPECT_NE(error.find("lies outside the data section"), std::string::npos) << error;
  }
}

TEST(SerializerTest, JsonTypeErrorsNameTheField) {
  std::string bytes = serialize_module(module_with_everything());
  struct Case {
    std::function<void(nlohmann::json&)> edit;
    std::string message;
  };
  const Case cases[] = {
      {[](nlohmann::json& h) { h["nodes"][2]["op"] = 5; }, "nodes[2].op must be a string"},
      {[](nlohmann::json& h) { h.erase("inputs"); }, "the header has no field 'inputs'"},
      {[](nlohmann::json& h) { h["inputs"] = "x"; }, "inputs must be a list"},
      {[](nlohmann::json& h) { h["inputs"][0]["shape"][1] = 2.5; },
       "inputs[0].shape[1] must be an integer"},
      {[](nlohmann::json& h) { h["constants"][0]["offset"] = -64; },
       "constants[0].offset is negative"},
      {[](nlohmann::json& h) { h["constants"][0]["dtype"] = "float7"; },
       "constants[0].dtype names an unknown dtype 'float7'"},
      {[](nlohmann::json& h) { h["nodes"][0] = nullptr; }, "nodes[0] must be an object"},
      {[](nlohmann::json& h) { h["body"] = "last"; }, "body must be an integer"},
      {[](nlohmann::json& h) { h["body"] = 1000; }, "body refers to node 1000"},
      {[](nlohmann::json& h) { h["metadata"]["producer"] = 1; },
       "metadata.producer must be a string"},
      {[](nlohmann::json& h) {
         h["output_names"] = {1, 2};
       },
       "output_names[0] must be a string"},
  };
  for (const Case& c : cases) {
    std::string error = load_error(with_header(bytes, c.edit));
    EXPECT_NE(error.find("edited.kiln is not a valid Kiln model file: " + c.message),
              std::string::npos)
        << error;
  }
}

TEST(SerializerTest, DevicesAreNotRead) {
  try {
    load_module("/dev/zero");
    FAIL() << "/dev/zero was read";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("not a regular file"), std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace kiln::ir
