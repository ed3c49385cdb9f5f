#include "ir/op.h"

#include <memory>
#include <mutex>

#include "kiln/error.h"

namespace kiln::ir {

std::string_view op_pattern_name(OpPattern pattern) {
  switch (pattern) {
    case OpPattern::kElemwise:
      return "elemwise";
    case OpPattern::kBroadcast:
      return "broadcast";
    case OpPattern::kInjective:
      return "injective";
    case OpPattern::kReduction:
      return "reduction";
    case OpPattern::kOutEWiseFusable:
      return "out_elemwise_fusable";
    case OpPattern::kOpaque:
      return "opaque";
  }
  return "?";
}

const AttrDef* OpDef::find_attr(std::string_view attr_name) const {
  for (const AttrDef& attr : attrs) {
    if (attr.name == attr_name) return &attr;
  }
  return nullptr;
}

OpRegistry& OpRegistry::global() {
  static OpRegistry* registry = [] {
    auto* created = new OpRegistry();
    register_all_ops(*created);
    return created;
  }();
  return *registry;
}

void OpRegistry::add(OpDef def) {
  KILN_CHECK(find(def.name) == nullptr) << "operator '" << def.name << "' registered twice";
  KILN_CHECK(static_cast<bool>(def.infer_type))
      << "operator '" << def.name << "' has no type relation";
  std::string name = def.name;
  ops_.emplace(std::move(name), std::make_unique<OpDef>(std::move(def)));
}

const OpDef* OpRegistry::find(std::string_view name) const {
  auto it = ops_.find(name);
  return it == ops_.end() ? nullptr : it->second.get();
}

const OpDef& OpRegistry::get(std::string_view name) const {
  const OpDef* def = find(name);
  if (def == nullptr) throw Error("unknown operator '" + std::string(name) + "'");
  return *def;
}

std::vector<const OpDef*> OpRegistry::all() const {
  std::vector<const OpDef*> defs;
  for (const auto& [name, def] : ops_) defs.push_back(def.get());
  return defs;
}

const OpDef& op(std::string_view name) { return OpRegistry::global().get(name); }

}  // namespace kiln::ir
