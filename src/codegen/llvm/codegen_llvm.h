// Private to src/codegen/llvm: translation of loop IR into LLVM IR. One CodeGenLLVM fills one
// llvm::Module with kernels and kiln_module_init.
//
// Value representation: every tir dtype has a register type and a memory type. They agree
// except for bool (i1 in registers, i8 in memory). float16 is `half` and bfloat16 is its bit
// pattern (i16) in both; arithmetic on them widens to float and rounds back after each operation,
// which is what numpy's float16 does. The narrow floats (float8*, float4e2m1) are their bit
// pattern (i8) the same way, widened through a table; 4-/2-bit integers are i8 (codegen_narrow.cc).
#pragma once

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Module.h>

#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tir/stmt.h"

namespace kiln::codegen {

// float8e4m3fn ... float4e2m1 (not the 4-/2-bit integers).
bool is_narrow_float(const tir::DataType& dtype);

class CodeGenLLVM {
 public:
  CodeGenLLVM(llvm::Module& module, const std::string& cpu, const std::string& features);

  // Emits `int32_t name(void** args)`.
  void add_kernel(const tir::PrimFunc& func);
  // Emits `int32_t kiln_module_init(const KilnRuntimeApi*)` and the global it sets.
  void add_module_init();
  // Emits the exported kernel table (kiln_module_kernels, include/kiln/runtime_api.h): every
  // kernel added so far with its parameter signature, and kiln_module_init. Call it last.
  void add_kernel_table();

  // ---- types (codegen_expr.cc) ----
  llvm::Type* register_type(const tir::DataType& dtype);
  llvm::Type* memory_type(const tir::DataType& dtype);

 private:
  // State of the function being emitted (a kernel, or a parallel loop body outlined from one).
  struct FunctionState {
    llvm::Function* function = nullptr;
    llvm::BasicBlock* entry = nullptr;  // allocas go here
    // Workspace pointers allocated and not yet freed, innermost last: an error exit frees them.
    std::vector<llvm::Value*> live_workspaces;
    // One per live workspace: the block that frees it and goes on to the next outer one (the
    // error exit after the outermost). Error exits share these blocks, so a kernel with many
    // workspaces does not repeat the frees of all outer ones at every exit (quadratic code).
    std::vector<llvm::BasicBlock*> unwind_blocks;
    llvm::AllocaInst* error_code = nullptr;  // the code the unwind chain returns
    llvm::BasicBlock* error_exit = nullptr;  // returns *error_code
    bool in_parallel = false;                // nested parallel loops run serially
  };

  // ---- expressions (codegen_expr.cc) ----
  llvm::Value* emit(const tir::PrimExpr& expr);
  llvm::Value* emit_binary(const tir::BinaryNode& op);
  llvm::Value* emit_compare(const tir::CompareNode& op);
  llvm::Value* emit_cast(const tir::DataType& to, const tir::DataType& from, llvm::Value* value);
  llvm::Value* emit_load(const tir::BufferLoadNode& op);
  llvm::Value* emit_ramp(const tir::RampNode& op);
  llvm::Value* emit_constant(const tir::DataType& dtype, double float_value, int64_t int_value,
                             bool is_float);
  llvm::Value* emit_floor_div_mod(bool is_div, const tir::DataType& dtype, llvm::Value* a,
                                  llvm::Value* b, const tir::PrimExpr& b_expr);
  // The row-major offset of `indices` into `buffer` as i64 (or a vector of i64).
  llvm::Value* emit_flat_index(const tir::Buffer& buffer,
                               const std::vector<tir::PrimExpr>& indices);
  llvm::Value* to_index(llvm::Value* value, const tir::DataType& dtype);
  // float16/bfloat16 <-> float for arithmetic; identity for other dtypes.
  llvm::Value* widen(llvm::Value* value, const tir::DataType& dtype);
  llvm::Value* narrow(llvm::Value* value, const tir::DataType& dtype);
  llvm::Type* compute_type(const tir::DataType& dtype);  // register type after widen()
  // Narrow types (codegen_narrow.cc): float8/float4 bits <-> float32, float8e8m0 with ONNX's
  // rounding modes (E8M0Rounding as int), 4-/2-bit integers wrapped in registers and in memory.
  llvm::Value* decode_narrow_float(llvm::Value* value, const tir::DataType& dtype);
  llvm::Value* encode_narrow_float(llvm::Value* value, const tir::DataType& dtype);
  llvm::Value* encode_e8m0(llvm::Value* value, const tir::DataType& dtype, bool saturate, int mode);
  llvm::Value* wrap_subbyte(llvm::Value* value, const tir::DataType& dtype);
  llvm::Value* store_subbyte(llvm::Value* value, const tir::DataType& dtype);
  llvm::Value* splat_if_needed(llvm::Value* value, int lanes);
  void annotate_access(llvm::Instruction* access, const tir::BufferNode* buffer);

