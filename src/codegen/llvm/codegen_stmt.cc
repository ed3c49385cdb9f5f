// Statements and functions: kernels, loops (serial, unrolled, vectorized, parallel), stores,
// allocations, conditionals, and kiln_module_init.
#include <unordered_set>

#include "codegen/llvm/codegen_llvm.h"
#include "kiln/error.h"
#include "kiln/runtime_api.h"
#include "tir/functor.h"

namespace kiln::codegen {

using tir::DataType;

namespace {

// Kernel return codes besides 0 (a parallel task's non-zero code is passed through).
constexpr int32_t kOutOfWorkspace = KILN_OUT_OF_WORKSPACE;
constexpr int32_t kRuntimeApiUnset = KILN_RUNTIME_API_UNSET;
// Local buffers up to this size live on the stack; larger ones in the runtime's workspace.
constexpr uint64_t kMaxStackBytes = 64 * 1024;
// Buffers are 64-byte aligned: params by the runtime's contract, allocations by us.
constexpr uint64_t kBufferAlign = 64;

// What a statement reads from its surroundings: variables it uses but does not bind, buffers it
// accesses but does not allocate; in first-use order so that closures are deterministic.
class UseCollector : public tir::IRVisitor {
 public:
  std::vector<const tir::VarNode*> free_vars;
  std::vector<const tir::BufferNode*> buffers;
  std::vector<const tir::BufferNode*> allocated;

  void bind(const tir::VarNode* var) { bound_.insert(var); }
  using tir::IRVisitor::visit;

 protected:
  void visit_var(const tir::VarNode* var) override {
    if (!bound_.count(var) && seen_vars_.insert(var).second) free_vars.push_back(var);
  }
  void visit_buffer_load(const tir::BufferLoadNode* op) override {
    use(op->buffer.get());
    tir::IRVisitor::visit_buffer_load(op);
  }
  void visit_for(const tir::ForNode* op) override {
    visit(op->min);
    visit(op->extent);
    bind(op->var.get());
    visit(op->body);
  }
  void visit_buffer_store(const tir::BufferStoreNode* op) override {
    use(op->buffer.get());
    tir::IRVisitor::visit_buffer_store(op);
  }
  void visit_allocate(const tir::AllocateNode* op) override {
    local_.insert(op->buffer.get());
    allocated.push_back(op->buffer.get());
    visit(op->body);
  }
  void visit_let(const tir::LetNode* op) override {
    visit(op->value);
    bind(op->var.get());
    visit(op->body);
  }

 private:
  void use(const tir::BufferNode* buffer) {
    if (!local_.count(buffer) && seen_buffers_.insert(buffer).second) buffers.push_back(buffer);
  }

  std::unordered_set<const tir::VarNode*> bound_, seen_vars_;
  std::unordered_set<const tir::BufferNode*> local_, seen_buffers_;
};

// Whether every store in `stmt` writes an element that depends on `var`. Otherwise the loop
// accumulates into one location (a reduction), and forcing vectorization would let LLVM
// reassociate the floating-point sum.
bool stores_depend_on(const tir::Stmt& stmt, const tir::VarNode* var) {
  if (!stmt) return true;
  switch (stmt->kind()) {
    case tir::StmtKind::kFor:
      return stores_depend_on(tir::as<tir::ForNode>(stmt)->body, var);
    case tir::StmtKind::kBufferStore: {
      for (const tir::PrimExpr& index : tir::as<tir::BufferStoreNode>(stmt)->indices) {
        if (tir::uses_var(index, var)) return true;
      }
      return false;
    }
    case tir::StmtKind::kAllocate:
      return stores_depend_on(tir::as<tir::AllocateNode>(stmt)->body, var);
    case tir::StmtKind::kSeq:
      for (const tir::Stmt& child : tir::as<tir::SeqNode>(stmt)->stmts) {
        if (!stores_depend_on(child, var)) return false;
      }
      return true;
    case tir::StmtKind::kIfThenElse: {
      const auto* op = tir::as<tir::IfThenElseNode>(stmt);
      return stores_depend_on(op->then_case, var) && stores_depend_on(op->else_case, var);
    }
    case tir::StmtKind::kLet:
      return stores_depend_on(tir::as<tir::LetNode>(stmt)->body, var);
    case tir::StmtKind::kEvaluate:
      return true;
  }
  return true;
}

// Restores a variable's previous binding (or none) when a scope ends.
template <typename Map, typename Key>
class ScopedBinding {
 public:
  ScopedBinding(Map& map, Key key, llvm::Value* value) : map_(map), key_(key) {
    auto found = map_.find(key);
    if (found != map_.end()) previous_ = found->second;
    map_[key] = value;
  }
  ~ScopedBinding() {
    if (previous_ != nullptr) {
      map_[key_] = previous_;
    } else {
      map_.erase(key_);
    }
  }
  ScopedBinding(const ScopedBinding&) = delete;
  ScopedBinding& operator=(const ScopedBinding&) = delete;

