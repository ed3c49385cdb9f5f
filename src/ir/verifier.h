// The verifier checks a module's invariants; passes and frontends run it in tests and after
// loading. Contract: every Var used by main is one of its parameters, parameter names are unique,
// every call's stored type equals what its operator's type relation infers now, tuple accesses are
// in range, and the output names match the outputs. A failure is a bug in whatever built the
// module (an internal error), except for modules read from files, where the caller turns it into
// a user error about the file.
#pragma once

#include <string>
#include <vector>

#include "ir/module.h"

namespace kiln::ir {

// All problems found, one sentence each; empty when the module is well formed.
std::vector<std::string> verify(const Module& module);

// Raises kiln::InternalError listing the problems when verify() finds any.
void verify_or_throw(const Module& module);

}  // namespace kiln::ir
