// The DuckDB peer of make bench (hack/bench/bench.sh): the hand-written SQL a person
// would write to reconcile the benchmark's two CSV files, run in-process by DuckDB.
//
//   [DUCKDB_MEMORY_LIMIT=256MB] node hack/bench/duckdb.mjs SOURCE.csv TARGET.csv [THREADS]
//
// Prints one JSON line: {"duckdb":VERSION,"threads":N,"discrepancyRows":N,"querySeconds":S}.
// It is a peer for time and memory, not for exactness: docs/benchmarks.md says where
// its count differs from clearhouse's and why.
import { DuckDBInstance } from '@duckdb/node-api';
import os from 'node:os';

const [source, target, threadsArg] = process.argv.slice(2);
if (!source || !target) {
  console.error('usage: node duckdb.mjs SOURCE.csv TARGET.csv [THREADS]');
  process.exit(2);
}
const threads = Number(threadsArg || os.availableParallelism());

// Every column is read as VARCHAR (no type sniffing); an unquoted empty field is NULL and
// a quoted empty field ("") is the empty string, as in clearhouse. amount is compared as
// DECIMAL(18,2) within 0.01 and booked_at as TIMESTAMPTZ within 2 s, both inclusive; a
// value that does not cast (or is NULL) on either side falls back to comparing the text.
// Every other column is compared as text with IS DISTINCT FROM (NULL equals NULL).
// The join key k is id with '' made NULL: a row whose key is NULL or empty joins nothing
// and counts once, as clearhouse's invalid_row does (an equi-join on '' would pair every
// such row of one side with every such row of the other).
const side = (path) => `
  SELECT *,
         NULLIF(id, '') AS k,
         TRY_CAST(amount AS DECIMAL(18,2)) AS amount_d,
         TRY_CAST(booked_at AS TIMESTAMPTZ) AS booked_ts
  FROM read_csv(${quote(path)}, header = true, delim = ',', quote = '"', escape = '"',
                all_varchar = true, allow_quoted_nulls = false)`;

const sql = `
WITH s AS (${side(source)}),
     t AS (${side(target)})
SELECT count(*) AS discrepancy_rows
FROM s FULL OUTER JOIN t ON s.k = t.k
WHERE s.k IS NULL OR t.k IS NULL
   OR CASE WHEN s.amount_d IS NULL OR t.amount_d IS NULL
           THEN s.amount IS DISTINCT FROM t.amount
           ELSE abs(s.amount_d - t.amount_d) > 0.01 END
   OR CASE WHEN s.booked_ts IS NULL OR t.booked_ts IS NULL
           THEN s.booked_at IS DISTINCT FROM t.booked_at
           ELSE abs(epoch_us(s.booked_ts) - epoch_us(t.booked_ts)) > 2000000 END
   OR s.currency   IS DISTINCT FROM t.currency
   OR s.value_date IS DISTINCT FROM t.value_date
   OR s.status     IS DISTINCT FROM t.status
   OR s.account    IS DISTINCT FROM t.account
   OR s.memo       IS DISTINCT FROM t.memo`;

function quote(s) {
  return `'${s.replaceAll("'", "''")}'`;
}

// DuckDB's own default memory_limit (80% of RAM) unless DUCKDB_MEMORY_LIMIT (e.g. 256MB)
// asks for the budget clearhouse gets; past it DuckDB spills to its temp directory.
const config = { threads: String(threads) };
if (process.env.DUCKDB_MEMORY_LIMIT) config.memory_limit = process.env.DUCKDB_MEMORY_LIMIT;
const instance = await DuckDBInstance.create(':memory:', config);
const conn = await instance.connect();
const version = (await conn.runAndReadAll('SELECT version()')).getRows()[0][0];
if (process.env.BENCH_DUCKDB_SQL) console.error(sql);
const start = process.hrtime.bigint();
const rows = (await conn.runAndReadAll(sql)).getRows();
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(JSON.stringify({
  duckdb: version,
  threads,
  discrepancyRows: Number(rows[0][0]),
  querySeconds: Number(seconds.toFixed(3)),
}));
