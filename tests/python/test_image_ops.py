"""Image, pooling and spatial operators compiled and run by Kiln, compared with a reference:
3-D pooling, MaxPool's Indices, MaxUnpool, AffineGrid, GridSample, RoiAlign, Col2Im and the
Resize modes antialias / tf_crop_and_resize / keep_aspect_ratio_policy.

References: onnxruntime where it implements the operator as ONNX's reference does, else
`onnx.reference.ReferenceEvaluator` (the ONNX spec's own implementation, which generated the
conformance data): GridSample (onnxruntime rounds nearest half away from zero, the spec half to
even), Col2Im, Resize antialias / align_corners with fractional scales, MaxUnpool with
output_shape (the reference pads the unpooled tensor; onnxruntime re-indexes it).
Tolerances: rtol 1e-4 / atol 1e-5 for float32 (the references compute in float64 or in another
order); integer results (indices) must be exact.
"""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from conftest import ort_session

NP_TO_ONNX = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int64): TensorProto.INT64,
              np.dtype(np.float64): TensorProto.DOUBLE}


def make_model(op, feeds, constants=None, attrs=None, num_outputs=1, opset=22, input_names=None,
               out_dtypes=None):
    constants = constants or {}
    first = NP_TO_ONNX[next(iter(feeds.values())).dtype]
    out_dtypes = out_dtypes or [first] * num_outputs
    names = input_names if input_names is not None else list(feeds) + list(constants)
    outputs = [f"y{i}" for i in range(num_outputs)]
    node = helper.make_node(op, names, outputs, name="node", **(attrs or {}))
    graph = helper.make_graph(
        [node], op.lower(),
        [helper.make_tensor_value_info(n, NP_TO_ONNX[v.dtype], v.shape) for n, v in feeds.items()],
        [helper.make_tensor_value_info(n, t, None) for n, t in zip(outputs, out_dtypes)],
        initializer=[numpy_helper.from_array(v, n) for n, v in constants.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def check(kiln, tmp_path, op, feeds, reference="ort", rtol=1e-4, atol=1e-5, **kwargs):
    """Runs a one-node model in Kiln and in the reference ("ort" or "onnx") and compares; with
    reference="none" it returns Kiln's outputs for the caller to check."""
    model = make_model(op, feeds, **kwargs)
    path = tmp_path / f"{op}.onnx"
    path.write_bytes(model.SerializeToString())
    if reference == "ort":
        expected = ort_session(str(path)).run(None, feeds)
    elif reference == "onnx":
        expected = ReferenceEvaluator(model).run(None, feeds)
    else:  # the caller compares
        expected = [None]
    package = kiln.compile(kiln.load(str(path)), target="llvm",
                           package_path=str(tmp_path / "m.tar"))
    result = kiln.run(package, inputs=feeds)
    got = [result.outputs[f"output_{i}"] for i in range(len(expected))]
    for g, e in zip(got, expected):
        if e is None:
            continue
        e = np.asarray(e)
        assert g.shape == e.shape
        if np.issubdtype(e.dtype, np.floating):
            np.testing.assert_allclose(g, e.astype(g.dtype), rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(g, e)
    return got


def rand(*shape, seed=0, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# 3-D pooling (sizes around the 16-float vector: 15, 16, 17, 33)
# ---------------------------------------------------------------------------------------------
POOL_3D = [
    dict(kernel_shape=[2, 2, 2]),
    dict(kernel_shape=[3, 3, 3], strides=[2, 2, 2], pads=[1, 1, 1, 1, 1, 1]),
    dict(kernel_shape=[3, 2, 3], strides=[1, 2, 3], dilations=[2, 1, 2], ceil_mode=1),
    dict(kernel_shape=[2, 3, 2], strides=[2, 2, 2], pads=[0, 1, 1, 1, 0, 1], ceil_mode=1),
]


@pytest.mark.parametrize("attrs", POOL_3D)
@pytest.mark.parametrize("width", [15, 16, 17, 33])
def test_max_pool_3d(kiln, tmp_path, attrs, width):
    check(kiln, tmp_path, "MaxPool", {"x": rand(1, 3, 6, 7, width)}, attrs=attrs)


@pytest.mark.parametrize("attrs", POOL_3D)
@pytest.mark.parametrize("count_include_pad", [0, 1])
def test_average_pool_3d(kiln, tmp_path, attrs, count_include_pad):
    check(kiln, tmp_path, "AveragePool", {"x": rand(2, 2, 5, 9, 17)},
          attrs=dict(attrs, count_include_pad=count_include_pad))


@pytest.mark.parametrize("p", [1, 2, 3])
def test_lp_pool_3d(kiln, tmp_path, p):
    check(kiln, tmp_path, "LpPool", {"x": rand(1, 2, 4, 6, 16)},
          attrs=dict(kernel_shape=[2, 3, 2], strides=[1, 2, 2], p=p))


# ---------------------------------------------------------------------------------------------
# MaxPool Indices, MaxUnpool
# ---------------------------------------------------------------------------------------------
def ties(*shape, seed=0):
    """Few distinct values, so windows hold ties: the first maximum in window order wins."""
    return np.random.default_rng(seed).integers(-3, 4, shape).astype(np.float32)


@pytest.mark.parametrize("attrs", [
    dict(kernel_shape=[2, 2], strides=[2, 2]),
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    dict(kernel_shape=[5, 5], pads=[2, 2, 2, 2]),
    dict(kernel_shape=[3, 2], strides=[1, 2], dilations=[2, 1], ceil_mode=1),
])
@pytest.mark.parametrize("width", [7, 17])
def test_max_pool_indices(kiln, tmp_path, attrs, width):
    check(kiln, tmp_path, "MaxPool", {"x": ties(2, 3, 6, width)}, attrs=attrs, num_outputs=2,
          out_dtypes=[TensorProto.FLOAT, TensorProto.INT64])


@pytest.mark.parametrize("storage_order", [0, 1])
@pytest.mark.parametrize("shape,attrs", [
    ((1, 2, 5, 6), dict(kernel_shape=[2, 3], strides=[2, 1], pads=[1, 0, 0, 1])),
    ((2, 1, 4, 5, 6), dict(kernel_shape=[2, 2, 3], strides=[1, 2, 2])),
    ((2, 3, 9), dict(kernel_shape=[3], strides=[2])),
])
def test_max_pool_indices_storage_order(kiln, tmp_path, storage_order, shape, attrs):
    check(kiln, tmp_path, "MaxPool", {"x": ties(*shape, seed=1)}, reference="onnx",
          attrs=dict(attrs, storage_order=storage_order), num_outputs=2,
          out_dtypes=[TensorProto.FLOAT, TensorProto.INT64])


def pooled_with_indices(x, attrs):
    model = make_model("MaxPool", {"x": x}, attrs=attrs, num_outputs=2,
                       out_dtypes=[TensorProto.FLOAT, TensorProto.INT64])
    return ReferenceEvaluator(model).run(None, {"x": x})


@pytest.mark.parametrize("shape,attrs", [
    ((1, 2, 6, 8), dict(kernel_shape=[2, 2], strides=[2, 2])),
    ((2, 3, 7, 17), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    ((1, 2, 4, 6, 6), dict(kernel_shape=[2, 2, 2], strides=[2, 2, 2])),
])
def test_max_unpool(kiln, tmp_path, shape, attrs):
    values, indices = pooled_with_indices(rand(*shape, seed=2), attrs)
    check(kiln, tmp_path, "MaxUnpool", {"x": values, "i": indices}, attrs=attrs)


def test_max_unpool_output_shape_pads_the_end(kiln, tmp_path):
    attrs = dict(kernel_shape=[2, 2], strides=[2, 2])
    values, indices = pooled_with_indices(rand(1, 2, 4, 6, seed=3), attrs)
    check(kiln, tmp_path, "MaxUnpool", {"x": values, "i": indices}, reference="onnx",
          constants={"shape": np.array([1, 2, 5, 7], np.int64)}, attrs=attrs)


@pytest.mark.parametrize("shape,attrs", [
    ((1, 2, 6, 8), dict(kernel_shape=[2, 2], strides=[2, 2])),
    ((2, 3, 7, 17), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    ((1, 2, 9, 16), dict(kernel_shape=[3, 2], strides=[1, 2])),  # overlapping windows
    ((1, 2, 6, 6, 6), dict(kernel_shape=[2, 3, 2], strides=[2, 1, 2], pads=[0, 1, 0, 0, 1, 0])),
])
@pytest.mark.parametrize("values", ["random", "ties"])
def test_max_pool_then_unpool(kiln, tmp_path, shape, attrs, values):
    # Indices straight from the MaxPool: Kiln unpools from the windows covering each output
    # (max_unpool) instead of scattering; the result must be the same.
    x = rand(*shape, seed=18) if values == "random" else ties(*shape, seed=19)
    pool = helper.make_node("MaxPool", ["x"], ["v", "i"], **attrs)
    unpool = helper.make_node("MaxUnpool", ["v", "i"], ["y"],
                              **{k: v for k, v in attrs.items() if k != "dilations"})
    graph = helper.make_graph(
        [pool, unpool], "pool_unpool", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
    path = tmp_path / "pool_unpool.onnx"
    path.write_bytes(model.SerializeToString())
    expected = ReferenceEvaluator(model).run(None, {"x": x})[0]
    kiln_model = kiln.load(str(path))
    assert "max_unpool" in kiln_model.op_histogram  # not the scatter
    package = kiln.compile(kiln_model, target="llvm", package_path=str(tmp_path / "m.tar"))
    got = kiln.run(package, inputs={"x": x}).outputs["output_0"]
    np.testing.assert_array_equal(got, expected)


# ---------------------------------------------------------------------------------------------
# AffineGrid, GridSample
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("align_corners", [0, 1])
@pytest.mark.parametrize("size", [[2, 3, 5, 17], [1, 1, 2, 4], [2, 2, 3, 4, 16]])
def test_affine_grid(kiln, tmp_path, align_corners, size):
    r = len(size) - 2
    theta = rand(size[0], r, r + 1, seed=4)
    check(kiln, tmp_path, "AffineGrid", {"theta": theta},
          constants={"size": np.array(size, np.int64)}, attrs=dict(align_corners=align_corners),
          opset=20)


@pytest.mark.parametrize("align_corners", [0, 1])
def test_affine_grid_single_row_is_centred(kiln, tmp_path, align_corners):
    # One row: its coordinate is 0 in both modes, as in PyTorch (onnxruntime and the ONNX
    # reference disagree there: +1 and -1 with align_corners).
    theta = rand(2, 2, 3, seed=17)
    got = check(kiln, tmp_path, "AffineGrid", {"theta": theta}, reference="none",
                constants={"size": np.array([2, 1, 1, 5], np.int64)},
                attrs=dict(align_corners=align_corners), opset=20)
    xs = np.linspace(-1, 1, 5) if align_corners else (2 * np.arange(5) + 1) / 5 - 1
    base = np.stack([xs, np.zeros(5), np.ones(5)], axis=1)  # x, y = 0, 1
    expected = np.einsum("pk,njk->npj", base, theta).reshape(2, 1, 5, 2)
    np.testing.assert_allclose(got[0], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["linear", "nearest", "cubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [0, 1])
def test_grid_sample_2d(kiln, tmp_path, mode, padding_mode, align_corners):
    # The grid reaches past [-1, 1] so that every padding mode matters (reflection more than once).
    grid = rand(2, 5, 17, 2, seed=5, low=-2.6, high=2.6)
    check(kiln, tmp_path, "GridSample", {"x": rand(2, 3, 4, 6, seed=6), "grid": grid},
          reference="onnx",
          attrs=dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners))


@pytest.mark.parametrize("mode", ["linear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [0, 1])
def test_grid_sample_3d(kiln, tmp_path, mode, padding_mode, align_corners):
    grid = rand(1, 2, 3, 5, 3, seed=7, low=-1.7, high=1.7)
    check(kiln, tmp_path, "GridSample", {"x": rand(1, 2, 3, 4, 5, seed=8), "grid": grid},
          reference="onnx",
          attrs=dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners))


def test_grid_sample_nearest_rounds_half_to_even(kiln, tmp_path):
    # Width 4, align_corners 1: x = (n + 1) * 1.5, so n = -1/3 and 1/3 land on 1.0 and 2.0, and
    # n = 0 on 1.5 (rounded to 2), n = -2/3 on 0.5 (rounded to 0).
    grid = np.array([[[[-2 / 3, 0], [0, 0], [1 / 3, 0], [1.0, 0]]]], np.float32)
    got = check(kiln, tmp_path, "GridSample", {"x": np.arange(4, dtype=np.float32).reshape(1, 1, 1, 4),
                                               "grid": grid},
                reference="onnx", attrs=dict(mode="nearest", align_corners=1))
    np.testing.assert_array_equal(got[0].ravel(), [0, 2, 2, 3])


def test_grid_sample_opset16_names(kiln, tmp_path):
    check(kiln, tmp_path, "GridSample", {"x": rand(1, 2, 5, 5), "grid": rand(1, 3, 4, 2, seed=9)},
          attrs=dict(mode="bicubic", padding_mode="border"), opset=16)


# ---------------------------------------------------------------------------------------------
# RoiAlign, Col2Im
# ---------------------------------------------------------------------------------------------
ROIS = np.array([[0, 0, 9, 9], [0, 5, 4, 9], [5, 5, 9, 9], [-3, -2, 4.5, 3.3], [2.2, 1.1, 11, 12]],
                np.float32)


@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("transform", ["half_pixel", "output_half_pixel"])
@pytest.mark.parametrize("sampling_ratio,out", [(2, (5, 5)), (1, (3, 7)), (3, (2, 17))])
def test_roi_align(kiln, tmp_path, mode, transform, sampling_ratio, out):
    check(kiln, tmp_path, "RoiAlign",
          {"x": rand(2, 3, 10, 11, seed=10), "rois": ROIS,
           "batch": np.array([0, 1, 1, 0, 1], np.int64)},
          attrs=dict(mode=mode, coordinate_transformation_mode=transform,
                     sampling_ratio=sampling_ratio, output_height=out[0], output_width=out[1],
                     spatial_scale=0.9), opset=16)


@pytest.mark.parametrize("image,block,attrs", [
    ([5, 5], [1, 5], {}),
    ([6, 17], [2, 3], dict(strides=[2, 1], pads=[1, 0, 0, 2], dilations=[1, 2])),
    ([7, 8], [3, 3], dict(strides=[2, 3], pads=[1, 1, 1, 1])),
    ([3, 4, 5], [2, 2, 3], dict(strides=[1, 2, 1])),
])
def test_col2im(kiln, tmp_path, image, block, attrs):
    n = len(image)
    strides = attrs.get("strides", [1] * n)
    pads = attrs.get("pads", [0] * 2 * n)
    dilations = attrs.get("dilations", [1] * n)
    blocks = 1
    for d in range(n):
        span = image[d] + pads[d] + pads[d + n] - (dilations[d] * (block[d] - 1) + 1)
        blocks *= span // strides[d] + 1
    x = rand(2, 3 * int(np.prod(block)), blocks, seed=11)
    check(kiln, tmp_path, "Col2Im", {"x": x}, reference="onnx",
          constants={"image": np.array(image, np.int64), "block": np.array(block, np.int64)},
          attrs=attrs)


# ---------------------------------------------------------------------------------------------
# DeformConv, 3-D Conv / ConvTranspose
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", [
    dict(x=(1, 2, 5, 6), w=(3, 2, 2, 2), attrs={}),
    dict(x=(2, 4, 6, 7), w=(4, 2, 3, 3),
         attrs=dict(group=2, offset_group=2, pads=[1, 1, 1, 1], strides=[2, 1])),
    dict(x=(1, 4, 7, 17), w=(2, 4, 3, 2), attrs=dict(offset_group=4, dilations=[2, 1])),
])
@pytest.mark.parametrize("with_mask", [False, True])
def test_deform_conv(kiln, tmp_path, case, with_mask):
    attrs = case["attrs"]
    kh, kw = case["w"][2:]
    pads = attrs.get("pads", [0, 0, 0, 0])
    strides = attrs.get("strides", [1, 1])
    dil = attrs.get("dilations", [1, 1])
    n, _, h, w = case["x"]
    oh = (h + pads[0] + pads[2] - (dil[0] * (kh - 1) + 1)) // strides[0] + 1
    ow = (w + pads[1] + pads[3] - (dil[1] * (kw - 1) + 1)) // strides[1] + 1
    groups = attrs.get("offset_group", 1)
    # Offsets up to 2.5 pixels: samples fall between pixels and outside the data.
    feeds = {"x": rand(*case["x"], seed=20), "w": rand(*case["w"], seed=21),
             "offset": rand(n, groups * 2 * kh * kw, oh, ow, seed=22, low=-2.5, high=2.5),
             "b": rand(case["w"][0], seed=23)}
    if with_mask:
        feeds["mask"] = rand(n, groups * kh * kw, oh, ow, seed=24, low=0, high=1)
    check(kiln, tmp_path, "DeformConv", feeds, reference="onnx", attrs=attrs)


@pytest.mark.parametrize("attrs", [
    {},
    dict(strides=[2, 1, 2], pads=[1, 0, 1, 0, 1, 1], dilations=[1, 2, 1]),
    dict(group=2, auto_pad="SAME_UPPER", strides=[1, 2, 2]),
])
def test_conv_3d(kiln, tmp_path, attrs):
    w = (4, 1, 3, 2, 3) if attrs.get("group") == 2 else (4, 2, 3, 2, 3)
    check(kiln, tmp_path, "Conv", {"x": rand(2, 2, 5, 6, 17, seed=25), "w": rand(*w, seed=26),
                                   "b": rand(4, seed=27)}, attrs=attrs)


@pytest.mark.parametrize("attrs", [
    {},
    dict(strides=[2, 1, 3], pads=[1, 0, 1, 0, 1, 1], output_padding=[1, 0, 2]),
    dict(group=2, dilations=[1, 2, 1], strides=[2, 2, 1]),
    dict(output_shape=[7, 9, 16], strides=[2, 2, 3], auto_pad="SAME_UPPER"),
])
def test_conv_transpose_3d(kiln, tmp_path, attrs):
    check(kiln, tmp_path, "ConvTranspose",
          {"x": rand(1, 2, 3, 4, 5, seed=28), "w": rand(2, 3, 3, 2, 3, seed=29),
           "b": rand(3 * attrs.get("group", 1), seed=30)}, attrs=attrs)


# ---------------------------------------------------------------------------------------------
# Resize: antialias, tf_crop_and_resize, keep_aspect_ratio_policy, align_corners
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("scales", [[1, 1, 0.6, 0.6], [1, 1, 0.5, 0.3], [1, 1, 0.8, 1.5]])
@pytest.mark.parametrize("transform", ["half_pixel", "align_corners", "asymmetric"])
def test_resize_antialias(kiln, tmp_path, mode, scales, transform):
    check(kiln, tmp_path, "Resize", {"x": rand(1, 2, 9, 17, seed=12)}, reference="onnx",
          constants={"scales": np.array(scales, np.float32)}, input_names=["x", "", "scales"],
          attrs=dict(mode=mode, antialias=1, coordinate_transformation_mode=transform), opset=19)


@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_resize_antialias_sizes_exclude_outside(kiln, tmp_path, mode):
    check(kiln, tmp_path, "Resize", {"x": rand(2, 1, 8, 16, seed=13)}, reference="onnx",
          constants={"sizes": np.array([2, 1, 3, 7], np.int64)},
          input_names=["x", "", "", "sizes"],
          attrs=dict(mode=mode, antialias=1, exclude_outside=1), opset=19)


@pytest.mark.parametrize("mode", ["linear", "nearest", "cubic"])
@pytest.mark.parametrize("roi", [[0.4, 0.6, 0.6, 0.8], [-0.2, 0.1, 1.3, 0.9]])
def test_resize_tf_crop_and_resize(kiln, tmp_path, mode, roi):
    check(kiln, tmp_path, "Resize", {"x": rand(1, 2, 6, 9, seed=14)}, reference="onnx",
          constants={"roi": np.array(roi, np.float32), "sizes": np.array([5, 17], np.int64)},
          input_names=["x", "roi", "", "sizes"],
          attrs=dict(mode=mode, coordinate_transformation_mode="tf_crop_and_resize",
                     extrapolation_value=7.5, axes=[2, 3]), opset=19)


@pytest.mark.parametrize("policy", ["not_larger", "not_smaller"])
@pytest.mark.parametrize("sizes", [[7, 7], [3, 10], [2, 2]])
def test_resize_keep_aspect_ratio(kiln, tmp_path, policy, sizes):
    check(kiln, tmp_path, "Resize", {"x": rand(1, 2, 4, 6, seed=15)}, reference="onnx",
          constants={"sizes": np.array(sizes, np.int64)}, input_names=["x", "", "", "sizes"],
          attrs=dict(mode="linear", keep_aspect_ratio_policy=policy, axes=[2, 3]), opset=19)


@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("scales", [[1, 1, 0.6, 0.6], [1, 1, 1.7, 2.5]])
def test_resize_align_corners_fractional_scale(kiln, tmp_path, mode, scales):
    # in * scale is not whole: the reference maps with that fractional length.
    check(kiln, tmp_path, "Resize", {"x": rand(1, 1, 4, 7, seed=16)}, reference="onnx",
          constants={"scales": np.array(scales, np.float32)}, input_names=["x", "", "scales"],
          attrs=dict(mode=mode, coordinate_transformation_mode="align_corners"), opset=19)


# ---------------------------------------------------------------------------------------------
# Bad input: one clear kiln.Error naming the node and the operator
# ---------------------------------------------------------------------------------------------
def load_error(kiln, tmp_path, model):
    path = tmp_path / "bad.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(kiln.Error) as err:
        kiln.compile(kiln.load(str(path)), target="llvm", package_path=str(tmp_path / "m.tar"))
    return str(err.value)


def test_grid_sample_wrong_grid_shape(kiln, tmp_path):
    model = make_model("GridSample", {"x": rand(1, 2, 4, 4), "grid": rand(1, 3, 3, 3)})
    message = load_error(kiln, tmp_path, model)
    assert "GridSample" in message and "grid must have shape" in message


def test_roi_align_adaptive_sampling_not_supported(kiln, tmp_path):
    model = make_model("RoiAlign", {"x": rand(1, 1, 8, 8), "rois": ROIS[:2],
                                    "batch": np.zeros(2, np.int64)}, attrs=dict(sampling_ratio=0))
    message = load_error(kiln, tmp_path, model)
    assert "RoiAlign" in message and "not supported yet" in message


def test_resize_antialias_too_many_taps(kiln, tmp_path):
    model = make_model("Resize", {"x": rand(1, 1, 4, 400)},
                       constants={"scales": np.array([1, 1, 1, 0.01], np.float32)},
                       input_names=["x", "", "scales"], attrs=dict(mode="cubic", antialias=1),
                       opset=19)
    assert "not supported yet" in load_error(kiln, tmp_path, model)


def test_col2im_wrong_block_count(kiln, tmp_path):
    model = make_model("Col2Im", {"x": rand(1, 4, 7)},
                       constants={"image": np.array([4, 4], np.int64),
                                  "block": np.array([2, 2], np.int64)})
    message = load_error(kiln, tmp_path, model)
    assert "Col2Im" in message and "blocks" in message
