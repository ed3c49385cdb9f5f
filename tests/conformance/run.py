#!/usr/bin/env python3
"""Runs the ONNX backend node tests (onnx==1.22.0) through Kiln: load -> compile -> run -> compare.

    python3 tests/conformance/run.py [--filter REGEX] [--subset ci] [--jobs N] [--timeout S]
                                     [--report FILE.json] [--markdown FILE.md]
                                     [--write-expected FILE] [--verbose]

Every case runs in a worker subprocess (worker.py) from a pool of persistent workers, so a
segfault, abort or hang kills one worker, is recorded as "crashed" / "timeout", and the pool
starts a fresh worker. Classes: passed, failed (wrong numbers or shape), rejected (a kiln.Error
saying not supported / unsupported / cannot compile, or values Kiln's numpy I/O cannot carry:
sequences, optionals, strings, 8/4/2-bit types), error (any other kiln.Error), crashed,
timeout. The exit status is 0 unless the runner itself failed (cases failing is the report).

The workers import a snapshot of the kiln package taken at start (<build>/python/kiln and the
libkiln_runtime.so it links), because a rebuild overwrites <build>/python/kiln/_kiln*.so in place and
a run takes minutes.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import cases  # noqa: E402

WORKER = os.path.join(HERE, "worker.py")
CI_SUBSET = os.path.join(HERE, "ci_subset.txt")
STATUSES = ["passed", "failed", "rejected", "error", "crashed", "timeout"]


# ---------------------------------------------------------------------------------------------
# The kiln snapshot the workers import
# ---------------------------------------------------------------------------------------------
def snapshot_kiln(python_dir: str, dest: str, attempts: int = 4, wait_s: float = 20.0) -> dict:
    """Copies <python_dir>/kiln and its libkiln_runtime.so under dest and checks that it imports;
    retries while the build is being rewritten. Returns {"env": ..., "version": ...}."""
    last_error = ""
    for attempt in range(attempts):
        if attempt:
            print(f"kiln snapshot does not import yet ({last_error.strip()[-300:]}); "
                  f"retrying in {wait_s:.0f} s", file=sys.stderr)
            time.sleep(wait_s)
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(os.path.join(python_dir, "kiln"), os.path.join(dest, "kiln"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        lib_dir = os.path.join(dest, "lib")
        os.makedirs(lib_dir)
        for so in os.listdir(os.path.join(dest, "kiln")):
            if so.startswith("_kiln") and so.endswith(".so"):
                ldd = subprocess.run(["ldd", os.path.join(dest, "kiln", so)],
                                     capture_output=True, text=True)
                for lib, path in re.findall(r"(libkiln\S*\.so\S*) => (\S+)", ldd.stdout):
                    if os.path.isfile(path):
                        shutil.copy2(path, os.path.join(lib_dir, lib))
        env = worker_env(dest)
        check = subprocess.run([sys.executable, "-c", SMOKE_TEST, cases.data_dir()],
                               capture_output=True, text=True, env=env, cwd=dest)
        if check.returncode == 0:
            return {"env": env, "version": check.stdout.strip()}
        last_error = check.stderr or f"exit status {check.returncode}"
    raise SystemExit(f"cannot import the kiln package from {python_dir}: {last_error}")


# Imports the snapshot and compiles and runs test_abs: a build caught half-way (a Python layer
# that no longer matches the _kiln module) fails here instead of failing every case.
SMOKE_TEST = """
import os, sys, tempfile
import numpy as np
import kiln
model = kiln.load(os.path.join(sys.argv[1], "test_abs", "model.onnx"))
package = kiln.compile(model, target="llvm",
                       package_path=os.path.join(tempfile.mkdtemp(dir="."), "abs.tar"))
