"""ONNX operators the importer writes as decompositions onto IR operators: the losses
(SoftmaxCrossEntropyLoss, NegativeLogLikelihoodLoss), LayerNormalization's Mean / InvStdDev,
Dropout's mask and training_mode, BatchNormalization training outputs, Shrink, Swish,
MeanVarianceNormalization, Det, ReverseSequence, CenterCropPad, LpNormalization of zero vectors,
ReduceMax/Min on bool, Pad "wrap", the ai.onnx.preview.training optimizers (Momentum, Adagrad,
Adam) and the ai.onnx.ml operators Binarizer, ArrayFeatureExtractor, Scaler, Imputer,
Normalizer, LinearRegressor, TreeEnsemble and TreeEnsembleRegressor.

Each test builds a one-node model, runs it through kiln.load -> compile -> run and compares with
ONNX's reference evaluator (onnx.reference.ReferenceEvaluator), and with onnxruntime where it
implements the operator (the losses). Tolerances: rtol 1e-4 / atol 1e-5 for float32 (same
formulas, another summation order; Det: rtol 1e-4 / atol 1e-4, elimination order differs);
integer and bool results must be exact.
"""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from conftest import ort_session

NP_TO_ONNX = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float64): TensorProto.DOUBLE,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.bool_): TensorProto.BOOL,
}

TRAINING = "ai.onnx.preview.training"
ML = "ai.onnx.ml"


def make_model(op, feeds, constants=None, attrs=None, num_outputs=1, opset=17, domain="",
               input_names=None, output_names=None):
    """A one-node model: `feeds` are graph inputs, `constants` initializers; input_names orders
    them for the node ("" for an omitted optional input); output_names may hold "" too."""
    constants = constants or {}
    names = input_names if input_names is not None else list(feeds) + list(constants)
    outputs = output_names if output_names is not None else [f"y{i}" for i in range(num_outputs)]
    node = helper.make_node(op, names, outputs, name="node", domain=domain, **(attrs or {}))
    graph = helper.make_graph(
        [node], op.lower(),
        [helper.make_tensor_value_info(n, NP_TO_ONNX[v.dtype], v.shape) for n, v in feeds.items()],
        [helper.make_empty_tensor_value_info(n) for n in outputs if n],
        initializer=[numpy_helper.from_array(v, n) for n, v in constants.items()])
    # A node of another domain imports that domain alone (no default opset), as the ONNX
    # backend tests of ai.onnx.ml and ai.onnx.preview.training do.
    return helper.make_model(graph, opset_imports=[helper.make_opsetid(domain, opset)],
                             ir_version=9)


def run_kiln(kiln, tmp_path, model, feeds):
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    package = kiln.compile(kiln.load(str(path)), target="llvm",
                           package_path=str(tmp_path / "m.tar"))
    result = kiln.run(package, inputs=feeds)
    return [result.outputs[f"output_{i}"] for i in range(len(model.graph.output))], str(path)


def assert_close(got, expected, rtol, atol):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        e = np.asarray(e)
        assert g.shape == e.shape, (g.shape, e.shape)
        assert g.dtype == e.dtype, (g.dtype, e.dtype)
        if np.issubdtype(e.dtype, np.floating):
            np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(g, e)


def check(kiln, tmp_path, op, feeds, rtol=1e-4, atol=1e-5, with_ort=False, as_float32=False,
          with_reference=True, **kwargs):
    """Kiln against the reference evaluator (unless with_reference is False) and onnxruntime
    (with_ort). as_float32: the reference's outputs are cast to float32 first (its optimizers
    return float64 for a single tensor)."""
    model = make_model(op, feeds, **kwargs)
    got, path = run_kiln(kiln, tmp_path, model, feeds)
    if with_reference:
        expected = ReferenceEvaluator(model).run(None, feeds)
        if as_float32:
            expected = [np.asarray(e, np.float32) for e in expected]
        assert_close(got, expected, rtol, atol)
    if with_ort:
        assert_close(got, ort_session(path).run(None, feeds), rtol, atol)
    return got


