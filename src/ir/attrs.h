// Operator attributes: a small ordered map from name to a typed value. Attribute values are
// plain data so that they print, serialize and compare without per-operator code.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace kiln::ir {

enum class AttrKind : uint8_t { kInt, kFloat, kString, kInts, kFloats, kStrings };

using AttrValue = std::variant<int64_t, double, std::string, std::vector<int64_t>,
                               std::vector<double>, std::vector<std::string>>;

AttrKind attr_kind(const AttrValue& value);
std::string_view attr_kind_name(AttrKind kind);
// "3", "1.5", "\"same\"", "[1, 2]" — the text the printer shows.
std::string attr_value_to_string(const AttrValue& value);

class Attrs {
 public:
  Attrs() = default;
  Attrs(std::initializer_list<std::pair<const std::string, AttrValue>> values) : values_(values) {}

  bool has(const std::string& name) const { return values_.count(name) != 0; }
  void set(const std::string& name, AttrValue value) { values_[name] = std::move(value); }

  // Typed getters; an absent attribute or one of another kind is an internal error, since
  // Call::make fills defaults and checks kinds against the operator's declaration.
  int64_t get_int(const std::string& name) const;
  double get_float(const std::string& name) const;
  const std::string& get_string(const std::string& name) const;
  const std::vector<int64_t>& get_ints(const std::string& name) const;
  const std::vector<double>& get_floats(const std::string& name) const;
  const std::vector<std::string>& get_strings(const std::string& name) const;
  const AttrValue& get(const std::string& name) const;

  const std::map<std::string, AttrValue>& values() const { return values_; }
  bool operator==(const Attrs& other) const { return values_ == other.values_; }
  bool operator!=(const Attrs& other) const { return !(*this == other); }

 private:
  std::map<std::string, AttrValue> values_;
};

}  // namespace kiln::ir