x = np.linspace(-2, 2, 60, dtype=np.float32).reshape(3, 4, 5)
assert np.array_equal(kiln.run(package, inputs={"x": x}).outputs["output_0"], np.abs(x))
sys.stdout.write(kiln.__version__)
"""


def worker_env(snapshot: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [snapshot] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    # RUNPATH (not RPATH) is searched after LD_LIBRARY_PATH: the snapshot's runtime wins.
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        [os.path.join(snapshot, "lib")] + [p for p in env.get("LD_LIBRARY_PATH", "").split(
            os.pathsep) if p])
    # --jobs workers share the cores: one runtime thread each avoids oversubscription.
    env.setdefault("KILN_NUM_THREADS", "1")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


# ---------------------------------------------------------------------------------------------
# The worker pool
# ---------------------------------------------------------------------------------------------
class Worker:
    """One worker.py subprocess: requests on its stdin, JSON results on a private pipe."""

    def __init__(self, wid: int, env: dict, tmp_root: str, memory_mb: int, startup_s: float,
                 freeze: bool):
        self.wid = wid
        self.freeze = freeze
        self.tmp = tempfile.mkdtemp(prefix=f"worker{wid}-", dir=tmp_root)
        self.log_path = os.path.join(self.tmp, "worker.log")
        self.log = open(self.log_path, "ab")
        read_fd, write_fd = os.pipe()
        env = dict(env, TMPDIR=self.tmp)  # whatever kiln leaves in TMPDIR goes with the worker

        def limit_memory():  # in the child: a runaway case fails there instead of OOMing the box
            if memory_mb > 0:
                limit = memory_mb * 1024 * 1024
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        self.proc = subprocess.Popen(
            [sys.executable, WORKER, str(write_fd)], stdin=subprocess.PIPE, stdout=self.log,
            stderr=subprocess.STDOUT, pass_fds=(write_fd,), env=env, cwd=self.tmp,
            start_new_session=True, preexec_fn=limit_memory)
        os.close(write_fd)
        self.fd = read_fd
        self.buffer = b""
        self.ready = False
        self.case: Optional[cases.CaseInfo] = None
        self.deadline = time.monotonic() + startup_s
        self.log_offset = 0
        self.done = 0

    def send(self, case: cases.CaseInfo, timeout_s: float) -> None:
        self.case = case
        self.log.flush()
        self.log_offset = os.path.getsize(self.log_path)
        self.deadline = time.monotonic() + timeout_s
        request = {"name": case.name, "path": case.path, "datasets": case.datasets,
                   "freeze": self.freeze}
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()

    def read_messages(self) -> Optional[List[dict]]:
        """Complete JSON lines received so far; None when the worker closed the pipe (died)."""
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def log_tail(self, limit: int = 1500) -> str:
        """What the worker printed since the current case was sent (abort messages, etc.)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        return text[-limit:].strip()

    def stop(self, kill: bool) -> Optional[int]:
        """Ends the worker (SIGKILL to its process group when `kill`) and cleans its files."""
        if kill and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            code = self.proc.wait()
        os.close(self.fd)
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return code


def describe_exit(code: Optional[int]) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


