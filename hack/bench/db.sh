#!/usr/bin/env bash
# make bench, database rows: clearhouse diff between two PostgreSQL tables against the
# read floor and a plain SQL join, on generated pairs with 0.1% discrepancies.
#
# It starts its own PostgreSQL (Debian's binaries, a cluster kept in BENCH_PG_DIR on
# 127.0.0.1:BENCH_PG_PORT, trust authentication on loopback only, fsync off), loads each
# size once with `clearhouse gen --load` into database bench_<rows> (tables source and
# target, key indexed in byte order) and keeps it: a rerun reuses the loaded tables.
# Then, per size, best of BENCH_REPEAT runs (wall s, user+sys s, peak RSS of the client
# by /usr/bin/time; the server's own CPU and memory are not in these numbers):
#   floor     both COPY (SELECT id, cols FROM t ORDER BY id COLLATE "C") TO STDOUT at once
#             (psql, output discarded): what any client must read for a sorted merge
#   merge     clearhouse diff --strategy merge (both databases sorting, one pass)
#   checksum  clearhouse diff --strategy checksum (sums inside PostgreSQL, differing
#             buckets read and merged)
#   join      SELECT count(*) FROM source FULL OUTER JOIN target USING (id) WHERE any
#             column IS DISTINCT FROM the other: plain SQL, no tolerances, duplicates or
#             invalid rows (a peer, not the same result)
# merge's and checksum's JSON summaries must equal expected.json's (exit 2 otherwise).
#
# Environment (defaults in brackets): BENCH_DB_SIZES ["1000000 10000000"],
# BENCH_REPEAT [3], BENCH_SEED [1], BENCH_RATE [0.001], BENCH_DATA [bin/bench-data],
# BENCH_PG_DIR [/var/tmp/clearhouse-bench-pg], BENCH_PG_PORT [55432],
# BENCH_BUILD [1], BENCH_CHECKSUM_FLAGS [""] (extra flags for the checksum run),
# BENCH_PG_KEEP [0] (1: leave the server running).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${BIN:-$ROOT/bin}
CH=$BIN/clearhouse
DATA=${BENCH_DATA:-$BIN/bench-data}
SIZES=${BENCH_DB_SIZES:-"1000000 10000000"}
REPEAT=${BENCH_REPEAT:-3}
SEED=${BENCH_SEED:-1}
RATE=${BENCH_RATE:-0.001}
PGDIR=${BENCH_PG_DIR:-/var/tmp/clearhouse-bench-pg}
PORT=${BENCH_PG_PORT:-55432}
BUILD=${BENCH_BUILD:-1}
read -r -a CHECKSUM_FLAGS <<<"${BENCH_CHECKSUM_FLAGS:-}"
DIFF_FLAGS=(--key id --tolerance amount=0.01 --time-tolerance booked_at=2s --type value_date=date --output json --progress=false)
COLS="id, amount, currency, value_date, booked_at, status, account, memo"

say() { printf '%s\n' "$*" >&2; }
die() {
	say ""
	say "DATABASE BENCHMARK FAILED: $*"
	exit 2
}
calc() { awk "BEGIN { printf $* }"; }
json() { jq -cS "$2" "$1"; }
command -v jq >/dev/null || die "jq is needed"
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is needed"

# ---- the server -------------------------------------------------------------------------

