// escape_invalid_utf8: valid UTF-8 is kept, every other byte becomes "\xnn". The expected
// strings are what Python's bytes.decode("utf-8", "backslashreplace") gives for the same bytes
// (the reference behaviour the Python binding shows), and the validity cases follow RFC 3629.
#include "support/utf8.h"

#include <gtest/gtest.h>

namespace kiln::support {
namespace {

TEST(Utf8Test, ValidTextIsUnchanged) {
  for (const std::string text : {"", "conv1.weight", "caf\xc3\xa9", "\xe2\x82\xac 12",
                                 "\xf0\x9f\x98\x80", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"}) {
    EXPECT_TRUE(is_valid_utf8(text)) << text;
    EXPECT_EQ(escape_invalid_utf8(text), text);
  }
  EXPECT_EQ(escape_invalid_utf8(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(Utf8Test, InvalidBytesAreEscapedOneByOne) {
  // Pairs of (bytes, b.decode("utf-8", "backslashreplace")).
  const std::pair<std::string, std::string> cases[] = {
      {"\xff", "\\xff"},
      {"name\xfe\xff", "name\\xfe\\xff"},
      {"\x80x", "\\x80x"},                           // a continuation byte without a lead
      {"\xc3", "\\xc3"},                             // a truncated 2-byte sequence
      {"\xe2\x82", "\\xe2\\x82"},                    // a truncated 3-byte sequence
      {"\xc0\xaf", "\\xc0\\xaf"},                    // an overlong "/"
      {"\xe0\x80\xaf", "\\xe0\\x80\\xaf"},           // an overlong 3-byte form
      {"\xed\xa0\x80", "\\xed\\xa0\\x80"},           // a UTF-16 surrogate
      {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},  // above U+10FFFF
      {"\xf5\x80", "\\xf5\\x80"},
      {"ok\xc3\xa9\xff\xc3\xa9", "ok\xc3\xa9\\xff\xc3\xa9"},  // valid text around stays
  };
  for (const auto& [bytes, expected] : cases) {
    EXPECT_FALSE(is_valid_utf8(bytes)) << expected;
    EXPECT_EQ(escape_invalid_utf8(bytes), expected);
    EXPECT_TRUE(is_valid_utf8(escape_invalid_utf8(bytes)));
  }
}

}  // namespace
}  // namespace kiln::support