def run_pool(todo: List[cases.CaseInfo], args, env: dict, tmp_root: str, on_result) -> None:
    """Runs `todo` on args.jobs workers; calls on_result(case, result_dict) for each case."""
    pending = collections.deque(todo)
    workers: Dict[int, Worker] = {}
    next_id = 0
    failed_starts = 0

    def start() -> None:
        nonlocal next_id
        w = Worker(next_id, env, tmp_root, args.memory_mb, args.startup_timeout,
                   args.freeze_inputs)
        workers[w.fd] = w
        next_id += 1

    def replace(w: Worker, kill: bool) -> Optional[int]:
        del workers[w.fd]
        code = w.stop(kill)
        if pending:
            start()
        return code

    for _ in range(min(args.jobs, len(pending))):
        start()
    while workers:
        for w in list(workers.values()):
            if w.ready and w.case is None and pending:
                w.send(pending.popleft(), args.timeout)
            elif w.ready and w.case is None:  # nothing left to send it
                del workers[w.fd]
                w.stop(kill=False)
        if not workers:
            break
        wait = max(0.0, min(w.deadline for w in workers.values()) - time.monotonic())
        readable, _, _ = select.select(list(workers), [], [], wait)
        for fd in readable:
            w = workers[fd]
            messages = w.read_messages()
            if messages is None:  # the worker died
                case, tail = w.case, w.log_tail()
                code = replace(w, kill=True)
                if case is not None:
                    on_result(case, {"status": "crashed", "stage": "worker",
                                     "message": f"worker {describe_exit(code)}"
                                                + (f": {tail}" if tail else "")})
                elif not w.ready:
                    failed_starts += 1
                    if failed_starts >= 3:
                        raise SystemExit(f"workers die before importing kiln "
                                         f"({describe_exit(code)}): {tail}")
                continue
            for message in messages:
                if message.get("ready"):
                    w.ready = True
                    failed_starts = 0
                    continue
                case, w.case = w.case, None
                w.done += 1
                on_result(case, message)
            if w.case is None and w.done >= args.max_tasks and w.fd in workers:
                replace(w, kill=False)  # bounds what a long-lived process accumulates
        now = time.monotonic()
        for w in list(workers.values()):
            if now < w.deadline or (w.ready and w.case is None):
                continue
            case, tail = w.case, w.log_tail()
            replace(w, kill=True)
            if case is not None:
                on_result(case, {"status": "timeout", "stage": "worker",
                                 "message": f"no result after {args.timeout:g} s"
                                            + (f"; worker output: {tail}" if tail else "")})
            else:
                failed_starts += 1
                if failed_starts >= 3:
                    raise SystemExit("workers do not start within "
                                     f"{args.startup_timeout:g} s: {tail}")


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
def blame(record: dict) -> str:
    """The operator a non-passing case is charged to in the failing-operator list."""
    label = record["base_op"] + (" (expanded)" if record["op"] == "expanded/function" else "")
    if record["status"] == "rejected" and record.get("operator"):
        return record["operator"]
    if record["op"] == "expanded/function" and record["status"] != "failed":
        return cases.operator_named(record.get("message", ""), label)
    return label


def reason(record: dict) -> str:
    """A short reason, the same for the same problem in different cases."""
    status, message = record["status"], record.get("message", "")
    if status == "rejected" and record.get("reject_kind") == "input type":
        kinds = sorted(set(re.findall(r"is an? (\w+)|element type (\w+)", message)))
        return "input type: " + ", ".join(a or b for a, b in kinds)
    if status == "failed":
        for key, text in (("shape", "wrong shape"), ("dtype", "wrong dtype"),
                          ("NaN", "NaN positions differ"), ("infinities", "infinities differ"),
                          ("outputs, expected", "wrong output count")):
            if key in message:
                return text
        return "wrong values"
    if status == "timeout":
        return "timeout"
    if status == "crashed":
        first = message.split(":", 2)
        return cases.normalize_message(": ".join(first[:2]) if "InternalError" not in message
                                       else message)
    return f"{record.get('stage', '?')}: {cases.normalize_message(message)}"


def summarize(records: List[dict]) -> dict:
    totals = collections.Counter(r["status"] for r in records)
    input_type = sum(1 for r in records if r.get("reject_kind") == "input type")
    out_of_scope = [r for r in records if r.get("reject_kind") == "input type" or r["training"]]
    in_scope = len(records) - len(out_of_scope)
    passed = totals["passed"]
    passed_in_scope = sum(1 for r in records if r["status"] == "passed" and not r["training"])

    def table(key) -> Dict[str, Dict[str, int]]:
        rows: Dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        for r in records:
            row = rows[key(r)]
            row["total"] += 1
            row[r["status"]] += 1
            if r.get("reject_kind") == "input type":
                row["rejected (input type)"] += 1
        return {k: dict(v) for k, v in sorted(rows.items())}

    failing: Dict[str, dict] = {}
    io_types: collections.Counter = collections.Counter()
    for r in records:
        if r.get("reject_kind") == "input type":
            io_types[reason(r).split(": ", 1)[1]] += 1
        if r["status"] == "passed" or r.get("reject_kind") == "input type":
            continue
        op = blame(r)
        entry = failing.setdefault(op, {"count": 0, "reasons": {}})
        entry["count"] += 1
        why = f"{r['status']}: {reason(r)}" if r["status"] not in reason(r) else reason(r)
        detail = entry["reasons"].setdefault(why, {"count": 0, "cases": []})
        detail["count"] += 1
        detail["cases"].append(r["name"])
        if r.get("max_abs_err") is not None:
            detail["max_abs_err"] = max(detail.get("max_abs_err", 0.0), r["max_abs_err"])
        detail.setdefault("example", r.get("message", ""))
    failing = dict(sorted(failing.items(), key=lambda kv: (-kv[1]["count"], kv[0])))
    for entry in failing.values():
        entry["reasons"] = dict(sorted(entry["reasons"].items(), key=lambda kv: -kv[1]["count"]))

    return {
        "cases": len(records),
        "totals": {s: totals[s] for s in STATUSES},
        "rejected_input_type": input_type,
        "pass_rate": passed / len(records) if records else 0.0,
        "in_scope_cases": in_scope,
        "in_scope_passed": passed_in_scope,
        "pass_rate_in_scope": passed_in_scope / in_scope if in_scope else 0.0,
        "strict_passed": sum(1 for r in records if r["status"] == "passed" and r.get("strict")),
        "passed_with_frozen_inputs": sum(1 for r in records
                                         if r["status"] == "passed" and r.get("frozen_inputs")),
        "by_family": table(lambda r: r["family"]),
        "by_operator": table(lambda r: r["op"]),
        "failing_operators": failing,
        "input_type_rejections": dict(io_types.most_common()),
    }


