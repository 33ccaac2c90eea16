#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `make bench`: boots the lab on the patched and the unpatched kernel, in
# alternation for the events-off comparison, runs tests/bench/guest-bench.sh's
# stages, and turns the raw measurements into build/bench/results.json,
# results.md and the plots (tests/bench/report.py).
#
#   BENCH_SCALE=smoke   seconds instead of minutes (make check runs this)

set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo_root"

output_dir=build/bench
[ "${BENCH_SCALE:-full}" = smoke ] && output_dir=build/bench-smoke
mkdir -p "$output_dir"
raw=$output_dir/raw.jsonl
: >"$raw"
export BENCH_OUTPUT=$repo_root/$raw
export LAB_ENV="BENCH_OUTPUT BENCH_SCALE ${LAB_ENV:-}"
export BENCH_SCALE=${BENCH_SCALE:-full}

# in_lab VARIANT STAGES...: one boot of VARIANT's kernel running the stages.
in_lab() {
	local variant=$1 command=""
	shift
	for stage in "$@"; do
		command+="tests/bench/guest-bench.sh $stage && "
	done
	echo "bench: $variant kernel: $*"
	KERNEL_VARIANT=$variant LAB_TIMEOUT=${LAB_TIMEOUT:-1500} tests/lab/run-lab.sh "${command}true"
}

# Events off: the same microbench on the patched and the unpatched kernel,
# boots alternating, so a slow phase of the host hits both alike. Five
# pairs: report.py compares each boot's fastest rounds.
boots=5
[ "$BENCH_SCALE" = smoke ] && boots=1
for _ in $(seq "$boots"); do
	in_lab patched disabled
	in_lab stock disabled
done
in_lab patched tracers scaling tool retries
echo "bench: native figures on the host ($(uname -r))"
tests/bench/native.sh

accel=tcg
[ "${LAB_ACCEL:-tcg}" = kvm ] && accel=kvm
python3 tests/bench/report.py "$raw" "$output_dir" --accel "$accel"
