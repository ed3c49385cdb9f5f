/* The C interface between compiled modules and Kiln's runtime.
 *
 * A compiled module (mod.so, mod.o, or code in the JIT) exports ONE symbol the runtime looks up:
 *   const KilnKernelTable kiln_module_kernels;   its kernels, their signatures, and its init
 * The runtime finds kernels only through that table, never by a symbol search, so a graph
 * (mod.json) can call nothing but the module's own kernels, and every call is checked against the
 * kernel's signature before the first run. table.init(api) is called once after loading.
 * A kernel, `int32_t kernel(void** args)`, receives one data pointer per buffer parameter, in the
 * order of its PrimFunc's params, and returns 0 on success (else a non-zero code, with a message
 * left through api->set_error when it has one). Kernels reach the runtime only through the table
 * passed to init, so a module needs no symbols from the process that loads it (Python loads
 * extension modules privately).
 */
#ifndef KILN_RUNTIME_API_H_
#define KILN_RUNTIME_API_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Modules and runtimes of different versions refuse each other (compile the model again). */
#define KILN_RUNTIME_API_VERSION 2

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
  /* Leaves the message (NUL-terminated, copied) that the runtime reports when the calling kernel
   * returns a non-zero code, e.g. an index out of range. */
  void (*set_error)(const char* message);
  /* Leaves "<op>: index <index> is out of range for axis <axis> of size <size>"; the kernel then
   * returns KILN_INDEX_OUT_OF_RANGE (Gather, Scatter... indices read at run time). */
  void (*index_out_of_range)(const char* op, int64_t axis, int64_t index, int64_t size);
} KilnRuntimeApi;

/* Kernel return codes the compiler generates (a parallel task's own code is passed through). */
#define KILN_OUT_OF_WORKSPACE (-1)
#define KILN_RUNTIME_API_UNSET (-2)
#define KILN_INDEX_OUT_OF_RANGE (-3)

typedef int32_t (*KilnKernel)(void** args);
typedef int32_t (*KilnModuleInit)(const KilnRuntimeApi* api);

/* Bits of KilnKernelParam.flags. */
#define KILN_PARAM_WRITTEN 1u /* the kernel stores to this buffer */

/* One buffer parameter of a kernel: the graph's argument must have this dtype and element count. */
typedef struct KilnKernelParam {
  const char* dtype;     /* element type, named as in mod.json ("float32") */
  uint64_t num_elements; /* elements the kernel may read or write */
  uint64_t flags;        /* KILN_PARAM_* bits */
} KilnKernelParam;

typedef struct KilnKernelInfo {
  const char* name;
  KilnKernel function;
  uint64_t num_params;
  const KilnKernelParam* params;
} KilnKernelInfo;

/* The table a module exports as `kiln_module_kernels`. */
typedef struct KilnKernelTable {
  uint32_t version; /* KILN_RUNTIME_API_VERSION of the compiler that wrote the module */
  uint32_t num_kernels;
  const KilnKernelInfo* kernels;
  KilnModuleInit init; /* returns 0 when it accepts the runtime's table */
} KilnKernelTable;

#define KILN_KERNEL_TABLE_SYMBOL "kiln_module_kernels"

#ifdef __cplusplus
}
#endif

#endif /* KILN_RUNTIME_API_H_ */