def rand(*shape, seed=0, low=-1.0, high=1.0, dtype=np.float32):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


def targets(shape, classes, seed=1, dtype=np.int64):
    return np.random.default_rng(seed).integers(0, classes, shape).astype(dtype)


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------
LOSS_SHAPES = [(3, 5), (2, 4, 7), (2, 3, 4, 5), (1, 17, 3, 2, 2)]


@pytest.mark.parametrize("op", ["SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss"])
@pytest.mark.parametrize("shape", LOSS_SHAPES)
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [None, 1, -1])
def test_losses(kiln, tmp_path, op, shape, reduction, weighted, ignore_index):
    classes = shape[1]
    target = targets((shape[0],) + shape[2:], classes)
    if ignore_index is not None:
        target.flat[::3] = ignore_index  # some samples ignored, negative index included
    feeds = {"x": rand(*shape, low=-3, high=3), "t": target}
    constants = {"w": rand(classes, seed=2, low=0.1, high=2.0)} if weighted else {}
    attrs = {"reduction": reduction}
    if ignore_index is not None:
        attrs["ignore_index"] = ignore_index
    # SoftmaxCrossEntropyLoss's log_prob output too.
    outputs = 2 if op == "SoftmaxCrossEntropyLoss" else 1
    # The reference evaluator's NegativeLogLikelihoodLoss takes ignore_index -1 without weights
    # for "no ignore_index" (its mean then counts the ignored samples); onnxruntime follows the
    # spec, so it alone is the reference there.
    quirk = op == "NegativeLogLikelihoodLoss" and ignore_index == -1 and not weighted
    check(kiln, tmp_path, op, feeds, constants=constants, attrs=attrs, num_outputs=outputs,
          opset=13, with_ort=True, with_reference=not quirk)


def test_loss_int32_target_and_all_ignored(kiln, tmp_path):
    # Every sample ignored with reduction mean: 0 / 0, NaN in the reference and in Kiln.
    target = np.full((4,), 2, np.int32)
    got = check(kiln, tmp_path, "NegativeLogLikelihoodLoss",
                {"x": rand(4, 3), "t": target}, attrs={"reduction": "mean", "ignore_index": 2})
    assert np.isnan(got[0])


def test_loss_bad_target_shape(kiln, tmp_path):
    model = make_model("NegativeLogLikelihoodLoss", {"x": rand(3, 5), "t": targets((4,), 5)})
    path = tmp_path / "bad.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(kiln.Error, match=r"node.*NegativeLogLikelihoodLoss.*target"):
        kiln.load(str(path))


# ---------------------------------------------------------------------------------------------
# Normalisation outputs, Dropout, BatchNormalization training
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,axis", [((3, 4), 0), ((3, 4), -1), ((2, 3, 17), 1),
                                        ((2, 3, 4, 5), -3), ((2, 3, 4, 5), 3)])
def test_layer_norm_mean_inv_std_dev(kiln, tmp_path, shape, axis):
    normalized = shape[axis:] if axis >= 0 else shape[len(shape) + axis:]
    check(kiln, tmp_path, "LayerNormalization", {"x": rand(*shape)},
          constants={"w": rand(*normalized, seed=3), "b": rand(*normalized, seed=4)},
          attrs={"axis": axis, "epsilon": 1e-3}, num_outputs=3)


@pytest.mark.parametrize("opset", [10, 13, 22])
def test_dropout_inference_mask(kiln, tmp_path, opset):
    check(kiln, tmp_path, "Dropout", {"x": rand(3, 4, 5)}, num_outputs=2, opset=opset)


def test_dropout_7_mask_has_the_input_type(kiln, tmp_path):
    # Dropout-7's mask is of type T (bool from opset 10); the reference evaluator returns bool
    # for every opset, so the spec is checked directly.
    x = rand(3, 4, 5)
    got, _ = run_kiln(kiln, tmp_path, make_model("Dropout", {"x": x}, num_outputs=2, opset=7),
                      {"x": x})
    assert_close(got, [x, np.ones_like(x)], 0, 0)


