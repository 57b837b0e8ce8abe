#!/usr/bin/env bash
# make bench, database rows: clearhouse diff between two PostgreSQL tables against the
# read floor and a plain SQL join, on generated pairs with 0.1% discrepancies.
#
# It starts its own PostgreSQL (Debian's binaries, a cluster kept in BENCH_PG_DIR on
# 127.0.0.1:BENCH_PG_PORT, trust authentication on loopback only, fsync off), loads each
# size once with `clearhouse gen --load` and keeps it (a rerun reuses the loaded tables),
# as two kinds of tables (BENCH_DB_KINDS):
#   text   database bench_<rows>: every column text (the pair holds unparsable values),
#          duplicate and NULL keys, a plain index on the key in byte order;
#   typed  database benchtyped_<rows>: as production tables are, columns of their SQL
#          types (numeric, date, timestamptz) and the key as PRIMARY KEY (gen
#          --load-typed --load-primary-key); the pair is generated with --inject of the
#          kinds such tables can hold (no duplicate, NULL, empty keys or unparsable
#          values), rows×rate discrepancies spread over them.
# Then, per size, best of BENCH_REPEAT runs (wall s, user+sys s, peak RSS of the client
# by /usr/bin/time; the server's own CPU and memory are not in these numbers):
#   floor     both COPY (SELECT id, cols FROM t ORDER BY id COLLATE "C") TO STDOUT at once
#             (psql, output discarded): what any client must read for a sorted merge
#   merge     clearhouse diff --strategy merge (both databases sorting, one pass)
#   checksum  clearhouse diff --strategy checksum (sums inside PostgreSQL, differing
#             buckets read and merged)
#   join      SELECT count(*) FROM source FULL OUTER JOIN target USING (id) WHERE any
#             column IS DISTINCT FROM the other; on typed tables with the job's tolerances
#             (its count must equal expected.json's), on text tables plain (a peer: no
#             tolerances, duplicates or invalid rows)
# merge's and checksum's JSON summaries must equal expected.json's (exit 2 otherwise).
#
# Environment (defaults in brackets): BENCH_DB_SIZES ["1000000 10000000"],
# BENCH_REPEAT [3], BENCH_SEED [1], BENCH_RATE [0.001], BENCH_DATA [bin/bench-data],
# BENCH_PG_DIR [/var/tmp/clearhouse-bench-pg], BENCH_PG_PORT [55432],
# BENCH_BUILD [1], BENCH_CHECKSUM_FLAGS [""] (extra flags for the checksum run),
# BENCH_DB_KINDS ["text typed"],
# BENCH_PG_KEEP [0] (1: leave the server running).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${BIN:-$ROOT/bin}
CH=$BIN/clearhouse
DATA=${BENCH_DATA:-$BIN/bench-data}
SIZES=${BENCH_DB_SIZES:-"1000000 10000000"}
KINDS=${BENCH_DB_KINDS:-"text typed"}
REPEAT=${BENCH_REPEAT:-3}
SEED=${BENCH_SEED:-1}
RATE=${BENCH_RATE:-0.001}
PGDIR=${BENCH_PG_DIR:-/var/tmp/clearhouse-bench-pg}
PORT=${BENCH_PG_PORT:-55432}
BUILD=${BENCH_BUILD:-1}
read -r -a CHECKSUM_FLAGS <<<"${BENCH_CHECKSUM_FLAGS:-}"
COLS="id, amount, currency, value_date, booked_at, status, account, memo"

# shellcheck source=hack/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
die() {
	say ""
	say "DATABASE BENCHMARK FAILED: $*"
	exit 2
}
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
	(cd "$ROOT" && go build -pgo="$ROOT/hack/pgo/clearhouse.pgo" -o "$CH" ./cmd/clearhouse) || die "go build failed"
fi

# ---- data -------------------------------------------------------------------------------

