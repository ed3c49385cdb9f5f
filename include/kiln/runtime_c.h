/* Kiln's runtime as a C ABI, for C programs and foreign-function interfaces (docs/runtime.md).
 * The same sessions as include/kiln/runtime.h, behind an opaque handle, in libkiln_runtime.
 *
 *   KilnSession* session = NULL;
 *   if (kiln_session_open("model.tar", 0, &session) != KILN_OK) {
 *     fprintf(stderr, "%s\n", kiln_last_error());
 *   }
 *   kiln_session_set_input(session, 0, data, nbytes);
 *   kiln_session_run(session);
 *   kiln_session_output(session, 0, &scores, &scores_nbytes);
 *   kiln_session_close(session);
 *
 * Every function returns a KilnStatus; on failure kiln_last_error() gives the message (the
 * calling thread's last error, kept until its next failure). No function throws or aborts.
 */
#ifndef KILN_RUNTIME_C_H_
#define KILN_RUNTIME_C_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum KilnStatus {
  KILN_OK = 0,
  KILN_ERROR = 1,            /* a user error: bad package, wrong input, failed kernel ... */
  KILN_INVALID_ARGUMENT = 2, /* a NULL handle or pointer, an index out of range */
  KILN_INTERRUPTED = 3,      /* kiln_request_interrupt() stopped the call */
  KILN_INTERNAL_ERROR = 4    /* a bug in Kiln */
} KilnStatus;

typedef struct KilnSession KilnSession;

/* Name, dtype and shape of an input or output. The pointers stay valid while the session is
 * open. */
typedef struct KilnTensorInfo {
  const char* name;
  const char* dtype; /* "float32", "int64", ... (docs/formats.md) */
  size_t ndim;
  const int64_t* shape;
  size_t nbytes;
} KilnTensorInfo;

/* The message of the calling thread's last failure ("" when none). */
const char* kiln_last_error(void);
/* "0.1.0" */
const char* kiln_runtime_version(void);

/* Opens a package (.tar or unpacked directory); num_threads 0: the process default. */
KilnStatus kiln_session_open(const char* package_path, int num_threads, KilnSession** session);
/* Closes the session; NULL is ignored. Output pointers obtained from it dangle afterwards. */
void kiln_session_close(KilnSession* session);

KilnStatus kiln_session_num_inputs(const KilnSession* session, size_t* count);
KilnStatus kiln_session_num_outputs(const KilnSession* session, size_t* count);
KilnStatus kiln_session_input_info(const KilnSession* session, size_t index, KilnTensorInfo* info);
KilnStatus kiln_session_output_info(const KilnSession* session, size_t index, KilnTensorInfo* info);
/* The index of the input named `name` (KILN_ERROR listing the inputs when there is none). */
KilnStatus kiln_session_input_index(const KilnSession* session, const char* name, size_t* index);

/* Copies `nbytes` bytes (exactly the input's size, in its declared dtype and shape) into the
 * session. */
KilnStatus kiln_session_set_input(KilnSession* session, size_t index, const void* data,
                                  size_t nbytes);
/* Zero copy: the next runs read input `index` from `data` (64-byte aligned, the input's size),
 * which must stay valid and unchanged until the input is set or bound again or the session is
 * closed. */
KilnStatus kiln_session_bind_input(KilnSession* session, size_t index, const void* data,
                                   size_t nbytes);

/* Runs the model; allocates nothing. */
KilnStatus kiln_session_run(KilnSession* session);

/* Output `index` in the session's storage (not a copy): overwritten by the next run, invalid once
 * the session is closed. */
KilnStatus kiln_session_output(const KilnSession* session, size_t index, const void** data,
                               size_t* nbytes);

/* The threads of this session's runs (1..1024; 0: the process default). */
KilnStatus kiln_session_set_num_threads(KilnSession* session, int num_threads);

/* Makes running calls (in any thread) stop between two kernels with KILN_INTERRUPTED, until
 * kiln_clear_interrupt(). Async-signal-safe: may be called from a signal handler. */
void kiln_request_interrupt(void);
void kiln_clear_interrupt(void);

#ifdef __cplusplus
}
#endif

#endif /* KILN_RUNTIME_C_H_ */
