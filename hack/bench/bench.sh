#!/usr/bin/env bash
# make bench: the diff engine against the read floor and DuckDB, on generated CSV pairs.
#
# For each size (BENCH_SIZES rows) it generates, once, a sorted and a shuffled pair with
# 0.1% discrepancies under bin/bench-data/, then measures with /usr/bin/time (wall
# seconds, peak RSS), best of BENCH_REPEAT runs, the page cache warmed by an untimed read:
#   floor (sorted), floor (shuffled)    clearhouse floor: read and parse both files only
#   merge                               clearhouse diff --strategy merge --sorted, sorted pair
#   hash                                clearhouse diff --strategy hash --memory BENCH_MEMORY,
#                                       shuffled pair, spilling into a watched --temp-dir;
#                                       --stats says how many bytes it wrote there
#   duckdb                              hack/bench/duckdb.mjs, shuffled pair, threads = nproc
# Every merge and hash run's JSON summary must equal expected.json's: a mismatch fails
# the benchmark (exit 2). It prints a Markdown table and the targets' verdicts, and keeps
# them in bin/bench-data/results/. docs/benchmarks.md has the results and what they mean.
#
# Environment (defaults in brackets):
#   BENCH_SIZES ["1000000 10000000"]  rows per pair (base keys; a few injected rows more)
#   BENCH_REPEAT [3]                  timed runs per measurement; the fastest is reported
#   BENCH_MEMORY [256MiB]             --memory of merge and hash; RSS target = it + 64 MiB
#   BENCH_SEED [1]  BENCH_RATE [0.001]  generator seed and discrepancy rate
#   BENCH_DATA [bin/bench-data]       data, outputs and results (git-ignored via /bin/)
#   BENCH_REGEN [0]                   1: regenerate the pairs even when present
#   BENCH_DUCKDB [1]                  0: skip the DuckDB peer (and its target)
#   BENCH_BUILD [1]                   0: use bin/clearhouse as it is, without go build
#   BENCH_STRICT [0]                  1: exit 3 when a performance target is missed
#   BENCH_SPILL_POLL [0.05]           seconds between samples of the spill directory
#   BENCH_DB [1]                      0: skip the database rows (hack/bench/db.sh, its own
#                                     BENCH_DB_SIZES and BENCH_PG_* settings)
# Exit status: 0 done (targets may have missed: see the verdicts), 2 wrong result or a
# failed command, 3 a missed target with BENCH_STRICT=1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=$ROOT/hack/bench
BIN=${BIN:-$ROOT/bin}
CH=$BIN/clearhouse
DATA=${BENCH_DATA:-$BIN/bench-data}
SIZES=${BENCH_SIZES:-"1000000 10000000"}
REPEAT=${BENCH_REPEAT:-3}
MEMORY=${BENCH_MEMORY:-256MiB}
SEED=${BENCH_SEED:-1}
RATE=${BENCH_RATE:-0.001}
REGEN=${BENCH_REGEN:-0}
WITH_DUCKDB=${BENCH_DUCKDB:-1}
BUILD=${BENCH_BUILD:-1}
STRICT=${BENCH_STRICT:-0}
POLL=${BENCH_SPILL_POLL:-0.05}
THREADS=$(nproc)
# shellcheck source=hack/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
die() {
	say ""
	say "BENCHMARK FAILED: $*"
	exit 2
}

# ---- tools ------------------------------------------------------------------------------

apt_install() { # apt_install PKG: install a Debian package (root), updating the lists once
	command -v apt-get >/dev/null || return 1
	local sudo=()
	[[ $(id -u) == 0 ]] || sudo=(sudo -n)
	"${sudo[@]}" apt-get install -y -qq "$1" >/dev/null 2>&1 ||
		{ "${sudo[@]}" apt-get update -qq >/dev/null 2>&1 && "${sudo[@]}" apt-get install -y -qq "$1" >/dev/null 2>&1; }
}

