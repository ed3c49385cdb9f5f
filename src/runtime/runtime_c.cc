// The C ABI of include/kiln/runtime_c.h over kiln::Session: exceptions become status codes and a
// per-thread message.
#include "kiln/runtime_c.h"

#include <exception>
#include <new>
#include <string>
#include <vector>

#include "kiln/error.h"
#include "kiln/runtime.h"

struct KilnSession {
  explicit KilnSession(kiln::Session opened) : session(std::move(opened)) {
    for (const kiln::TensorSpec& spec : session.inputs())
      input_dtypes.emplace_back(kiln::dtype_name(spec.dtype));
    for (const kiln::TensorSpec& spec : session.outputs())
      output_dtypes.emplace_back(kiln::dtype_name(spec.dtype));
  }
  kiln::Session session;
  // dtype names as C strings, for KilnTensorInfo.
  std::vector<std::string> input_dtypes, output_dtypes;
};

namespace {

thread_local std::string t_last_error;

KilnStatus fail(KilnStatus status, std::string message) {
  t_last_error = std::move(message);
  return status;
}

// Runs `body`, turning every exception into a status and the thread's error message.
template <typename Body>
KilnStatus guarded(Body&& body) noexcept {
  try {
    body();
    return KILN_OK;
  } catch (const kiln::Interrupted&) {
    return fail(KILN_INTERRUPTED, "interrupted (kiln_request_interrupt)");
  } catch (const kiln::Error& error) {
    return fail(KILN_ERROR, error.what());
  } catch (const kiln::InternalError& error) {
    return fail(KILN_INTERNAL_ERROR, error.what());
  } catch (const std::bad_alloc&) {
    return fail(KILN_ERROR, "out of memory");
  } catch (const std::exception& error) {
    return fail(KILN_INTERNAL_ERROR,
                std::string("internal error (a bug in Kiln): ") + error.what());
  } catch (...) {
    return fail(KILN_INTERNAL_ERROR, "internal error (a bug in Kiln): unknown exception");
  }
}

KilnStatus null_argument(const char* function, const char* what) {
  return fail(KILN_INVALID_ARGUMENT, std::string(function) + ": " + what + " is NULL");
}

KilnStatus describe(const std::vector<kiln::TensorSpec>& specs,
                    const std::vector<std::string>& dtypes, size_t index, KilnTensorInfo* info,
                    const char* function, const char* kind) {
  if (info == nullptr) return null_argument(function, "info");
  if (index >= specs.size()) {
    return fail(KILN_INVALID_ARGUMENT, std::string(function) + ": " + kind + " index " +
                                           std::to_string(index) + " is out of range (there are " +
                                           std::to_string(specs.size()) + ")");
  }
  const kiln::TensorSpec& spec = specs[index];
  info->name = spec.name.c_str();
  info->dtype = dtypes[index].c_str();
  info->ndim = spec.shape.size();
  info->shape = spec.shape.data();
  info->nbytes = spec.nbytes();
  return KILN_OK;
}

}  // namespace

