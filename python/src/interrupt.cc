#include "interrupt.h"

#include <Python.h>
#include <pythread.h>
#include <signal.h>

#include <mutex>

#include "kiln/runtime.h"

namespace nb = nanobind;

namespace kiln::python {

namespace {

unsigned long g_main_thread = 0;
std::mutex g_mutex;           // guards the three below
int g_depth = 0;              // InterruptibleCalls alive on the main thread (nested calls)
bool g_installed = false;     // our handler replaced Python's
struct sigaction g_saved {};  // Python's handler, restored when the outermost call ends

void on_sigint(int) { kiln::request_interrupt(); }

}  // namespace

InterruptibleCall::InterruptibleCall() {
  on_main_thread_ = g_main_thread != 0 && PyThread_get_thread_ident() == g_main_thread;
  if (on_main_thread_) {
    std::lock_guard lock(g_mutex);
    if (g_depth++ == 0) {
      kiln::clear_interrupt();
      sigaction(SIGINT, nullptr, &g_saved);
      // SIG_IGN or SIG_DFL: the user chose what Ctrl-C does; keep it. Otherwise it is Python's
      // handler, which cannot run until we return: ours stands in for it meanwhile.
      bool has_function = (g_saved.sa_flags & SA_SIGINFO) != 0 ||
                          (g_saved.sa_handler != SIG_IGN && g_saved.sa_handler != SIG_DFL);
      g_installed = false;
      if (has_function) {
        struct sigaction action {};
        action.sa_handler = on_sigint;
        sigemptyset(&action.sa_mask);
        g_installed = sigaction(SIGINT, &action, nullptr) == 0;
      }
    }
  }
  thread_state_ = PyEval_SaveThread();
}

bool InterruptibleCall::end() {
  finished_ = true;
  PyEval_RestoreThread(thread_state_);
  if (!on_main_thread_) return false;
  std::lock_guard lock(g_mutex);
  bool interrupted = false;
  if (--g_depth == 0) {
    if (g_installed) sigaction(SIGINT, &g_saved, nullptr);
    g_installed = false;
    interrupted = kiln::interrupt_requested();
    kiln::clear_interrupt();
  }
  return interrupted;
}

void InterruptibleCall::finish() {
  if (finished_) return;
  if (end()) throw kiln::Interrupted();
}

InterruptibleCall::~InterruptibleCall() {
  if (!finished_) (void)end();
}

void register_interrupts() {
  g_main_thread = nb::cast<unsigned long>(
      nb::module_::import_("threading").attr("main_thread")().attr("ident"));
  nb::register_exception_translator([](const std::exception_ptr& error, void*) {
    try {
      std::rethrow_exception(error);
    } catch (const kiln::Interrupted&) {
      PyErr_SetNone(PyExc_KeyboardInterrupt);
    }
  });
}

}  // namespace kiln::python