[[ -x /usr/bin/time ]] || { say "installing GNU time"; apt_install time || die "/usr/bin/time (GNU time) is missing"; }
if ! command -v jq >/dev/null; then
	say "installing jq"
	apt_install jq || say "jq unavailable: using node for JSON"
fi
HAVE_JQ=0
command -v jq >/dev/null && HAVE_JQ=1
command -v node >/dev/null || [[ $HAVE_JQ == 1 && $WITH_DUCKDB == 0 ]] ||
	die "node is needed (the DuckDB peer, and JSON when jq is missing)"

# json FILE PATH: the value at PATH (.a.b) in FILE, objects with sorted keys, compact.
json() {
	if [[ $HAVE_JQ == 1 ]]; then
		jq -cS "$2" "$1"
	else
		node -e '
			const fs = require("fs");
			const sortKeys = (v) => Array.isArray(v) ? v.map(sortKeys) : v && typeof v === "object"
				? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])])) : v;
			let v = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
			for (const p of process.argv[2].split(".").filter(Boolean)) v = v[p];
			console.log(JSON.stringify(sortKeys(v)));' "$1" "$2"
	fi
}

cmp_le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

budget_bytes=$(numfmt --from=auto "${MEMORY%B}" 2>/dev/null) || die "BENCH_MEMORY=$MEMORY: want a size such as 256MiB"
BUDGET_MIB=$(calc "\"%.0f\", $budget_bytes / 1048576")
RSS_LIMIT_MIB=$((BUDGET_MIB + 64))

if [[ $BUILD == 1 ]]; then
	say "building $CH"
	(cd "$ROOT" && go build -pgo="$ROOT/hack/pgo/clearhouse.pgo" -o "$CH" ./cmd/clearhouse) || die "go build failed"
fi
[[ -x $CH ]] || die "$CH is missing (make build)"
# The spill watcher (hack/bench/spillwatch): one process sleeping between samples, so
# that watching costs the hash run it watches next to nothing.
WATCH=$BIN/spillwatch
(cd "$ROOT" && go build -o "$WATCH" ./hack/bench/spillwatch) || die "go build ./hack/bench/spillwatch failed"

DUCKDB_VERSION="not run"
if [[ $WITH_DUCKDB == 1 ]]; then
	lock=$BENCH_DIR/package-lock.json
	installed=$BENCH_DIR/node_modules/.package-lock.json
	if [[ ! -f $installed || $lock -nt $installed ]]; then
		say "installing @duckdb/node-api (npm in hack/bench, from package-lock.json)"
		# npm 11's ci refuses a lock file without other platforms' optional bindings,
		# as its own install writes it ("Missing: @duckdb/node-bindings-darwin-arm64");
		# install then takes the same locked versions and integrity hashes.
		(cd "$BENCH_DIR" && { npm ci --no-audit --no-fund --loglevel=silent ||
			npm install --no-save --no-audit --no-fund --loglevel=error; }) || die "npm install in hack/bench failed"
	fi
	DUCKDB_VERSION=$(cd "$BENCH_DIR" && node -e 'import("@duckdb/node-api").then(async ({DuckDBInstance}) => {
		const c = await (await DuckDBInstance.create(":memory:")).connect();
		console.log((await c.runAndReadAll("SELECT version()")).getRows()[0][0]); })') ||
		die "DuckDB does not load (hack/bench/node_modules)"
fi

mkdir -p "$DATA"/{out,results,spill}
# The spill watcher is a background job: end it (by its id) however the script ends.
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

# ---- data -------------------------------------------------------------------------------

pair_dir() { echo "$DATA/csv-$1-$2-seed$SEED-rate$RATE"; } # pair_dir ROWS sorted|shuffled

