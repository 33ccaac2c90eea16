# SPDX-License-Identifier: GPL-2.0-only
#
# Sourced by the lab scripts that run Debian's Prometheus beside
# `hmmtrace export` (tests/lab/test-hmmtrace-export.sh): a throwaway server
# on the guest's loopback that scrapes one target and evaluates the rules
# every second. Its storage lives under the caller's directory, so nothing
# of a run survives it.
#
#   prometheus_start DIRECTORY PORT TARGET [RULE_FILE]
#                      start it (listening on 127.0.0.1:PORT, scraping
#                      TARGET, host:port, every second); back when /-/ready
#                      answers (false if it died or took 120 s), with its
#                      pid in prometheus_pid and the seconds that took in
#                      prometheus_ready_seconds
#   prometheus_launch DIRECTORY PORT TARGET [RULE_FILE]
#   prometheus_wait_ready
#                      the same in two steps, to do something else while
#                      it starts (the seconds count from the launch)
#   prometheus_get PATH  the body of an HTTP GET of PATH on it
#   prometheus_stop    SIGTERM it and wait
#
# The web UI and the console templates are pointed at empty directories,
# the lifecycle and admin APIs and the remote-write receiver stay off (their
# defaults), and there is no Alertmanager: alerts are read back from the
# ALERTS series that the rule evaluation writes.

prometheus_binary=${PROMETHEUS:-/usr/bin/prometheus}

prometheus_start() {
	prometheus_launch "$@" && prometheus_wait_ready
}

prometheus_launch() {
	local directory=$1 port=$2 target=$3 rule_file=${4:-}
	mkdir -p "$directory/data" "$directory/empty"
	{
		echo "global:"
		echo "  scrape_interval: 1s"
		echo "  scrape_timeout: 1s"
		echo "  evaluation_interval: 1s"
		if [ -n "$rule_file" ]; then
			echo "rule_files:"
			echo "  - $rule_file"
		fi
		echo "scrape_configs:"
		echo "  - job_name: hmmtrace"
		echo "    static_configs:"
		echo "      - targets: ['$target']"
	} >"$directory/prometheus.yml"
	prometheus_started=$EPOCHREALTIME
	"$prometheus_binary" --config.file="$directory/prometheus.yml" \
		--storage.tsdb.path="$directory/data" \
		--web.listen-address="127.0.0.1:$port" \
		--web.local-assets="$directory/empty" \
		--web.console.templates="$directory/empty" \
		--web.console.libraries="$directory/empty" \
		--log.level=warn >"$directory/prometheus.log" 2>&1 &
	prometheus_pid=$!
	prometheus_url=http://127.0.0.1:$port
}

prometheus_wait_ready() {
	# Under TCG the TSDB's start and the rule loading take seconds; wait
	# up to 120 s, and not at all once the server has died.
	for _ in $(seq 1200); do
		if prometheus_ready; then
			prometheus_ready_seconds=$(awk -v start="$prometheus_started" -v end="$EPOCHREALTIME" \
				'BEGIN { printf "%.2f", end - start }')
			return 0
		fi
		kill -0 "$prometheus_pid" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

# prometheus_get PATH: the body of a GET of PATH (already URL-encoded), over
# bash's /dev/tcp so that polling costs no process start (a python3 start is
# about 4 s under TCG); nothing when the server does not answer 200.
prometheus_get() {
	local line status_line answered=1
	{ exec 3<>"/dev/tcp/127.0.0.1/${prometheus_url##*:}"; } 2>/dev/null || return 1
	printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&3
	read -r -t 5 status_line <&3 || status_line=
	while IFS= read -r -t 5 line <&3 && [ -n "${line%$'\r'}" ]; do :; done
	if [[ $status_line == "HTTP/1."?" 200"* ]]; then
		cat <&3
		answered=0
	fi
	exec 3<&-
	return $answered
}

prometheus_ready() {
	local body
	body=$(prometheus_get /-/ready) && [ -n "$body" ]
}

prometheus_stop() {
	[ -n "${prometheus_pid:-}" ] || return 0
	kill -TERM "$prometheus_pid" 2>/dev/null
	wait "$prometheus_pid" 2>/dev/null
	prometheus_pid=
}
