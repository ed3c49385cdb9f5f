"""Conformance worker: runs cases one at a time for run.py, in its own process.

    python3 worker.py RESULT_FD

Reads one JSON request per line on stdin ({"name", "path", "datasets"}), answers one JSON line
per case on file descriptor RESULT_FD (not stdout: Kiln and LLVM may print there). It writes
{"ready": true} once kiln is imported, so the parent can tell a broken build from a crash.
A segfault, abort or hang here only kills this process; the parent records it and starts another.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases  # noqa: E402


# The importer's message for an attribute-like input (axes, scales, pads, ...) fed at run time:
# "node 'n' (ReduceSum): input 1 'axes' (axes) must be known when the model is imported, ..."
_NEEDS_CONSTANT = re.compile(r"input \d+ '([^']+)' \([^)]*\) must be known when the model is "
                             r"imported")
# ... and for a value computed from graph inputs, the message lists them:
# "... must be known when the model is imported, but it is computed from the model's inputs 'a',
# 'b' (int64[1]); ..."
_COMPUTED_FROM = re.compile(r"must be known when the model is imported, but it is computed from "
                            r"the model's inputs ((?:'[^']+'(?:, )?)+)")


def load_model(kiln, model_path: str, feeds: dict, freeze: bool):
    """kiln.load with every fed input's shape fixed to the reference data's (node tests may
    declare symbolic or missing dims; Kiln compiles for static shapes). With `freeze`, inputs the
    importer needs as constants are passed as `constant_inputs` (what a user of a static-shape
    compiler does with an axes/scales/shape input), one retry per input.
    Returns (model, names of the frozen inputs); the frozen ones leave `feeds`."""
    frozen = {}
    while True:
        shape_dict = {n: list(a.shape) for n, a in feeds.items()}
        try:
            model = kiln.load(model_path, shape_dict=shape_dict, constant_inputs=frozen)
            return model, list(frozen)
        except kiln.Error as e:
            names = []
            match = _NEEDS_CONSTANT.search(str(e)) if freeze else None
            if match and match.group(1) in feeds:
                names = [match.group(1)]
            computed = _COMPUTED_FROM.search(str(e)) if freeze and not names else None
            if computed:
                names = [n for n in re.findall(r"'([^']+)'", computed.group(1)) if n in feeds]
            if not names:
                raise
            for name in names:
                frozen[name] = feeds.pop(name)


def run_case(kiln, request: dict, work_dir: str) -> dict:
    """load -> compile -> run for every data set -> compare. Returns the case's result fields."""
    import onnx

    path = request["path"]
    graph = onnx.load(os.path.join(path, "model.onnx"), load_external_data=False).graph
    input_names = [v.name for v in cases.graph_inputs(graph)]
    output_names = [v.name for v in graph.output]
    datasets = [cases.load_dataset(os.path.join(path, d)) for d in request["datasets"]]
    freeze = bool(request.get("freeze"))
    if freeze:
        datasets = datasets[:1]  # frozen values come from one data set (every case has one)

    stage = "load"
    frozen: list = []
    try:
        first_inputs = datasets[0][0] if datasets else []
        if len(first_inputs) > len(input_names):
            return {"status": "error", "stage": "data",
                    "message": f"{len(first_inputs)} input files for {len(input_names)} inputs"}
        model, frozen = load_model(kiln, os.path.join(path, "model.onnx"),
                                   dict(zip(input_names, first_inputs)), freeze)
        stage = "compile"
        package = kiln.compile(model, target="llvm",
                               package_path=os.path.join(work_dir, "case.tar"))
        strict = True
        worst = None
        for inputs, expected in datasets:
            stage = "run"
            feeds = {n: a for n, a in zip(input_names, inputs) if n not in frozen}
            result = kiln.run(package, inputs=feeds)
            stage = "compare"
            if len(result.outputs) != len(expected):
                return {"status": "failed", "stage": stage, "frozen_inputs": frozen,
                        "message": f"{len(result.outputs)} outputs, expected {len(expected)}"}
            # By position in kiln's own name list (result.outputs iterates in output order);
            # a model output named like a positional key ("output_1", Split tests) is found by
            # its name first either way.
            kiln_names = list(getattr(result.outputs, "names", []))
            positional = list(result.outputs.values())
            for i, (out_name, want) in enumerate(zip(output_names, expected)):
                index = kiln_names.index(out_name) if out_name in kiln_names else i
                got = positional[index]
                mismatch, strict_ok = cases.compare(got, want)
                strict = strict and strict_ok
                if mismatch is not None and worst is None:
                    worst = (out_name, mismatch)
        if worst is not None:
            out_name, mismatch = worst
            return {"status": "failed", "stage": "compare", "frozen_inputs": frozen,
                    "message": f"output {out_name!r}: {mismatch.reason}",
                    "max_abs_err": mismatch.max_abs_err, "max_rel_err": mismatch.max_rel_err}
        return {"status": "passed", "strict": strict, "frozen_inputs": frozen}
    except kiln.InternalError as e:  # a KILN_CHECK failed: a Kiln bug, counted with the crashes
        return {"status": "crashed", "stage": stage, "message": f"InternalError: {e}"}
    except kiln.Error as e:
        message = str(e)
        if cases.is_rejection(message):
            return {"status": "rejected", "reject_kind": "operator", "stage": stage,
                    "message": message, "operator": cases.operator_named(message, "")}
        return {"status": "error", "stage": stage, "message": message, "frozen_inputs": frozen}
    except Exception as e:  # anything else escaping the binding (TypeError, MemoryError, ...)
        return {"status": "error", "stage": stage, "message": f"{type(e).__name__}: {e}",
                "traceback": traceback.format_exc(limit=4)}


# Fault injection for the runner's own tests (tests/python/test_conformance_subset.py):
# KILN_CONFORMANCE_INJECT="test_abs=segv,test_relu=hang" makes those cases kill or hang this
# worker, to check that the runner records them and carries on.
def _inject_fault(name: str) -> None:
    spec = dict(item.split("=", 1) for item in
                os.environ.get("KILN_CONFORMANCE_INJECT", "").split(",") if "=" in item)
    fault = spec.get(name)
    if fault == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif fault == "abort":
        os.abort()
    elif fault == "hang":
        while True:
            time.sleep(3600)


def main() -> int:
    result_fd = int(sys.argv[1])
    out = os.fdopen(result_fd, "w", buffering=1)
    import kiln  # after the fd is open: an import failure is reported by the exit status

    out.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        work_dir = tempfile.mkdtemp(prefix="case-")
        start = time.monotonic()
        try:
            _inject_fault(request["name"])
            result = run_case(kiln, request, work_dir)
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
        result["name"] = request["name"]
        result["seconds"] = round(time.monotonic() - start, 3)
        out.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
