#!/usr/bin/env bash
# Runs the whole suite (make test) RUNS times in a row while LOAD CPU-bound
# processes compete for the CPUs, and reports each run's wall time and
# result. A test whose deadline comes from a fast machine rather than from
# what it tests fails here; CI's machine is a busy 2-core one.
#
#   RUNS=5 LOAD=2 bash .ci/stress-test.sh      (make stress-test)
#
# Exits non-zero unless every run passed. Each run's output is kept in
# LOGDIR (default: a new directory under /tmp), named in the report.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
load=${LOAD:-2}
cmd=${STRESS_CMD:-make test}
logdir=${LOGDIR:-$(mktemp -d "${TMPDIR:-/tmp}/wazuh-pull-stress.XXXXXX")}
mkdir -p "$logdir"

hogs=()
stop_hogs() {
	for pid in "${hogs[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${hogs[@]}"; do
		wait "$pid" 2>/dev/null
	done
	hogs=()
}
trap stop_hogs EXIT
trap 'exit 130' INT TERM
for _ in $(seq "$load"); do
	sh -c 'while :; do :; done' &
	hogs+=($!)
done

echo "stress-test: $runs × '$cmd' with $load CPU-bound processes on $(nproc) CPUs; logs in $logdir"
failed=0
report=()
for i in $(seq "$runs"); do
	log="$logdir/run-$i.log"
	start=$(date +%s)
	if $cmd >"$log" 2>&1; then
		result=PASS
	else
		result=FAIL
		failed=$((failed + 1))
	fi
	secs=$(($(date +%s) - start))
	line=$(printf 'run %d/%d: %s in %dm%02ds (load average %s)' "$i" "$runs" "$result" $((secs / 60)) $((secs % 60)) "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)")
	report+=("$line")
	echo "stress-test: $line"
	if [ "$result" = FAIL ]; then
		grep -E -- '^(--- FAIL|FAIL|panic:)|deps: .*FAILED' "$log" | head -n 20 | sed 's/^/    /'
	fi
done
stop_hogs
echo "stress-test: $((runs - failed)) passed, $failed failed"
[ "$failed" = 0 ]
