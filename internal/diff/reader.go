package diff

// Cell is one raw value as a source read it, before it is typed and normalized.
// NULL is distinct from the empty string: a Cell{Null: true} is NULL, a Cell{} is "".
type Cell struct {
	Text string
	Null bool
}

// Reader is a stream of rows from one side of a comparison. Sources (internal/source)
// implement it; the engine never knows where rows come from.
//
// Next returns the next row, with cells aligned with Columns(), or io.EOF at the end. The
// returned slice (and the strings in it) may be reused by the next call, so the engine
// copies what it keeps. Position names the last row returned for error messages and
// invalid-row outcomes (e.g. "payments.csv line 42", "topic p/3 offset 17").
type Reader interface {
	Columns() []string
	Next() ([]Cell, error)
	Position() string
	Close() error
}

// OrderedReader is a Reader that promises its rows are in ascending order of the given
// columns (byte order of their text for strings). Sorted merge is only chosen when both
// sides promise it, and the engine verifies the promise row by row.
type OrderedReader interface {
	Reader
	OrderedBy() []string
}

// InvalidRowError is what a Reader's Next returns for a row it could read but not make
// into cells aligned with Columns() (a ragged CSV record, a malformed JSON line). The
// engine reports it as an invalid_row outcome with the reader's reason and Position(),
// and reads on: a bad row is an outcome, never the end of a run. Any other error from
// Next ends the run.
type InvalidRowError interface {
	error
	InvalidRow() (position, reason string)
}

// RowCellser is what an InvalidRowError may also be: the row's values aligned with
// Columns(), when the reader could tell them apart (a CSV record with too many or too
// few fields), nil otherwise. The invalid_row outcome's key then shows them.
type RowCellser interface {
	RowCells() []Cell
}

// A Reader that wraps another (to add a promise, such as OrderedReader) may have an
// Unwrap() Reader method: the engine then finds in the wrapped reader what it can do
// besides reading (Refetcher, RawRecorder), while reading through the wrapper.

// Refetcher is a Reader that can read a row again from where it was read (a local file,
// by byte offset). When both sides can, the hash strategy keeps a 128-bit fingerprint of
// each row's canonical values (and where to read the row again) instead of the values,
// which makes what it holds and spills about a third as big; the rows of a key whose
// fingerprints differ are read again and compared column by column.
type Refetcher interface {
	Reader
	// CanRefetch reports whether Locator and Refetch work for this reader.
	CanRefetch() bool
	// Locator says where the row Next last returned can be read again.
	Locator() uint64
	// Refetch reads the row at loc again: cells aligned with Columns() and, for a
	// RawRecorder, the row's bytes as RawRecord would give them (nil when it would say
	// false; with an InvalidRowError too, when it has them); valid until the next call
	// from the same goroutine. Safe for concurrent use, with Next too.
	Refetch(loc uint64) ([]Cell, []byte, error)
}

// SessionRefetcher is a Refetcher that can give a goroutine a Refetch of its own, which
// reuses its reader and buffers from one row to the next (what it returns is valid
// until its next call): no garbage per row read again, when many are.
type SessionRefetcher interface {
	Refetcher
	RefetchSession() func(loc uint64) ([]Cell, []byte, error)
}

// RawRecorder is a Reader that can hand over the bytes a row was read from (a CSV record
// on one line). With fingerprints, hashing those bytes is much cheaper than hashing
// the row's values one by one.
type RawRecorder interface {
	Reader
	// RawFormat names how rows are written as bytes: of two readers with the same
	// RawFormat and the same Columns, rows whose bytes are equal have equal cells (the
	// same text, NULL as NULL), column by column. (Rows with equal cells have equal bytes
	// when both were written alike, which is what makes hashing bytes pay.)
	RawFormat() string
	// RawRecord returns the bytes of the row Next last returned, valid until the next
	// call to Next, or false when that row has none (a CSV record over several lines).
	RawRecord() ([]byte, bool)
}

// Namer is a Reader that can name its input as a whole (a file), for messages about the
// input rather than one of its rows.
type Namer interface {
	Name() string
}

// LineReader is a RawRecorder that can hand over a row as its line, unsplit, for the
// hash strategy to find only the fields it needs (a CSV reader without projection or
// NULL marker). It is used only when the engine reads it directly (not through a
// wrapper: a wrapper may change what Next returns).
type LineReader interface {
	RawRecorder
	// LineDelimiter returns the byte between fields, and whether lines can be split at
	// it: field i is column i, the bytes between delimiters, and an empty one is NULL.
	LineDelimiter() (byte, bool)
	// NextLine reads the next row as Next would. When the row is one line with one
	// field per column and none of its first split fields is quoted, it returns the
	// line (RawRecord's bytes) and nil cells; otherwise nil and what Next would return.
	NextLine(split int) ([]byte, []Cell, error)
	// LineCells returns the cells of the line NextLine last returned, as Next would
	// have returned them. The line itself is not to be used after it (RawRecord is).
	LineCells() []Cell
}

// LooseLineReader is a LineReader that can also hand over a line without counting its
// fields: NextLineLoose is NextLine, except that a line without quotes comes as a line
// whatever its number of fields, with counted false (the caller counts them when it
// must: a delimiter in such a line is always between two fields). LineCells is not
// for such a line. The line join counts the fields of the lines whose values it
// checks, and of no other: a line it does not count is vouched for by an equal line
// that the other side counted, or read again.
// Unlike LineReader's lines, these may come from a reader with a NULL marker.
type LooseLineReader interface {
	LineReader
	// LooseLines returns the byte between fields and the NULL marker, and whether
	// NextLineLoose hands over lines: field i is column i, the bytes between delimiters,
	// NULL when it is the marker, or when it is empty and the marker is "" (an empty
	// field is the empty string when there is a marker).
	LooseLines() (delim byte, null string, ok bool)
	NextLineLoose(split int) (line []byte, counted bool, cells []Cell, err error)
}

// LineBatcher is a LooseLineReader that can hand over many lines a call.
type LineBatcher interface {
	// NextLinesLoose fills lines, and locs with their locators, with up to len(lines)
	// of the lines NextLineLoose would return next uncounted, and returns how many. It
	// stops before any other line: fewer than len(lines), and the next one is for
	// NextLineLoose. The lines are valid until the next call of either.
	NextLinesLoose(lines [][]byte, locs []uint64) int
}

// Positioner is a Refetcher that can name a row by its locator as Position named it
// when the row was read. With it, the hash strategy over two LineReaders need not keep
// a row's position, nor check its values on both sides (linejoin.go): a row found
// invalid only when it is read again is still reported where it is. Called once both
// sides are read, never concurrently with Next.
type Positioner interface {
	PositionAt(loc uint64) (string, error)
}
