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
	echo "bench: $variant kernel${LAB_ACCEL:+ ($LAB_ACCEL)}: $*"
	KERNEL_VARIANT=$variant LAB_TIMEOUT=${LAB_TIMEOUT:-1500} tests/lab/run-lab.sh "${command}true"
}

# boot_pairs COUNT CLOCK [ACCEL]: COUNT boots of the patched kernel, each
# followed by one of the unpatched kernel, running the events-off stage.
boot_pairs() {
	local count=$1 clock=$2 accel=${3:-${LAB_ACCEL:-tcg}}
	[ "$BENCH_SCALE" = smoke ] && count=1
	for _ in $(seq "$count"); do
		BENCH_CLOCK=$clock LAB_ACCEL=$accel in_lab patched disabled
		BENCH_CLOCK=$clock LAB_ACCEL=$accel in_lab stock disabled
	done
}

# Events off: the same microbench on the patched and the unpatched kernel.
# First counted in guest instructions (QEMU's icount: the guest's clock
# advances one nanosecond per instruction), which host load cannot move;
# then in wall time, boots alternating so a slow phase of the host hits
# both alike, where report.py compares each boot's fastest rounds.
export LAB_ENV="BENCH_CLOCK $LAB_ENV"
boot_pairs 3 instructions tcg-icount
boot_pairs 5 wall
in_lab patched tracers scaling tool scale export causes retries
# 10 minutes of top and export beside churning processes: growth, if any.
LAB_TIMEOUT=${LAB_TIMEOUT:-1800} in_lab patched soak
echo "bench: native figures on the host ($(uname -r))"
tests/bench/native.sh

accel=tcg
[ "${LAB_ACCEL:-tcg}" = kvm ] && accel=kvm
python3 tests/bench/report.py "$raw" "$output_dir" --accel "$accel"