def test_dropout_training_mode_false_and_zero_ratio(kiln, tmp_path):
    for training, ratio in [(False, 0.5), (True, 0.0)]:
        check(kiln, tmp_path, "Dropout", {"x": rand(3, 4, 5)},
              constants={"r": np.array(ratio, np.float32), "t": np.array(training)},
              num_outputs=2, opset=13)


def test_dropout_training_with_ratio_is_refused(kiln, tmp_path):
    model = make_model("Dropout", {"x": rand(3, 4)},
                       constants={"r": np.array(0.3, np.float32), "t": np.array(True)},
                       num_outputs=2, opset=13)
    path = tmp_path / "d.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(kiln.Error, match="random masks.*not supported yet"):
        kiln.load(str(path))


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (4, 3), (2, 16, 3)])
def test_batch_norm_training_mode(kiln, tmp_path, shape):
    c = shape[1]
    constants = {"s": rand(c, seed=1), "b": rand(c, seed=2), "m": rand(c, seed=3),
                 "v": rand(c, seed=4, low=0.5, high=2.0)}
    check(kiln, tmp_path, "BatchNormalization", {"x": rand(*shape, low=-2, high=3)},
          constants=constants, attrs={"training_mode": 1, "epsilon": 1e-3, "momentum": 0.8},
          num_outputs=3, opset=15)


def test_l2_normalization_of_zero_vectors(kiln, tmp_path):
    # Zero vectors normalise to zeros (the reference evaluator's where(norm == 0, 0, x / norm)).
    # numpy is the reference here: the evaluator sums x^p without |x| for p = 1.
    x = rand(3, 4, 5)
    x[:, 1, :] = 0  # zero along axis 2
    x[1, :, 2] = 0  # zero along axis 1
    for axis, p in [(2, 2), (1, 2), (1, 1), (0, 2)]:
        model = make_model("LpNormalization", {"x": x}, attrs={"axis": axis, "p": p})
        got, _ = run_kiln(kiln, tmp_path, model, {"x": x})
        norm = (np.abs(x.astype(np.float64)) ** p).sum(axis=axis, keepdims=True) ** (1.0 / p)
        expected = np.where(norm == 0, 0, x / np.where(norm == 0, 1, norm)).astype(np.float32)
        assert_close(got, [expected], 1e-5, 1e-6)
        assert not np.isnan(got[0]).any()


@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin"])
@pytest.mark.parametrize("axes,keepdims", [([1], 1), ([0], 0), (None, 1)])
def test_reduce_bool(kiln, tmp_path, op, axes, keepdims):
    data = np.random.default_rng(0).random((4, 3)) > 0.5
    constants = {"axes": np.array(axes, np.int64)} if axes is not None else {}
    check(kiln, tmp_path, op, {"data": data}, constants=constants,
          attrs={"keepdims": keepdims}, opset=20)


# ---------------------------------------------------------------------------------------------
# Small operators
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("attrs", [{}, {"lambd": 1.5}, {"lambd": 0.3, "bias": 0.7}])
def test_shrink(kiln, tmp_path, attrs):
    check(kiln, tmp_path, "Shrink", {"x": rand(4, 33, low=-3, high=3)}, attrs=attrs, opset=9)


@pytest.mark.parametrize("alpha", [1.0, 0.3])
def test_swish(kiln, tmp_path, alpha):
    check(kiln, tmp_path, "Swish", {"x": rand(5, 17, low=-4, high=4)}, attrs={"alpha": alpha},
          opset=24)


