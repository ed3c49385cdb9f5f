// The narrow element types in generated code: float8 / float4 values live as their bit pattern
// (i8) and convert to float32 for arithmetic and casts; 4- and 2-bit integers live as i8 holding
// the value (sign-extended for the signed ones) and are stored as their low bits.
//
// Decoding is a lookup in a 256-entry table built by kiln::narrow_float_to_float, so generated
// code and the C++ reference cannot disagree. Encoding is integer arithmetic on the float32 bits,
// the same steps as kiln::float_to_narrow_float, written for scalars and vectors alike.
#include <llvm/IR/Constants.h>

#include <llvm/IR/GlobalVariable.h>
#include <cmath>

#include "codegen/llvm/codegen_llvm.h"
#include "kiln/error.h"

namespace kiln::codegen {

using tir::DataType;

namespace {

// The per-format constants of kiln::float_to_narrow_float (see src/support/tensor.cc).
struct Format {
  int exponent_bits;
  int mantissa_bits;
  int bias;
  uint32_t max_code;
  enum class Special { kNanOnly, kIeee, kFnuz, kNone } special;
};

Format format_of(DType dtype) {
  using S = Format::Special;
  switch (dtype) {
    case DType::kFloat8E4M3FN:
      return {4, 3, 7, 0x7e, S::kNanOnly};
    case DType::kFloat8E4M3FNUZ:
      return {4, 3, 8, 0x7f, S::kFnuz};
    case DType::kFloat8E5M2:
      return {5, 2, 15, 0x7b, S::kIeee};
    case DType::kFloat8E5M2FNUZ:
      return {5, 2, 16, 0x7f, S::kFnuz};
    case DType::kFloat4E2M1:
      return {2, 1, 1, 0x7, S::kNone};
    default:
      break;
  }
  KILN_CHECK(false) << "no narrow float format for " << dtype_name(dtype);
  return {};
}

}  // namespace

bool is_narrow_float(const DataType& dtype) {
  return dtype_is_narrow(dtype.dtype) && dtype.is_float();
}

llvm::Value* CodeGenLLVM::decode_narrow_float(llvm::Value* value, const DataType& dtype) {
  std::string table_name = "kiln_decode_" + std::string(dtype_name(dtype.dtype));
  llvm::Type* float_type = builder_.getFloatTy();
  auto* table_type = llvm::ArrayType::get(float_type, 256);
  llvm::GlobalVariable* table = module_.getNamedGlobal(table_name);
  if (table == nullptr) {
    std::vector<llvm::Constant*> entries;
    for (int bits = 0; bits < 256; ++bits) {
      entries.push_back(llvm::ConstantFP::get(
          float_type, narrow_float_to_float(dtype.dtype, static_cast<uint8_t>(bits))));
    }
    table = new llvm::GlobalVariable(module_, table_type, /*isConstant=*/true,
                                     llvm::GlobalValue::PrivateLinkage,
                                     llvm::ConstantArray::get(table_type, entries), table_name);
    table->setAlignment(llvm::Align(64));
  }
  llvm::Value* index = builder_.CreateZExt(value, register_type({DType::kInt32, dtype.lanes}));
  llvm::Value* address = builder_.CreateInBoundsGEP(float_type, table, index);
  if (dtype.lanes == 1) return builder_.CreateAlignedLoad(float_type, address, llvm::Align(4));
  return builder_.CreateMaskedGather(compute_type(dtype), address, llvm::Align(4));
}

llvm::Value* CodeGenLLVM::encode_narrow_float(llvm::Value* value, const DataType& dtype) {
  if (dtype.dtype == DType::kFloat8E8M0) return encode_e8m0(value, dtype, true, 0);
  Format format = format_of(dtype.dtype);
  using S = Format::Special;
  llvm::Type* i32 = register_type({DType::kInt32, dtype.lanes});
  auto constant = [&](uint32_t number) { return llvm::ConstantInt::get(i32, number); };
  int sign_shift = format.exponent_bits + format.mantissa_bits;
  int min_exponent = 1 - format.bias;

  llvm::Value* bits = builder_.CreateBitCast(value, i32);
  llvm::Value* sign = builder_.CreateShl(builder_.CreateLShr(bits, 31), sign_shift);
  llvm::Value* abs_bits = builder_.CreateAnd(bits, constant(0x7fffffffu));

  // Below the smallest normal: a multiple of the subnormal unit, rounded to nearest even. The
  // magnitude is clamped first so that the conversion to integer stays in range on every lane.
  llvm::Value* magnitude = builder_.CreateBitCast(abs_bits, value->getType());
  llvm::Value* smallest_normal =
      llvm::ConstantFP::get(value->getType(), std::ldexp(1.0, min_exponent));
  llvm::Value* clamped = builder_.CreateSelect(builder_.CreateFCmpOLT(magnitude, smallest_normal),
                                               magnitude, smallest_normal);
  llvm::Value* scaled = builder_.CreateFMul(
      clamped, llvm::ConstantFP::get(value->getType(),
                                     std::ldexp(1.0, format.mantissa_bits - min_exponent)));
  llvm::Value* subnormal =
      builder_.CreateFPToUI(call_llvm_intrinsic(llvm::Intrinsic::roundeven, {scaled}), i32);

  // Normal: round the float32 mantissa to M bits (nearest even), then rebias the exponent.
  uint32_t shift = 23u - static_cast<uint32_t>(format.mantissa_bits);
  llvm::Value* odd = builder_.CreateAnd(builder_.CreateLShr(abs_bits, shift), constant(1));
  llvm::Value* rounded = builder_.CreateLShr(
      builder_.CreateAdd(builder_.CreateAdd(abs_bits, constant((1u << (shift - 1)) - 1)), odd),
      shift);
  llvm::Value* normal = builder_.CreateSub(
      rounded, constant(static_cast<uint32_t>(127 - format.bias) << format.mantissa_bits));

  llvm::Value* is_small =
      builder_.CreateICmpULT(abs_bits, constant(static_cast<uint32_t>(min_exponent + 127) << 23));
  llvm::Value* code = builder_.CreateSelect(is_small, subnormal, normal);
  llvm::Value* overflow =
      builder_.CreateOr(builder_.CreateICmpUGT(code, constant(format.max_code)),
                        builder_.CreateICmpUGE(abs_bits, constant(0x7f800000u)));
  llvm::Value* is_nan = builder_.CreateICmpUGT(abs_bits, constant(0x7f800000u));

  llvm::Value* result = builder_.CreateOr(sign, code);
  llvm::Value* overflow_code = nullptr;
  llvm::Value* nan_code = nullptr;
  switch (format.special) {
    case S::kNanOnly:
      overflow_code = nan_code = builder_.CreateOr(sign, constant(0x7f));
      break;
    case S::kIeee:
      overflow_code = builder_.CreateOr(sign, constant(0x7c));
      nan_code = builder_.CreateOr(sign, constant(0x7e));
      break;
    case S::kFnuz:
      overflow_code = nan_code = constant(0x80);
      result = builder_.CreateSelect(builder_.CreateICmpEQ(code, constant(0)), constant(0), result);
      break;
    case S::kNone:  // saturates; NaN becomes a zero with the sign flipped (as ml_dtypes)
      overflow_code = builder_.CreateOr(sign, constant(format.max_code));
      nan_code = builder_.CreateXor(sign, constant(1u << sign_shift));
      break;
  }
  result = builder_.CreateSelect(overflow, overflow_code, result);
  result = builder_.CreateSelect(is_nan, nan_code, result);
  return builder_.CreateTrunc(result, register_type(dtype));
}

llvm::Value* CodeGenLLVM::encode_e8m0(llvm::Value* value, const DataType& dtype, bool saturate,
                                      int mode) {
  llvm::Type* i32 = register_type({DType::kInt32, dtype.lanes});
  auto constant = [&](uint32_t number) { return llvm::ConstantInt::get(i32, number); };
  llvm::Value* bits = builder_.CreateBitCast(value, i32);
  llvm::Value* exponent = builder_.CreateAnd(builder_.CreateLShr(bits, 23), constant(0xff));
  auto nonzero = [&](uint32_t mask) {
    return builder_.CreateICmpNE(builder_.CreateAnd(bits, constant(mask)), constant(0));
  };
  llvm::Value* round_up = nullptr;
  switch (static_cast<E8M0Rounding>(mode)) {
    case E8M0Rounding::kUp:
      round_up = nonzero(0x7fffffu);
      break;
    case E8M0Rounding::kDown:
      round_up = builder_.getFalse();
      if (dtype.lanes > 1) round_up = builder_.CreateVectorSplat(dtype.lanes, round_up);
      break;
    case E8M0Rounding::kNearest: {
      llvm::Value* tie_breaker =
          builder_.CreateOr(builder_.CreateOr(nonzero(0x200000u), nonzero(0x1fffffu)),
                            builder_.CreateICmpUGT(exponent, constant(0)));
      round_up = builder_.CreateAnd(nonzero(0x400000u), tie_breaker);
      break;
    }
  }
  llvm::Value* is_special = builder_.CreateICmpEQ(exponent, constant(0xff));
  if (saturate) {
    round_up = builder_.CreateAnd(round_up, builder_.CreateICmpNE(exponent, constant(0xfe)));
  }
  llvm::Value* result = builder_.CreateAdd(exponent, builder_.CreateZExt(round_up, i32));
  result = builder_.CreateSelect(is_special, constant(0xff), result);
  return builder_.CreateTrunc(result, register_type(dtype));
}

llvm::Value* CodeGenLLVM::wrap_subbyte(llvm::Value* value, const DataType& dtype) {
  int width = dtype_subbyte_bits(dtype.dtype);
  if (width == 0) return value;
  llvm::Type* type = value->getType();
  if (dtype_is_signed(dtype.dtype)) {
    llvm::Value* shift = llvm::ConstantInt::get(type, 8 - width);
    return builder_.CreateAShr(builder_.CreateShl(value, shift), shift);
  }
  return builder_.CreateAnd(value, llvm::ConstantInt::get(type, (1u << width) - 1));
}

llvm::Value* CodeGenLLVM::store_subbyte(llvm::Value* value, const DataType& dtype) {
  int width = dtype_subbyte_bits(dtype.dtype);
  if (width == 0) return value;
  return builder_.CreateAnd(value, llvm::ConstantInt::get(value->getType(), (1u << width) - 1));
}

}  // namespace kiln::codegen
