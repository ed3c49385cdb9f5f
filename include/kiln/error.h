// Kiln's two kinds of errors.
//
// kiln::Error is a *user* error: a bad file, an unsupported operator, a wrong shape, a missing
// input. Its message names the file/node/op and says what to do. It becomes kiln.Error in Python
// and a one-line message with a non-zero exit code on the command line.
//
// KILN_CHECK guards an internal invariant: when it fails, Kiln has a bug. It throws
// kiln::InternalError, whose message says so and where.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace kiln {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A user error caused by an optional tool or library that is not installed (a cross compiler,
// an emulator). Its message ends with how to install it; the CLI exits with code 5.
class MissingDependency : public Error {
 public:
  MissingDependency(const std::string& message, const std::string& install_hint)
      : Error(message + " (install it: " + install_hint + ")"), install_hint_(install_hint) {}
  const std::string& install_hint() const { return install_hint_; }

 private:
  std::string install_hint_;
};

class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& message) : std::logic_error(message) {}
};

namespace detail {
// Collects the streamed context of a failed KILN_CHECK and throws when the statement ends.
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition)
      : file_(file), line_(line), condition_(condition) {}
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;
  [[noreturn]] ~CheckFailure() noexcept(false);
  std::ostream& stream() { return stream_; }

 private:
  const char* file_;
  int line_;
  const char* condition_;
  std::ostringstream stream_;
};
}  // namespace detail

}  // namespace kiln

// KILN_CHECK(cond) << "context";  — internal invariant; the streamed text is optional.
#define KILN_CHECK(condition) \
  if (condition) {            \
  } else                      \
    ::kiln::detail::CheckFailure(__FILE__, __LINE__, #condition).stream()