PGBIN=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -1)
[[ -x $PGBIN/postgres ]] || die "PostgreSQL is not installed (hack/install-test-deps.sh installs it)"
as_pg() { # PostgreSQL refuses to run as root: run its tools as the postgres user then
	if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [[ ! -f $PGDIR/data/PG_VERSION ]]; then
	say "creating a PostgreSQL cluster in $PGDIR"
	rm -rf "$PGDIR" && mkdir -p "$PGDIR"
	[[ $(id -u) == 0 ]] && chown postgres: "$PGDIR"
	init=(-D "$PGDIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync)
	# A linguistic default collation, as in production (byte order is asked for).
	as_pg env LC_ALL=C.UTF-8 "$PGBIN/initdb" "${init[@]}" --locale-provider=icu --icu-locale=und >"$PGDIR/initdb.log" 2>&1 ||
		{ rm -rf "$PGDIR/data" && as_pg env LC_ALL=C.UTF-8 "$PGBIN/initdb" "${init[@]}" >"$PGDIR/initdb.log" 2>&1; } ||
		die "initdb failed: $(tail -3 "$PGDIR/initdb.log")"
fi
STARTED=0
if ! as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; then
	say "starting PostgreSQL on 127.0.0.1:$PORT"
	as_pg env LC_ALL=C.UTF-8 TZ=UTC "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 \
		-o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PGDIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=256MB -c max_wal_size=4GB -c work_mem=64MB -c timezone=UTC" \
		start >/dev/null || die "PostgreSQL did not start: $(tail -5 "$PGDIR/server.log")"
	STARTED=1
fi
stop_pg() {
	if [[ $STARTED == 1 && ${BENCH_PG_KEEP:-0} != 1 ]]; then
		as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast stop >/dev/null 2>&1 || true
	fi
}
trap stop_pg EXIT
PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres)
PG_VERSION=$("${PSQL[@]}" -At -d postgres -c 'SHOW server_version')

if [[ $BUILD == 1 ]]; then
	say "building $CH"
	(cd "$ROOT" && go build -o "$CH" ./cmd/clearhouse) || die "go build failed"
fi

# ---- data -------------------------------------------------------------------------------

mkdir -p "$DATA"/{out,results}
ensure_db() { # ensure_db ROWS: generate and load the pair unless loaded
	local n=$1 db=bench_$1 dir tmp
	dir=$DATA/db-$n-seed$SEED-rate$RATE
	if [[ -f $dir/loaded && $(cat "$dir/loaded") == "$(cat "$PGDIR/data/PG_VERSION")-$db" ]] &&
		[[ $("${PSQL[@]}" -At -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$db'") == 1 ]]; then
		return
	fi
	say "generating and loading $n rows into database $db (once)"
	"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
	rm -rf "$dir" && tmp=$(mktemp -d "$DATA/.db-XXXXXX")
	"$CH" gen --dir "$tmp" --rows "$n" --seed "$SEED" --rate "$RATE" --format csv \
		--load "postgres://postgres@127.0.0.1:$PORT/$db?sslmode=disable" >&2 || { rm -rf "$tmp"; die "clearhouse gen --load failed"; }
	"${PSQL[@]}" -d "$db" -c "VACUUM ANALYZE source" -c "VACUUM ANALYZE target"
	rm -f "$tmp"/source.csv "$tmp"/target.csv # the tables hold them now
	echo "$(cat "$PGDIR/data/PG_VERSION")-$db" >"$tmp/loaded"
	mv "$tmp" "$dir"
}

# ---- measuring --------------------------------------------------------------------------

declare -A WALL CPU RSS DISC
RUNS_TSV=$DATA/results/db-runs.tsv

run_once() { # run_once ROWS METHOD RUN
	local n=$1 m=$2 i=$3 db=bench_$1 uri dir tf out err rc=0 wall usr sys rss got want
	uri="postgres://postgres@127.0.0.1:$PORT/$db?sslmode=disable"
	dir=$DATA/db-$n-seed$SEED-rate$RATE
	tf=$DATA/out/db-$n-$m.time out=$DATA/out/db-$n-$m.out err=$DATA/out/db-$n-$m.err
	case $m in
	floor)
		/usr/bin/time -f '%e %U %S %M' -o "$tf" bash -c '
			"$@" -c "COPY (SELECT '"$COLS"' FROM source ORDER BY id COLLATE \"C\") TO STDOUT" >/dev/null &
			"$@" -c "COPY (SELECT '"$COLS"' FROM target ORDER BY id COLLATE \"C\") TO STDOUT" >/dev/null &
			wait -n && wait -n' floor "${PSQL[@]}" -d "$db" >"$out" 2>"$err" || rc=$?
		;;
	join)
		/usr/bin/time -f '%e %U %S %M' -o "$tf" "${PSQL[@]}" -d "$db" -At -c "
			SELECT count(*) FROM source s FULL OUTER JOIN target t ON s.id = t.id
			WHERE s.id IS NULL OR t.id IS NULL OR s.amount IS DISTINCT FROM t.amount
			   OR s.currency IS DISTINCT FROM t.currency OR s.value_date IS DISTINCT FROM t.value_date
			   OR s.booked_at IS DISTINCT FROM t.booked_at OR s.status IS DISTINCT FROM t.status
			   OR s.account IS DISTINCT FROM t.account OR s.memo IS DISTINCT FROM t.memo" >"$out" 2>"$err" || rc=$?
		;;
	merge | checksum)
		local extra=()
		[[ $m == checksum ]] && extra=("${CHECKSUM_FLAGS[@]}")
		/usr/bin/time -f '%e %U %S %M' -o "$tf" "$CH" diff --source "$uri" --source-table source --target "$uri" --target-table target \
			"${DIFF_FLAGS[@]}" --strategy "$m" "${extra[@]}" >"$out" 2>"$err" || rc=$?
		;;
	esac
	case $m in
	floor | join) [[ $rc == 0 ]] || die "$m on $db exited $rc: $(tail -5 "$err")" ;;
	merge | checksum)
		[[ $rc == 0 || $rc == 1 ]] || die "$m on $db exited $rc (an error): $(tail -5 "$err")"
		got=$(json "$out" .summary) || die "$m on $db: no JSON summary"
		want=$(json "$dir/expected.json" .summary)
		[[ $got == "$want" ]] || die "$m on $db: summary $got, expected.json says $want"
		;;
	esac
	case $m in
	merge | checksum) DISC[$n,$m]=$(calc "\"%d\", $(json "$out" .summary.compared) - $(json "$out" .summary.matched)") ;;
	join) DISC[$n,$m]=$(tail -1 "$out") ;;
	esac
	read -r wall usr sys rss < <(tail -1 "$tf")
	local cpu
	cpu=$(calc "\"%.2f\", $usr + $sys")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$n" "$m" "$i" "$wall" "$cpu" "$rss" "$(cut -d' ' -f1 /proc/loadavg)" >>"$RUNS_TSV"
	say "  $m run $i: ${wall}s wall, ${cpu}s client cpu, $((rss / 1024)) MiB client peak RSS"
	if [[ -z ${WALL[$n,$m]:-} ]] || awk -v a="$wall" -v b="${WALL[$n,$m]}" 'BEGIN { exit !(a < b) }'; then
		WALL[$n,$m]=$wall CPU[$n,$m]=$cpu
	fi
	if ((rss > ${RSS[$n,$m]:-0})); then RSS[$n,$m]=$rss; fi
}