COLUMNS = ["total", "passed", "failed", "rejected", "rejected (input type)", "error", "crashed",
           "timeout"]
SHORT = {"rejected (input type)": "rej-io", "rejected": "rej", "crashed": "crash"}


def format_table(rows: Dict[str, Dict[str, int]], first: str, order=None) -> List[str]:
    keys = order or list(rows)
    width = max([len(first)] + [len(k) for k in keys]) + 2
    head = f"{first:<{width}}" + "".join(f"{SHORT.get(c, c):>8}" for c in COLUMNS) \
        + f"{'pass %':>9}"
    lines = [head]
    for k in keys:
        if k not in rows:
            continue
        row = rows[k]
        rate = 100.0 * row.get("passed", 0) / row["total"]
        lines.append(f"{k:<{width}}" + "".join(f"{row.get(c, 0):>8}" for c in COLUMNS)
                     + f"{rate:>8.1f}%")
    return lines


def format_failing(failing: dict, limit_cases: int = 3) -> List[str]:
    lines = []
    for op, entry in failing.items():
        lines.append(f"{op}: {entry['count']}")
        for why, detail in entry["reasons"].items():
            err = f" (max abs err {detail['max_abs_err']:.3g})" if "max_abs_err" in detail else ""
            shown = ", ".join(detail["cases"][:limit_cases])
            more = f", +{len(detail['cases']) - limit_cases}" if len(detail["cases"]) > limit_cases else ""
            lines.append(f"    {detail['count']:>4}  {why}{err}  [{shown}{more}]")
    return lines


def format_summary(s: dict, meta: dict) -> str:
    t = s["totals"]
    lines = [
        f"ONNX backend node tests (onnx {meta['onnx_version']}), kiln {meta['kiln_version']}, "
        f"{s['cases']} cases in {meta['elapsed_s']:.0f} s with {meta['jobs']} jobs",
        "",
        "totals: " + ", ".join(f"{k} {t[k]}" for k in STATUSES)
        + f"  (rejected includes {s['rejected_input_type']} for input/output types Kiln's numpy "
          f"I/O cannot carry)",
        f"pass rate: {t['passed']}/{s['cases']} = {100 * s['pass_rate']:.1f}% of all cases run",
        f"pass rate in scope: {s['in_scope_passed']}/{s['in_scope_cases']} = "
        f"{100 * s['pass_rate_in_scope']:.1f}% (denominator: all cases minus those rejected for "
        f"input type (sequence/optional/string/8-4-2-bit) and training-only cases)",
        f"passed within the strict ONNX default tolerance (rtol 1e-3, atol 1e-7): "
        f"{s['strict_passed']}/{t['passed']}",
        *([f"passed only after freezing attribute-like inputs into constants (--freeze-inputs): "
           f"{s['passed_with_frozen_inputs']}"] if meta.get("freeze_inputs") else []),
        "",
        "by operator family:",
        *format_table(s["by_family"], "family", cases.FAMILY_ORDER),
        "",
        "failing operators (every non-passing case except input-type rejections, by operator, "
        "most cases first):",
        *format_failing(s["failing_operators"]),
        "",
        "rejected for input/output types (cases per type): " + ", ".join(
            f"{k} {v}" for k, v in s["input_type_rejections"].items()),
    ]
    return "\n".join(lines) + "\n"


