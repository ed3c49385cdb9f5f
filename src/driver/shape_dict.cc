// Parsing of TVMC's --input-shapes syntax.
#include <cctype>

#include "kiln/kiln.h"

namespace kiln {

namespace {

[[noreturn]] void bad_shapes(const std::string& text, const std::string& why) {
  throw Error("invalid input shapes '" + text + "': " + why +
              " (expected name:[d1,d2,...], several separated by spaces, e.g. "
              "\"data:[1,3,224,224] mask:[1,128]\")");
}

std::string trim(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t\n");
  if (begin == std::string::npos) return "";
  size_t end = text.find_last_not_of(" \t\n");
  return text.substr(begin, end - begin + 1);
}

std::vector<int64_t> parse_dims(const std::string& text, const std::string& whole) {
  std::vector<int64_t> dims;
  std::string body = trim(text);
  if (body.empty()) return dims;  // a scalar
  size_t start = 0;
  while (start <= body.size()) {
    size_t comma = body.find(',', start);
    std::string item =
        trim(body.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (item.empty()) bad_shapes(whole, "empty dimension");
    for (char c : item) {
      if (!std::isdigit(static_cast<unsigned char>(c))) {
        bad_shapes(whole, "dimension '" + item + "' is not a non-negative integer");
      }
    }
    if (item.size() > 12) bad_shapes(whole, "dimension '" + item + "' is too large");
    dims.push_back(std::stoll(item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return dims;
}

}  // namespace

ShapeDict parse_shape_dict(const std::string& text) {
  ShapeDict shapes;
  size_t position = 0;
  while (true) {
    while (position < text.size() && std::isspace(static_cast<unsigned char>(text[position]))) {
      ++position;
    }
    if (position >= text.size()) break;
    size_t open = text.find('[', position);
    if (open == std::string::npos) bad_shapes(text, "missing '['");
    size_t close = text.find(']', open);
    if (close == std::string::npos) bad_shapes(text, "missing ']'");
    std::string head = trim(text.substr(position, open - position));
    if (head.empty() || head.back() != ':') bad_shapes(text, "missing 'name:' before '['");
    std::string name = trim(head.substr(0, head.size() - 1));
    if (name.empty()) bad_shapes(text, "empty input name");
    if (shapes.count(name)) bad_shapes(text, "input '" + name + "' is given twice");
    shapes[name] = parse_dims(text.substr(open + 1, close - open - 1), text);
    position = close + 1;
    if (position < text.size() && text[position] == ',') ++position;
  }
  if (shapes.empty()) bad_shapes(text, "no shapes given");
  return shapes;
}

}  // namespace kiln