mkdir -p "$DATA"/{out,results}
# The injection kinds typed tables with a primary key can hold.
TYPED_KINDS=(missingInTarget missingInSource mismatch withinTolerance edgeOn edgePast numericFormat timezoneEqual unicodeKeys separatorKeys)
dbname() { if [[ $2 == typed ]]; then echo "benchtyped_$1"; else echo "bench_$1"; fi; }
datadir() { if [[ $2 == typed ]]; then echo "$DATA/dbtyped-$1-seed$SEED-rate$RATE"; else echo "$DATA/db-$1-seed$SEED-rate$RATE"; fi; }
ensure_db() { # ensure_db ROWS KIND: generate and load the pair unless loaded
	local n=$1 kind=$2 db dir tmp genflags=() total i
	db=$(dbname "$n" "$kind") dir=$(datadir "$n" "$kind")
	if [[ -f $dir/loaded && $(cat "$dir/loaded") == "$(cat "$PGDIR/data/PG_VERSION")-$db" ]] &&
		[[ $("${PSQL[@]}" -At -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$db'") == 1 ]]; then
		return
	fi
	if [[ $kind == typed ]]; then
		total=$(calc "\"%d\", $n * $RATE + 0.5")
		for ((i = 0; i < ${#TYPED_KINDS[@]}; i++)); do
			genflags+=(--inject "${TYPED_KINDS[i]}=$((total / ${#TYPED_KINDS[@]} + (i < total % ${#TYPED_KINDS[@]} ? 1 : 0)))")
		done
		genflags+=(--load-typed --load-primary-key)
	else
		genflags=(--rate "$RATE")
	fi
	say "generating and loading $n rows ($kind tables) into database $db (once)"
	"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
	rm -rf "$dir" && tmp=$(mktemp -d "$DATA/.db-XXXXXX")
	"$CH" gen --dir "$tmp" --rows "$n" --seed "$SEED" --format csv "${genflags[@]}" \
		--load "postgres://postgres@127.0.0.1:$PORT/$db?sslmode=disable" >&2 || { rm -rf "$tmp"; die "clearhouse gen --load failed"; }
	"${PSQL[@]}" -d "$db" -c "VACUUM ANALYZE source" -c "VACUUM ANALYZE target"
	rm -f "$tmp"/source.csv "$tmp"/target.csv # the tables hold them now
	echo "$(cat "$PGDIR/data/PG_VERSION")-$db" >"$tmp/loaded"
	mv "$tmp" "$dir"
}

# ---- measuring --------------------------------------------------------------------------

declare -A WALL CPU RSS DISC
RUNS_TSV=$DATA/results/db-runs.tsv

run_once() { # run_once ROWS KIND METHOD RUN
	local n=$1 kind=$2 m=$3 i=$4 db uri dir tf out err rc=0 wall usr sys rss got want c=$1,$2
	db=$(dbname "$n" "$kind") dir=$(datadir "$n" "$kind")
	uri="postgres://postgres@127.0.0.1:$PORT/$db?sslmode=disable"
	tf=$DATA/out/$db-$m.time out=$DATA/out/$db-$m.out err=$DATA/out/$db-$m.err
	case $m in
	floor)
		timed "$tf" bash -c '
			"$@" -c "COPY (SELECT '"$COLS"' FROM source ORDER BY id COLLATE \"C\") TO STDOUT" >/dev/null &
			"$@" -c "COPY (SELECT '"$COLS"' FROM target ORDER BY id COLLATE \"C\") TO STDOUT" >/dev/null &
			wait -n && wait -n' floor "${PSQL[@]}" -d "$db" >"$out" 2>"$err" || rc=$?
		;;
	join)
		# On typed tables the hand-written join can say what the job says (amount ±0.01,
		# booked_at ±2s, bounds inclusive), so its count must equal expected.json's; text
		# tables hold values it cannot cast, so it compares text as a peer would.
		local amount="s.amount IS DISTINCT FROM t.amount" booked="s.booked_at IS DISTINCT FROM t.booked_at"
		if [[ $kind == typed ]]; then
			amount="(s.amount IS NULL) <> (t.amount IS NULL) OR abs(s.amount - t.amount) > 0.01"
			booked="(s.booked_at IS NULL) <> (t.booked_at IS NULL) OR abs(extract(epoch FROM s.booked_at - t.booked_at)) > 2"
		fi
		timed "$tf" "${PSQL[@]}" -d "$db" -At -c "
			SELECT count(*) FROM source s FULL OUTER JOIN target t ON s.id = t.id
			WHERE s.id IS NULL OR t.id IS NULL OR $amount
			   OR s.currency IS DISTINCT FROM t.currency OR s.value_date IS DISTINCT FROM t.value_date
			   OR $booked OR s.status IS DISTINCT FROM t.status
			   OR s.account IS DISTINCT FROM t.account OR s.memo IS DISTINCT FROM t.memo" >"$out" 2>"$err" || rc=$?
		;;
	merge | checksum)
		local extra=()
		[[ $m == checksum ]] && extra=("${CHECKSUM_FLAGS[@]}")
		timed "$tf" "$CH" diff --source "$uri" --source-table source --target "$uri" --target-table target \
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
	merge | checksum) DISC[$c,$m]=$(calc "\"%d\", $(json "$out" .summary.compared) - $(json "$out" .summary.matched)") ;;
	join)
		DISC[$c,$m]=$(tail -1 "$out")
		want=$(calc "\"%d\", $(json "$dir/expected.json" .summary.compared) - $(json "$dir/expected.json" .summary.matched)")
		if [[ $kind == typed && ${DISC[$c,$m]} != "$want" ]]; then
			die "join on $db: ${DISC[$c,$m]} rows, expected.json says $want discrepancies"
		fi
		;;
	esac
	record_run "$c,$m" "$kind/$m" "$n" "$i" "$tf" "client "
}

COMMIT=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(cd "$ROOT" && git status --porcelain -- cmd internal 2>/dev/null) ]] && COMMIT="$COMMIT (+ uncommitted changes in cmd/ or internal/)"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
CASES=()
for n in $SIZES; do for k in $KINDS; do CASES+=("$n,$k"); done; done
for c in "${CASES[@]}"; do ensure_db "${c%,*}" "${c#*,}"; done
METHODS=(floor merge checksum join)
for c in "${CASES[@]}"; do
	for ((i = 1; i <= REPEAT; i++)); do
		say "${c%,*} rows (PostgreSQL, ${c#*,} tables), round $i of $REPEAT"
		for m in "${METHODS[@]}"; do run_once "${c%,*}" "${c#*,}" "$m" "$i"; done
	done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the report -------------------------------------------------------------------------