COMMIT=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(cd "$ROOT" && git status --porcelain -- cmd internal 2>/dev/null) ]] && COMMIT="$COMMIT (+ uncommitted changes in cmd/ or internal/)"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for n in $SIZES; do ensure_db "$n"; done
METHODS=(floor merge checksum join)
for n in $SIZES; do
	for ((i = 1; i <= REPEAT; i++)); do
		say "$n rows (PostgreSQL), round $i of $REPEAT"
		for m in "${METHODS[@]}"; do run_once "$n" "$m" "$i"; done
	done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the report -------------------------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
VERDICTS=()
verdict() { VERDICTS+=("- **$1** $2"); }
for n in $SIZES; do
	r=$(ratio "${WALL[$n,merge]}" "${WALL[$n,floor]}")
	if le "$r" 1.5; then v=PASS; else v=FAIL; fi
	verdict $v "merge ≤ 1.5× floor at $n rows: ${r}× (${WALL[$n,merge]} s vs ${WALL[$n,floor]} s)"
	if awk -v a="${WALL[$n,checksum]}" -v b="${WALL[$n,merge]}" 'BEGIN { exit !(a < b) }'; then v=PASS; else v=FAIL; fi
	verdict $v "checksum faster than merge at $n rows, rate $RATE: ${WALL[$n,checksum]} s vs ${WALL[$n,merge]} s"
	for m in merge checksum; do
		mib=$((RSS[$n,$m] / 1024))
		if ((mib <= 256)); then v=PASS; else v=FAIL; fi
		verdict $v "$m peak RSS ≤ 256 MiB at $n rows: $mib MiB"
	done
	if [[ ${DISC[$n,merge]} == "${DISC[$n,checksum]}" ]]; then v=PASS; else v=FAIL; fi
	verdict $v "merge and checksum give the same result at $n rows: both summaries = expected.json (${DISC[$n,merge]} discrepancies)"
done
report=$DATA/results/db-bench-$(date -u +%Y%m%dT%H%M%SZ).md
{
	echo "## make bench (databases), $(date -u +'%F %H:%M UTC')"
	echo
	echo "- machine: $(nproc) cores, $(sed -nE 's/^model name\s*:\s*//p' /proc/cpuinfo | head -1), $(uname -sr); load average $LOAD_BEFORE before, $LOAD_AFTER after (shared machine)"
	echo "- clearhouse $COMMIT, PostgreSQL $PG_VERSION (same machine, fsync off, shared_buffers 256MB)"
	echo "- BENCH_DB_SIZES=\"$SIZES\" BENCH_REPEAT=$REPEAT BENCH_SEED=$SEED BENCH_RATE=$RATE BENCH_CHECKSUM_FLAGS=\"${BENCH_CHECKSUM_FLAGS:-}\""
	echo "- wall s: fastest of $REPEAT; client cpu s and peak RSS: of the client process (psql or clearhouse), not the server"
	echo
	echo "| rows | method | wall s | client cpu s | client peak RSS MiB | × floor | discrepancies |"
	echo "|---:|---|---:|---:|---:|---:|---|"
	for n in $SIZES; do
		for m in floor merge checksum join; do
			note=""
			case $m in
			floor) note="— (both tables read in key order)" ;;
			merge | checksum) note="${DISC[$n,$m]}, summary = expected.json ✓" ;;
			join) note="${DISC[$n,join]} rows (plain SQL: no tolerances, duplicates or invalid rows; peer, not exact)" ;;
			esac
			printf '| %s | %s | %.2f | %.2f | %d | %s× | %s |\n' "$n" "$m" "${WALL[$n,$m]}" "${CPU[$n,$m]}" "$((RSS[$n,$m] / 1024))" \
				"$(ratio "${WALL[$n,$m]}" "${WALL[$n,floor]}")" "$note"
		done
	done
	echo
	echo "Targets:"
	echo
	printf '%s\n' "${VERDICTS[@]}"
} | tee "$report"
cp "$report" "$DATA/results/db-latest.md"
