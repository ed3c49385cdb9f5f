// Ctrl-C during a long native call (run, compile, load): the call releases the GIL, so Python's
// own SIGINT handler cannot run until it returns. While an InterruptibleCall is alive on the main
// thread, SIGINT sets Kiln's cancellation flag instead (kiln::request_interrupt); the call stops
// between two kernels or passes with kiln::Interrupted, which the module raises as
// KeyboardInterrupt. The flag is process-wide: a Ctrl-C stops every session running then.
#pragma once

#include <nanobind/nanobind.h>

#include <type_traits>

namespace kiln::python {

class InterruptibleCall {
 public:
  // With the GIL held: installs the SIGINT handler (main thread only) and releases the GIL.
  InterruptibleCall();
  // Reacquires the GIL and restores Python's handler; throws kiln::Interrupted when a SIGINT
  // arrived during the call (also one that arrived as the call was finishing).
  void finish();
  ~InterruptibleCall();  // finish() without throwing, when an exception left the call
  InterruptibleCall(const InterruptibleCall&) = delete;
  InterruptibleCall& operator=(const InterruptibleCall&) = delete;

 private:
  bool end();  // true when interrupted

  bool on_main_thread_ = false;
  bool finished_ = false;
  PyThreadState* thread_state_ = nullptr;
};

// Remembers the main thread and registers the Interrupted -> KeyboardInterrupt translation.
void register_interrupts();

// Runs `body` (which must not touch Python objects) without the GIL, interruptible by Ctrl-C.
template <typename Body>
auto interruptible(Body&& body) {
  InterruptibleCall call;
  if constexpr (std::is_void_v<decltype(body())>) {
    body();
    call.finish();
  } else {
    auto result = body();
    call.finish();
    return result;
  }
}

}  // namespace kiln::python
