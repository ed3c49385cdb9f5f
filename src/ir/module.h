// A Module is what a frontend produces and what the compiler consumes: one function `main`
// whose parameters are the model inputs and whose body (a tensor, or a tuple of tensors) holds
// the model outputs, the names of those outputs, and free-form metadata (source file, format).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/expr.h"

namespace kiln::ir {

class Module {
 public:
  Module() = default;
  Module(Function main, std::vector<std::string> output_names,
         std::map<std::string, std::string> metadata = {});

  const Function& main() const { return main_; }
  const std::vector<Var>& inputs() const { return main_->params; }
  // The output expressions: the fields of a tuple body, or the body itself.
  std::vector<Expr> outputs() const;
  const std::vector<std::string>& output_names() const { return output_names_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Constants reachable from main, in first-use (post) order, each once.
  std::vector<Constant> constants() const;

  // A module with the same metadata and output names and a new main function.
  Module with_main(Function main) const;

 private:
  Function main_;
  std::vector<std::string> output_names_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace kiln::ir
