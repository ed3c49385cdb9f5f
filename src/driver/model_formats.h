// Which known model formats load today (help texts list only those).
#pragma once

#include <string>

namespace kiln {

// Whether a known format's frontend is written, so that a file of it loads; false for the formats
// that are only known by name ("not supported yet") and for unknown names.
bool model_format_supported(const std::string& name);

}  // namespace kiln
