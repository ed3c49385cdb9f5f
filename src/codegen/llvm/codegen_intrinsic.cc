// Math intrinsics: LLVM intrinsics where LLVM has one that lowers well everywhere, the C
// library otherwise (the shared library links libm; the JIT resolves from the process).
#include <unordered_map>

#include "codegen/llvm/codegen_llvm.h"
#include "kiln/error.h"
#include "kiln/runtime_api.h"
#include "llvm/TargetParser/Triple.h"
#include "tir/checked_index.h"

namespace kiln::codegen {

using tir::DataType;

namespace {

// Intrinsics with an LLVM counterpart. round is half-to-even (llvm.roundeven, the same as
// nearbyint in the default rounding mode but independent of it).
const std::unordered_map<std::string, llvm::Intrinsic::ID>& llvm_intrinsics() {
  static const std::unordered_map<std::string, llvm::Intrinsic::ID> table = {
      {"exp", llvm::Intrinsic::exp},         {"log", llvm::Intrinsic::log},
      {"sqrt", llvm::Intrinsic::sqrt},       {"fabs", llvm::Intrinsic::fabs},
      {"floor", llvm::Intrinsic::floor},     {"ceil", llvm::Intrinsic::ceil},
      {"round", llvm::Intrinsic::roundeven}, {"trunc", llvm::Intrinsic::trunc},
      {"pow", llvm::Intrinsic::pow},         {"sin", llvm::Intrinsic::sin},
      {"cos", llvm::Intrinsic::cos},         {"copysign", llvm::Intrinsic::copysign},
  };
  return table;
}

// Intrinsics computed by the C library (float versions get the `f` suffix).
bool is_libm_function(const std::string& name) {
  static const char* const kNames[] = {"tanh", "erf",   "tan",   "asin",  "acos",  "atan", "sinh",
                                       "cosh", "asinh", "acosh", "atanh", "log1p", "expm1"};
  for (const char* known : kNames) {
    if (name == known) return true;
  }
  return false;
}

bool is_bitwise(const std::string& name) {
  return name == "bitwise_and" || name == "bitwise_or" || name == "bitwise_xor" ||
         name == "shift_left" || name == "shift_right";
}

size_t arity(const std::string& name) {
  return name == "pow" || name == "copysign" || name == "fmod" || is_bitwise(name) ? 2 : 1;
}

}  // namespace

llvm::Value* CodeGenLLVM::call_llvm_intrinsic(llvm::Intrinsic::ID id,
                                              std::vector<llvm::Value*> args) {
  llvm::Function* declaration = llvm::Intrinsic::getDeclaration(&module_, id, {args[0]->getType()});
  return builder_.CreateCall(declaration, args);
}

// glibc's vector math library (libmvec) has float versions of these at 8 lanes (AVX2, "d") and 16
// lanes (AVX-512, "e"); glibc documents them within 4 ulp, where the scalar functions are within
// 1-2 (docs/architecture.md, floating-point policy).
bool has_vector_variant(const std::string& name) {
  return name == "exp" || name == "log" || name == "tanh" || name == "erf";
}

llvm::Value* CodeGenLLVM::call_vector_math(const std::string& name, const DataType& dtype,
                                           llvm::Value* x) {
  if (!has_vector_variant(name) || dtype.lanes <= 1 || dtype.dtype != DType::kFloat32) {
    return nullptr;
  }
  llvm::Triple triple(module_.getTargetTriple());
  if (triple.getArch() != llvm::Triple::x86_64 || !triple.isOSLinux() ||
      !triple.isGNUEnvironment()) {
    return nullptr;
  }
  int native = features_.find("+avx512f") != std::string::npos ? 16
               : features_.find("+avx2") != std::string::npos  ? 8
                                                               : 0;
  if (native == 0 || dtype.lanes % native != 0) return nullptr;
  llvm::Type* vector_type = llvm::FixedVectorType::get(builder_.getFloatTy(), native);
  std::string symbol = std::string(native == 16 ? "_ZGVeN16v_" : "_ZGVdN8v_") + name + "f";
  llvm::FunctionCallee callee = module_.getOrInsertFunction(
      symbol, llvm::FunctionType::get(vector_type, {vector_type}, false));
  if (auto* function = llvm::dyn_cast<llvm::Function>(callee.getCallee())) {
    function->setDoesNotThrow();
    function->setDoesNotAccessMemory();
    function->setWillReturn();
  }
  if (dtype.lanes == native) return builder_.CreateCall(callee, {x});
  // Wider vectors: one call per native chunk, then the chunks side by side again.
  std::vector<llvm::Value*> chunks;
  for (int start = 0; start < dtype.lanes; start += native) {
    std::vector<int> lanes;
    for (int lane = 0; lane < native; ++lane) lanes.push_back(start + lane);
    chunks.push_back(builder_.CreateCall(callee, {builder_.CreateShuffleVector(x, lanes)}));
  }
  while (chunks.size() > 1) {
    std::vector<llvm::Value*> joined;
    for (size_t i = 0; i + 1 < chunks.size(); i += 2) {
      int width = static_cast<int>(
          llvm::cast<llvm::FixedVectorType>(chunks[i]->getType())->getNumElements());
      std::vector<int> lanes;
      for (int lane = 0; lane < 2 * width; ++lane) lanes.push_back(lane);
      joined.push_back(builder_.CreateShuffleVector(chunks[i], chunks[i + 1], lanes));
    }
    chunks = std::move(joined);
  }
  return chunks[0];
}

llvm::Value* CodeGenLLVM::call_libm(const std::string& name, const DataType& dtype,
                                    std::vector<llvm::Value*> args) {
  llvm::Type* scalar = compute_type(dtype.element());
  std::string symbol = scalar->isFloatTy() ? name + "f" : name;
  std::vector<llvm::Type*> parameter_types(args.size(), scalar);
  llvm::FunctionCallee callee =
      module_.getOrInsertFunction(symbol, llvm::FunctionType::get(scalar, parameter_types, false));
  if (auto* function = llvm::dyn_cast<llvm::Function>(callee.getCallee())) {
    // We never read errno, so the calls are pure: LLVM may hoist and merge them.
    function->setDoesNotThrow();
    function->setDoesNotAccessMemory();
    function->setWillReturn();
  }
  if (dtype.lanes == 1) return builder_.CreateCall(callee, args);
  // No vector variants in libm's plain interface: one call per lane.
  llvm::Value* result = llvm::PoisonValue::get(compute_type(dtype));
  for (int lane = 0; lane < dtype.lanes; ++lane) {
    std::vector<llvm::Value*> lane_args;
    for (llvm::Value* arg : args) lane_args.push_back(builder_.CreateExtractElement(arg, lane));
    result = builder_.CreateInsertElement(result, builder_.CreateCall(callee, lane_args), lane);
  }
  return result;
}

// LLVM's shifts are poison for an amount >= the bit width, so such amounts (and negative ones)
// select the value every bit shifted out gives: 0, or -1 for a negative value shifted right
// arithmetically.
llvm::Value* CodeGenLLVM::emit_bitwise(const std::string& name, const DataType& dtype,
                                       llvm::Value* a, llvm::Value* b) {
  KILN_CHECK(dtype.is_int()) << "intrinsic " << name << " on " << dtype.to_string() << " in kernel "
                             << kernel_name_;
  if (name == "bitwise_and") return builder_.CreateAnd(a, b);
  if (name == "bitwise_or") return builder_.CreateOr(a, b);
  if (name == "bitwise_xor") return builder_.CreateXor(a, b);
  bool is_signed = dtype_is_signed(dtype.dtype);
  llvm::Type* type = a->getType();
  llvm::Value* width =
      llvm::ConstantInt::get(type, static_cast<uint64_t>(dtype_size(dtype.dtype) * 8));
  // Unsigned comparison: a negative signed amount is huge, hence out of range too.
  llvm::Value* in_range = builder_.CreateICmpULT(b, width);
  llvm::Value* zero = llvm::Constant::getNullValue(type);
  if (name == "shift_left") return builder_.CreateSelect(in_range, builder_.CreateShl(a, b), zero);
  if (!is_signed) return builder_.CreateSelect(in_range, builder_.CreateLShr(a, b), zero);
  llvm::Value* all_shifted = builder_.CreateSelect(builder_.CreateICmpSLT(a, zero),
                                                   llvm::Constant::getAllOnesValue(type), zero);
  return builder_.CreateSelect(in_range, builder_.CreateAShr(a, b), all_shifted);
}

llvm::Value* CodeGenLLVM::emit_checked_index(const tir::IntrinsicNode& op) {
  std::string op_name = op.name.substr(tir::kCheckedIndexPrefix.size());
  auto constant_arg = [&](const tir::PrimExpr& arg) {
    const auto* broadcast = arg.as<tir::BroadcastNode>();
    return tir::as_const_int(broadcast != nullptr ? broadcast->value : arg);
  };
  KILN_CHECK(op.args.size() == 3) << op.name << " takes (index, extent, axis)";
  const int64_t* extent = constant_arg(op.args[1]);
  const int64_t* axis = constant_arg(op.args[2]);
  KILN_CHECK(extent != nullptr && axis != nullptr)
      << op.name << " needs a constant extent and axis in kernel " << kernel_name_;
  llvm::Value* value = emit(op.args[0]);
  llvm::Type* type = value->getType();
  auto splat = [&](int64_t constant) {
    return llvm::ConstantInt::get(type, static_cast<uint64_t>(constant), /*IsSigned=*/true);
  };
  llvm::Value* zero = splat(0);
  // Counted from the end once when negative (ONNX), then one unsigned compare: a value still
  // negative reads as huge.
  llvm::Value* wrapped = builder_.CreateSelect(builder_.CreateICmpSLT(value, zero),
                                               builder_.CreateAdd(value, splat(*extent)), value);
  llvm::Value* outside = builder_.CreateICmpUGE(wrapped, splat(*extent));
  llvm::Value* any_outside = outside;
  llvm::Value* bad_index = value;
  if (auto* vector = llvm::dyn_cast<llvm::FixedVectorType>(type)) {
    // The first lane out of range, for the message.
    unsigned lanes = vector->getNumElements();
    any_outside = builder_.CreateOrReduce(outside);
    llvm::Value* mask = builder_.CreateBitCast(outside, builder_.getIntNTy(lanes));
    llvm::Value* lane = call_llvm_intrinsic(llvm::Intrinsic::cttz, {mask, builder_.getTrue()});
    bad_index = builder_.CreateExtractElement(value, lane);
  }
  llvm::BasicBlock* report =
      llvm::BasicBlock::Create(context_, "index_out_of_range", state_.function);
  llvm::BasicBlock* in_range =
      llvm::BasicBlock::Create(context_, "index_in_range", state_.function);
  builder_.CreateCondBr(any_outside, report, in_range, md_.createUnlikelyBranchWeights());
  builder_.SetInsertPoint(report);
  llvm::Value* api = load_runtime_api();
  llvm::Type* i64 = builder_.getInt64Ty();
  llvm::FunctionType* report_type =
      llvm::FunctionType::get(builder_.getVoidTy(), {builder_.getPtrTy(), i64, i64, i64}, false);
  llvm::Value* name = builder_.CreateGlobalString(op_name, "kiln.op_name");
  builder_.CreateCall(report_type, runtime_api_entry(api, 5),
                      {name, builder_.getInt64(static_cast<uint64_t>(*axis)), bad_index,
                       builder_.getInt64(static_cast<uint64_t>(*extent))});
  emit_return(builder_.getInt32(KILN_INDEX_OUT_OF_RANGE));
  builder_.SetInsertPoint(in_range);
  return wrapped;
}

llvm::Value* CodeGenLLVM::emit_intrinsic(const tir::IntrinsicNode& op) {
  const std::string& name = op.name;
  if (tir::is_checked_index(op)) return emit_checked_index(op);
  if (name == "float_to_e8m0") {
    // (float32 x, saturate, rounding mode): ONNX Cast's conversion with its attributes.
    KILN_CHECK(op.args.size() == 3 && op.args[0].dtype().is_float())
        << "float_to_e8m0 takes (float32, saturate, mode) in kernel " << kernel_name_;
    auto constant_arg = [&](const tir::PrimExpr& arg) {
      const auto* broadcast = arg.as<tir::BroadcastNode>();
      return tir::as_const_int(broadcast != nullptr ? broadcast->value : arg);
    };
    const int64_t* saturate = constant_arg(op.args[1]);
    const int64_t* mode = constant_arg(op.args[2]);
    KILN_CHECK(saturate != nullptr && mode != nullptr)
        << "float_to_e8m0 needs constant saturate and mode in kernel " << kernel_name_;
    llvm::Value* x = widen(emit(op.args[0]), op.args[0].dtype());
    KILN_CHECK(x->getType()->getScalarType()->isFloatTy())
        << "float_to_e8m0 takes a float32 value in kernel " << kernel_name_;
    return encode_e8m0(x, op.dtype(), *saturate != 0, static_cast<int>(*mode));
  }
  if (name == "reinterpret") {
    // The same bits as another type of the same size (bool, stored as a byte, reads as 0 / 1).
    llvm::Value* value = emit(op.args[0]);
    llvm::Type* target = compute_type(op.dtype());
    if (value->getType()->getScalarSizeInBits() == 1) return builder_.CreateZExt(value, target);
    KILN_CHECK(value->getType()->getScalarSizeInBits() == target->getScalarSizeInBits())
        << "reinterpret " << op.args[0].dtype().to_string() << " as " << op.dtype().to_string()
        << " in kernel " << kernel_name_;
    return builder_.CreateBitCast(value, target);
  }
  KILN_CHECK(op.args.size() == arity(name))
      << "intrinsic " << name << " takes " << arity(name) << " arguments, got " << op.args.size();
  const DataType& dtype = op.args[0].dtype();
  std::vector<llvm::Value*> args;
  for (const tir::PrimExpr& arg : op.args) args.push_back(emit(arg));

  if (is_bitwise(name)) return emit_bitwise(name, dtype, args[0], args[1]);
  if (!dtype.is_float()) {
    // Integer arguments: the rounding functions are the identity, fabs is abs, and an integer
    // is never NaN or infinite.
    if (name == "isnan" || name == "isinf") return emit_constant(op.dtype(), 0, 0, false);
    if (name == "floor" || name == "ceil" || name == "round" || name == "trunc") return args[0];
    if (name == "fabs") {
      if (!dtype_is_signed(dtype.dtype)) return args[0];
      llvm::Value* negative =
          builder_.CreateICmpSLT(args[0], llvm::Constant::getNullValue(args[0]->getType()));
      return builder_.CreateSelect(negative, builder_.CreateNeg(args[0]), args[0]);
    }
    KILN_CHECK(false) << "intrinsic " << name << " on " << dtype.to_string() << " in kernel "
                      << kernel_name_;
  }

  for (llvm::Value*& arg : args) arg = widen(arg, dtype);
  llvm::Value* x = args[0];
  if (name == "isnan") return builder_.CreateFCmpUNO(x, x);
  if (name == "isinf") {
    llvm::Value* magnitude = call_llvm_intrinsic(llvm::Intrinsic::fabs, {x});
    return builder_.CreateFCmpOEQ(magnitude, llvm::ConstantFP::getInfinity(magnitude->getType()));
  }
  llvm::Value* result = call_vector_math(name, dtype, x);
  auto intrinsic = llvm_intrinsics().find(name);
  if (result != nullptr) {
    // a vector variant from libmvec
  } else if (intrinsic != llvm_intrinsics().end()) {
    result = call_llvm_intrinsic(intrinsic->second, args);
  } else if (name == "fmod") {
    result = builder_.CreateFRem(args[0], args[1]);
  } else if (name == "sigmoid") {
    llvm::Value* one = llvm::ConstantFP::get(x->getType(), 1.0);
    llvm::Value* exp_neg = call_vector_math("exp", dtype, builder_.CreateFNeg(x));
    if (exp_neg == nullptr) {
      exp_neg = call_llvm_intrinsic(llvm::Intrinsic::exp, {builder_.CreateFNeg(x)});
    }
    result = builder_.CreateFDiv(one, builder_.CreateFAdd(one, exp_neg));
  } else if (is_libm_function(name)) {
    result = call_libm(name, dtype, args);
  } else {
    KILN_CHECK(false) << "unknown intrinsic '" << name << "' in kernel " << kernel_name_
                      << "; supported: exp, log, sqrt, tanh, erf, fabs, floor, ceil, round, "
                         "trunc, pow, sin, cos, tan, asin, acos, atan, sinh, cosh, asinh, "
                         "acosh, atanh, log1p, expm1, sigmoid, isnan, isinf, copysign, fmod, "
                         "bitwise_and, bitwise_or, bitwise_xor, shift_left, shift_right";
  }
  return narrow(result, dtype);
}

}  // namespace kiln::codegen
