#include "transform/convert_layout.h"

#include "transform_test_util.h"

namespace kiln::transform {
namespace {

ir::Module small_cnn() {
  ir::Var x = test::f32_var("x", {1, 2, 4, 4});
  ir::Expr y = ir::call("conv2d", {x, test::random_constant("w", {3, 2, 1, 1}, 1)});
  y = ir::call("max_pool2d", {y}, {{"pool_size", std::vector<int64_t>{2, 2}}});
  return test::make_module({x}, y);
}

TEST(TransformConvertLayout, NchwIsTheImportersLayout) {
  ir::Module module = small_cnn();
  EXPECT_EQ(convert_layout(module, "NCHW").main(), module.main());
  EXPECT_EQ(convert_layout(module, "").main(), module.main());
}

TEST(TransformConvertLayout, NhwcIsRejectedClearly) {
  try {
    convert_layout(small_cnn(), "NHWC");
    FAIL() << "NHWC was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("\"NHWC\" is not supported yet"), std::string::npos)
        << error.what();
  }
  try {
    convert_layout(small_cnn(), "NCWH");
    FAIL() << "NCWH was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("choose \"NCHW\" or \"NHWC\""), std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace kiln::transform