def format_markdown(s: dict, meta: dict) -> str:
    """Tables for docs/conformance.md."""
    t = s["totals"]

    def md_table(rows, first, order=None) -> List[str]:
        out = [f"| {first} | " + " | ".join(COLUMNS) + " | pass % |",
               "|---" * (len(COLUMNS) + 2) + "|"]
        for k in order or list(rows):
            if k in rows:
                row = rows[k]
                rate = 100.0 * row.get("passed", 0) / row["total"]
                out.append(f"| {k} | " + " | ".join(str(row.get(c, 0)) for c in COLUMNS)
                           + f" | {rate:.1f} |")
        return out

    lines = [
        f"- date: {meta['date']}",
        f"- command: `{meta['command']}`",
        f"- kiln {meta['kiln_version']} (git {meta['git_commit']}), onnx {meta['onnx_version']}, "
        f"{meta['jobs']} jobs, timeout {meta['timeout_s']:g} s per case, wall time "
        f"{meta['elapsed_s'] / 60:.1f} min",
        "",
        "| class | cases |", "|---|---|",
        *[f"| {k} | {t[k]} |" for k in STATUSES],
        f"| (of the rejected: input/output type) | {s['rejected_input_type']} |",
        f"| **total** | **{s['cases']}** |",
        "",
        f"- pass rate, all cases: **{t['passed']}/{s['cases']} = {100 * s['pass_rate']:.1f}%**",
        f"- pass rate in scope: **{s['in_scope_passed']}/{s['in_scope_cases']} = "
        f"{100 * s['pass_rate_in_scope']:.1f}%** — denominator: all cases minus the "
        f"{s['cases'] - s['in_scope_cases']} that are rejected for their input/output types or "
        f"exist only for training",
        f"- passed within the strict ONNX default tolerance (atol 1e-7): "
        f"{s['strict_passed']}/{t['passed']}",
        "",
        "### By operator family", "",
        *md_table(s["by_family"], "family", cases.FAMILY_ORDER),
        "",
        "### Failing and rejected operators", "",
        "Every non-passing case except the input-type rejections, charged to the operator the "
        "error names (else the operator the case tests; `(expanded)` = its function-body form), "
        "most cases first.", "",
        "| operator | cases | reasons |", "|---|---|---|",
    ]
    for op, entry in s["failing_operators"].items():
        reasons = "; ".join(
            f"{d['count']}× {why}"
            + (f" (max abs err {d['max_abs_err']:.3g})" if "max_abs_err" in d else "")
            for why, d in entry["reasons"].items())
        lines.append(f"| {op} | {entry['count']} | {reasons.replace('|', '/')} |")
    lines += ["", "Rejected for input/output types Kiln's numpy I/O cannot carry (cases per type): "
              + ", ".join(f"{k} {v}" for k, v in s["input_type_rejections"].items()) + ".",
              "", "### By operator", "", *md_table(s["by_operator"], "operator")]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------
