#include "ir/attrs.h"

#include <cmath>
#include <cstdio>

#include "kiln/error.h"

namespace kiln::ir {

AttrKind attr_kind(const AttrValue& value) { return static_cast<AttrKind>(value.index()); }

std::string_view attr_kind_name(AttrKind kind) {
  switch (kind) {
    case AttrKind::kInt:
      return "int";
    case AttrKind::kFloat:
      return "float";
    case AttrKind::kString:
      return "string";
    case AttrKind::kInts:
      return "ints";
    case AttrKind::kFloats:
      return "floats";
    case AttrKind::kStrings:
      return "strings";
  }
  return "?";
}

namespace {

std::string float_to_string(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // Shortest text that reads back to the same double.
  char buffer[32];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  std::string text = buffer;
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  return text;
}

std::string quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

template <typename T, typename F>
std::string list_to_string(const std::vector<T>& items, F format) {
  std::string text = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) text += ", ";
    text += format(items[i]);
  }
  return text + "]";
}

}  // namespace

std::string attr_value_to_string(const AttrValue& value) {
  switch (attr_kind(value)) {
    case AttrKind::kInt:
      return std::to_string(std::get<int64_t>(value));
    case AttrKind::kFloat:
      return float_to_string(std::get<double>(value));
    case AttrKind::kString:
      return quote(std::get<std::string>(value));
    case AttrKind::kInts:
      return list_to_string(std::get<std::vector<int64_t>>(value),
                            [](int64_t v) { return std::to_string(v); });
    case AttrKind::kFloats:
      return list_to_string(std::get<std::vector<double>>(value), float_to_string);
    case AttrKind::kStrings:
      return list_to_string(std::get<std::vector<std::string>>(value), quote);
  }
  return "?";
}

const AttrValue& Attrs::get(const std::string& name) const {
  auto it = values_.find(name);
  KILN_CHECK(it != values_.end()) << "attribute '" << name << "' is not set";
  return it->second;
}

namespace {
template <typename T>
const T& get_as(const Attrs& attrs, const std::string& name) {
  const AttrValue& value = attrs.get(name);
  const T* typed = std::get_if<T>(&value);
  KILN_CHECK(typed != nullptr) << "attribute '" << name << "' has kind "
                               << attr_kind_name(attr_kind(value));
  return *typed;
}
}  // namespace

int64_t Attrs::get_int(const std::string& name) const { return get_as<int64_t>(*this, name); }
double Attrs::get_float(const std::string& name) const { return get_as<double>(*this, name); }
const std::string& Attrs::get_string(const std::string& name) const {
  return get_as<std::string>(*this, name);
}
const std::vector<int64_t>& Attrs::get_ints(const std::string& name) const {
  return get_as<std::vector<int64_t>>(*this, name);
}
const std::vector<double>& Attrs::get_floats(const std::string& name) const {
  return get_as<std::vector<double>>(*this, name);
}
const std::vector<std::string>& Attrs::get_strings(const std::string& name) const {
  return get_as<std::vector<std::string>>(*this, name);
}

}  // namespace kiln::ir
