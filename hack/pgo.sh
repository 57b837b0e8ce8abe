#!/usr/bin/env bash
# make pgo: refresh hack/pgo/clearhouse.pgo, the CPU profile `make build` and `make bench`
# build bin/clearhouse with (Go's profile-guided optimization: hot calls inlined, the
# readers' interface calls devirtualized; ~8% less CPU for hash at 10M rows here).
#
# It profiles the two file strategies on the bench's ledger pairs (generated like
# `make bench` does, if missing): hash on the shuffled pair with --memory 256MiB, so that
# it spills, and merge on the sorted pair; then merges both profiles. Rerun it when the
# engine's hot paths change; an outdated profile only optimizes less, never wrongly.
#
# Environment: PGO_ROWS [10000000] rows of the pairs profiled.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ROWS=${PGO_ROWS:-10000000}
DATA=bin/bench-data
OUT=hack/pgo/clearhouse.pgo
# shellcheck source=hack/bench/lib.sh
source hack/bench/lib.sh

go build -o bin/clearhouse-nopgo ./cmd/clearhouse
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pair() { # pair sorted|shuffled: the pair's directory, generated if missing
	local dir=$DATA/csv-$ROWS-$1-seed1-rate0.001 flags=()
	[[ $1 == sorted ]] && flags=(--sorted)
	if [[ ! -f $dir/expected.json ]]; then
		say "generating $ROWS rows, $1 -> $dir"
		rm -rf "$dir.tmp" && bin/clearhouse-nopgo gen --dir "$dir.tmp" --rows "$ROWS" --seed 1 --rate 0.001 --format csv "${flags[@]}" >&2
		mv "$dir.tmp" "$dir"
	fi
	echo "$dir"
}

shuffled=$(pair shuffled)
sorted=$(pair sorted)
mkdir -p "$tmp/spill"
say "profiling hash on $shuffled"
rc=0
bin/clearhouse-nopgo diff --source "$shuffled/source.csv" --target "$shuffled/target.csv" "${DIFF_FLAGS[@]}" \
	--strategy hash --memory 256MiB --temp-dir "$tmp/spill" --cpuprofile "$tmp/hash.prof" >/dev/null || rc=$?
[[ $rc == 0 || $rc == 1 ]] || { say "hash run failed ($rc)"; exit 2; }
say "profiling merge on $sorted"
rc=0
bin/clearhouse-nopgo diff --source "$sorted/source.csv" --target "$sorted/target.csv" "${DIFF_FLAGS[@]}" \
	--strategy merge --sorted --cpuprofile "$tmp/merge.prof" >/dev/null || rc=$?
[[ $rc == 0 || $rc == 1 ]] || { say "merge run failed ($rc)"; exit 2; }
mkdir -p "$(dirname "$OUT")"
go tool pprof -proto "$tmp/hash.prof" "$tmp/merge.prof" >"$OUT"
rm -f bin/clearhouse-nopgo
say "wrote $OUT ($(wc -c <"$OUT") bytes)"