extern "C" {

const char* kiln_last_error(void) { return t_last_error.c_str(); }

const char* kiln_runtime_version(void) {
  static const std::string version = kiln::runtime_version();
  return version.c_str();
}

KilnStatus kiln_session_open(const char* package_path, int num_threads, KilnSession** session) {
  if (package_path == nullptr) return null_argument("kiln_session_open", "package_path");
  if (session == nullptr) return null_argument("kiln_session_open", "session");
  *session = nullptr;
  return guarded([&] {
    kiln::SessionOptions options;
    options.num_threads = num_threads;
    *session = new KilnSession(kiln::Session(package_path, options));
  });
}

void kiln_session_close(KilnSession* session) { delete session; }

KilnStatus kiln_session_num_inputs(const KilnSession* session, size_t* count) {
  if (session == nullptr) return null_argument("kiln_session_num_inputs", "session");
  if (count == nullptr) return null_argument("kiln_session_num_inputs", "count");
  *count = session->session.inputs().size();
  return KILN_OK;
}

KilnStatus kiln_session_num_outputs(const KilnSession* session, size_t* count) {
  if (session == nullptr) return null_argument("kiln_session_num_outputs", "session");
  if (count == nullptr) return null_argument("kiln_session_num_outputs", "count");
  *count = session->session.outputs().size();
  return KILN_OK;
}

KilnStatus kiln_session_input_info(const KilnSession* session, size_t index, KilnTensorInfo* info) {
  if (session == nullptr) return null_argument("kiln_session_input_info", "session");
  return describe(session->session.inputs(), session->input_dtypes, index, info,
                  "kiln_session_input_info", "input");
}

KilnStatus kiln_session_output_info(const KilnSession* session, size_t index,
                                    KilnTensorInfo* info) {
  if (session == nullptr) return null_argument("kiln_session_output_info", "session");
  return describe(session->session.outputs(), session->output_dtypes, index, info,
                  "kiln_session_output_info", "output");
}

KilnStatus kiln_session_input_index(const KilnSession* session, const char* name, size_t* index) {
  if (session == nullptr) return null_argument("kiln_session_input_index", "session");
  if (name == nullptr) return null_argument("kiln_session_input_index", "name");
  if (index == nullptr) return null_argument("kiln_session_input_index", "index");
  return guarded([&] { *index = session->session.input_index(name); });
}

KilnStatus kiln_session_set_input(KilnSession* session, size_t index, const void* data,
                                  size_t nbytes) {
  if (session == nullptr) return null_argument("kiln_session_set_input", "session");
  if (data == nullptr && nbytes > 0) return null_argument("kiln_session_set_input", "data");
  if (index >= session->session.inputs().size()) {
    return fail(KILN_INVALID_ARGUMENT, "kiln_session_set_input: input index " +
                                           std::to_string(index) + " is out of range");
  }
  return guarded([&] {
    const kiln::TensorSpec& spec = session->session.inputs()[index];
    session->session.set_input(index, spec.dtype, spec.shape, data, nbytes);
  });
}

KilnStatus kiln_session_bind_input(KilnSession* session, size_t index, const void* data,
                                   size_t nbytes) {
  if (session == nullptr) return null_argument("kiln_session_bind_input", "session");
  if (data == nullptr) return null_argument("kiln_session_bind_input", "data");
  if (index >= session->session.inputs().size()) {
    return fail(KILN_INVALID_ARGUMENT, "kiln_session_bind_input: input index " +
                                           std::to_string(index) + " is out of range");
  }
  return guarded([&] {
    const kiln::TensorSpec& spec = session->session.inputs()[index];
    session->session.bind_input(index, spec.dtype, spec.shape, data, nbytes);
  });
}

KilnStatus kiln_session_run(KilnSession* session) {
  if (session == nullptr) return null_argument("kiln_session_run", "session");
  return guarded([&] { session->session.run(); });
}

KilnStatus kiln_session_output(const KilnSession* session, size_t index, const void** data,
                               size_t* nbytes) {
  if (session == nullptr) return null_argument("kiln_session_output", "session");
  if (data == nullptr) return null_argument("kiln_session_output", "data");
  if (index >= session->session.outputs().size()) {
    return fail(KILN_INVALID_ARGUMENT, "kiln_session_output: output index " +
                                           std::to_string(index) + " is out of range (there are " +
                                           std::to_string(session->session.outputs().size()) + ")");
  }
  return guarded([&] {
    kiln::TensorView view = session->session.output(index);
    *data = view.data;
    if (nbytes != nullptr) *nbytes = view.nbytes;
  });
}

KilnStatus kiln_session_set_num_threads(KilnSession* session, int num_threads) {
  if (session == nullptr) return null_argument("kiln_session_set_num_threads", "session");
  return guarded([&] { session->session.set_num_threads(num_threads); });
}

void kiln_request_interrupt(void) { kiln::request_interrupt(); }

void kiln_clear_interrupt(void) { kiln::clear_interrupt(); }

}  // extern "C"