ensure_pair() { # ensure_pair ROWS sorted|shuffled: generate the pair unless it is there
	local dir tmp flags=()
	dir=$(pair_dir "$1" "$2")
	[[ $REGEN == 1 ]] && rm -rf "$dir"
	[[ -f $dir/manifest.json && -f $dir/expected.json ]] && return
	[[ $2 == sorted ]] && flags=(--sorted)
	say "generating $1 rows, $2 -> $dir"
	tmp=$(mktemp -d "$DATA/.gen-XXXXXX")
	"$CH" gen --dir "$tmp" --rows "$1" --seed "$SEED" --rate "$RATE" --format csv "${flags[@]}" >&2 ||
		{ rm -rf "$tmp"; die "clearhouse gen failed"; }
	rm -rf "$dir"
	mv "$tmp" "$dir" # complete or absent: an interrupted run leaves only a .gen- directory
}

# ---- measuring --------------------------------------------------------------------------

# Per size and method: WALL (the fastest run's wall s), CPU (that run's user+sys s), RSS
# (the largest peak RSS KiB of all runs), DISC (discrepancies found), and for hash SPILL
# (the largest spill seen on disk at once, bytes), SPILLW (the most bytes a run wrote to
# spill files, from its --stats line), SPILLRUNS (runs that spilled) and REFETCH (rows
# read again when rows were kept as fingerprints, from --stats).
declare -A WALL CPU RSS ROWS DISC SPILL SPILLW SPILLRUNS REFETCH ROUNDWALL
RUNS_TSV=$DATA/results/runs.tsv
OUR_DISCREP="" DUCK_ROWS=""

warm() { cat "$1/source.csv" "$1/target.csv" >/dev/null; } # the untimed read

# check_run METHOD DIR OUT ERR RC: fail loudly unless the run's result is right.
check_run() {
	local method=$1 dir=$2 out=$3 err=$4 rc=$5 got want
	case $method in
	floor*)
		[[ $rc == 0 ]] || die "$method on $dir exited $rc: $(tail -5 "$err")"
		got=$(sed -nE 's/^read ([0-9]+) source rows and ([0-9]+) target rows.*/\1 \2/p' "$out")
		want="$(json "$dir/manifest.json" .source.rows) $(json "$dir/manifest.json" .target.rows)"
		[[ $got == "$want" ]] || die "$method on $dir read '$got' rows, the manifest says '$want'"
		;;
	merge | hash)
		# Exit 1 is "discrepancies found": the expected outcome of these pairs.
		[[ $rc == 0 || $rc == 1 ]] || die "$method on $dir exited $rc (an error): $(tail -5 "$err")"
		got=$(json "$out" .summary) || die "$method on $dir: no JSON summary in $out"
		want=$(json "$dir/expected.json" .summary)
		if [[ $got != "$want" ]]; then
			say ""
			say "$method on $dir: summary differs from expected.json"
			say "  got:      $got"
			say "  expected: $want"
			die "wrong result from $method"
		fi
		OUR_DISCREP=$(calc "\"%d\", $(json "$out" .summary.compared) - $(json "$out" .summary.matched)")
		;;
	duckdb)
		[[ $rc == 0 ]] || die "duckdb on $dir exited $rc: $(tail -5 "$err")"
		DUCK_ROWS=$(json "$out" .discrepancyRows) || die "duckdb on $dir: no count in $out"
		;;
	esac
}

