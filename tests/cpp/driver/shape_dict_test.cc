#include <gtest/gtest.h>

#include "kiln/kiln.h"

namespace kiln {
namespace {

TEST(ShapeDictTest, ParsesTvmcSyntax) {
  ShapeDict shapes = parse_shape_dict("data:[1,3,224,224] mask:[1, 128]");
  ASSERT_EQ(shapes.size(), 2u);
  EXPECT_EQ(shapes["data"], (std::vector<int64_t>{1, 3, 224, 224}));
  EXPECT_EQ(shapes["mask"], (std::vector<int64_t>{1, 128}));
}

TEST(ShapeDictTest, NamesMayContainColonsAndScalarsAreEmpty) {
  ShapeDict shapes = parse_shape_dict("input:0:[2,2],scale:[]");
  EXPECT_EQ(shapes["input:0"], (std::vector<int64_t>{2, 2}));
  EXPECT_TRUE(shapes["scale"].empty());
}

TEST(ShapeDictTest, RejectsMalformedText) {
  for (const char* text : {"", "data", "data:[1,3", "[1,2]", "data:[1,-3]", "data:[1,,2]",
                           "data:[a]", "x:[1] x:[2]", "data:[99999999999999999]"}) {
    EXPECT_THROW(parse_shape_dict(text), Error) << text;
  }
}

}  // namespace
}  // namespace kiln
