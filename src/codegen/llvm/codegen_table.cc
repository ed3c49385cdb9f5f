// The kernel table a module exports (kiln_module_kernels, include/kiln/runtime_api.h): the one
// way the runtime finds kernels, with the signature it checks every graph call against.
#include <llvm/IR/Constants.h>
#include <llvm/IR/GlobalVariable.h>

#include "codegen/llvm/codegen_llvm.h"
#include "kiln/error.h"
#include "kiln/runtime_api.h"
#include "kiln/tensor.h"

namespace kiln::codegen {

namespace {

// A private NUL-terminated string constant.
llvm::Constant* string_constant(llvm::Module& module, const std::string& text,
                                const std::string& name) {
  llvm::Constant* bytes = llvm::ConstantDataArray::getString(module.getContext(), text, true);
  auto* global = new llvm::GlobalVariable(module, bytes->getType(), /*isConstant=*/true,
                                          llvm::GlobalValue::PrivateLinkage, bytes, name);
  global->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
  global->setAlignment(llvm::Align(1));
  return global;
}

// A private constant array of `type` holding `items` (a null pointer when empty).
llvm::Constant* array_constant(llvm::Module& module, llvm::StructType* type,
                               const std::vector<llvm::Constant*>& items, const std::string& name) {
  if (items.empty())
    return llvm::ConstantPointerNull::get(llvm::PointerType::get(module.getContext(), 0));
  auto* array_type = llvm::ArrayType::get(type, items.size());
  auto* global = new llvm::GlobalVariable(module, array_type, /*isConstant=*/true,
                                          llvm::GlobalValue::PrivateLinkage,
                                          llvm::ConstantArray::get(array_type, items), name);
  global->setAlignment(llvm::Align(8));
  return global;
}

}  // namespace

void CodeGenLLVM::add_kernel_table() {
  llvm::Function* init = module_.getFunction("kiln_module_init");
  KILN_CHECK(init != nullptr) << "add_kernel_table before add_module_init";
  llvm::Type* ptr = builder_.getPtrTy();
  llvm::Type* i32 = builder_.getInt32Ty();
  llvm::Type* i64 = builder_.getInt64Ty();
  // The C structs of runtime_api.h, field for field.
  auto* param_type = llvm::StructType::get(context_, {ptr, i64, i64});        // KilnKernelParam
  auto* kernel_type = llvm::StructType::get(context_, {ptr, ptr, i64, ptr});  // KilnKernelInfo
  auto* table_type = llvm::StructType::get(context_, {i32, i32, ptr, ptr});   // KilnKernelTable

  std::vector<llvm::Constant*> kernels;
  for (size_t k = 0; k < kernel_entries_.size(); ++k) {
    const KernelEntry& entry = kernel_entries_[k];
    std::string prefix = "kiln.table." + std::to_string(k);
    std::vector<llvm::Constant*> params;
    for (size_t p = 0; p < entry.params.size(); ++p) {
      const tir::BufferNode& buffer = *entry.params[p];
      KILN_CHECK(buffer.dtype.lanes == 1) << "kernel parameter of a vector dtype";
      params.push_back(llvm::ConstantStruct::get(
          param_type,
          {string_constant(module_, std::string(dtype_name(buffer.dtype.dtype)), prefix + ".dtype"),
           builder_.getInt64(static_cast<uint64_t>(buffer.numel())),
           builder_.getInt64(entry.written[p] ? KILN_PARAM_WRITTEN : 0)}));
    }
    kernels.push_back(llvm::ConstantStruct::get(
        kernel_type, {string_constant(module_, entry.function->getName().str(), prefix + ".name"),
                      entry.function, builder_.getInt64(entry.params.size()),
                      array_constant(module_, param_type, params, prefix + ".params")}));
  }
  llvm::Constant* table = llvm::ConstantStruct::get(
      table_type, {builder_.getInt32(KILN_RUNTIME_API_VERSION),
                   builder_.getInt32(static_cast<uint32_t>(kernels.size())),
                   array_constant(module_, kernel_type, kernels, "kiln.table.kernels"), init});
  auto* global =
      new llvm::GlobalVariable(module_, table_type, /*isConstant=*/true,
                               llvm::GlobalValue::ExternalLinkage, table, KILN_KERNEL_TABLE_SYMBOL);
  global->setAlignment(llvm::Align(8));
}

}  // namespace kiln::codegen
