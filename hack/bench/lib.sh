# shellcheck shell=bash
# Shared by bench.sh and db.sh (sourced): helpers and the run ledger.
# The caller sets RUNS_TSV and declares the associative arrays WALL, CPU and RSS.

say() { printf '%s\n' "$*" >&2; }
calc() { awk "BEGIN { printf $* }"; } # calc "\"FORMAT\", EXPR": awk arithmetic, printf-formatted
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; } # a/b

# The comparison every diff run makes on the generated ledger pair.
# shellcheck disable=SC2034 # used by the scripts that source this file
DIFF_FLAGS=(--key id --tolerance amount=0.01 --time-tolerance booked_at=2s --type value_date=date --output json --progress=false)

# timed TIMEFILE CMD...: run CMD under GNU time, which writes `%e %U %S %M` (wall s,
# user s, sys s, peak RSS KiB) to TIMEFILE, then append the same line with the wall time
# measured to the millisecond around it: %e counts in steps of 10 ms, ±10% on the 0.1 s
# runs of the 1M rows. Returns CMD's status.
timed() {
	local tf=$1 t0 t1 rc=0 last
	shift
	t0=$(date +%s%N)
	/usr/bin/time -f '%e %U %S %M' -o "$tf" "$@" || rc=$?
	t1=$(date +%s%N)
	last=$(tail -1 "$tf")
	echo "$(calc "\"%.3f\", ($t1 - $t0) / 1e9") ${last#* }" >>"$tf"
	return "$rc"
}

# record_run KEY LABEL ROWS RUN TIMEFILE [WHOSE]: append a run measured by
# `/usr/bin/time -f '%e %U %S %M'` (TIMEFILE) to RUNS_TSV, say it, and keep under KEY the
# fastest wall (with that run's cpu) and the largest peak RSS. WHOSE qualifies the cpu
# and RSS in what is said ("client " when a server does part of the work).
record_run() {
	local key=$1 label=$2 n=$3 i=$4 tf=$5 whose=${6:-} wall usr sys rss cpu
	read -r wall usr sys rss < <(tail -1 "$tf")
	cpu=$(calc "\"%.2f\", $usr + $sys")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$n" "$label" "$i" "$wall" "$cpu" "$rss" "$(cut -d' ' -f1 /proc/loadavg)" >>"$RUNS_TSV"
	say "  ${label##*/} run $i: ${wall}s wall, ${cpu}s ${whose}cpu, $((rss / 1024)) MiB ${whose}peak RSS"
	if [[ -z ${WALL["$key"]:-} ]] || awk -v a="$wall" -v b="${WALL["$key"]}" 'BEGIN { exit !(a < b) }'; then
		WALL["$key"]=$wall
		# shellcheck disable=SC2034 # read by the script that sourced this file
		CPU["$key"]=$cpu
	fi
	if ((rss > ${RSS["$key"]:-0})); then RSS["$key"]=$rss; fi
}