# run_once SIZE METHOD RUN: one timed, checked run of METHOD on SIZE's pair.
run_once() {
	local n=$1 m=$2 i=$3 sd hd dir rc wall cpu rss tf out err watcher="" spilldir="" state sb seen cmd
	sd=$(pair_dir "$n" sorted) hd=$(pair_dir "$n" shuffled)
	case $m in
	floor-sorted) dir=$sd cmd=("$CH" floor --source "$sd/source.csv" --target "$sd/target.csv") ;;
	floor-shuffled) dir=$hd cmd=("$CH" floor --source "$hd/source.csv" --target "$hd/target.csv") ;;
	merge) dir=$sd cmd=("$CH" diff --source "$sd/source.csv" --target "$sd/target.csv" "${DIFF_FLAGS[@]}"
		--strategy merge --sorted --memory "$MEMORY") ;;
	hash)
		dir=$hd spilldir=$DATA/spill/$n-$i state=$DATA/out/$n-hash.spill
		cmd=("$CH" diff --source "$hd/source.csv" --target "$hd/target.csv" "${DIFF_FLAGS[@]}"
			--strategy hash --memory "$MEMORY" --temp-dir "$spilldir" --stats)
		;;
	duckdb) dir=$hd cmd=(node "$BENCH_DIR/duckdb.mjs" "$hd/source.csv" "$hd/target.csv" "$THREADS") ;;
	esac
	tf=$DATA/out/$n-$m.time out=$DATA/out/$n-$m.out err=$DATA/out/$n-$m.err
	warm "$dir"
	if [[ -n $spilldir ]]; then
		rm -rf "$spilldir" "$state" && mkdir -p "$spilldir"
		echo "0 0" >"$state"
		"$WATCH" "$spilldir" "$state" "${POLL}s" &
		watcher=$!
	fi
	rc=0
	timed "$tf" "${cmd[@]}" >"$out" 2>"$err" || rc=$?
	if [[ -n $watcher ]]; then
		sleep "$POLL"
		kill "$watcher" 2>/dev/null || true
		wait "$watcher" 2>/dev/null || true
		read -r sb seen <"$state"
		if ((sb > ${SPILL[$n]:-0})); then SPILL[$n]=$sb; fi
		if ((seen == 1 || sb > 0)); then SPILLRUNS[$n]=$((${SPILLRUNS[$n]:-0} + 1)); fi
		[[ -z $(ls -A "$spilldir") ]] || say "warning: hash left files in its spill directory $spilldir"
		rm -rf "$spilldir"
	fi
	check_run "$m" "$dir" "$out" "$err" "$rc"
	if [[ $m == hash ]]; then
		sb=$(sed -nE 's/^stats: .* spilled \(([0-9]+) bytes\).*/\1/p' "$err")
		[[ -n $sb ]] || die "hash on $dir: no --stats line in $err"
		if ((sb > ${SPILLW[$n]:-0})); then SPILLW[$n]=$sb; fi
		REFETCH[$n]=$(sed -nE 's/^stats: .*rows kept as fingerprints, ([0-9]+) read again.*/\1/p' "$err")
	fi
	case $m in merge | hash) DISC[$n,$m]=$OUR_DISCREP ;; duckdb) DISC[$n,$m]=$DUCK_ROWS ;; esac
	record_run "$n,$m" "$m" "$n" "$i" "$tf"
	read -r ROUNDWALL["$n,$m,$i"] _ < <(tail -1 "$tf") # for the ratio within each round
}

# ---- the runs ---------------------------------------------------------------------------

CPU_MODEL=$(sed -nE 's/^model name\s*:\s*//p' /proc/cpuinfo | head -1)
GO_VERSION=$(go version 2>/dev/null | awk '{ print $3 }' || echo unknown)
COMMIT=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(cd "$ROOT" && git status --porcelain -- cmd internal 2>/dev/null) ]] && COMMIT="$COMMIT (+ uncommitted changes in cmd/ or internal/)"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

METHODS=(floor-sorted floor-shuffled merge hash)
[[ $WITH_DUCKDB == 1 ]] && METHODS+=(duckdb)
for n in $SIZES; do
	ensure_pair "$n" sorted
	ensure_pair "$n" shuffled
	ROWS[$n,sorted]=$(($(json "$(pair_dir "$n" sorted)/manifest.json" .source.rows) + $(json "$(pair_dir "$n" sorted)/manifest.json" .target.rows)))
	ROWS[$n,shuffled]=$(($(json "$(pair_dir "$n" shuffled)/manifest.json" .source.rows) + $(json "$(pair_dir "$n" shuffled)/manifest.json" .target.rows)))
	SPILL[$n]=0 SPILLW[$n]=0 SPILLRUNS[$n]=0
