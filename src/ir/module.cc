#include "ir/module.h"

#include <unordered_set>

#include "ir/functor.h"
#include "kiln/error.h"

namespace kiln::ir {

Module::Module(Function main, std::vector<std::string> output_names,
               std::map<std::string, std::string> metadata)
    : main_(std::move(main)),
      output_names_(std::move(output_names)),
      metadata_(std::move(metadata)) {
  KILN_CHECK(main_ != nullptr);
  KILN_CHECK(output_names_.size() == outputs().size())
      << output_names_.size() << " output names for " << outputs().size() << " outputs";
}

std::vector<Expr> Module::outputs() const {
  if (const auto* tuple = as<TupleNode>(main_->body)) return tuple->fields;
  return {main_->body};
}

std::vector<Constant> Module::constants() const {
  std::vector<Constant> found;
  for (const Expr& node : post_order(main_->body)) {
    if (as<ConstantNode>(node)) found.push_back(std::static_pointer_cast<const ConstantNode>(node));
  }
  return found;
}

Module Module::with_main(Function main) const {
  return Module(std::move(main), output_names_, metadata_);
}

}  // namespace kiln::ir