@pytest.mark.parametrize("axes", [None, [1], [0, 1, 2, 3]])
def test_mean_variance_normalization(kiln, tmp_path, axes):
    # float64 numpy is the reference: the function body's float32 E[x^2] - E[x]^2 loses ~1e-4
    # to cancellation, Kiln's E[(x - mean)^2] does not.
    x = rand(2, 3, 4, 5, low=0, high=5)
    attrs = {"axes": axes} if axes is not None else {}
    model = make_model("MeanVarianceNormalization", {"x": x}, attrs=attrs, opset=13)
    got, _ = run_kiln(kiln, tmp_path, model, {"x": x})
    reduce = tuple(axes if axes is not None else [0, 2, 3])
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=reduce, keepdims=True)
    std = np.sqrt(((x64 - mean) ** 2).mean(axis=reduce, keepdims=True))
    assert_close(got, [((x64 - mean) / (std + 1e-9)).astype(np.float32)], 1e-4, 1e-5)
    # and the function body in float32, within its cancellation error
    assert_close(got, ReferenceEvaluator(model).run(None, {"x": x}), 1e-3, 1e-4)


@pytest.mark.parametrize("shape", [(2, 2), (3, 3), (3, 2, 2), (2, 3, 5, 5), (1, 9, 9)])
def test_det(kiln, tmp_path, shape):
    check(kiln, tmp_path, "Det", {"x": rand(*shape, low=-2, high=2)}, rtol=1e-4, atol=1e-4)


def test_det_singular_and_pivoting(kiln, tmp_path):
    x = np.array([[[0, 1, 2], [1, 0, 3], [4, -3, 8]],   # zero top-left: needs a row swap
                  [[1, 2, 3], [2, 4, 6], [1, 0, 1]],    # singular: rows 0 and 1 dependent
                  [[0, 0, 0], [1, 2, 3], [4, 5, 6]]],   # a zero row
                 np.float32)
    got = check(kiln, tmp_path, "Det", {"x": x}, atol=1e-4)
    np.testing.assert_allclose(got[0], np.linalg.det(x.astype(np.float64)), atol=1e-4)


@pytest.mark.parametrize("time_axis,shape", [(0, (5, 4)), (1, (4, 5)), (0, (6, 3, 2, 2))])
def test_reverse_sequence(kiln, tmp_path, time_axis, shape):
    batch = shape[1 - time_axis]
    steps = shape[time_axis]
    lens = np.random.default_rng(3).integers(1, steps + 1, batch).astype(np.int64)
    check(kiln, tmp_path, "ReverseSequence", {"x": rand(*shape), "lens": lens},
          attrs={"time_axis": time_axis, "batch_axis": 1 - time_axis}, opset=10)


@pytest.mark.parametrize("shape,target,axes", [
    ((20, 10, 3), [10, 7, 3], None),
    ((20, 8, 3), [10, 11, 3], None),
    ((10, 7, 3), [21, 10, 3], None),
    ((3, 20, 8), [9, 13], [1, 2]),
    ((20, 8, 3), [9, 9], [-3, -2]),
])
def test_center_crop_pad(kiln, tmp_path, shape, target, axes):
    attrs = {"axes": axes} if axes is not None else {}
    check(kiln, tmp_path, "CenterCropPad", {"x": rand(*shape)},
          constants={"shape": np.array(target, np.int64)}, attrs=attrs, opset=18)


@pytest.mark.parametrize("pads", [[0, 0, 1, 1, 0, 0, 1, 1], [0, 1, 2, 3, 0, 2, 1, 7],
                                  [0, 0, 0, 6, 0, 0, 11, 0]])
def test_pad_wrap(kiln, tmp_path, pads):
    check(kiln, tmp_path, "Pad", {"x": rand(1, 3, 4, 5)},
          constants={"pads": np.array(pads, np.int64)}, attrs={"mode": "wrap"}, opset=19)


# ---------------------------------------------------------------------------------------------
# ai.onnx.preview.training
# ---------------------------------------------------------------------------------------------
def optimizer_feeds(n, states, t):
    feeds = {"R": np.array(0.1, np.float32), "T": np.array(t, np.int64)}
    sizes = [3, 17, 1][:n]
    for group in ["X", "G"] + states:
        for i, size in enumerate(sizes):
            feeds[f"{group}{i}"] = rand(size, seed=len(feeds), low=0.1 if group == "H" else -1)
    return feeds


