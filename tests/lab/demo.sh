#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `make demo` runs this inside the lab guest. hmmtrace top and hmmtrace
# retries watch two mirroring drivers (test_hmm and the simulated
# sim_mirror) through a mixed workload: device faults and a COW storm, an
# invalidation storm, faults racing CPU writers, the stale-seq livelock, and
# the kernel's own hmm-tests. Beside them hmmtrace export serves
# Prometheus, which scrapes it every second and evaluates
# dashboards/prometheus/hmmtrace-rules.yml: the demo shows the livelock
# alert going to firing, and a few lines of one scrape. Then it prints what
# hmmtrace saw.

set -euo pipefail
. tests/lab/prometheus_server.sh

work=$(mktemp -d)
trap 'prometheus_stop; rm -rf "$work"' EXIT

echo "== lab guest: Linux $(uname -r), $(getconf _NPROCESSORS_ONLN) CPUs"
read -r coherent_dev0 coherent_dev1 <<<"${LAB_COHERENT_MEMORY:-}"
modprobe test_hmm ${coherent_dev0:+spm_addr_dev0=$coherent_dev0 spm_addr_dev1=$coherent_dev1}
insmod "build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko"

# One top table for the whole run (the interval outlasts it), and retries.
build/hmmtrace top -i 3600 >"$work/top" 2>"$work/top.err" &
top_pid=$!
build/hmmtrace retries >"$work/retries" 2>"$work/retries.err" &
retries_pid=$!
# causes: who invalidated, over the whole run; its stacks drawn at the end.
mkdir -p build/demo
build/hmmtrace causes -i 3600 --stacks 2 --folded build/demo/causes.folded \
	--html build/demo/causes.html >"$work/causes" 2>"$work/causes.err" &
causes_pid=$!
for _ in $(seq 300); do
	grep -q 'Ctrl-C' "$work/top.err" && grep -q 'Ctrl-C' "$work/retries.err" &&
		grep -q 'Ctrl-C' "$work/causes.err" && break
	sleep 0.1
done
sed 's/^hmmtrace: /== hmmtrace: /' "$work/top.err"

# The fleet's view: the exporter, and Prometheus beside it.
ip link set lo up
# Under TCG a race fault can go round for 200 ms; the livelock stalls for 1000.
build/hmmtrace export --listen 127.0.0.1:9476 --livelock-ms 500 >/dev/null 2>"$work/export.err" &
export_pid=$!
for _ in $(seq 300); do
	grep -q '^hmmtrace: exporting' "$work/export.err" && break
	sleep 0.1
done
if prometheus_start "$work/prometheus" 9090 127.0.0.1:9476 "$PWD/dashboards/prometheus/hmmtrace-rules.yml"; then
	echo "== prometheus: ready in ${prometheus_ready_seconds} s, scraping http://127.0.0.1:9476/metrics every second"
else
	echo "== prometheus did not start: $(tail -n 2 "$work/prometheus/prometheus.log")"
fi

# livelock_alert: the livelock alert's state, as Prometheus' API has it.
livelock_alert() {
	prometheus_get /api/v1/alerts 2>/dev/null | python3 -c 'import json, sys
alerts = [alert for alert in json.load(sys.stdin)["data"]["alerts"]
          if alert["labels"]["alertname"] == "HmmtraceFaultLivelock"]
print(alerts[0]["state"] if alerts else "inactive")' 2>/dev/null || echo unknown
}

echo "-- test_hmm: device reads, and a COW storm from a device write (one -EBUSY per chunk)"
build/tests/test_hmm_phases --race-seconds 2 >/dev/null
echo "-- sim_mirror: an invalidation storm (MADV_DONTNEED and refault, 20 rounds)"
build/tests/sim_mirror_workload storm --iterations 20 >/dev/null
echo "-- sim_mirror: device faults racing CPU writers (read_retry collisions and -EBUSY)"
build/tests/sim_mirror_workload race --duration 3 --threads 2 --retry-window-us 2000 >/dev/null
echo "-- sim_mirror: the stale-seq livelock bug (a fault spins on -EBUSY until the 1000 ms timeout)"
echo "   prometheus: HmmtraceFaultLivelock is $(livelock_alert) before it"
livelock_started=$EPOCHREALTIME
build/tests/sim_mirror_workload livelock --duration 3 | grep -E 'longest'
state=inactive
for _ in $(seq 60); do
	now=$(livelock_alert)
	if [ "$now" != "$state" ]; then
		echo "   prometheus: HmmtraceFaultLivelock is $now," \
			"$(awk -v start="$livelock_started" -v end="$EPOCHREALTIME" 'BEGIN { printf "%.0f", end - start }') s after the livelock began"
		state=$now
	fi
	[ "$state" = firing ] && break
	sleep 1
done
echo "-- sim_mirror: khugepaged collapses a mirrored buffer into THPs (a kernel thread invalidates)"
thp=/sys/kernel/mm/transparent_hugepage
echo 10 >"$thp/khugepaged/scan_sleep_millisecs"
build/tests/sim_mirror_workload khugepaged --ranges 2 --duration 60 >/dev/null
echo 10000 >"$thp/khugepaged/scan_sleep_millisecs"
echo "-- hmm-tests (tools/testing/selftests/mm/hmm-tests.c from the same source tree)"
"$LAB_KERNEL_DIR/hmm-tests" 2>&1 | grep -E '^# Totals'

kill -INT "$top_pid" "$retries_pid" "$causes_pid"
wait "$top_pid" "$retries_pid" "$causes_pid"
curl -s http://127.0.0.1:9476/metrics >"$work/metrics" || true
kill -TERM "$export_pid"
wait "$export_pid" || true
prometheus_stop

echo
echo "================ hmmtrace top: the whole run, one row per driver ================"
echo "(! marks a storm; RATIO is retries per completed fault; the livelocked driver's ratio is high)"
cat "$work/top"
echo
echo "================ hmmtrace retries: livelocks as they were caught, then the summary ================"
cat "$work/retries"
echo
echo "================ hmmtrace causes: who invalidated, and what it cost ================"
echo "(ENTRY: the syscall, else the kernel path; PATH: what the mm did; REFAULT: faults within 10 ms after)"
cat "$work/causes"
echo "   the flame graph of these stacks: build/demo/causes.html (folded: build/demo/causes.folded)"
echo
echo "================ hmmtrace export: a few lines of the last scrape ($(grep -vc '^#' "$work/metrics") samples) ================"
for metric in info invalidations_total read_retries_total livelocks_total; do
	grep "^hmmtrace_$metric[{ ]" "$work/metrics" || true
done
grep '^hmmtrace_range_faults_total{driver="sim_mirror"' "$work/metrics" || true
grep '^hmmtrace_cause_invalidations_total{driver="sim_mirror"' "$work/metrics" | sort -t' ' -k2 -rn | head -n 4 || true
rmmod sim_mirror
rmmod test_hmm
