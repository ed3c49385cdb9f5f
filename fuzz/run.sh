#!/usr/bin/env bash
# Builds the fuzz targets, writes the seed corpora and runs each target for a set time.
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      (default 300 s; targets: onnx kiln npz package)
# Environment: FUZZ_BUILD_DIR (build-fuzz), CXX_FUZZ (clang++-19), FUZZ_JOBS (2),
# PYTHONPATH must reach the Kiln module for the .kiln and package seeds (the Makefile sets it).
# Exit status 1 when a target finds a crash, leak, timeout or out-of-memory: the input is saved
# under $FUZZ_BUILD_DIR/artifacts/<target>/ (docs/fuzzing.md says how to reproduce it).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(onnx kiln npz package)
build=${FUZZ_BUILD_DIR:-build-fuzz}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
# A UBSan report with its stack, so that a finding says where it is.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

start=$(date +%s)
cmake -S fuzz -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="${CXX_FUZZ:-clang++-19}" >/dev/null
cmake --build "$build" -j"${FUZZ_JOBS:-2}"
echo "fuzz build: $(($(date +%s) - start)) s"
python3 fuzz/make-corpus.py --out "$build/corpus"

# fuzz_package checks mod.json against this trusted package's kernels (never a fuzzed mod.so).
[[ -f "$build/corpus/package-module.tar" ]] && export KILN_FUZZ_PACKAGE="$PWD/$build/corpus/package-module.tar"
failed=0
for target in "${targets[@]}"; do
  binary="$build/bin/fuzz_$target"
  work="$build/evolved/$target"
  artifacts="$build/artifacts/$target"
  mkdir -p "$work" "$artifacts" "$build/corpus/$target"
  # Known findings first: each saved regression input must now pass.
  if compgen -G "fuzz/regressions/$target/*" >/dev/null; then
    "$binary" -runs=1 fuzz/regressions/"$target"/* >"$build/regressions-$target.log" 2>&1 || {
      echo "fuzz_$target: a regression input fails again (see $build/regressions-$target.log)"
      failed=1
      continue
    }
  fi
  echo "fuzz_$target: ${seconds} s"
  # -rss_limit_mb / -malloc_limit_mb: a few bytes of input must never reach 2 GB.
  if ! "$binary" "$work" "$build/corpus/$target" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" >"$build/fuzz-$target.log" 2>&1; then
    echo "fuzz_$target: FOUND A PROBLEM; input under $artifacts/, log $build/fuzz-$target.log"
    grep -m5 -E "ERROR|FINDING|SUMMARY" "$build/fuzz-$target.log" || true
    failed=1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/fuzz-$target.log" |
    sed "s/^/  fuzz_$target /" || true
done
exit $failed