le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
VERDICTS=()
verdict() { VERDICTS+=("- **$1** $2"); }
for c in "${CASES[@]}"; do
	at="${c%,*} rows, ${c#*,} tables"
	r=$(ratio "${WALL[$c,merge]}" "${WALL[$c,floor]}")
	if le "$r" 1.5; then v=PASS; else v=FAIL; fi
	verdict $v "merge ≤ 1.5× floor at $at: ${r}× (${WALL[$c,merge]} s vs ${WALL[$c,floor]} s)"
	if awk -v a="${WALL[$c,checksum]}" -v b="${WALL[$c,merge]}" 'BEGIN { exit !(a < b) }'; then v=PASS; else v=FAIL; fi
	verdict $v "checksum faster than merge at $at, rate $RATE: ${WALL[$c,checksum]} s vs ${WALL[$c,merge]} s"
	for m in merge checksum; do
		mib=$((RSS[$c,$m] / 1024))
		if ((mib <= 256)); then v=PASS; else v=FAIL; fi
		verdict $v "$m peak RSS ≤ 256 MiB at $at: $mib MiB"
	done
	if [[ ${DISC[$c,merge]} == "${DISC[$c,checksum]}" ]]; then v=PASS; else v=FAIL; fi
	verdict $v "merge and checksum give the same result at $at: both summaries = expected.json (${DISC[$c,merge]} discrepancies)"
done
report=$DATA/results/db-bench-$(date -u +%Y%m%dT%H%M%SZ).md
{
	echo "## make bench (databases), $(date -u +'%F %H:%M UTC')"
	echo
	echo "- machine: $(nproc) cores, $(sed -nE 's/^model name\s*:\s*//p' /proc/cpuinfo | head -1), $(uname -sr); load average $LOAD_BEFORE before, $LOAD_AFTER after (shared machine)"
	echo "- clearhouse $COMMIT, PostgreSQL $PG_VERSION (same machine, fsync off, shared_buffers 256MB)"
	echo "- BENCH_DB_SIZES=\"$SIZES\" BENCH_DB_KINDS=\"$KINDS\" BENCH_REPEAT=$REPEAT BENCH_SEED=$SEED BENCH_RATE=$RATE BENCH_CHECKSUM_FLAGS=\"${BENCH_CHECKSUM_FLAGS:-}\""
	echo "- wall s: fastest of $REPEAT; client cpu s and peak RSS: of the client process (psql or clearhouse), not the server"
	echo
	echo "| rows | tables | method | wall s | client cpu s | client peak RSS MiB | × floor | discrepancies |"
	echo "|---:|---|---|---:|---:|---:|---:|---|"
	for c in "${CASES[@]}"; do
		for m in floor merge checksum join; do
			note=""
			case $m in
			floor) note="— (both tables read in key order)" ;;
			merge | checksum) note="${DISC[$c,$m]}, summary = expected.json ✓" ;;
			join)
				if [[ ${c#*,} == typed ]]; then
					note="${DISC[$c,join]} rows = expected.json ✓ (hand-written with the job's tolerances)"
				else
					note="${DISC[$c,join]} rows (plain SQL on text: no tolerances, duplicates or invalid rows; peer, not exact)"
				fi
				;;
			esac
			printf '| %s | %s | %s | %.2f | %.2f | %d | %s× | %s |\n' "${c%,*}" "${c#*,}" "$m" "${WALL[$c,$m]}" "${CPU[$c,$m]}" "$((RSS[$c,$m] / 1024))" \
				"$(ratio "${WALL[$c,$m]}" "${WALL[$c,floor]}")" "$note"
		done
	done
	echo
	echo "Targets:"
	echo
	printf '%s\n' "${VERDICTS[@]}"
} | tee "$report"
cp "$report" "$DATA/results/db-latest.md"