done
# Rounds interleave the methods, so load from elsewhere on a shared machine falls on all
# of them alike rather than on whichever ran while it lasted.
for n in $SIZES; do
	for ((i = 1; i <= REPEAT; i++)); do
		say "$n rows, round $i of $REPEAT"
		for m in "${METHODS[@]}"; do run_once "$n" "$m" "$i"; done
	done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the report -------------------------------------------------------------------------

mib() { calc "\"%.0f\", $1 / 1024"; }                                            # KiB -> MiB
fmt_bytes() { awk -v b="$1" 'BEGIN { if (b >= 1048576) printf "%.0f MiB", b / 1048576; else if (b > 0) printf "%.0f KiB", b / 1024; else print "none seen" }'; }
row() { # row SIZE METHOD PAIR FLOOR-METHOD NOTE
	local n=$1 m=$2 pair=$3 fl=$4 note=$5 w=${WALL[$1,$2]} r=${ROWS[$1,$3]} x rate
	rate=$(awk -v r="$r" -v w="$w" 'BEGIN { if (w > 0) printf "%.2fM", r / w / 1e6; else print "n/a" }')
	x=$(ratio "$w" "${WALL[$n,$fl]}")
	[[ $x == n/a ]] || x="$x×"
	printf '| %s | %s | %s | %.2f | %.2f | %s | %s | %s | %s |\n' "$n" "$m" "$pair" "$w" "${CPU[$n,$m]}" "$rate" \
		"$(mib "${RSS[$n,$m]}")" "$x" "$note"
}

VERDICTS=() MISSED=0
verdict() { # verdict PASS|FAIL TEXT
	VERDICTS+=("- **$1** $2")
	if [[ $1 != PASS ]]; then MISSED=$((MISSED + 1)); fi
}

largest=0
for n in $SIZES; do if ((n > largest)); then largest=$n; fi; done
big_note=""
[[ $largest == 10000000 ]] || big_note=" (at $largest rows, the largest size run: the target is set at 10M)"

for n in $SIZES; do
	r=$(ratio "${WALL[$n,merge]}" "${WALL[$n,floor-sorted]}")
	if [[ $r != n/a ]] && cmp_le "$r" 1.3; then v=PASS; else v=FAIL; fi
	verdict $v "merge ≤ 1.3× floor at $n rows: ${r}× (${WALL[$n,merge]} s vs the floor's ${WALL[$n,floor-sorted]} s on the sorted pair)"
done
if [[ $WITH_DUCKDB == 1 ]]; then
	sp=$(ratio "${WALL[$largest,duckdb]}" "${WALL[$largest,hash]}")
	hm=$(mib "${RSS[$largest,hash]}") dm=$(mib "${RSS[$largest,duckdb]}")
	if [[ $sp != n/a ]] && cmp_le 4 "$sp"; then v=PASS; else v=FAIL; fi
	verdict $v "hash ≥ 4× faster than DuckDB$big_note: ${sp}× (hash ${WALL[$largest,hash]} s, DuckDB ${WALL[$largest,duckdb]} s)"
	# The fastest of each is what the target compares; on a shared machine the ratio of
	# two runs back to back (one round) says how steady that is.
	rounds=()
	for ((i = 1; i <= REPEAT; i++)); do
		rounds+=("$(ratio "${ROUNDWALL[$largest,duckdb,$i]:-0}" "${ROUNDWALL[$largest,hash,$i]:-0}")")
	done
	med=$(printf '%s\n' "${rounds[@]}" | grep -v n/a | sort -g | awk '{ a[NR] = $1 } END { if (NR) print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2); else print "n/a" }')
	VERDICTS+=("- (info) hash against DuckDB within each round$big_note: ${rounds[*]}× (median ${med}×)")
	if ((${RSS[$largest,hash]} < ${RSS[$largest,duckdb]})); then v=PASS; else v=FAIL; fi
	verdict $v "hash uses less peak memory than DuckDB$big_note: $hm MiB vs $dm MiB"
