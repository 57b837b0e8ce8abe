// Package sqlsource reads a PostgreSQL (pgx) or MySQL/MariaDB (go-sql-driver/mysql)
// table or query as a diff.Reader, a diff.OrderedReader when asked to sort by the key,
// and discovers schemas, estimates sizes and loads tables (LoadTable).
//
// # Reading
//
// Open runs one statement, SELECT cols FROM table-or-(query) WHERE (filter) ORDER BY
// keys, and streams its rows: pgx reads them off the socket as Next asks (extended
// protocol, text results, so a Filter cannot add a second statement), MySQL's driver
// likewise (text protocol). Memory does not grow with the table. The connection is
// read-only (PostgreSQL default_transaction_read_only, MySQL SET SESSION TRANSACTION
// READ ONLY); the statement sees one snapshot.
//
// The context given to Open bounds the scan. When it ends, Next returns an error that
// matches it (errors.Is) within 64 rows, and the server stops too: pgx sends a cancel
// request, and for MySQL a KILL QUERY is sent from a second connection (the driver
// only drops its socket, which leaves a sort or a SLEEP running). Close before the end
// does the same instead of draining the rows left.
//
// Position is "<name> row <n>": "postgres table ledger.entries row 1234", "mysql query
// row 7" (Config.Name replaces the name), n counting rows in the order read. Rows in a
// database have no line numbers: that is all an invalid_row outcome can point at.
//
// # Values
//
// Every value becomes the text the engine parses, the same text for the same logical
// value in both databases (NULL is Cell{Null: true}, distinct from ""):
//
//	integers            decimal digits (also MySQL YEAR, BIT(n > 1) as an unsigned number)
//	numeric, DECIMAL    the exact text the server sends: "10.50" for 10.5 in NUMERIC(12,2)
//	                    (never through float64); NaN and Infinity as sent
//	real/double, FLOAT  the shortest decimal that reads back as the same float, without
//	                    exponent ("0.1", "1000000000000000000000"); -0 is "0" (MySQL
//	                    FLOAT is read as DOUBLE: its own text has six digits)
//	money               PostgreSQL money as its exact numeric ("1234.56"), a decimal, not
//	                    in the locale's currency format
//	boolean             true/false: PostgreSQL boolean; MySQL TINYINT(1) and BIT(1) (0/1;
//	                    a TINYINT(1) holding 2 stays "2"; Config.TinyIntAsInteger reads
//	                    TINYINT(1) as a number instead)
//	timestamptz,        RFC 3339 in UTC with the fraction the value has
//	MySQL TIMESTAMP     ("2026-03-01T09:00:00.5Z")
//	timestamp,          a wall-clock time in Config.TimeZone (UTC by default), rendered
//	MySQL DATETIME      in UTC like the above; in a zone with daylight saving time, an
//	                    hour that occurs twice is read as either one
//	date                2006-01-02
//	json, jsonb, JSON   the text the server sends (jsonb and MySQL JSON normalize spacing
//	                    and order; the engine's json type canonicalizes anyway); MariaDB's
//	                    JSON (LONGTEXT CHECK json_valid) is discovered as json too
//	bytea, BLOB,        lower-case hex of the bytes
//	BINARY, VARBINARY
//	text types          as stored (PostgreSQL char(n) keeps its padding; MySQL CHAR drops
//	                    trailing spaces, as MySQL does)
//	domains             as their base type, through domains over domains
//	anything else       the server's text (uuid, enum, time, interval, arrays, ...)
//
// Values the engine cannot parse as their type (infinity, a year 0 or past 9999,
// MySQL's zero dates "0000-00-00") are passed on as the server sends them, and the
// engine reports the row as invalid when the column is typed.
//
// # Ordering
//
// With Config.Ordered, ORDER BY the key columns is pushed down so that rows arrive in
// the order the engine compares keys of their declared type (Config.KeyTypes, default
// the discovered type):
//
//   - strings in byte order of their UTF-8 text: PostgreSQL COLLATE "C" (memcmp, i.e.
//     code point order, whatever the database's collation); MySQL
//     CAST(CONVERT(k USING utf8mb4) AS BINARY), a binary string compared byte by byte.
//     Not utf8mb4_bin: it sorts supplementary characters by code point too, but it is
//     a PAD SPACE collation ("a" = "a ", "a\t" < "a"), which breaks byte order. Integer,
//     decimal, date and boolean columns declared as strings sort by their text the same
//     way (that text is the one rendered; MySQL BIT and TINYINT(1) by the text this
//     package renders of them); timestamp and float columns cannot, and are refused:
//     declare their type. A PostgreSQL database whose encoding is not UTF-8 sorts by its
//     own bytes: non-ASCII keys then come out of order and the run fails;
//   - integers and decimals (and floats) by value, dates and timestamps in time,
//     false before true;
//   - composite keys by the tuple, column by column;
//   - bytes (rendered as hex) by the bytes, which is the hex text's order.
//
// NULL keys sort wherever the database puts them; the engine skips rows without a
// usable key when it checks the order. PostgreSQL char(n) keys compare without their
// padding, which differs from byte order only for values with characters below the
// space before the padding. The engine verifies the order as it merges.
//
// # Schemas and sizes
//
// Discover reads a table's columns from the catalog (PostgreSQL pg_attribute, which
// resolves the name with the search_path as the query does and gives domains' base
// types and exact type modifiers; MySQL information_schema.COLUMNS) and a query's from
// its result description (nullability unknown: reported nullable; MySQL does not tell
// TINYINT(1) or BIT(1) there, so a query's such columns are integers). EstimateRows uses
// pg_class.reltuples or information_schema.TABLES.TABLE_ROWS, or the planner's estimate
// (EXPLAIN) for a filter, a query or a never-analyzed table.
//
// # Errors and credentials
//
// Errors name the dataset and the server ("postgres table ledger.entries on
// db.example:5432: connecting: ...") and never the password: any error text that
// contains it has it replaced by "********" (the server's own messages included, e.g.
// when the user name equals the password), URIs in errors are shown without user
// info, and positions carry no connection details at all.
package sqlsource