@pytest.mark.parametrize("mode", ["standard", "nesterov"])
@pytest.mark.parametrize("n,t", [(1, 0), (1, 3), (2, 1)])
def test_momentum(kiln, tmp_path, mode, n, t):
    check(kiln, tmp_path, "Momentum", optimizer_feeds(n, ["V"], t), num_outputs=2 * n,
          domain=TRAINING, opset=1, as_float32=True,
          attrs={"alpha": 0.9, "beta": 0.2, "mode": mode, "norm_coefficient": 0.01})


@pytest.mark.parametrize("n,t", [(1, 0), (2, 5)])
def test_adagrad(kiln, tmp_path, n, t):
    check(kiln, tmp_path, "Adagrad", optimizer_feeds(n, ["H"], t), num_outputs=2 * n,
          domain=TRAINING, opset=1, as_float32=True,
          attrs={"decay_factor": 0.1, "epsilon": 1e-5, "norm_coefficient": 0.001})


@pytest.mark.parametrize("n,t", [(1, 0), (1, 4), (3, 2)])
def test_adam(kiln, tmp_path, n, t):
    check(kiln, tmp_path, "Adam", optimizer_feeds(n, ["V", "H"], t), num_outputs=3 * n,
          domain=TRAINING, opset=1, as_float32=True,
          attrs={"alpha": 0.9, "beta": 0.95, "epsilon": 1e-3, "norm_coefficient": 0.01,
                 "norm_coefficient_post": 0.02})


# ---------------------------------------------------------------------------------------------
# ai.onnx.ml
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_binarizer(kiln, tmp_path, dtype):
    x = rand(3, 4, 5, low=-3, high=3).astype(dtype)
    check(kiln, tmp_path, "Binarizer", {"x": x}, attrs={"threshold": 0.5}, domain=ML, opset=1)


@pytest.mark.parametrize("shape,indices", [((3, 4), [1, 3]), ((2, 3, 5), [[4, 0, 0]]),
                                           ((6,), [5, 1])])
def test_array_feature_extractor(kiln, tmp_path, shape, indices):
    check(kiln, tmp_path, "ArrayFeatureExtractor",
          {"x": rand(*shape), "i": np.array(indices, np.int64)}, domain=ML, opset=1)


def tree_attrs(dtype, aggregate, post_transform=0, missing=False):
    """Two trees over 3 features with every comparison mode; tree 1 is two levels deep on one
    side, and a third tree is a single leaf."""
    tensor_type = NP_TO_ONNX[np.dtype(dtype)]
    # nodes: tree 0 = nodes 0-2, tree 1 = nodes 3-6, tree 2 = node 7 (a leaf-only root)
    modes = [0, 6, 2, 1, 3, 4, 5, 0]
    splits = [0.1, np.nan, -0.3, 0.5, 0.0, 0.25, -0.75, 0.0]
    attrs = {
        "nodes_featureids": [0, 1, 2, 2, 0, 1, 1, 0],
        "nodes_modes": helper.make_tensor("m", TensorProto.UINT8, [8], modes),
        "nodes_splits": helper.make_tensor("s", tensor_type, [8], splits),
        # node 7 is a tree of one leaf: both branches name leaf 7 (the reference evaluator reads
        # the root's own index as the leaf, the spec the branches' leaf: the same here)
        "nodes_truenodeids": [1, 0, 2, 4, 5, 4, 6, 7],
        "nodes_trueleafs": [0, 1, 1, 0, 0, 1, 1, 1],
        "nodes_falsenodeids": [2, 1, 3, 6, 1, 5, 7, 7],
        "nodes_falseleafs": [0, 1, 1, 0, 1, 1, 1, 1],
        "leaf_targetids": [0, 1, 2, 0, 1, 2, 0, 1],
        "leaf_weights": helper.make_tensor(
            "w", tensor_type, [8], [1.0, -2.0, 3.5, 0.25, 10.0, -4.0, 2.0, 0.5]),
        "membership_values": helper.make_tensor(
            "mv", tensor_type, [4], [0.5, -0.5, 1.0, np.nan]),
        "tree_roots": [0, 3, 7],
        "n_targets": 3,
        "aggregate_function": aggregate,
        "post_transform": post_transform,
    }
    if missing:
        attrs["nodes_missing_value_tracks_true"] = [1, 0, 0, 1, 0, 1, 0, 0]
    return attrs


