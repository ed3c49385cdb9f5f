#include "ir/verifier.h"

#include <set>
#include <unordered_set>

#include "ir/functor.h"
#include "ir/op.h"
#include "kiln/error.h"

namespace kiln::ir {

namespace {

void check_call(const CallNode& call_node, std::vector<std::string>& problems) {
  std::vector<Type> arg_types;
  for (const Expr& arg : call_node.args) arg_types.push_back(arg->type());
  try {
    Type inferred = call_node.op.infer_type(arg_types, call_node.attrs);
    if (inferred != call_node.type()) {
      problems.push_back("call to " + call_node.op.name + " has type " +
                         call_node.type().to_string() + " but its relation infers " +
                         inferred.to_string());
    }
  } catch (const Error& error) {
    problems.push_back("call to " + call_node.op.name + " no longer type-checks: " + error.what());
  }
}

}  // namespace

std::vector<std::string> verify(const Module& module) {
  std::vector<std::string> problems;
  const Function& main = module.main();
  if (!main) return {"module has no main function"};
  std::unordered_set<const ExprNode*> params;
  std::set<std::string> param_names;
  for (const Var& param : main->params) {
    params.insert(param.get());
    if (!param_names.insert(param->name).second) {
      problems.push_back("parameter name '" + param->name + "' is used twice");
    }
  }
  for (const Expr& node : post_order(main->body)) {
    switch (node->kind()) {
      case ExprKind::kVar:
        if (!params.count(node.get())) {
          problems.push_back("variable '" + as<VarNode>(node)->name +
                             "' is not a parameter of main");
        }
        break;
      case ExprKind::kCall:
        check_call(*as<CallNode>(node), problems);
        break;
      case ExprKind::kFunction:
        problems.push_back("nested functions are not supported");
        break;
      default:
        break;
    }
  }
  if (module.output_names().size() != module.outputs().size()) {
    problems.push_back(std::to_string(module.output_names().size()) + " output names for " +
                       std::to_string(module.outputs().size()) + " outputs");
  }
  for (const Expr& output : module.outputs()) {
    if (!output->type().is_tensor()) {
      problems.push_back("an output is a tuple (" + output->type().to_string() + ")");
    }
  }
  return problems;
}

void verify_or_throw(const Module& module) {
  std::vector<std::string> problems = verify(module);
  if (problems.empty()) return;
  std::string text;
  for (const std::string& problem : problems) text += "\n  " + problem;
  KILN_CHECK(false) << "module is malformed:" << text;
}

}  // namespace kiln::ir
