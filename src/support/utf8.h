// Text that came from a file (names of nodes, values, initializers, archive members, attribute
// strings) as valid UTF-8. Python, JSON and terminals all need valid UTF-8, and a file may hold
// any bytes, so every such string is escaped once, where it enters Kiln.
#pragma once

#include <string>
#include <string_view>

namespace kiln::support {

// True when `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, at most
// U+10FFFF).
bool is_valid_utf8(std::string_view text);

// `text` unchanged when it is valid UTF-8; otherwise every byte that is not part of a
// well-formed sequence is replaced by the visible escape "\xnn" (two lower-case hex digits),
// as Python's errors="backslashreplace" shows it.
std::string escape_invalid_utf8(std::string_view text);

}  // namespace kiln::support