@pytest.mark.parametrize("aggregate", [0, 1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tree_ensemble(kiln, tmp_path, aggregate, dtype):
    x = rand(37, 3, low=-1.5, high=1.5, dtype=dtype)
    x[::4, 1] = 0.5  # hit the set members
    x[1::5, 1] = 1.0
    x[2::6, 2] = 0.5  # equal to a split
    check(kiln, tmp_path, "TreeEnsemble", {"x": x}, attrs=tree_attrs(dtype, aggregate),
          domain=ML, opset=5)


def test_tree_ensemble_missing_values_track_true(kiln, tmp_path):
    x = rand(16, 3, low=-1.5, high=1.5)
    x[::3, 0] = np.nan
    x[1::4, 2] = np.nan
    check(kiln, tmp_path, "TreeEnsemble", {"x": x},
          attrs=tree_attrs(np.float32, 1, missing=True), domain=ML, opset=5)


def test_tree_ensemble_cycle_is_an_error(kiln, tmp_path):
    attrs = tree_attrs(np.float32, 1)
    attrs["nodes_truenodeids"] = [1, 0, 0, 4, 5, 4, 6, 7]
    attrs["nodes_trueleafs"] = [0, 1, 0, 0, 0, 1, 1, 1]  # node 2 -> node 0: a cycle
    model = make_model("TreeEnsemble", {"x": rand(4, 3)}, attrs=attrs, domain=ML, opset=5)
    path = tmp_path / "t.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(kiln.Error, match="TreeEnsemble.*cycle"):
        kiln.load(str(path))


def test_unknown_domain_is_listed(kiln, tmp_path):
    model = make_model("FusedGemm", {"x": rand(2, 2)}, domain="com.microsoft", opset=1)
    path = tmp_path / "ms.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(kiln.Error, match="com.microsoft.FusedGemm"):
        kiln.load(str(path))


# ---------------------------------------------------------------------------------------------
# Bad input: one clear kiln.Error naming the node and the operator, never a crash
# ---------------------------------------------------------------------------------------------
def bad_tree_attrs(**changes):
    attrs = tree_attrs(np.float32, 1)
    attrs.update(changes)
    return attrs


BAD_MODELS = [
    ("Det", {"x": rand(2, 3)}, {}, {}, "", 22, "square matrices"),
    ("Det", {"x": rand(70, 70)}, {}, {}, "", 22, "not supported yet"),
    ("Det", {"x": rand(3, 3).astype(np.int64)}, {}, {}, "", 22, "float"),
    ("ReverseSequence", {"x": rand(4, 3), "l": np.array([1, 2, 3], np.int64)}, {},
     {"time_axis": 0, "batch_axis": 0}, "", 10, "time_axis and batch_axis"),
    ("CenterCropPad", {"x": rand(4, 3)}, {"s": np.array([1, 2, 3], np.int64)}, {}, "", 18,
     "3 sizes for 2 axes"),
    ("SoftmaxCrossEntropyLoss", {"x": rand(3, 5), "t": rand(3)}, {}, {}, "", 13,
     "target.*must be int32 or int64"),
    ("NegativeLogLikelihoodLoss", {"x": rand(3, 5), "t": targets((3,), 5)}, {},
     {"reduction": "avg"}, "", 13, "reduction"),
    ("Adam", {"R": np.array(0.1, np.float32), "T": np.array(1, np.int64), "X": rand(3),
              "G": rand(4), "V": rand(3), "H": rand(3)}, {}, {}, TRAINING, 1,
     "must have the type of the tensor it updates"),
    ("Momentum", {"R": np.array(0.1, np.float32), "T": np.array(1, np.int64), "X": rand(3),
                  "G": rand(3), "V": rand(3)}, {}, {"alpha": 0.9, "beta": 0.1,
                                                   "norm_coefficient": 0.0},
     TRAINING, 1, "'mode' is missing"),
    ("TreeEnsemble", {"x": rand(4, 3)}, {},
     bad_tree_attrs(nodes_featureids=[0, 1, 5, 2, 0, 1, 1, 0]), ML, 5, "reads feature 5 of 3"),
    ("TreeEnsemble", {"x": rand(4, 3)}, {},
     bad_tree_attrs(leaf_targetids=[0, 1, 9, 0, 1, 2, 0, 1]), ML, 5, "leaf target 9"),
    ("TreeEnsemble", {"x": rand(4, 3)}, {}, bad_tree_attrs(post_transform=4), ML, 5,
     "post_transform 4 is not supported yet"),
    ("TreeEnsemble", {"x": rand(4, 3)}, {},
     bad_tree_attrs(nodes_truenodeids=[1, 0, 2, 40, 5, 4, 6, 7]), ML, 5, "points to node 40"),
]


@pytest.mark.parametrize("op,feeds,constants,attrs,domain,opset,message", BAD_MODELS,
                         ids=[f"{m[0]}-{i}" for i, m in enumerate(BAD_MODELS)])
def test_bad_input_is_a_clear_error(kiln, tmp_path, op, feeds, constants, attrs, domain, opset,
                                    message):
    model = make_model(op, feeds, constants=constants, attrs=attrs, domain=domain, opset=opset)
    path = tmp_path / "bad.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(kiln.Error, match=f"node 'node' \\({op}\\): .*{message}"):
        kiln.load(str(path))


def regressor_attrs(aggregate, missing=False, base=True):
    """TreeEnsembleRegressor (ai.onnx.ml 3): tree 5 (nodes 0-4, leaves 2, 3, 4) and tree 2 (nodes
    0-2, leaves 1, 2), listed out of order; leaf (5, 3) gives both targets, two entries add up."""
    attrs = {
        "nodes_treeids": [5, 5, 5, 5, 5, 2, 2, 2],
        "nodes_nodeids": [0, 1, 2, 3, 4, 0, 1, 2],
        "nodes_featureids": [0, 2, 0, 0, 0, 1, 0, 0],
        "nodes_modes": ["BRANCH_LEQ", "BRANCH_GT", "LEAF", "LEAF", "LEAF", "BRANCH_NEQ", "LEAF",
                        "LEAF"],
        "nodes_values": [0.2, -0.4, 0, 0, 0, 0.5, 0, 0],
        "nodes_truenodeids": [1, 2, 0, 0, 0, 1, 0, 0],
        "nodes_falsenodeids": [4, 3, 0, 0, 0, 2, 0, 0],
        "target_treeids": [5, 5, 5, 5, 5, 2, 2, 5],
        "target_nodeids": [2, 3, 3, 4, 4, 1, 2, 2],
        "target_ids": [0, 0, 1, 1, 1, 0, 1, 0],
        "target_weights": [1.5, -2.0, 4.0, 0.25, 0.5, 3.0, -1.0, 0.75],
        "n_targets": 2,
        "aggregate_function": aggregate,
    }
    if base:
        attrs["base_values"] = [0.1, -0.2]
    if missing:
        attrs["nodes_missing_value_tracks_true"] = [1, 0, 0, 0, 0, 1, 0, 0]
    return attrs


@pytest.mark.parametrize("aggregate", ["SUM", "AVERAGE", "MIN", "MAX"])
@pytest.mark.parametrize("base", [True, False])
def test_tree_ensemble_regressor(kiln, tmp_path, aggregate, base):
    x = rand(29, 3, low=-1, high=1)
    x[::5, 1] = 0.5  # BRANCH_NEQ false
    x[1::7, 0] = 0.2  # BRANCH_LEQ equal to the split
    # onnxruntime is a second reference for SUM / AVERAGE without base values: it leaves a target
    # that no reached leaf weighs at 0 instead of adding its base value (the spec and the reference
    # evaluator add it), and MIN / MAX of such a target differ between the two as well.
    check(kiln, tmp_path, "TreeEnsembleRegressor", {"x": x},
          attrs=regressor_attrs(aggregate, base=base), domain=ML, opset=3,
          with_ort=aggregate in ("SUM", "AVERAGE") and not base)


def test_tree_ensemble_regressor_missing_values(kiln, tmp_path):
    x = rand(12, 3)
    x[::2, 0] = np.nan
    x[::3, 1] = np.nan
    x[1::4, 2] = np.nan
    check(kiln, tmp_path, "TreeEnsembleRegressor", {"x": x},
          attrs=regressor_attrs("SUM", missing=True, base=False), domain=ML, opset=3,
          with_ort=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("offset,scale", [([0.5], [2.0]),
                                          ([0.1, -0.2, 0.3, 1.0], [1.0, 2.0, 3.0, 4.0])])
def test_scaler(kiln, tmp_path, dtype, offset, scale):
    x = rand(5, 4, low=-3, high=3).astype(dtype)
    model = make_model("Scaler", {"x": x}, attrs={"offset": offset, "scale": scale}, domain=ML,
                       opset=1)
    got, path = run_kiln(kiln, tmp_path, model, {"x": x})
    # onnxruntime: float32 output as the spec says (the reference evaluator keeps x's dtype)
    assert_close(got, ort_session(path).run(None, {"x": x}), 1e-5, 1e-5)


@pytest.mark.parametrize("replaced", [np.nan, -1.0])
@pytest.mark.parametrize("imputed", [[7.5], [1.0, 2.0, 3.0]])
def test_imputer_floats(kiln, tmp_path, replaced, imputed):
    x = rand(6, 3)
    x[::2, 0] = replaced
    x[1::3, 2] = replaced
    check(kiln, tmp_path, "Imputer", {"x": x}, domain=ML, opset=1, with_ort=True,
          attrs={"imputed_value_floats": imputed, "replaced_value_float": replaced})


def test_imputer_int64(kiln, tmp_path):
    x = np.array([[1, -1, 3], [-1, 5, -1]], np.int64)
    check(kiln, tmp_path, "Imputer", {"x": x}, domain=ML, opset=1, with_ort=True,
          attrs={"imputed_value_int64s": [10, 20, 30], "replaced_value_int64": -1})


@pytest.mark.parametrize("targets,intercepts", [(1, None), (1, [0.5]), (3, [0.1, -0.2, 0.3])])
def test_linear_regressor(kiln, tmp_path, targets, intercepts):
    attrs = {"targets": targets, "coefficients": list(rand(targets * 17, seed=5).astype(float))}
    if intercepts is not None:
        attrs["intercepts"] = intercepts
    # Without intercepts the reference evaluator adds np.array(None) (NaN): onnxruntime only.
    check(kiln, tmp_path, "LinearRegressor", {"x": rand(9, 17)}, domain=ML, opset=1,
          with_ort=True, with_reference=intercepts is not None, attrs=attrs)


@pytest.mark.parametrize("norm", ["MAX", "L1", "L2"])
@pytest.mark.parametrize("shape", [(4, 3), (5,), (3, 33)])
def test_normalizer(kiln, tmp_path, norm, shape):
    # onnxruntime is the reference: MAX divides by the signed maximum, as the spec says (the
    # reference evaluator takes max |x|), and a row whose norm is 0 is left as it is.
    x = rand(*shape, low=-2, high=2)
    if len(shape) == 2:
        x[0] = 0
        x[1, 0] = 0  # a row whose signed max may be 0 or negative
        x[1] = -np.abs(x[1])
    model = make_model("Normalizer", {"x": x}, attrs={"norm": norm}, domain=ML, opset=1)
    got, path = run_kiln(kiln, tmp_path, model, {"x": x})
    assert_close(got, ort_session(path).run(None, {"x": x}), 1e-5, 1e-6)