 private:
  Map& map_;
  Key key_;
  llvm::Value* previous_ = nullptr;
};

}  // namespace

CodeGenLLVM::CodeGenLLVM(llvm::Module& module, const std::string& cpu, const std::string& features)
    : context_(module.getContext()),
      module_(module),
      builder_(module.getContext()),
      md_(module.getContext()),
      cpu_(cpu),
      features_(features) {
  llvm::Type* ptr = builder_.getPtrTy();
  // struct KilnRuntimeApi { uint32_t version; parallel_launch; alloc_workspace; free_workspace;
  //                         set_error; index_out_of_range; }
  api_type_ = llvm::StructType::create(context_, {builder_.getInt32Ty(), ptr, ptr, ptr, ptr, ptr},
                                       "KilnRuntimeApi");
  api_global_ = new llvm::GlobalVariable(
      module_, ptr, /*isConstant=*/false, llvm::GlobalValue::InternalLinkage,
      llvm::ConstantPointerNull::get(builder_.getPtrTy()), "kiln_runtime_api");
}

// ---- functions -------------------------------------------------------------------------------

llvm::Function* CodeGenLLVM::begin_function(const std::string& name, llvm::FunctionType* type,
                                            bool exported) {
  auto linkage = exported ? llvm::GlobalValue::ExternalLinkage : llvm::GlobalValue::InternalLinkage;
  llvm::Function* function = llvm::Function::Create(type, linkage, name, module_);
  function->setDoesNotThrow();
  // The function attributes select the subtarget whose TTI the optimiser and backend use.
  function->addFnAttr("target-cpu", cpu_);
  if (!features_.empty()) function->addFnAttr("target-features", features_);
  // Kiln never changes FP exception state, so FP operations may be speculated (as clang does).
  function->addFnAttr("no-trapping-math", "true");
  state_ = FunctionState{};
  state_.function = function;
  state_.entry = llvm::BasicBlock::Create(context_, "entry", function);
  builder_.SetInsertPoint(state_.entry);
  return function;
}

void CodeGenLLVM::assign_alias_scopes(const tir::PrimFunc& func) {
  UseCollector collector;
  collector.visit(func.body);
  std::vector<const tir::BufferNode*> buffers;
  for (const tir::Buffer& param : func.params) buffers.push_back(param.get());
  buffers.insert(buffers.end(), collector.allocated.begin(), collector.allocated.end());
  llvm::MDNode* domain = md_.createAliasScopeDomain(func.name);
  std::vector<llvm::MDNode*> scopes;
  for (const tir::BufferNode* buffer : buffers) {
    scopes.push_back(md_.createAliasScope(buffer->name, domain));
  }
  for (size_t i = 0; i < buffers.size(); ++i) {
    std::vector<llvm::Metadata*> others;
    for (size_t j = 0; j < buffers.size(); ++j) {
      if (j != i) others.push_back(scopes[j]);
    }
    AliasInfo& info = alias_[buffers[i]];
    info.scope = llvm::MDNode::get(context_, {scopes[i]});
    info.noalias = others.empty() ? nullptr : llvm::MDNode::get(context_, others);
  }
}

void CodeGenLLVM::add_kernel(const tir::PrimFunc& func) {
  KILN_CHECK(func.body) << "kernel " << func.name << " has no body";
  kernel_name_ = func.name;
  parallel_count_ = 0;
  vars_.clear();
  buffers_.clear();
  alias_.clear();
  stored_buffers_.clear();
  assign_alias_scopes(func);

  llvm::Type* ptr = builder_.getPtrTy();
  llvm::Function* function =
      begin_function(func.name, llvm::FunctionType::get(builder_.getInt32Ty(), {ptr}, false),
                     /*exported=*/true);
  llvm::Argument* args = function->getArg(0);
  args->setName("args");
  function->addParamAttr(0, llvm::Attribute::NoAlias);
  function->addParamAttr(0, llvm::Attribute::NoCapture);
  function->addParamAttr(0, llvm::Attribute::ReadOnly);

  llvm::MDNode* align64 =
      llvm::MDNode::get(context_, {llvm::ConstantAsMetadata::get(builder_.getInt64(kBufferAlign))});
  llvm::MDNode* empty = llvm::MDNode::get(context_, {});
  for (size_t i = 0; i < func.params.size(); ++i) {
    llvm::Value* slot = builder_.CreateConstInBoundsGEP1_64(ptr, args, i);
    llvm::LoadInst* data =
        builder_.CreateAlignedLoad(ptr, slot, llvm::Align(8), func.params[i]->name);
    data->setMetadata(llvm::LLVMContext::MD_align, align64);
    data->setMetadata(llvm::LLVMContext::MD_nonnull, empty);
    data->setMetadata(llvm::LLVMContext::MD_noundef, empty);
    buffers_[func.params[i].get()] = data;
  }
  emit(func.body);
  emit_return(builder_.getInt32(0));

  KernelEntry entry{function, func.params, {}};
  for (const tir::Buffer& param : func.params) {
    entry.written.push_back(stored_buffers_.count(param.get()) != 0);
  }
  kernel_entries_.push_back(std::move(entry));
}

void CodeGenLLVM::add_module_init() {
  llvm::Type* ptr = builder_.getPtrTy();
  llvm::Function* function = begin_function(
      "kiln_module_init", llvm::FunctionType::get(builder_.getInt32Ty(), {ptr}, false),
      /*exported=*/true);
  llvm::Value* api = function->getArg(0);
  api->setName("api");
  llvm::BasicBlock* check_version = llvm::BasicBlock::Create(context_, "check_version", function);
  llvm::BasicBlock* store = llvm::BasicBlock::Create(context_, "store", function);
  llvm::BasicBlock* reject = llvm::BasicBlock::Create(context_, "reject", function);
  builder_.CreateCondBr(builder_.CreateIsNull(api), reject, check_version);
  builder_.SetInsertPoint(check_version);
  llvm::Value* version = builder_.CreateAlignedLoad(builder_.getInt32Ty(), api, llvm::Align(4));
  builder_.CreateCondBr(builder_.CreateICmpEQ(version, builder_.getInt32(KILN_RUNTIME_API_VERSION)),
                        store, reject);
  builder_.SetInsertPoint(store);
  builder_.CreateAlignedStore(api, api_global_, llvm::Align(8));
  builder_.CreateRet(builder_.getInt32(0));
  builder_.SetInsertPoint(reject);
  builder_.CreateRet(builder_.getInt32(-1));
}

void CodeGenLLVM::emit_return(llvm::Value* code) {
  if (state_.live_workspaces.empty()) {
    builder_.CreateRet(code);
    return;
  }
  // Workspaces to free: store the code and enter the unwind chain at the innermost workspace.
  if (state_.error_exit == nullptr) {
    state_.error_code = entry_alloca(builder_.getInt32Ty(), 1, 4, "error_code");
    state_.error_exit = llvm::BasicBlock::Create(context_, "error_exit", state_.function);
    llvm::IRBuilder<> exit_builder(state_.error_exit);
    exit_builder.CreateRet(exit_builder.CreateAlignedLoad(exit_builder.getInt32Ty(),
                                                          state_.error_code, llvm::Align(4)));
  }
  builder_.CreateAlignedStore(code, state_.error_code, llvm::Align(4));
  builder_.CreateBr(state_.unwind_blocks.back());
}

void CodeGenLLVM::emit_return_if(llvm::Value* failed, llvm::Value* code) {
  llvm::BasicBlock* fail = llvm::BasicBlock::Create(context_, "fail", state_.function);
  llvm::BasicBlock* ok = llvm::BasicBlock::Create(context_, "ok", state_.function);
  builder_.CreateCondBr(failed, fail, ok, md_.createUnlikelyBranchWeights());
  builder_.SetInsertPoint(fail);
  emit_return(code);
  builder_.SetInsertPoint(ok);
}

llvm::Value* CodeGenLLVM::load_runtime_api() {
  llvm::Value* api = builder_.CreateAlignedLoad(builder_.getPtrTy(), api_global_, llvm::Align(8));
  emit_return_if(builder_.CreateIsNull(api), builder_.getInt32(kRuntimeApiUnset));
  return api;
}

llvm::Value* CodeGenLLVM::runtime_api_entry(llvm::Value* api, unsigned field) {
  llvm::Value* slot = builder_.CreateStructGEP(api_type_, api, field);
  return builder_.CreateAlignedLoad(builder_.getPtrTy(), slot, llvm::Align(8));
}

llvm::AllocaInst* CodeGenLLVM::entry_alloca(llvm::Type* type, uint64_t count, uint64_t align,
                                            const std::string& name) {
  // At the top of the entry block, so that allocas inside loops are not repeated.
  llvm::IRBuilder<> entry_builder(state_.entry, state_.entry->getFirstInsertionPt());
  llvm::AllocaInst* alloca =
      entry_builder.CreateAlloca(type, count == 1 ? nullptr : entry_builder.getInt64(count), name);
  alloca->setAlignment(llvm::Align(align));
  return alloca;
}

// ---- statements ------------------------------------------------------------------------------

void CodeGenLLVM::emit(const tir::Stmt& stmt) {
  KILN_CHECK(stmt) << "null statement in kernel " << kernel_name_;
  switch (stmt->kind()) {
    case tir::StmtKind::kFor:
      emit_for(*tir::as<tir::ForNode>(stmt));
      break;
    case tir::StmtKind::kBufferStore:
      emit_store(*tir::as<tir::BufferStoreNode>(stmt));
      break;
    case tir::StmtKind::kAllocate:
      emit_allocate(*tir::as<tir::AllocateNode>(stmt));
      break;
    case tir::StmtKind::kSeq:
      for (const tir::Stmt& child : tir::as<tir::SeqNode>(stmt)->stmts) emit(child);
      break;
    case tir::StmtKind::kIfThenElse:
      emit_if(*tir::as<tir::IfThenElseNode>(stmt));
      break;
    case tir::StmtKind::kLet:
      emit_let(*tir::as<tir::LetNode>(stmt));
      break;
    case tir::StmtKind::kEvaluate:
      emit(tir::as<tir::EvaluateNode>(stmt)->value);
      break;
  }
}

void CodeGenLLVM::emit_for(const tir::ForNode& op) {
  if (op.for_kind == tir::ForKind::kParallel && !state_.in_parallel) {
    emit_parallel_for(op);
    return;
  }
  const DataType& type = op.var->dtype();
  llvm::Value* begin = emit_cast(type, op.min.dtype(), emit(op.min));
  llvm::Value* extent = emit_cast(type, op.extent.dtype(), emit(op.extent));
  llvm::Value* end = builder_.CreateAdd(begin, extent);
  llvm::MDNode* hint = nullptr;
  if (op.for_kind == tir::ForKind::kUnrolled) {
    hint = llvm::MDNode::get(context_, {llvm::MDString::get(context_, "llvm.loop.unroll.full")});
  } else if (op.for_kind == tir::ForKind::kVectorized && stores_depend_on(op.body, op.var.get())) {
    // A loop the vectorize pass left alone; ask LLVM to vectorize it unless it is a reduction.
    hint = llvm::MDNode::get(context_, {llvm::MDString::get(context_, "llvm.loop.vectorize.enable"),
                                        llvm::ConstantAsMetadata::get(builder_.getTrue())});
  }
  emit_serial_loop(op.var, begin, end, op.body, hint);
}

void CodeGenLLVM::emit_serial_loop(const tir::Var& var, llvm::Value* begin, llvm::Value* end,
                                   const tir::Stmt& body, llvm::MDNode* loop_hint) {
  llvm::BasicBlock* preheader = builder_.GetInsertBlock();
  llvm::BasicBlock* header = llvm::BasicBlock::Create(context_, "for_header", state_.function);
  llvm::BasicBlock* body_block = llvm::BasicBlock::Create(context_, "for_body", state_.function);
  llvm::BasicBlock* exit = llvm::BasicBlock::Create(context_, "for_exit", state_.function);
  builder_.CreateBr(header);

  builder_.SetInsertPoint(header);
  llvm::PHINode* index = builder_.CreatePHI(begin->getType(), 2, var->name);
  index->addIncoming(begin, preheader);
  builder_.CreateCondBr(builder_.CreateICmpSLT(index, end), body_block, exit);

  builder_.SetInsertPoint(body_block);
  {
    ScopedBinding binding(vars_, var.get(), index);
    emit(body);
  }
  // index < end, so index + 1 cannot overflow.
  llvm::Value* next = builder_.CreateNSWAdd(index, llvm::ConstantInt::get(index->getType(), 1));
  llvm::BranchInst* latch = builder_.CreateBr(header);
  index->addIncoming(next, builder_.GetInsertBlock());

  // LLVM wants a distinct, self-referencing loop ID on the latch branch.
  llvm::SmallVector<llvm::Metadata*, 2> loop_id = {nullptr};
  if (loop_hint != nullptr) loop_id.push_back(loop_hint);
  llvm::MDNode* loop = llvm::MDNode::getDistinct(context_, loop_id);
  loop->replaceOperandWith(0, loop);
  latch->setMetadata(llvm::LLVMContext::MD_loop, loop);

  builder_.SetInsertPoint(exit);
}

// The loop body becomes `int32_t <kernel>_par_N(int64_t task, int64_t num_tasks, void* closure)`
// running iterations [task * extent / num_tasks, (task + 1) * extent / num_tasks); the closure
// holds {int64 min, int64 extent, every buffer pointer, every free variable} and lives in the
// kernel's frame while api->parallel_launch(extent, task_fn, &closure) runs the tasks.
void CodeGenLLVM::emit_parallel_for(const tir::ForNode& op) {
  UseCollector uses;
  uses.bind(op.var.get());
  uses.visit(op.body);

  llvm::Type* i64 = builder_.getInt64Ty();
  llvm::Type* ptr = builder_.getPtrTy();
  llvm::Value* min = to_index(emit(op.min), op.min.dtype());
  llvm::Value* extent = to_index(emit(op.extent), op.extent.dtype());
  std::vector<llvm::Type*> fields = {i64, i64};
  std::vector<llvm::Value*> values = {min, extent};
  for (const tir::BufferNode* buffer : uses.buffers) {
    auto found = buffers_.find(buffer);
    KILN_CHECK(found != buffers_.end())
        << "buffer '" << buffer->name << "' is used outside its scope in kernel " << kernel_name_;
    fields.push_back(ptr);
    values.push_back(found->second);
  }
  for (const tir::VarNode* var : uses.free_vars) {
    auto found = vars_.find(var);
    KILN_CHECK(found != vars_.end())
        << "variable '" << var->name << "' is used outside its scope in kernel " << kernel_name_;
    fields.push_back(found->second->getType());
    values.push_back(found->second);
  }
  llvm::StructType* closure_type = llvm::StructType::get(context_, fields);
  llvm::AllocaInst* closure = entry_alloca(closure_type, 1, 8, "closure");
  for (size_t i = 0; i < values.size(); ++i) {
    builder_.CreateStore(values[i], builder_.CreateStructGEP(closure_type, closure, i));
  }

  // ---- the task function ----
  FunctionState parent_state = state_;
  llvm::IRBuilderBase::InsertPoint parent_ip = builder_.saveIP();
  auto parent_vars = vars_;
  auto parent_buffers = buffers_;
  llvm::FunctionType* task_type =
      llvm::FunctionType::get(builder_.getInt32Ty(), {i64, i64, ptr}, false);
  llvm::Function* task = begin_function(kernel_name_ + "_par_" + std::to_string(parallel_count_++),
                                        task_type, /*exported=*/false);
  state_.in_parallel = true;
  task->addParamAttr(2, llvm::Attribute::NoAlias);
  task->addParamAttr(2, llvm::Attribute::ReadOnly);
  llvm::Value* task_index = task->getArg(0);
  llvm::Value* num_tasks = task->getArg(1);
  llvm::Value* task_closure = task->getArg(2);
  task_index->setName("task");
  num_tasks->setName("num_tasks");
  task_closure->setName("closure");

  vars_.clear();
  buffers_.clear();
  std::vector<llvm::Value*> loaded;
  for (size_t i = 0; i < fields.size(); ++i) {
    llvm::Value* slot = builder_.CreateStructGEP(closure_type, task_closure, i);
    llvm::LoadInst* value = builder_.CreateLoad(fields[i], slot);
    loaded.push_back(value);
  }
  llvm::MDNode* align64 =
      llvm::MDNode::get(context_, {llvm::ConstantAsMetadata::get(builder_.getInt64(kBufferAlign))});
  for (size_t i = 0; i < uses.buffers.size(); ++i) {
    auto* data = llvm::cast<llvm::LoadInst>(loaded[2 + i]);
    data->setMetadata(llvm::LLVMContext::MD_align, align64);
    data->setName(uses.buffers[i]->name);
    buffers_[uses.buffers[i]] = data;
  }
  for (size_t i = 0; i < uses.free_vars.size(); ++i) {
    loaded[2 + uses.buffers.size() + i]->setName(uses.free_vars[i]->name);
    vars_[uses.free_vars[i]] = loaded[2 + uses.buffers.size() + i];
  }
  llvm::Value* task_extent = loaded[1];
  llvm::Value* chunk_begin =
      builder_.CreateSDiv(builder_.CreateMul(task_index, task_extent), num_tasks);
  llvm::Value* chunk_end = builder_.CreateSDiv(
      builder_.CreateMul(builder_.CreateAdd(task_index, builder_.getInt64(1)), task_extent),
      num_tasks);
  const DataType& var_type = op.var->dtype();
  llvm::Value* begin =
      emit_cast(var_type, tir::index_type(), builder_.CreateAdd(loaded[0], chunk_begin));
  llvm::Value* end =
      emit_cast(var_type, tir::index_type(), builder_.CreateAdd(loaded[0], chunk_end));
  emit_serial_loop(op.var, begin, end, op.body, nullptr);
  emit_return(builder_.getInt32(0));

  state_ = parent_state;
  builder_.restoreIP(parent_ip);
  vars_ = std::move(parent_vars);
  buffers_ = std::move(parent_buffers);

  // ---- the launch ----
  llvm::Value* api = load_runtime_api();
  llvm::FunctionType* launch_type =
      llvm::FunctionType::get(builder_.getInt32Ty(), {i64, ptr, ptr}, false);
  llvm::Value* launch = runtime_api_entry(api, 1);
  llvm::Value* result = builder_.CreateCall(launch_type, launch, {extent, task, closure});
  emit_return_if(builder_.CreateICmpNE(result, builder_.getInt32(0)), result);
}

void CodeGenLLVM::emit_store(const tir::BufferStoreNode& op) {
  auto found = buffers_.find(op.buffer.get());
  KILN_CHECK(found != buffers_.end())
      << "buffer '" << op.buffer->name << "' is used outside its scope in kernel " << kernel_name_;
  llvm::Value* data = found->second;
  stored_buffers_.insert(op.buffer.get());
  DataType element = op.buffer->dtype.element();
  llvm::Type* element_memory = memory_type(element);
  llvm::Align align(module_.getDataLayout().getABITypeAlign(element_memory));

  int lanes = op.value.dtype().lanes;
  for (const tir::PrimExpr& index : op.indices) lanes = std::max(lanes, index.dtype().lanes);
  DataType dtype = element.with_lanes(lanes);
  llvm::Value* value = splat_if_needed(emit(op.value), lanes);
  if (dtype.is_bool()) value = builder_.CreateZExt(value, memory_type(dtype));
  value = store_subbyte(value, dtype);  // 4-/2-bit integers keep their low bits, as ml_dtypes

  const auto* ramp = op.indices.size() == 1 ? op.indices[0].as<tir::RampNode>() : nullptr;
  const int64_t* stride = ramp != nullptr ? tir::as_const_int(ramp->stride) : nullptr;
  llvm::Instruction* access = nullptr;
  if (lanes > 1 && ramp != nullptr && stride != nullptr && *stride == 1) {
    llvm::Value* base = to_index(emit(ramp->base), ramp->base.dtype());
    llvm::Value* address = builder_.CreateInBoundsGEP(element_memory, data, base);
    access = builder_.CreateAlignedStore(value, address, align);
  } else {
    llvm::Value* index = splat_if_needed(emit_flat_index(op.buffer, op.indices), lanes);
    llvm::Value* address = builder_.CreateInBoundsGEP(element_memory, data, index);
    if (lanes > 1) {
      access = builder_.CreateMaskedScatter(value, address, align);
    } else {
      access = builder_.CreateAlignedStore(value, address, align);
    }
  }
  annotate_access(access, op.buffer.get());
}

uint64_t CodeGenLLVM::allocation_bytes(const tir::BufferNode& buffer) {
  llvm::Type* element = memory_type(buffer.dtype.element());
  uint64_t count = static_cast<uint64_t>(std::max<int64_t>(buffer.numel(), 1)) *
                   static_cast<uint64_t>(buffer.dtype.lanes);
  return count * module_.getDataLayout().getTypeAllocSize(element);
}

bool CodeGenLLVM::on_stack(const tir::BufferNode& buffer) {
  return buffer.scope == tir::BufferScope::kLocal && allocation_bytes(buffer) <= kMaxStackBytes;
}

void CodeGenLLVM::emit_allocate(const tir::AllocateNode& op) {
  const tir::BufferNode* buffer = op.buffer.get();
  if (on_stack(*buffer)) {
    llvm::Type* element = memory_type(buffer->dtype.element());
    uint64_t count = allocation_bytes(*buffer) / module_.getDataLayout().getTypeAllocSize(element);
    llvm::AllocaInst* data = entry_alloca(element, count, kBufferAlign, buffer->name);
    ScopedBinding binding(buffers_, buffer, data);
    emit(op.body);
    return;
  }
  // Workspace allocations nested directly in this one live exactly as long, so they share one
  // block (64-byte aligned slices): one allocation call and one live pointer instead of one per
  // buffer, which keeps kernels with hundreds of intermediate buffers (an unrolled LSTM) cheap
  // for LLVM's register allocator.
  std::vector<const tir::AllocateNode*> chain = {&op};
  while (const auto* inner = tir::as<tir::AllocateNode>(chain.back()->body)) {
    if (on_stack(*inner->buffer)) break;
    chain.push_back(inner);
  }
  std::vector<uint64_t> offsets;
  uint64_t total = 0;
  for (const tir::AllocateNode* allocate : chain) {
    offsets.push_back(total);
    total += (allocation_bytes(*allocate->buffer) + kBufferAlign - 1) / kBufferAlign * kBufferAlign;
  }
  llvm::Type* ptr = builder_.getPtrTy();
  llvm::Value* api = load_runtime_api();
  llvm::FunctionType* alloc_type = llvm::FunctionType::get(ptr, {builder_.getInt64Ty()}, false);
  llvm::Value* alloc = runtime_api_entry(api, 2);
  llvm::Value* data = builder_.CreateCall(alloc_type, alloc, {builder_.getInt64(total)},
                                          chain.size() == 1 ? buffer->name : "workspace");
  emit_return_if(builder_.CreateIsNull(data), builder_.getInt32(kOutOfWorkspace));
  llvm::FunctionType* free_type = llvm::FunctionType::get(builder_.getVoidTy(), {ptr}, false);
  // This workspace's unwind block: filled in below when an error exit inside the scope uses it.
  llvm::BasicBlock* unwind = llvm::BasicBlock::Create(context_, "unwind", state_.function);
  state_.live_workspaces.push_back(data);
  state_.unwind_blocks.push_back(unwind);
  {
    std::vector<std::unique_ptr<ScopedBinding<decltype(buffers_), const tir::BufferNode*>>>
        bindings;
    for (size_t i = 0; i < chain.size(); ++i) {
      llvm::Value* slice =
          offsets[i] == 0
              ? data
              : builder_.CreateInBoundsGEP(builder_.getInt8Ty(), data,
                                           builder_.getInt64(offsets[i]), chain[i]->buffer->name);
      bindings.push_back(
          std::make_unique<ScopedBinding<decltype(buffers_), const tir::BufferNode*>>(
              buffers_, chain[i]->buffer.get(), slice));
    }
    emit(chain.back()->body);
  }
  state_.live_workspaces.pop_back();
  state_.unwind_blocks.pop_back();
  builder_.CreateCall(free_type, runtime_api_entry(api, 3), {data});
  if (unwind->hasNPredecessorsOrMore(1)) {
    llvm::IRBuilderBase::InsertPointGuard guard(builder_);
    builder_.SetInsertPoint(unwind);
    builder_.CreateCall(free_type, runtime_api_entry(api, 3), {data});
    builder_.CreateBr(state_.unwind_blocks.empty() ? state_.error_exit
                                                   : state_.unwind_blocks.back());
  } else {
    unwind->eraseFromParent();
  }
}

void CodeGenLLVM::emit_if(const tir::IfThenElseNode& op) {
  KILN_CHECK(op.condition.dtype() == tir::bool_type())
      << "if condition of " << op.condition.dtype().to_string() << " in kernel " << kernel_name_;
  llvm::Value* condition = emit(op.condition);
  llvm::BasicBlock* then_block = llvm::BasicBlock::Create(context_, "if_then", state_.function);
  llvm::BasicBlock* merge = llvm::BasicBlock::Create(context_, "if_end", state_.function);
  llvm::BasicBlock* else_block =
      op.else_case ? llvm::BasicBlock::Create(context_, "if_else", state_.function) : merge;
  builder_.CreateCondBr(condition, then_block, else_block);
  builder_.SetInsertPoint(then_block);
  emit(op.then_case);
  builder_.CreateBr(merge);
  if (op.else_case) {
    builder_.SetInsertPoint(else_block);
    emit(op.else_case);
    builder_.CreateBr(merge);
  }
  builder_.SetInsertPoint(merge);
}

void CodeGenLLVM::emit_let(const tir::LetNode& op) {
  llvm::Value* value = emit(op.value);
  if (llvm::isa<llvm::Instruction>(value) && !value->hasName()) value->setName(op.var->name);
  ScopedBinding binding(vars_, op.var.get(), value);
  emit(op.body);
}

}  // namespace kiln::codegen