fi
for m in merge hash; do
	for n in $SIZES; do
		r=$(mib "${RSS[$n,$m]}")
		if ((r <= RSS_LIMIT_MIB)); then v=PASS; else v=FAIL; fi
		verdict $v "$m peak RSS ≤ --memory $MEMORY + 64 MiB = $RSS_LIMIT_MIB MiB at $n rows: $r MiB"
	done
done
if ((SPILLRUNS[$largest] == REPEAT)); then v=PASS; else v=FAIL; fi
verdict $v "hash with --memory $MEMORY completes and spills$big_note: $REPEAT/$REPEAT runs completed with the right summary; spill files seen in --temp-dir in ${SPILLRUNS[$largest]}/$REPEAT runs, at most $(fmt_bytes "${SPILL[$largest]}") at once; --stats: at most $(fmt_bytes "${SPILLW[$largest]}") written"

report=$DATA/results/bench-$(date -u +%Y%m%dT%H%M%SZ).md
{
	echo "## make bench, $(date -u +'%F %H:%M UTC')"
	echo
	echo "- machine: $THREADS cores (nproc), ${CPU_MODEL:-unknown CPU}, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr); load average $LOAD_BEFORE before, $LOAD_AFTER after"
	echo "- clearhouse $COMMIT, $GO_VERSION; DuckDB $DUCKDB_VERSION (@duckdb/node-api, node $(node --version 2>/dev/null || echo -)), threads = $THREADS"
	echo "- BENCH_SIZES=\"$SIZES\" BENCH_REPEAT=$REPEAT BENCH_MEMORY=$MEMORY BENCH_SEED=$SEED BENCH_RATE=$RATE"
	echo "- wall s: the fastest of $REPEAT runs; cpu s: user + sys of that run; rows/s: source + target rows / wall;"
	echo "  peak RSS: the largest of the $REPEAT runs; × floor: wall / the floor's wall on the same pair"
	echo "  (sorted for merge, shuffled for hash and DuckDB)"
	echo
	echo "| rows | method | pair | wall s | cpu s | rows/s | peak RSS MiB | × floor | discrepancies found |"
	echo "|---:|---|---|---:|---:|---:|---:|---:|---|"
	for n in $SIZES; do
		row "$n" floor-sorted sorted floor-sorted "— (reads and parses only)"
		row "$n" floor-shuffled shuffled floor-shuffled "— (reads and parses only)"
		row "$n" merge sorted floor-sorted "${DISC[$n,merge]}, summary = expected.json ✓"
		row "$n" hash shuffled floor-shuffled "${DISC[$n,hash]}, summary = expected.json ✓; spilled $(fmt_bytes "${SPILL[$n]}") at once ($(fmt_bytes "${SPILLW[$n]}") written) in ${SPILLRUNS[$n]}/$REPEAT runs${REFETCH[$n]:+; fingerprints, ${REFETCH[$n]} rows read again}"
		if [[ $WITH_DUCKDB == 1 ]]; then row "$n" duckdb shuffled floor-shuffled "${DISC[$n,duckdb]} rows of the join (peer, not exact)"; fi
	done
	echo
	echo "Targets:"
	echo
	printf '%s\n' "${VERDICTS[@]}"
} | tee "$report"
cp "$report" "$DATA/results/latest.md"
say ""
say "report: $report (every run: $RUNS_TSV)"
if [[ ${BENCH_DB:-1} == 1 ]]; then
	# The database rows: PostgreSQL tables, merge and checksum (hack/bench/db.sh).
	BENCH_BUILD=0 BIN=$BIN "$BENCH_DIR/db.sh" || die "the database benchmark failed"
fi
if ((MISSED > 0)); then
	say "$MISSED target(s) missed; the results are right (every summary matched expected.json)."
	[[ $STRICT == 1 ]] && exit 3
fi
exit 0
