#!/usr/bin/env python3
"""Kiln beside onnxruntime and torch, in one process, same thread count: medians and the ratio.

    python bench/run.py --models resnet50_v1,mobilenet_v2 --threads 1,2 [--repeat 10] [--json]

Memory, per row: each runtime's first inference runs in a fresh process (multiprocessing spawn);
"mem" is the peak RSS growth (VmHWM, i.e. a fresh ru_maxrss) from just after importing numpy and the runtime to just
after load + one run, so it counts the loaded code, weights, planned buffers and thread pool.
"exec" is Kiln's graph-executor storage (planned storages, parameters' own included) and the
parameter bytes within it, from kiln.Result.storage_bytes / param_bytes.

Benchmarks are not tests: they print numbers and never fail on time. The machine is shared and
noisy, so runtimes are interleaved (Kiln, onnxruntime, torch, Kiln, ...) and medians are reported.
torch runs the same architecture (tests/models/architectures.py, same seeded weights) in eval mode
under torch.inference_mode with torch.set_num_threads(threads); "ratio" is Kiln / onnxruntime.
"""

import argparse
import json
import multiprocessing
import os
import pathlib
import statistics
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "models"))
sys.path.append(str(ROOT / "build" / "python"))  # a build's package; PYTHONPATH wins


def feeds_for(session, seed=0):
    rng = np.random.default_rng(seed)
    feeds = {}
    for inp in session.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in inp.shape]
        if "float" in inp.type:
            feeds[inp.name] = rng.standard_normal(shape).astype(np.float32)
        else:
            feeds[inp.name] = rng.integers(0, 2, shape).astype(np.int64)
    return feeds


def timed(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _peak_rss_mb():
    # VmHWM: this process image's peak RSS. ru_maxrss would do on a truly fresh process, but on
    # Linux it survives fork+exec, so a spawned child starts at the parent's (large) peak.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _kiln_first_run_mem(package_path, feeds, threads):
    """In a fresh process: peak RSS growth (MB) of loading the package and running it once."""
    import kiln
    baseline = _peak_rss_mb()
    kiln.set_num_threads(threads)
    kiln.run(kiln.Package(package_path), inputs=feeds)
    return _peak_rss_mb() - baseline


def _ort_first_run_mem(model_path, feeds, threads):
    """In a fresh process: peak RSS growth (MB) of creating the session and running it once."""
    import onnxruntime as ort
    baseline = _peak_rss_mb()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    session.run(None, feeds)
    return _peak_rss_mb() - baseline


def _torch_first_run_mem(name, feeds, threads):
    """In a fresh process: peak RSS growth (MB) of building the torch model and running it once."""
    import torch
    import architectures
    baseline = _peak_rss_mb()
    torch.set_num_threads(threads)
    model, _ = architectures.build(name)
    with torch.inference_mode():
        model(*[torch.from_numpy(v) for v in feeds.values()])
    return _peak_rss_mb() - baseline


def first_run_mem(fn, *args):
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def bench_model(name, threads, repeat, out_dir):
    import onnxruntime as ort
    import kiln
    from export import export_model

    path = export_model(name, str(out_dir))
    kiln.set_num_threads(threads)  # the pool exists once per process: KILN_NUM_THREADS is read once
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feeds = feeds_for(session)

    start = time.perf_counter()
    package_path = str(out_dir / f"{name}.tar")
    package = kiln.compile(kiln.load(path), target="llvm", package_path=package_path)
    compile_seconds = time.perf_counter() - start
    kiln_mem = first_run_mem(_kiln_first_run_mem, package_path, feeds, threads)
    ort_mem = first_run_mem(_ort_first_run_mem, path, feeds, threads)

    torch_mem = first_run_mem(_torch_first_run_mem, name, feeds, threads)

    import torch
    import architectures
    torch.set_num_threads(threads)
    torch_model, _ = architectures.build(name)
    torch_inputs = [torch.from_numpy(v) for v in feeds.values()]  # the ONNX inputs' order

    def run_torch():
        with torch.inference_mode():
            torch_model(*torch_inputs)

    kiln_times, ort_times, torch_times = [], [], []
    expected = session.run(None, feeds)
    for _ in range(repeat):  # interleave the runtimes
        result = kiln.run(package, inputs=feeds, benchmark=True, repeat=1, number=3)
        kiln_times.append(result.times.median)
        ort_times.extend(timed(lambda: session.run(None, feeds), 3)[1:])
        torch_times.extend(timed(run_torch, 3)[1:])
    got = result.outputs["output_0"]
    max_error = float(np.max(np.abs(got - expected[0])))
    kiln_median = statistics.median(kiln_times)
    ort_median = statistics.median(ort_times)
    return {
        "model": name, "threads": threads,
        "kiln_ms": kiln_median * 1e3, "kiln_spread_ms": (max(kiln_times) - min(kiln_times)) * 1e3,
        "ort_ms": ort_median * 1e3, "ort_spread_ms": (max(ort_times) - min(ort_times)) * 1e3,
        "torch_ms": statistics.median(torch_times) * 1e3,
        "torch_spread_ms": (max(torch_times) - min(torch_times)) * 1e3, "torch_mem_mb": torch_mem,
        "ratio": kiln_median / ort_median, "compile_s": compile_seconds,
        "kiln_mem_mb": kiln_mem, "ort_mem_mb": ort_mem,
        "kiln_storage_mb": result.storage_bytes / 2**20, "kiln_param_mb": result.param_bytes / 2**20,
        "max_abs_error": max_error, "top5": [int(i) for i in np.argsort(-got.flatten())[:5]],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="resnet50_v1")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--out", default=str(ROOT / "tests" / "models" / "out"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.models.split(","):
        for threads in [int(t) for t in args.threads.split(",")]:
            rows.append(bench_model(name, threads, args.repeat, out_dir))
            if not args.json:
                r = rows[-1]
                print(f"{r['model']:<14} threads={r['threads']}  kiln {r['kiln_ms']:9.2f} ms "
                      f"(±{r['kiln_spread_ms']:.2f})  onnxruntime {r['ort_ms']:8.2f} ms "
                      f"(±{r['ort_spread_ms']:.2f})  torch {r['torch_ms']:8.2f} ms "
                      f"(±{r['torch_spread_ms']:.2f})  ratio {r['ratio']:.2f}  compile {r['compile_s']:.1f} s  "
                      f"max|diff| {r['max_abs_error']:.2e}  top5 {r['top5']}  "
                      f"mem kiln {r['kiln_mem_mb']:.1f} MB / ort {r['ort_mem_mb']:.1f} MB / "
                      f"torch {r['torch_mem_mb']:.1f} MB  "
                      f"(kiln exec {r['kiln_storage_mb']:.1f} MB, params {r['kiln_param_mb']:.1f} MB)",
                      flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
