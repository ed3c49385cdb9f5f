// The process-wide cancellation flag behind kiln::request_interrupt (include/kiln/runtime.h).
#include <atomic>

#include "kiln/runtime.h"

namespace kiln {

namespace {
// Lock-free, so that a signal handler may set it.
std::atomic<bool> g_interrupt_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);
}  // namespace

void request_interrupt() noexcept { g_interrupt_requested.store(true, std::memory_order_relaxed); }

bool interrupt_requested() noexcept {
  return g_interrupt_requested.load(std::memory_order_relaxed);
}

void clear_interrupt() noexcept { g_interrupt_requested.store(false, std::memory_order_relaxed); }

void check_interrupt() {
  if (interrupt_requested()) throw Interrupted();
}

}  // namespace kiln
