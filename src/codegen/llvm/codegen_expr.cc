// Expressions: types, constants, arithmetic, comparisons, casts, vectors and buffer loads.
#include <bit>

#include "codegen/llvm/codegen_llvm.h"
#include "kiln/error.h"

namespace kiln::codegen {

using tir::DataType;

namespace {

bool is_signed(const DataType& dtype) { return dtype_is_signed(dtype.dtype); }

// The integer value of `expr` when it is an immediate or a broadcast of one.
const int64_t* constant_int(const tir::PrimExpr& expr) {
  if (const auto* broadcast = expr.as<tir::BroadcastNode>())
    return tir::as_const_int(broadcast->value);
  return tir::as_const_int(expr);
}

}  // namespace

// ---- types -----------------------------------------------------------------------------------

llvm::Type* CodeGenLLVM::register_type(const DataType& dtype) {
  llvm::Type* element = nullptr;
  switch (dtype.dtype) {
    case DType::kFloat32:
      element = builder_.getFloatTy();
      break;
    case DType::kFloat16:
      element = builder_.getHalfTy();
      break;
    // bfloat16 travels as its bit pattern: LLVM's bfloat arithmetic and conversions need
    // runtime helpers (__truncsfbf2) that older toolchains lack.
    case DType::kBFloat16:
      element = builder_.getInt16Ty();
      break;
    case DType::kFloat64:
      element = builder_.getDoubleTy();
      break;
    case DType::kInt8:
    case DType::kUInt8:
      element = builder_.getInt8Ty();
      break;
    case DType::kInt16:
    case DType::kUInt16:
      element = builder_.getInt16Ty();
      break;
    case DType::kInt32:
    case DType::kUInt32:
      element = builder_.getInt32Ty();
      break;
    case DType::kInt64:
    case DType::kUInt64:
      element = builder_.getInt64Ty();
      break;
    case DType::kBool:
      element = builder_.getInt1Ty();
      break;
    case DType::kFloat8E4M3FN:
    case DType::kFloat8E4M3FNUZ:
    case DType::kFloat8E5M2:
    case DType::kFloat8E5M2FNUZ:
    case DType::kFloat8E8M0:
    case DType::kFloat4E2M1:
    case DType::kInt4:
    case DType::kUInt4:
    case DType::kInt2:
    case DType::kUInt2:
      element = builder_.getInt8Ty();
      break;
  }
  if (dtype.lanes == 1) return element;
  return llvm::FixedVectorType::get(element, dtype.lanes);
}

llvm::Type* CodeGenLLVM::memory_type(const DataType& dtype) {
  if (!dtype.is_bool()) return register_type(dtype);
  if (dtype.lanes == 1) return builder_.getInt8Ty();
  return llvm::FixedVectorType::get(builder_.getInt8Ty(), dtype.lanes);
}

llvm::Type* CodeGenLLVM::compute_type(const DataType& dtype) {
  if (dtype.dtype == DType::kFloat16 || dtype.dtype == DType::kBFloat16 || is_narrow_float(dtype)) {
    return register_type({DType::kFloat32, dtype.lanes});
  }
  return register_type(dtype);
}

llvm::Value* CodeGenLLVM::widen(llvm::Value* value, const DataType& dtype) {
  if (dtype.dtype == DType::kFloat16) return builder_.CreateFPExt(value, compute_type(dtype));
  if (is_narrow_float(dtype)) return decode_narrow_float(value, dtype);
  if (dtype.dtype == DType::kBFloat16) {
    // bfloat16 is the high half of a float32.
    llvm::Type* wide_int = register_type({DType::kInt32, dtype.lanes});
    llvm::Value* bits = builder_.CreateShl(builder_.CreateZExt(value, wide_int), 16);
    return builder_.CreateBitCast(bits, compute_type(dtype));
  }
  return value;
}

llvm::Value* CodeGenLLVM::narrow(llvm::Value* value, const DataType& dtype) {
  if (dtype.dtype == DType::kFloat16) return builder_.CreateFPTrunc(value, register_type(dtype));
  if (is_narrow_float(dtype)) return encode_narrow_float(value, dtype);
  if (dtype.dtype == DType::kBFloat16) {
    // Round to nearest even, NaN stays a (quiet) NaN; the same as kiln::float_to_bfloat16.
    llvm::Type* wide_int = register_type({DType::kInt32, dtype.lanes});
    llvm::Value* bits = builder_.CreateBitCast(value, wide_int);
    llvm::Value* high = builder_.CreateLShr(bits, 16);
    llvm::Value* lsb = builder_.CreateAnd(high, llvm::ConstantInt::get(wide_int, 1));
    llvm::Value* bias = builder_.CreateAdd(lsb, llvm::ConstantInt::get(wide_int, 0x7fff));
    llvm::Value* rounded = builder_.CreateLShr(builder_.CreateAdd(bits, bias), 16);
    llvm::Value* quiet_nan = builder_.CreateOr(high, llvm::ConstantInt::get(wide_int, 0x40));
    llvm::Value* is_nan = builder_.CreateFCmpUNO(value, value);
    return builder_.CreateTrunc(builder_.CreateSelect(is_nan, quiet_nan, rounded),
                                register_type(dtype));
  }
  return value;
}

llvm::Value* CodeGenLLVM::splat_if_needed(llvm::Value* value, int lanes) {
  if (lanes == 1 || value->getType()->isVectorTy()) return value;
  return builder_.CreateVectorSplat(lanes, value);
}

// ---- expressions -----------------------------------------------------------------------------

llvm::Value* CodeGenLLVM::emit_constant(const DataType& dtype, double float_value,
                                        int64_t int_value, bool is_float) {
  DataType element = dtype.element();
  llvm::Constant* constant = nullptr;
  if (element.is_float()) {
    double value = is_float ? float_value : static_cast<double>(int_value);
    if (element.dtype == DType::kBFloat16) {
      constant = builder_.getInt16(float_to_bfloat16(static_cast<float>(value)));
    } else if (is_narrow_float(element)) {
      constant = builder_.getInt8(float_to_narrow_float(element.dtype, static_cast<float>(value)));
    } else {
      constant = llvm::ConstantFP::get(register_type(element), value);
    }
  } else {
    int64_t value = is_float ? static_cast<int64_t>(float_value) : int_value;
    if (element.is_bool()) value = value != 0;
    if (dtype_subbyte_bits(element.dtype) > 0) {
      value = subbyte_to_int(element.dtype, int_to_subbyte(element.dtype, value));
    }
    constant = llvm::ConstantInt::get(register_type(element), static_cast<uint64_t>(value),
                                      /*IsSigned=*/true);
  }
  if (dtype.lanes == 1) return constant;
  return llvm::ConstantVector::getSplat(llvm::ElementCount::getFixed(dtype.lanes), constant);
}

llvm::Value* CodeGenLLVM::emit(const tir::PrimExpr& expr) {
  KILN_CHECK(expr) << "null expression in kernel " << kernel_name_;
  switch (expr->kind()) {
    case tir::ExprKind::kIntImm:
      return emit_constant(expr.dtype(), 0, expr.as<tir::IntImmNode>()->value, false);
    case tir::ExprKind::kFloatImm:
      return emit_constant(expr.dtype(), expr.as<tir::FloatImmNode>()->value, 0, true);
    case tir::ExprKind::kVar: {
      const auto* var = expr.as<tir::VarNode>();
      auto found = vars_.find(var);
      KILN_CHECK(found != vars_.end())
          << "variable '" << var->name << "' is used outside its scope in kernel " << kernel_name_;
      return found->second;
    }
    case tir::ExprKind::kBinary:
      return emit_binary(*expr.as<tir::BinaryNode>());
    case tir::ExprKind::kCompare:
      return emit_compare(*expr.as<tir::CompareNode>());
    case tir::ExprKind::kLogical: {
      const auto* op = expr.as<tir::LogicalNode>();
      llvm::Value* a = emit(op->a);
      llvm::Value* b = emit(op->b);
      return op->op == tir::LogicalOp::kAnd ? builder_.CreateAnd(a, b) : builder_.CreateOr(a, b);
    }
    case tir::ExprKind::kNot:
      return builder_.CreateNot(emit(expr.as<tir::NotNode>()->a));
    case tir::ExprKind::kSelect: {
      const auto* op = expr.as<tir::SelectNode>();
      llvm::Value* condition = emit(op->condition);
      llvm::Value* true_value = emit(op->true_value);
      llvm::Value* false_value = emit(op->false_value);
      return builder_.CreateSelect(condition, true_value, false_value);
    }
    case tir::ExprKind::kCast: {
      const auto* op = expr.as<tir::CastNode>();
      return emit_cast(op->dtype(), op->value.dtype(), emit(op->value));
    }
    case tir::ExprKind::kIntrinsic:
      return emit_intrinsic(*expr.as<tir::IntrinsicNode>());
    case tir::ExprKind::kBufferLoad:
      return emit_load(*expr.as<tir::BufferLoadNode>());
    case tir::ExprKind::kRamp:
      return emit_ramp(*expr.as<tir::RampNode>());
    case tir::ExprKind::kBroadcast: {
      const auto* op = expr.as<tir::BroadcastNode>();
      return builder_.CreateVectorSplat(op->lanes, emit(op->value));
    }
    case tir::ExprKind::kTensorRead:
    case tir::ExprKind::kReduce:
      break;
  }
  KILN_CHECK(false) << "tensor-expression node reached code generation in kernel " << kernel_name_
                    << " (te lowering must replace tensor reads and reductions)";
  return nullptr;
}

llvm::Value* CodeGenLLVM::emit_binary(const tir::BinaryNode& op) {
  const DataType& dtype = op.dtype();
  llvm::Value* a = emit(op.a);
  llvm::Value* b = emit(op.b);
  if (dtype.is_float()) {
    // Min/max compare the operands as `a < b ? a : b` (see "Floating-point policy"): a NaN in
    // b propagates, a NaN in a does not, exactly like std::min's mirror image.
    if (op.op == tir::BinaryOp::kMin || op.op == tir::BinaryOp::kMax) {
      llvm::Value* wa = widen(a, dtype);
      llvm::Value* wb = widen(b, dtype);
      llvm::Value* pick_a = op.op == tir::BinaryOp::kMin ? builder_.CreateFCmpOLT(wa, wb)
                                                         : builder_.CreateFCmpOGT(wa, wb);
      return builder_.CreateSelect(pick_a, a, b);
    }
    llvm::Value* wa = widen(a, dtype);
    llvm::Value* wb = widen(b, dtype);
    llvm::Value* result = nullptr;
    switch (op.op) {
      case tir::BinaryOp::kAdd:
        result = builder_.CreateFAdd(wa, wb);
        break;
      case tir::BinaryOp::kSub:
        result = builder_.CreateFSub(wa, wb);
        break;
      case tir::BinaryOp::kMul:
        result = builder_.CreateFMul(wa, wb);
        break;
      case tir::BinaryOp::kDiv:
        result = builder_.CreateFDiv(wa, wb);
        break;
      case tir::BinaryOp::kMod:
        result = builder_.CreateFRem(wa, wb);
        break;  // C fmod
      case tir::BinaryOp::kFloorDiv:
      case tir::BinaryOp::kFloorMod: {
        llvm::Value* quotient =
            call_llvm_intrinsic(llvm::Intrinsic::floor, {builder_.CreateFDiv(wa, wb)});
        result = op.op == tir::BinaryOp::kFloorDiv
                     ? quotient
                     : builder_.CreateFSub(wa, builder_.CreateFMul(quotient, wb));
        break;
      }
      case tir::BinaryOp::kMin:
      case tir::BinaryOp::kMax:
        break;  // handled above
    }
    return narrow(result, dtype);
  }
  bool sign = is_signed(dtype);
  switch (op.op) {
    case tir::BinaryOp::kAdd:
      return builder_.CreateAdd(a, b);
    case tir::BinaryOp::kSub:
      return builder_.CreateSub(a, b);
    case tir::BinaryOp::kMul:
      return builder_.CreateMul(a, b);
    case tir::BinaryOp::kDiv:
      return sign ? builder_.CreateSDiv(a, b) : builder_.CreateUDiv(a, b);
    case tir::BinaryOp::kMod:
      return sign ? builder_.CreateSRem(a, b) : builder_.CreateURem(a, b);
    case tir::BinaryOp::kFloorDiv:
    case tir::BinaryOp::kFloorMod:
      return emit_floor_div_mod(op.op == tir::BinaryOp::kFloorDiv, dtype, a, b, op.b);
    case tir::BinaryOp::kMin:
      return builder_.CreateSelect(
          sign ? builder_.CreateICmpSLT(a, b) : builder_.CreateICmpULT(a, b), a, b);
    case tir::BinaryOp::kMax:
      return builder_.CreateSelect(
          sign ? builder_.CreateICmpSGT(a, b) : builder_.CreateICmpUGT(a, b), a, b);
  }
  return nullptr;
}

llvm::Value* CodeGenLLVM::emit_floor_div_mod(bool is_div, const DataType& dtype, llvm::Value* a,
                                             llvm::Value* b, const tir::PrimExpr& b_expr) {
  if (!is_signed(dtype)) return is_div ? builder_.CreateUDiv(a, b) : builder_.CreateURem(a, b);
  // Index arithmetic divides by positive powers of two all the time: a shift and a mask round
  // toward negative infinity in two's complement.
  const int64_t* divisor = constant_int(b_expr);
  if (divisor != nullptr && *divisor > 0 && std::has_single_bit(static_cast<uint64_t>(*divisor))) {
    int shift = std::countr_zero(static_cast<uint64_t>(*divisor));
    llvm::Type* type = a->getType();
    if (is_div) return builder_.CreateAShr(a, llvm::ConstantInt::get(type, shift));
    return builder_.CreateAnd(a, llvm::ConstantInt::get(type, *divisor - 1));
  }
  // Truncating division, then one step toward -inf when the remainder is non-zero and its sign
  // differs from the divisor's.
  llvm::Value* quotient = builder_.CreateSDiv(a, b);
  llvm::Value* remainder = builder_.CreateSRem(a, b);
  llvm::Value* zero = llvm::Constant::getNullValue(a->getType());
  llvm::Value* signs_differ = builder_.CreateICmpSLT(builder_.CreateXor(remainder, b), zero);
  llvm::Value* adjust = builder_.CreateAnd(builder_.CreateICmpNE(remainder, zero), signs_differ);
  if (is_div) {
    llvm::Value* one = llvm::ConstantInt::get(a->getType(), 1);
    return builder_.CreateSelect(adjust, builder_.CreateSub(quotient, one), quotient);
  }
  return builder_.CreateSelect(adjust, builder_.CreateAdd(remainder, b), remainder);
}

llvm::Value* CodeGenLLVM::emit_compare(const tir::CompareNode& op) {
  const DataType& dtype = op.a.dtype();
  llvm::Value* a = emit(op.a);
  llvm::Value* b = emit(op.b);
  if (dtype.is_float()) {
    a = widen(a, dtype);
    b = widen(b, dtype);
    // Ordered comparisons (false on NaN) except !=, which is true on NaN as in C and numpy.
    switch (op.op) {
      case tir::CompareOp::kEQ:
        return builder_.CreateFCmpOEQ(a, b);
      case tir::CompareOp::kNE:
        return builder_.CreateFCmpUNE(a, b);
      case tir::CompareOp::kLT:
        return builder_.CreateFCmpOLT(a, b);
      case tir::CompareOp::kLE:
        return builder_.CreateFCmpOLE(a, b);
      case tir::CompareOp::kGT:
        return builder_.CreateFCmpOGT(a, b);
      case tir::CompareOp::kGE:
        return builder_.CreateFCmpOGE(a, b);
    }
  }
  bool sign = is_signed(dtype);
  switch (op.op) {
    case tir::CompareOp::kEQ:
      return builder_.CreateICmpEQ(a, b);
    case tir::CompareOp::kNE:
      return builder_.CreateICmpNE(a, b);
    case tir::CompareOp::kLT:
      return sign ? builder_.CreateICmpSLT(a, b) : builder_.CreateICmpULT(a, b);
    case tir::CompareOp::kLE:
      return sign ? builder_.CreateICmpSLE(a, b) : builder_.CreateICmpULE(a, b);
    case tir::CompareOp::kGT:
      return sign ? builder_.CreateICmpSGT(a, b) : builder_.CreateICmpUGT(a, b);
    case tir::CompareOp::kGE:
      return sign ? builder_.CreateICmpSGE(a, b) : builder_.CreateICmpUGE(a, b);
  }
  return nullptr;
}

llvm::Value* CodeGenLLVM::emit_cast(const DataType& to, const DataType& from_type,
                                    llvm::Value* value) {
  DataType from = from_type;
  if (from.lanes != to.lanes) {
    KILN_CHECK(from.lanes == 1) << "cast from " << from.to_string() << " to " << to.to_string();
    value = builder_.CreateVectorSplat(to.lanes, value);
    from = from.with_lanes(to.lanes);
  }
  if (from == to) return value;
  if (to.is_bool()) {
    if (from.is_float()) {
      llvm::Value* wide = widen(value, from);
      return builder_.CreateFCmpUNE(wide, llvm::Constant::getNullValue(wide->getType()));
    }
    return builder_.CreateICmpNE(value, llvm::Constant::getNullValue(value->getType()));
  }
  if (to.is_float()) {
    llvm::Type* target = compute_type(to);
    llvm::Value* result = nullptr;
    if (from.is_float()) {
      llvm::Value* wide = widen(value, from);
      // double -> float16/bfloat16 goes through float (rounding twice can differ from rounding
      // once only for values exactly between two halves after the first rounding).
      if (wide->getType()->getScalarType()->isDoubleTy() &&
          !target->getScalarType()->isDoubleTy()) {
        result = builder_.CreateFPTrunc(wide, target);
      } else if (!wide->getType()->getScalarType()->isDoubleTy() &&
                 target->getScalarType()->isDoubleTy()) {
        result = builder_.CreateFPExt(wide, target);
      } else {
        result = wide;
      }
    } else if (from.is_bool() || !is_signed(from)) {
      result = builder_.CreateUIToFP(value, target);
    } else {
      result = builder_.CreateSIToFP(value, target);
    }
    return narrow(result, to);
  }
  // Integer destination.
  llvm::Type* target = register_type(to);
  if (dtype_subbyte_bits(to.dtype) > 0) {
    // 4-/2-bit integers keep the low bits of a wide integer. From a float, ONNX (int4.md, int2.md)
    // rounds to nearest even first; NaN, infinities and values beyond int64 (whose low bits are
    // 0) give 0, as float_to_subbyte does when constants fold.
    llvm::Value* wide_int = nullptr;
    llvm::Type* i64 = register_type({DType::kInt64, to.lanes});
    if (from.is_float()) {
      llvm::Value* rounded = call_llvm_intrinsic(llvm::Intrinsic::roundeven, {widen(value, from)});
      llvm::Value* magnitude = call_llvm_intrinsic(llvm::Intrinsic::fabs, {rounded});
      llvm::Value* in_range = builder_.CreateFCmpOLT(
          magnitude, llvm::ConstantFP::get(magnitude->getType(), 9223372036854775808.0));
      wide_int = builder_.CreateSelect(in_range, builder_.CreateFPToSI(rounded, i64),
                                       llvm::Constant::getNullValue(i64));
    } else {
      wide_int = builder_.CreateIntCast(value, i64, !from.is_bool() && is_signed(from));
    }
    return wrap_subbyte(builder_.CreateTrunc(wide_int, target), to);
  }
  if (from.is_float()) {
    llvm::Value* wide = widen(value, from);
    return is_signed(to) ? builder_.CreateFPToSI(wide, target)
                         : builder_.CreateFPToUI(wide, target);
  }
  return builder_.CreateIntCast(value, target, /*isSigned=*/!from.is_bool() && is_signed(from));
}

llvm::Value* CodeGenLLVM::emit_ramp(const tir::RampNode& op) {
  KILN_CHECK(op.base.dtype().is_int()) << "ramp of " << op.base.dtype().to_string();
  llvm::Value* base = builder_.CreateVectorSplat(op.lanes, emit(op.base));
  llvm::Type* element = register_type(op.base.dtype());
  std::vector<llvm::Constant*> lane_numbers;
  for (int lane = 0; lane < op.lanes; ++lane) {
    lane_numbers.push_back(llvm::ConstantInt::get(element, lane));
  }
  llvm::Value* offsets = llvm::ConstantVector::get(lane_numbers);
  const int64_t* stride = tir::as_const_int(op.stride);
  if (stride == nullptr || *stride != 1) {
    offsets = builder_.CreateMul(offsets, builder_.CreateVectorSplat(op.lanes, emit(op.stride)));
  }
  return builder_.CreateAdd(base, offsets);
}

// ---- memory ----------------------------------------------------------------------------------

llvm::Value* CodeGenLLVM::to_index(llvm::Value* value, const DataType& dtype) {
  llvm::Type* index_type = register_type({DType::kInt64, dtype.lanes});
  if (value->getType() == index_type) return value;
  return builder_.CreateIntCast(value, index_type, /*isSigned=*/is_signed(dtype));
}

llvm::Value* CodeGenLLVM::emit_flat_index(const tir::Buffer& buffer,
                                          const std::vector<tir::PrimExpr>& indices) {
  KILN_CHECK(!indices.empty()) << "access to " << buffer->name << " without an index";
  if (indices.size() == 1) return to_index(emit(indices[0]), indices[0].dtype());
  // Not flattened yet: row-major offset.
  KILN_CHECK(indices.size() == buffer->shape.size())
      << buffer->name << " of rank " << buffer->shape.size() << " accessed with " << indices.size()
      << " indices";
  int lanes = 1;
  for (const tir::PrimExpr& index : indices) lanes = std::max(lanes, index.dtype().lanes);
  llvm::Value* offset = nullptr;
  for (size_t dim = 0; dim < indices.size(); ++dim) {
    llvm::Value* index = splat_if_needed(to_index(emit(indices[dim]), indices[dim].dtype()), lanes);
    if (offset == nullptr) {
      offset = index;
      continue;
    }
    llvm::Value* extent = splat_if_needed(builder_.getInt64(buffer->shape[dim]), lanes);
    offset = builder_.CreateAdd(builder_.CreateMul(offset, extent), index);
  }
  return offset;
}

void CodeGenLLVM::annotate_access(llvm::Instruction* access, const tir::BufferNode* buffer) {
  auto found = alias_.find(buffer);
  if (found == alias_.end()) return;
  access->setMetadata(llvm::LLVMContext::MD_alias_scope, found->second.scope);
  if (found->second.noalias != nullptr) {
    access->setMetadata(llvm::LLVMContext::MD_noalias, found->second.noalias);
  }
}

llvm::Value* CodeGenLLVM::emit_load(const tir::BufferLoadNode& op) {
  auto found = buffers_.find(op.buffer.get());
  KILN_CHECK(found != buffers_.end())
      << "buffer '" << op.buffer->name << "' is used outside its scope in kernel " << kernel_name_;
  llvm::Value* data = found->second;
  DataType dtype = op.dtype();
  DataType element = op.buffer->dtype.element();
  llvm::Type* element_memory = memory_type(element);
  llvm::Align align(module_.getDataLayout().getABITypeAlign(element_memory));
  llvm::Value* loaded = nullptr;
  const auto* ramp = op.indices.size() == 1 ? op.indices[0].as<tir::RampNode>() : nullptr;
  const auto* broadcast = op.indices.size() == 1 ? op.indices[0].as<tir::BroadcastNode>() : nullptr;
  const int64_t* stride = ramp != nullptr ? tir::as_const_int(ramp->stride) : nullptr;
  llvm::Instruction* access = nullptr;
  if (dtype.lanes > 1 && ramp != nullptr && stride != nullptr && *stride == 1) {
    // Contiguous lanes: one vector load.
    llvm::Value* base = to_index(emit(ramp->base), ramp->base.dtype());
    llvm::Value* address = builder_.CreateInBoundsGEP(element_memory, data, base);
    access = builder_.CreateAlignedLoad(memory_type(dtype), address, align);
    loaded = access;
  } else if (dtype.lanes > 1 && broadcast != nullptr) {
    // Every lane reads the same element.
    llvm::Value* index = to_index(emit(broadcast->value), broadcast->value.dtype());
    llvm::Value* address = builder_.CreateInBoundsGEP(element_memory, data, index);
    access = builder_.CreateAlignedLoad(element_memory, address, align);
    loaded = builder_.CreateVectorSplat(dtype.lanes, access);
  } else {
    llvm::Value* index = emit_flat_index(op.buffer, op.indices);
    llvm::Value* address = builder_.CreateInBoundsGEP(element_memory, data, index);
    if (index->getType()->isVectorTy()) {
      // Strided or irregular lanes: a gather.
      access = builder_.CreateMaskedGather(memory_type(dtype), address, align);
    } else {
      access = builder_.CreateAlignedLoad(element_memory, address, align);
    }
    loaded = splat_if_needed(access, dtype.lanes);
  }
  annotate_access(access, op.buffer.get());
  if (dtype.is_bool()) return builder_.CreateTrunc(loaded, register_type(dtype));
  return wrap_subbyte(loaded, dtype);  // memory may hold other high bits (fed from outside)
}

}  // namespace kiln::codegen