  // ---- intrinsics (codegen_intrinsic.cc) ----
  llvm::Value* emit_intrinsic(const tir::IntrinsicNode& op);
  // checked_index.<Op>: the wrapped index, after a branch that reports an index out of range
  // through the runtime table and returns KILN_INDEX_OUT_OF_RANGE.
  llvm::Value* emit_checked_index(const tir::IntrinsicNode& op);
  llvm::Value* emit_bitwise(const std::string& name, const tir::DataType& dtype, llvm::Value* a,
                            llvm::Value* b);
  // The libmvec vector variant of `name` for a float32 vector `x` (split into native-width
  // chunks), or nullptr when there is none for this target / width.
  llvm::Value* call_vector_math(const std::string& name, const tir::DataType& dtype,
                                llvm::Value* x);
  llvm::Value* call_libm(const std::string& name, const tir::DataType& dtype,
                         std::vector<llvm::Value*> args);
  llvm::Value* call_llvm_intrinsic(llvm::Intrinsic::ID id, std::vector<llvm::Value*> args);

  // ---- statements (codegen_stmt.cc) ----
  void emit(const tir::Stmt& stmt);
  void emit_for(const tir::ForNode& op);
  void emit_serial_loop(const tir::Var& var, llvm::Value* begin, llvm::Value* end,
                        const tir::Stmt& body, llvm::MDNode* loop_hints);
  void emit_parallel_for(const tir::ForNode& op);
  void emit_store(const tir::BufferStoreNode& op);
  void emit_allocate(const tir::AllocateNode& op);
  void emit_if(const tir::IfThenElseNode& op);
  void emit_let(const tir::LetNode& op);

  llvm::Function* begin_function(const std::string& name, llvm::FunctionType* type, bool exported);
  // Branches to an exit that frees live workspaces and returns `code` when `failed` is true.
  void emit_return_if(llvm::Value* failed, llvm::Value* code);
  // Bytes of an allocation of `buffer`, and whether it goes on the stack (else: a workspace).
  uint64_t allocation_bytes(const tir::BufferNode& buffer);
  bool on_stack(const tir::BufferNode& buffer);
  void emit_return(llvm::Value* code);
  // The runtime table set by kiln_module_init; returns -2 from the kernel when it is unset.
  llvm::Value* load_runtime_api();
  // The function pointer in field `field` of the KilnRuntimeApi table.
  llvm::Value* runtime_api_entry(llvm::Value* api, unsigned field);
  llvm::AllocaInst* entry_alloca(llvm::Type* type, uint64_t count, uint64_t align,
                                 const std::string& name);
  void assign_alias_scopes(const tir::PrimFunc& func);

  llvm::LLVMContext& context_;
  llvm::Module& module_;
  llvm::IRBuilder<> builder_;
  llvm::MDBuilder md_;
  std::string cpu_;
  std::string features_;
  llvm::StructType* api_type_ = nullptr;  // KilnRuntimeApi

  // What the kernel table lists for each kernel (codegen_table.cc).
  struct KernelEntry {
    llvm::Function* function = nullptr;
    std::vector<tir::Buffer> params;
    std::vector<bool> written;  // per param: the kernel stores to it
  };
  std::vector<KernelEntry> kernel_entries_;
  // The buffers the kernel being emitted stores to (its own and parallel bodies').
  std::unordered_set<const tir::BufferNode*> stored_buffers_;
  llvm::GlobalVariable* api_global_ = nullptr;

  FunctionState state_;
  std::string kernel_name_;
  int parallel_count_ = 0;
  std::unordered_map<const tir::VarNode*, llvm::Value*> vars_;
  std::unordered_map<const tir::BufferNode*, llvm::Value*> buffers_;
  // Every buffer of a kernel is distinct memory: one alias scope each, so that LLVM knows that
  // stores to the output never change the inputs (params are noalias by the runtime's contract).
  struct AliasInfo {
    llvm::MDNode* scope = nullptr;    // !alias.scope
    llvm::MDNode* noalias = nullptr;  // !noalias: every other buffer's scope
  };
  std::unordered_map<const tir::BufferNode*, AliasInfo> alias_;
};

}  // namespace kiln::codegen
