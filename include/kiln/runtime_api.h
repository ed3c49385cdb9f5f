/* The C interface between compiled modules and Kiln's runtime.
 *
 * A compiled module (mod.so, or code in the JIT) exports:
 *   int32_t kiln_module_init(const KilnRuntimeApi* api);   called once after loading
 *   int32_t <kernel>(void** args);                          one per kernel
 * A kernel receives one data pointer per buffer parameter, in the order of its PrimFunc's params,
 * and returns 0 on success. Kernels reach the runtime only through the table passed to
 * kiln_module_init, so a module needs no symbols from the process that loads it (Python loads
 * extension modules privately).
 */
#ifndef KILN_RUNTIME_API_H_
#define KILN_RUNTIME_API_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_RUNTIME_API_VERSION 1

/* One task of a parallel loop: runs the iterations of task `task_index` out of `num_tasks`. */
typedef int32_t (*KilnParallelTask)(int64_t task_index, int64_t num_tasks, void* closure);

typedef struct KilnRuntimeApi {
  uint32_t version; /* KILN_RUNTIME_API_VERSION */
  /* Runs task(i, n, closure) for i in [0, n) on the thread pool, n = the number of threads
   * (or fewer when `max_tasks` is smaller and > 0); returns the first non-zero result. */
  int32_t (*parallel_launch)(int64_t max_tasks, KilnParallelTask task, void* closure);
  /* Scratch memory for kernels, 64-byte aligned; NULL when out of memory. */
  void* (*alloc_workspace)(uint64_t nbytes);
  void (*free_workspace)(void* ptr);
} KilnRuntimeApi;

typedef int32_t (*KilnKernel)(void** args);
typedef int32_t (*KilnModuleInit)(const KilnRuntimeApi* api);

#ifdef __cplusplus
}
#endif

#endif /* KILN_RUNTIME_API_H_ */