def read_list(path: str) -> List[str]:
    with open(path) as f:
        return [line.split("#")[0].strip() for line in f if line.split("#")[0].strip()]


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO, capture_output=True, text=True).stdout.strip()
        return head + ("+local changes" if dirty else "")
    except OSError:
        return "unknown"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--filter", help="only cases whose name matches this regular expression")
    p.add_argument("--subset", choices=["ci"], help="only the cases in ci_subset.txt")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per case (default 60)")
    p.add_argument("--report", help="write the JSON report (every case) here")
    p.add_argument("--markdown", help="write the summary tables as markdown here")
    p.add_argument("--write-expected", metavar="FILE",
                   help="write the names of the passing cases here (ci_expected_pass.txt)")
    p.add_argument("--max-tasks", type=int, default=100,
                   help="cases per worker before it is replaced (default 100)")
    p.add_argument("--memory-mb", type=int, default=8192,
                   help="address-space limit per worker in MiB, 0 for none (default 8192)")
    p.add_argument("--startup-timeout", type=float, default=120.0)
    p.add_argument("--python-dir", default=os.path.join(REPO, "build", "python"),
                   help="directory holding the kiln package (default <repo>/build/python)")
    p.add_argument("--freeze-inputs", action="store_true",
                   help="turn inputs the importer needs as constants (axes, scales, pads, shape, "
                        "...) into initializers holding the reference values, and retry")
    p.add_argument("--verbose", "-v", action="store_true", help="print every case")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    root = cases.data_dir()
    names = cases.list_case_names(root)
    if args.subset == "ci":
        wanted = read_list(CI_SUBSET)
        missing = sorted(set(wanted) - set(names))
        if missing:
            raise SystemExit(f"{CI_SUBSET} names cases the onnx test data lacks: {missing}")
        names = wanted
    if args.filter:
        names = [n for n in names if re.search(args.filter, n)]
    if not names:
        raise SystemExit("no case selected")

    import onnx

    started = time.time()
    infos = cases.describe_cases(root, names)
    tmp_root = tempfile.mkdtemp(prefix="kiln-conformance-")
    records: Dict[str, dict] = {}
    try:
        snap = snapshot_kiln(args.python_dir, os.path.join(tmp_root, "snapshot"))
        counts = collections.Counter()

        def on_result(case: cases.CaseInfo, result: dict) -> None:
            record = dict(case.to_dict())
            for key in ("path", "datasets", "io_type_problem"):
                record.pop(key)
            record.update(result)
            record["name"] = case.name
            records[case.name] = record
            counts[record["status"]] += 1
            done = len(records)
            if args.verbose or record["status"] in ("crashed", "timeout"):
                detail = record.get("message", "")
                print(f"[{done}/{len(infos)}] {case.name}: {record['status']}"
                      + (f" — {detail[:200]}" if detail else ""), file=sys.stderr, flush=True)
            elif done % 100 == 0 or done == len(infos):
                print(f"[{done}/{len(infos)}] " + ", ".join(
                    f"{s} {counts[s]}" for s in STATUSES if counts[s]) +
                    f"  ({time.time() - started:.0f} s)", file=sys.stderr, flush=True)

        todo = []
        for info in infos:
            if info.io_type_problem:  # known before running: Kiln's numpy I/O cannot carry it
                on_result(info, {"status": "rejected", "reject_kind": "input type",
                                 "stage": "inputs", "message": info.io_type_problem})
            else:
                todo.append(info)
        run_pool(todo, args, snap["env"], tmp_root, on_result)
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)

    ordered = [records[n] for n in names]
    meta = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python3 tests/conformance/run.py " + " ".join(sys.argv[1:] if argv is None
                                                                 else argv),
        "onnx_version": onnx.__version__,
        "kiln_version": snap["version"],
        "git_commit": git_commit(),
        "jobs": args.jobs,
        "timeout_s": args.timeout,
        "freeze_inputs": args.freeze_inputs,
        "tolerance": {"rtol": cases.RTOL, "atol": cases.ATOL, "strict_atol": cases.STRICT_ATOL},
        "elapsed_s": time.time() - started,
        "data_dir": root,
    }
    summary = summarize(ordered)
    print(format_summary(summary, meta))
    if args.report:
        with open(args.report, "w") as f:
            json.dump({"meta": meta, "summary": summary, "cases": ordered}, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(format_markdown(summary, meta))
    if args.write_expected:
        if not summary["totals"]["passed"]:
            raise SystemExit(f"no case passed: not overwriting {args.write_expected}")
        with open(args.write_expected, "w") as f:
            f.write("# Cases of ci_subset.txt that pass (written by run.py --write-expected);\n"
                    "# tests/python/test_conformance_subset.py fails when one stops passing.\n")
            f.writelines(r["name"] + "\n" for r in ordered if r["status"] == "passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
