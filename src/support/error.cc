#include "kiln/error.h"

namespace kiln::detail {

CheckFailure::~CheckFailure() noexcept(false) {
  const char* file = file_;
  int line = line_;
  const char* condition = condition_;
  std::string message = stream_.str();
  std::ostringstream text;
  text << "internal error (a bug in Kiln, please report it): check '" << condition << "' failed at "
       << file << ":" << line;
  if (!message.empty()) text << ": " << message;
  throw InternalError(text.str());
}

}  // namespace kiln::detail
