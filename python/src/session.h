// kiln.Session's native class (python/src/session.cc).
#pragma once

#include <nanobind/nanobind.h>

#include <memory>

#include "kiln/runtime.h"

namespace kiln::python {

void bind_session(nanobind::module_& m);
// The kiln::Session inside a _kiln.Session object (kiln::Error when it is none).
Session& native_session(nanobind::handle handle);
// Marks the session busy until the result is released (kiln::Error when another thread uses it).
std::shared_ptr<void> use_session(nanobind::handle handle);

}  // namespace kiln::python
