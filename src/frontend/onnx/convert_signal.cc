// Converters for signal processing: window functions, DFT, STFT and MelWeightMatrix. They are
// decompositions at import: windows and mel matrices are constants computed here (in double,
// rounded once to the output dtype), and a DFT is one dense product with a constant matrix of
// cosines and sines (O(n^2) multiply-adds, fine for the short transforms models use; no FFT).
#include <cmath>
#include <numeric>

#include "frontend/onnx/converter.h"

namespace kiln::frontend::onnx_import {

namespace {

using Outputs = std::vector<ir::Expr>;

constexpr double kPi = 3.14159265358979323846;
// The DFT matrix has (rows * columns) elements; beyond this it would dominate the weights. The
// same bound applies to the other constants built here (windows, mel matrices, frame indices).
constexpr int64_t kMaxDftMatrixElements = int64_t{1} << 24;

// Rejects a constant of rows x columns elements above the bound (checked without overflow).
void check_constant_size(const NodeContext& ctx, int64_t rows, int64_t columns,
                         const std::string& what) {
  if (rows > kMaxDftMatrixElements || columns > kMaxDftMatrixElements ||
      (rows > 0 && columns > kMaxDftMatrixElements / rows)) {
    ctx.fail("not supported yet: " + what + " of " + std::to_string(rows) + " x " +
             std::to_string(columns) + " values (Kiln builds it as a constant, up to " +
             std::to_string(kMaxDftMatrixElements) + ")");
  }
}

// The dtype named by the `output_datatype` attribute (ONNX's default: float).
DType output_dtype(const NodeContext& ctx) {
  int64_t onnx_type = ctx.attr_int("output_datatype", 1);
  std::optional<DType> dtype = dtype_from_onnx(onnx_type);
  if (!dtype) {
    ctx.fail("attribute 'output_datatype' " + onnx_type_name(onnx_type) +
             " is not a type Kiln supports");
  }
  return *dtype;
}

// A constant integer scalar input (a size, a length, a rate).
int64_t constant_int(const NodeContext& ctx, size_t i, const std::string& what) {
  Tensor value = ctx.require_constant(i, what);
  if (value.numel() != 1) {
    ctx.fail("input " + std::to_string(i) + " (" + what + ") must hold one value, it has " +
             std::to_string(value.numel()));
  }
  return value.element_as_int64(0);
}

// HannWindow / HammingWindow / BlackmanWindow: a(n) - b cos(2 pi n / N) + c cos(4 pi n / N) with
// N = size (periodic) or size - 1 (symmetric).
Converter window(double a, double b, double c) {
  return [a, b, c](const NodeContext& ctx) {
    int64_t size = constant_int(ctx, 0, "size");
    if (size < 0) ctx.fail("input 0 (size) must not be negative, got " + std::to_string(size));
    check_constant_size(ctx, 1, size, "a window");
    double period = ctx.attr_int("periodic", 1) != 0 ? static_cast<double>(size)
                                                     : static_cast<double>(size - 1);
    Tensor result(output_dtype(ctx), {size});
    for (int64_t n = 0; n < size; ++n) {
      double phase = 2.0 * kPi * static_cast<double>(n) / period;
      result.set_element_from_double(n, a - b * std::cos(phase) + c * std::cos(2.0 * phase));
    }
    return Outputs{ctx.constant(std::move(result))};
  };
}

// What one DFT computes: `rows` input samples (or one-sided bins) along the transformed axis,
// `channels` 1 (real) or 2 (complex, interleaved) per sample; `bins` outputs, each complex (2
// values) or real (1, the inverse of a one-sided spectrum).
struct DftPlan {
  int64_t length = 0;  // the transform length (dft_length)
  int64_t rows = 0;
  int64_t channels = 1;
  int64_t bins = 0;
  int64_t out_channels = 2;
  bool inverse = false;
  bool onesided = false;
};

// The dense weight [bins * out_channels, rows * channels]: output value (k, o) is the sum over
// input values (j, c) of x[j, c] * W[(k, o), (j, c)].
Tensor dft_matrix(const DftPlan& plan, DType dtype) {
  int64_t out_width = plan.bins * plan.out_channels;
  int64_t in_width = plan.rows * plan.channels;
  Tensor weight(dtype, {out_width, in_width});
  double scale = plan.inverse ? 1.0 / static_cast<double>(plan.length) : 1.0;
  for (int64_t k = 0; k < plan.bins; ++k) {
    for (int64_t j = 0; j < plan.rows; ++j) {
      // The product k * j reduced modulo the length keeps the angle exact for large indices.
      double angle =
          2.0 * kPi * static_cast<double>((k * j) % plan.length) / static_cast<double>(plan.length);
      double cosine = std::cos(angle) * scale;
      double sine = std::sin(angle) * scale;
      if (plan.out_channels == 1) {
        // Inverse of a one-sided spectrum (irfft): bin j stands for itself and its mirror
        // length - j, except bin 0 and (even lengths) bin length / 2.
        bool single = j == 0 || 2 * j == plan.length;
        double weight_j = single ? 1.0 : 2.0;
        weight.set_element_from_double(k * in_width + j * plan.channels, weight_j * cosine);
        if (plan.channels == 2) {
          weight.set_element_from_double(k * in_width + j * plan.channels + 1, -weight_j * sine);
        }
        continue;
      }
      // Forward: e^{-i angle}; inverse: e^{+i angle} / length.
      double sign = plan.inverse ? 1.0 : -1.0;
      int64_t real_row = (2 * k) * in_width + j * plan.channels;
      int64_t imag_row = (2 * k + 1) * in_width + j * plan.channels;
      weight.set_element_from_double(real_row, cosine);
      weight.set_element_from_double(imag_row, sign * sine);
      if (plan.channels == 2) {
        weight.set_element_from_double(real_row + 1, -sign * sine);
        weight.set_element_from_double(imag_row + 1, cosine);
      }
    }
  }
  return weight;
}

// The DFT of `data` [..., n, channels] along its second-to-last axis: truncated or zero-padded
// to the plan's length (only the first `rows` samples contribute), one dense product.
ir::Expr dft_on_last_axis(const NodeContext& ctx, ir::Expr data, const DftPlan& plan) {
  const ir::TensorType& type = data->type().as_tensor();
  int64_t rank = type.rank();
  int64_t available = type.shape[static_cast<size_t>(rank - 2)].value();
  if (available > plan.rows) {
    data = ctx.call("strided_slice", {data},
                    {{"begin", std::vector<int64_t>{0}},
                     {"end", std::vector<int64_t>{plan.rows}},
                     {"axes", std::vector<int64_t>{rank - 2}},
                     {"strides", std::vector<int64_t>{1}}});
  }
  DftPlan used = plan;
  used.rows = std::min(available, plan.rows);
  check_constant_size(ctx, used.rows * used.channels, used.bins,
                      "a DFT of length " + std::to_string(plan.length) +
                          " (computed as a dense product with a matrix)");
  // [..., rows, channels] -> [..., rows * channels] -> dense -> [..., bins, out_channels].
  std::vector<int64_t> flat(static_cast<size_t>(rank - 2), 0);
  flat.push_back(used.rows * used.channels);
  ir::Expr rows = ctx.call("reshape", {data}, {{"newshape", flat}});
  ir::Expr product = ctx.call("dense", {rows, ctx.constant(dft_matrix(used, type.dtype))});
  std::vector<int64_t> unflat(static_cast<size_t>(rank - 2), 0);
  unflat.push_back(used.bins);
  unflat.push_back(used.out_channels);
  return ctx.call("reshape", {product}, {{"newshape", unflat}});
}

// Permutation that moves `axis` to position rank - 2 (keeping the channel axis last), and back.
std::vector<int64_t> move_to_signal_axis(int64_t axis, int64_t rank) {
  std::vector<int64_t> perm;
  for (int64_t i = 0; i < rank - 1; ++i) {
    if (i != axis) perm.push_back(i);
  }
  perm.push_back(axis);
  perm.push_back(rank - 1);
  return perm;
}

std::vector<int64_t> inverse_permutation(const std::vector<int64_t>& perm) {
  std::vector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i)
    inverse[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);
  return inverse;
}

// DFT (opset 17: axis attribute, default 1; opset 20: axis input, default -2).
Outputs convert_dft(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  int64_t rank = type.rank();
  if (rank < 2) ctx.fail("input 0 must have rank >= 2 (the last dim holds 1 or 2 values)");
  if (!type.is_static()) ctx.fail("the input shape must be static" + ctx.shape_dict_hint());
  if (!dtype_is_float(type.dtype))
    ctx.fail("input 0 must be floating point, got " + type.to_string());
  DftPlan plan;
  plan.channels = type.shape.back().value();
  if (plan.channels != 1 && plan.channels != 2) {
    ctx.fail("the last dim of input 0 must be 1 (real) or 2 (complex), got " +
             std::to_string(plan.channels));
  }
  int64_t axis = ctx.opset() >= 20 ? (ctx.has_input(2) ? constant_int(ctx, 2, "axis") : -2)
                                   : ctx.attr_int("axis", 1);
  if (axis < -rank || axis >= rank) ctx.fail("axis " + std::to_string(axis) + " is out of range");
  if (axis < 0) axis += rank;
  if (axis == rank - 1)
    ctx.fail("axis must not be the last dim (it holds the real/imaginary parts)");
  plan.inverse = ctx.attr_int("inverse", 0) != 0;
  plan.onesided = ctx.attr_int("onesided", 0) != 0;
  int64_t n = type.shape[static_cast<size_t>(axis)].value();
  bool irfft = plan.inverse && plan.onesided;
  plan.length = irfft ? 2 * (n - 1) : n;
  if (ctx.has_input(1)) plan.length = constant_int(ctx, 1, "dft_length");
  if (plan.length <= 0)
    ctx.fail("the DFT length must be positive, got " + std::to_string(plan.length));
  if (irfft) {
    plan.rows = plan.length / 2 + 1;  // numpy's irfft reads this many bins
    plan.bins = plan.length;
    plan.out_channels = 1;
  } else {
    if (plan.onesided && plan.channels == 2) {
      ctx.fail("onesided needs a real input (last dim 1), got " + type.to_string());
    }
    plan.rows = plan.length;
    plan.bins = plan.onesided ? plan.length / 2 + 1 : plan.length;
  }
  std::vector<int64_t> perm = move_to_signal_axis(axis, rank);
  bool moved = axis != rank - 2;
  ir::Expr data = ctx.input(0);
  if (moved) data = ctx.call("transpose", {data}, {{"axes", perm}});
  ir::Expr result = dft_on_last_axis(ctx, data, plan);
  if (moved) result = ctx.call("transpose", {result}, {{"axes", inverse_permutation(perm)}});
  return {result};
}

// STFT(signal [batch, length, 1|2], frame_step, window?, frame_length?): frames taken every
// frame_step samples, weighted by the window, each transformed (one-sided by default).
Outputs convert_stft(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  if (type.rank() != 3 || !type.is_static()) {
    ctx.fail("input 0 (signal) must be a static [batch, length, 1 or 2] tensor, got " +
             type.to_string() + ctx.shape_dict_hint());
  }
  int64_t length = type.shape[1].value();
  int64_t channels = type.shape[2].value();
  int64_t step = constant_int(ctx, 1, "frame_step");
  if (step <= 0) ctx.fail("input 1 (frame_step) must be positive, got " + std::to_string(step));
  int64_t frame_length = -1;
  if (ctx.has_input(3)) frame_length = constant_int(ctx, 3, "frame_length");
  if (ctx.has_input(2)) {
    const ir::TensorType& window_type = ctx.input_type(2);
    if (window_type.rank() != 1 || !window_type.is_static()) {
      ctx.fail("input 2 (window) must be a static 1-D tensor, got " + window_type.to_string());
    }
    int64_t window_length = window_type.shape[0].value();
    if (frame_length >= 0 && frame_length != window_length) {
      ctx.fail("frame_length " + std::to_string(frame_length) + " differs from the window's " +
               std::to_string(window_length));
    }
    frame_length = window_length;
  }
  if (frame_length < 0) frame_length = length;
  if (frame_length <= 0 || frame_length > length) {
    ctx.fail("frame_length " + std::to_string(frame_length) + " must be in [1, " +
             std::to_string(length) + "]");
  }
  int64_t frames = 1 + (length - frame_length) / step;
  check_constant_size(ctx, frames, frame_length, "STFT frame indices");
  // Frames: a gather along the time axis with indices [frames, frame_length].
  Tensor indices(DType::kInt64, {frames, frame_length});
  for (int64_t f = 0; f < frames; ++f) {
    for (int64_t j = 0; j < frame_length; ++j) {
      indices.mutable_data_as<int64_t>()[f * frame_length + j] = f * step + j;
    }
  }
  ir::Expr framed =
      ctx.call("gather", {ctx.input(0), ctx.constant(indices)}, {{"axis", int64_t{1}}});
  if (ctx.has_input(2)) {
    ir::Expr window =
        ctx.call("reshape", {ctx.input(2)}, {{"newshape", std::vector<int64_t>{frame_length, 1}}});
    if (ctx.input_type(2).dtype != type.dtype) {
      window = ctx.call("cast", {window}, {{"dtype", std::string(dtype_name(type.dtype))}});
    }
    framed = ctx.call("multiply", {framed, window});
  }
  DftPlan plan;
  plan.length = frame_length;
  plan.rows = frame_length;
  plan.channels = channels;
  plan.onesided = ctx.attr_int("onesided", 1) != 0;
  if (plan.onesided && channels == 2) {
    ctx.fail("onesided needs a real signal (last dim 1), got " + type.to_string());
  }
  plan.bins = plan.onesided ? frame_length / 2 + 1 : frame_length;
  return {dft_on_last_axis(ctx, framed, plan)};
}

// MelWeightMatrix: triangular filters on the mel scale, as ONNX's reference computes them
// (bin edges floored to whole spectrogram bins).
Outputs convert_mel_weight_matrix(const NodeContext& ctx) {
  int64_t num_mel_bins = constant_int(ctx, 0, "num_mel_bins");
  int64_t dft_length = constant_int(ctx, 1, "dft_length");
  int64_t sample_rate = constant_int(ctx, 2, "sample_rate");
  double lower_hertz = ctx.require_constant_scalar(3, "lower_edge_hertz");
  double upper_hertz = ctx.require_constant_scalar(4, "upper_edge_hertz");
  if (num_mel_bins <= 0 || dft_length <= 0 || sample_rate <= 0) {
    ctx.fail("num_mel_bins, dft_length and sample_rate must be positive");
  }
  int64_t spectrogram_bins = dft_length / 2 + 1;
  check_constant_size(ctx, spectrogram_bins, num_mel_bins, "a mel weight matrix");
  auto to_mel = [](double hertz) { return 2595.0 * std::log10(1.0 + hertz / 700.0); };
  double low_mel = to_mel(lower_hertz);
  double mel_step = (to_mel(upper_hertz) - low_mel) / static_cast<double>(num_mel_bins + 2);
  std::vector<int64_t> edges;
  for (int64_t i = 0; i < num_mel_bins + 2; ++i) {
    double hertz =
        700.0 * (std::pow(10.0, (static_cast<double>(i) * mel_step + low_mel) / 2595.0) - 1.0);
    edges.push_back(static_cast<int64_t>(std::floor(static_cast<double>(dft_length + 1) * hertz /
                                                    static_cast<double>(sample_rate))));
  }
  Tensor result(output_dtype(ctx), {spectrogram_bins, num_mel_bins});
  auto set = [&](int64_t bin, int64_t mel, double value) {
    if (bin < 0 || bin >= spectrogram_bins) {
      ctx.fail("the mel filter " + std::to_string(mel) + " reaches bin " + std::to_string(bin) +
               ", outside the " + std::to_string(spectrogram_bins) +
               " spectrogram bins (check the edge frequencies against the sample rate)");
    }
    result.set_element_from_double(bin * num_mel_bins + mel, value);
  };
  for (int64_t i = 0; i < num_mel_bins; ++i) {
    int64_t left = edges[static_cast<size_t>(i)];
    int64_t center = edges[static_cast<size_t>(i) + 1];
    int64_t right = edges[static_cast<size_t>(i) + 2];
    if (center == left) {
      set(center, i, 1.0);
    } else {
      for (int64_t j = left; j <= center; ++j) {
        set(j, i, static_cast<double>(j - left) / static_cast<double>(center - left));
      }
    }
    for (int64_t j = center; j < right; ++j) {
      set(j, i, static_cast<double>(right - j) / static_cast<double>(right - center));
    }
  }
  return {ctx.constant(std::move(result))};
}

}  // namespace

void add_signal_converters(ConverterTable& table) {
  table["HannWindow"] = window(0.5, 0.5, 0.0);
  table["HammingWindow"] = window(25.0 / 46.0, 21.0 / 46.0, 0.0);
  table["BlackmanWindow"] = window(0.42, 0.5, 0.08);
  table["DFT"] = convert_dft;
  table["STFT"] = convert_stft;
  table["MelWeightMatrix"] = convert_mel_weight_matrix;
}

}  // namespace kiln::frontend::onnx_import
