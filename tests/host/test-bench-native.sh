#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A smoke of the bench's native measurement (tests/bench/native.sh): on this
# host it either measures hmmtrace's handlers and bpftrace's on the getpid
# carrier, or says why it cannot. No timing is asserted.

. tests/lib.sh

if [ ! -x build/bench/carrier ]; then
	fail bench-native "build/bench/carrier is not built (make test-programs)"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	skip bench-native "needs root to load BPF"
	exit 0
fi
output=$(mktemp)
if ! BENCH_OUTPUT=$output BENCH_SCALE=smoke tests/bench/native.sh >/dev/null 2>&1; then
	fail bench-native.runs "tests/bench/native.sh failed"
elif verdict=$(python3 - "$output" <<'EOF_VERDICT'
import json, sys
# Which measurement was unavailable decides: if the empty carrier could not
# attach, or bpftrace could not, the host lacks something (skip); if the
# carrier attached but one of hmmtrace's handlers did not, ours broke (fail).
records = [json.loads(line) for line in open(sys.argv[1])]
missing = {(record["tracer"], record.get("handler", "")): record["unavailable"]
           for record in records if "unavailable" in record}
ours = {key: why for key, why in missing.items() if key[0] == "hmmtrace" and key[1] != "empty"}
if ours and ("hmmtrace", "empty") not in missing:
    key, why = next(iter(ours.items()))
    print("FAIL", " ".join(key), why)
elif missing:
    key, why = next(iter(missing.items()))
    print("SKIP", " ".join(key).strip(), why)
EOF_VERDICT
) && [ -n "$verdict" ]; then
	case $verdict in
	FAIL*) fail bench-native.handlers-load "${verdict#FAIL }" ;;
	*) skip bench-native "${verdict#SKIP }" ;;
	esac
else
	check bench-native.measures-every-handler sh -c \
		"[ \$(grep -c '\"handler_ns\"' '$output') -eq 3 ] && [ \$(grep -c '\"tracer\": \"bpftrace\"' '$output') -ge 1 ]"
	# The handlers timed must have counted every call, or the figure is of nothing.
	run_checker bench-native python3 - "$output" <<'EOF_CHECK'
import json, sys
results = {}
for line in open(sys.argv[1]):
    result = json.loads(line).get("result", {})
    results[result.get("handler")] = result
for handler in ("invalidate", "read_begin"):
    result = results.get(handler, {})
    counted, expected = result.get("counted"), result.get("expected")
    held = counted is not None and counted == expected and expected > 0
    print(f"{'PASS' if held else 'FAIL'}\t{handler}-counts-every-call\tcounted {counted} of {expected}")
EOF_CHECK
	# The kernel-accounting method: every event's handler and the controls,
	# for each subcommand, every round timed (a handler that never ran
	# has no runs, and carrier exits non-zero).
	run_checker bench-native.bpf-stats python3 - "$output" <<'EOF_CHECK'
import json, sys
handlers = {"empty", "empty_plus_4_squarings", "empty_plus_8_squarings", "insert", "remove",
            "range_start", "range_end", "invalidate", "read_begin", "read_retry", "check_retry",
            "hmm_range_fault", "clock_read", "subscription_lookup", "task_slot",
            "invalidate_fault_in_flight"}
records = [record["result"] for record in map(json.loads, open(sys.argv[1]))
           if record.get("measure") == "handler_stats"]
subcommands = sorted(f"{record['subcommand']}/{record['fault_state']}" for record in records)
held = subcommands == ["latency/task", "retries/task", "top/hash", "top/task"]
print(f"{'PASS' if held else 'FAIL'}\tsubcommands\t{subcommands}")
for record in records:
    timed = {name for name, handler in record["handlers"].items()
             if len(handler["ns_per_call"]) == record["rounds"] and min(handler["ns_per_call"]) > 0}
    held = timed == handlers
    print(f"{'PASS' if held else 'FAIL'}\t{record['subcommand']}-{record['fault_state']}.every-handler-timed\t"
          f"missing or untimed: {sorted(handlers - timed)}")
EOF_CHECK
fi
rm -f "$output"
