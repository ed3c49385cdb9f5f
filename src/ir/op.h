// The operator registry. Each operator declares, in one place (src/op/<family>.cc): its name,
// arity, attributes with kinds and defaults, its type relation (shape and dtype inference), and
// optionally a reference evaluator (used to fold constants) and a cost (multiply-accumulates).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/attrs.h"
#include "ir/type.h"
#include "kiln/tensor.h"

namespace kiln::ir {

struct AttrDef {
  std::string name;
  AttrKind kind;
  std::optional<AttrValue> default_value;  // nullopt: the attribute is required
  std::string doc;
};

// How an operator combines with its neighbours; the fusion pass reads this.
enum class OpPattern : uint8_t {
  kElemwise,         // out[i] = f(in[i])
  kBroadcast,        // elementwise with numpy broadcasting
  kInjective,        // each output element reads one input element (reshape, transpose, ...)
  kReduction,        // reduces axes
  kOutEWiseFusable,  // conv2d, dense: elementwise ops may follow in the same kernel
  kOpaque,           // anything else
};

std::string_view op_pattern_name(OpPattern pattern);

// Infers the result type from argument types and attributes. Raises kiln::Error with a message
// that names the operator and the problem ("conv2d: weight has 3 input channels, data has 4").
using TypeRelation = std::function<Type(const std::vector<Type>& args, const Attrs& attrs)>;
// Computes the result from constant arguments (reference semantics, not fast).
using Evaluator = std::function<Tensor(const std::vector<Tensor>& args, const Attrs& attrs,
                                       const TensorType& result)>;
// Multiply-accumulate count for statically shaped arguments (0 where it is not a MAC op).
using MacCounter =
    std::function<int64_t(const std::vector<Type>& args, const Attrs& attrs, const Type& result)>;

struct OpDef {
  std::string name;     // "conv2d", "add", ...
  std::string family;   // "nn", "elemwise", "transform", ... (docs/ops.md groups by it)
  std::string summary;  // one line for docs/ops.md
  int min_args = 1;
  int max_args = 1;  // -1: variadic
  std::vector<AttrDef> attrs;
  OpPattern pattern = OpPattern::kOpaque;
  TypeRelation infer_type;
  Evaluator evaluate;  // optional
  MacCounter macs;     // optional

  const AttrDef* find_attr(std::string_view attr_name) const;
};

// The registry is filled once, on first use, by register_all_ops() (src/op/all_ops.cc).
class OpRegistry {
 public:
  static OpRegistry& global();
  void add(OpDef def);
  // nullptr when unknown.
  const OpDef* find(std::string_view name) const;
  // kiln::Error naming the operator when unknown.
  const OpDef& get(std::string_view name) const;
  std::vector<const OpDef*> all() const;

 private:
  std::map<std::string, std::unique_ptr<OpDef>, std::less<>> ops_;
};

// Shorthand for OpRegistry::global().get(name).
const OpDef& op(std::string_view name);

// Defined in src/op/all_ops.cc: calls each family's registration function.
void register_all_ops(OpRegistry& registry);

}  // namespace kiln::ir
