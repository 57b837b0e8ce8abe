package sqlsource

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// ErrChecksumUnsupported is wrapped by PrepareChecksum's error when checksums cannot
// stand in for reading the rows under the spec (a key the databases cannot order or
// delimit exactly as the engine does); the caller reads the rows instead.
var ErrChecksumUnsupported = errors.New("checksums do not apply")

// ChecksumPlan is a comparison of two SQL datasets prepared for checksum bisection
// (internal/checksum): the SQL that splits the key range into segments, sums a
// segment's rows per bucket inside each database, and reads a segment's rows in key
// order for the engine.
//
// A row takes part in segments when its key is usable (every component not NULL, not
// empty, parsing as its declared type: SEMANTICS.md rule 1); the other rows are read
// apart (OpenKeyless). Rows are put in buckets by a hash of their canonical key, the
// same in both databases, so a key's rows are in the same bucket on both sides; a
// bucket's sum is its number of rows, two 60-bit sums of the MD5 of each row's
// canonical text (order-independent), its number of suspect rows (a value that may not
// parse, see canon.go) and, unless a unique index on the key columns rules duplicates
// out, its number of distinct keys.
type ChecksumPlan struct {
	sides [2]*csSide
}

type csSide struct {
	r        *resolved
	cfg      Config
	keys     []colInfo
	keyTypes []diff.Type
	order    []string // ORDER BY terms of the keys (byte order for strings)
	keyValid string   // the key is usable
	keyText  string   // canonical text of the key tuple
	rowText  string   // canonical text of the compared values
	sure     string   // every compared value surely parses ("" = always)
	unique   bool     // a unique index covers the key columns
	// hashRecords: both sides are PostgreSQL 14+, and a row's checksum is
	// hash_record_extended of its key text and fields (nativeFields, or canonical text),
	// mixed again (the record hash is linear in the fields' hashes).
	hashRecords bool
	fields      []string
}

// PrepareChecksum discovers both datasets and prepares the checksum SQL for spec (key
// and compared columns with their types and rules; source names on the source side,
// target names on the target side). An error wrapping ErrChecksumUnsupported says
// the spec cannot be checked with checksums.
func PrepareChecksum(ctx context.Context, source, target Config, spec diff.Spec) (*ChecksumPlan, error) {
	cfgs := [2]Config{source, target}
	var rs [2]*resolved
	var all [2]map[string]colInfo
	for i, cfg := range cfgs {
		cfg = WithKeys(cfg, spec, i == 1)
		cfg.Ordered = true
		cfgs[i] = cfg
		r, err := resolve(cfg)
		if err != nil {
			return nil, err
		}
		if err := r.checkDataset(); err != nil {
			return nil, err
		}
		var cols []colInfo
		switch r.Driver {
		case Postgres:
			cols, err = discoverPostgres(ctx, r)
		default:
			cols, err = discoverMySQL(ctx, r)
		}
		if err != nil {
			return nil, err
		}
		rs[i] = r
		all[i] = make(map[string]colInfo, len(cols))
		for _, c := range cols {
			all[i][c.Name] = c
		}
	}
	col := func(side int, c diff.Column) (colInfo, error) {
		name := c.Name
		if side == 1 {
			name = c.TargetName()
		}
		ci, ok := all[side][name]
		if !ok {
			return colInfo{}, rs[side].wrap(fmt.Errorf("column %q is not in the dataset", name), "")
		}
		return ci, nil
	}
	p := &ChecksumPlan{}
	for i := range rs {
		p.sides[i] = &csSide{r: rs[i], cfg: cfgs[i], keyTypes: cfgs[i].KeyTypes}
	}
	var keyTexts, valids [2][]string
	for _, k := range spec.Keys {
		for i, s := range p.sides {
			c, err := col(i, k)
			if err != nil {
				return nil, err
			}
			o, err := orderExpr(s.r.Driver, c, k.Type)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrChecksumUnsupported, err)
			}
			e, v, err := keyCanon(s.r.Driver, c, k, s.r.loc)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrChecksumUnsupported, s.r.name(), err)
			}
			s.keys = append(s.keys, c)
			s.order = append(s.order, o)
			keyTexts[i] = append(keyTexts[i], lenPrefixed(s.r.Driver, "V", e))
			valids[i] = append(valids[i], v)
		}
	}
	// Two PostgreSQL servers that can hash records hash each row's fields with their
	// types' own hash functions (no text to build, no MD5): see hashFields.
	pgPair := rs[0].Driver == Postgres && rs[1].Driver == Postgres
	for _, r := range rs {
		if r.Driver != Postgres {
			continue
		}
		v, err := r.serverVersion(ctx)
		if err != nil {
			return nil, err
		}
		if v < 130000 { // trim_scale
			return nil, fmt.Errorf("%w: %s: PostgreSQL 13 or later is needed", ErrChecksumUnsupported, r.name())
		}
		pgPair = pgPair && v >= 140000 // hash_record_extended
	}
	var rowTexts, sures, fields [2][]string
	for _, cc := range spec.Compare {
		var cs [2]colInfo
		for i := range p.sides {
			c, err := col(i, cc)
			if err != nil {
				return nil, err
			}
			cs[i] = c
		}
		z := tsZone{}
		if cc.Type == diff.TypeTimestamp {
			z = chooseZone([2]Driver{rs[0].Driver, rs[1].Driver}, cs, [2]*time.Location{rs[0].loc, rs[1].loc})
		}
		var forms [2]canonForm
		for i, s := range p.sides {
			forms[i] = canonOf(s.r.Driver, cs[i], cc, s.r.loc, z)
		}
		if forms[0].exact != forms[1].exact {
			// An exact text on one side only would never equal the other's tagged text:
			// both tagged is as good and cheaper.
			for i, s := range p.sides {
				if forms[i].exact {
					forms[i].expr, forms[i].exact = tagged(s.r.Driver, cs[i], s.r.loc), false
				}
			}
		}
		native, isNative := nativeFields(cs, cc, [2]*time.Location{rs[0].loc, rs[1].loc})
		for i, s := range p.sides {
			d := s.r.Driver
			switch {
			case pgPair && isNative:
				fields[i] = append(fields[i], native[i]...)
			case pgPair:
				fields[i] = append(fields[i], "("+forms[i].expr+") COLLATE \"C\"")
			}
			marker := "T"
			if forms[i].exact {
				marker = "V"
			}
			q := valueExpr(d, cs[i])
			rowTexts[i] = append(rowTexts[i], "(CASE WHEN "+q+" IS NULL THEN 'N' ELSE "+lenPrefixed(d, marker, forms[i].expr)+" END)")
			if forms[i].sure != "" {
				sures[i] = append(sures[i], "("+q+" IS NULL OR "+forms[i].sure+")")
			}
		}
	}
	for i, s := range p.sides {
		s.fields = fields[i]
		s.hashRecords = pgPair
		s.keyText = concat(s.r.Driver, keyTexts[i])
		s.rowText = concat(s.r.Driver, rowTexts[i])
		if len(rowTexts[i]) == 0 {
			s.rowText = "''"
		}
		for j, v := range valids[i] {
			valids[i][j] = "COALESCE(" + v + ", FALSE)"
		}
		s.keyValid = "(" + strings.Join(valids[i], " AND ") + ")"
		if len(sures[i]) > 0 {
			s.sure = "(" + strings.Join(sures[i], " AND ") + ")"
		}
		u, err := s.uniqueKeys(ctx)
		if err != nil {
			return nil, err
		}
		s.unique = u
	}
	return p, nil
}

// WithKeys returns cfg with the key columns and types of spec (the target's names when
// target is set).
func WithKeys(cfg Config, spec diff.Spec, target bool) Config {
	cfg.Keys, cfg.KeyTypes = nil, nil
	for _, k := range spec.Keys {
		name := k.Name
		if target {
			name = k.TargetName()
		}
		cfg.Keys = append(cfg.Keys, name)
		cfg.KeyTypes = append(cfg.KeyTypes, k.Type)
	}
	return cfg
}

// serverVersion is a PostgreSQL server's version number (150018 for 15.18).
func (r *resolved) serverVersion(ctx context.Context) (int, error) {
	var n int
	err := r.query(ctx, "SELECT current_setting('server_version_num')", nil, func(v [][]byte) error {
		var err error
		n, err = strconv.Atoi(string(v[0]))
		return err
	})
	if err != nil {
		return 0, r.wrap(err, "reading the server version")
	}
	return n, nil
}

// nativeFields returns the fields a compared column is on each side of a PostgreSQL
// record hash when its values can go in by type rather than as canonical text: their
// types hash two values alike exactly when the engine finds them equal under the
// declared type, and two different values with all their bits. Text in the "C"
// collation, 2- and 4-byte integers, dates and booleans go in as they are. A bigint goes
// in as its two 32-bit halves (PostgreSQL hashes its 64 bits folded to 32: 100 and
// 4294967397 hash alike), a numeric with its sign (numeric's hash ignores the sign: 100
// and -100 hash alike; it ignores the scale too, as the engine does). Timestamps at the
// default precision go in as the server's text (PostgreSQL hashes them as bigints). ok
// false: as canonical text.
func nativeFields(cs [2]colInfo, col diff.Column, locs [2]*time.Location) ([2][]string, bool) {
	a, b := cs[0].base, cs[1].base
	both := func(is func(string) bool) bool { return is(a) && is(b) }
	text := func(t string) bool { return t == "text" || t == "varchar" }
	small := func(t string) bool { return t == "int2" || t == "int4" }
	ints := func(t string) bool { return small(t) || t == "int8" }
	var form func(q string) []string
	switch col.Type {
	case diff.TypeString, "":
		if both(text) {
			form = func(q string) []string { return []string{q + ` COLLATE "C"`} }
		}
	case diff.TypeInteger, diff.TypeDecimal:
		switch {
		case both(small):
			form = func(q string) []string { return []string{q} }
		case both(ints):
			form = func(q string) []string { return int8Halves(q + "::int8") }
		case a == "numeric" && b == "numeric":
			form = func(q string) []string { return []string{q, "(" + q + " < 0)"} }
		}
	case diff.TypeDate, diff.TypeBoolean:
		if want := map[diff.Type]string{diff.TypeDate: "date", diff.TypeBoolean: "bool"}[col.Type]; a == want && b == want {
			form = func(q string) []string { return []string{q} }
		}
	case diff.TypeTimestamp:
		// Their text (the session's zone is UTC): every microsecond, and cheaper than
		// extracting them (a numeric).
		if d, ok := precisionDigits(col.Precision); ok && d == 6 &&
			(a == "timestamptz" && b == "timestamptz" || a == "timestamp" && b == "timestamp" && locs[0].String() == locs[1].String()) {
			form = func(q string) []string { return []string{q + "::text"} }
		}
	}
	var fields [2][]string
	if form == nil {
		return fields, false
	}
	for i := range cs {
		fields[i] = form(valueExpr(Postgres, cs[i]))
	}
	return fields, true
}

// int8Halves is a bigint expression as its two 32-bit halves, each an int4 that
// PostgreSQL hashes whole.
func int8Halves(q string) []string {
	return []string{"(" + q + " >> 32)::int4", "((" + q + " & 4294967295) - 2147483648)::int4"}
}

// lenPrefixed is marker || length in bytes || ':' || e.
func lenPrefixed(d Driver, marker, e string) string {
	if d == Postgres {
		return "('" + marker + "' || octet_length(" + e + ") || ':' || " + e + ")"
	}
	return "CONCAT('" + marker + "', LENGTH(" + e + "), ':', " + e + ")"
}

func concat(d Driver, parts []string) string {
	if len(parts) == 1 {
		return parts[0]
	}
	if d == Postgres {
		return "(" + strings.Join(parts, " || ") + ")"
	}
	return "CONCAT(" + strings.Join(parts, ", ") + ")"
}

// Unique reports whether a unique index on the side's table covers the key columns, so
// that no key can occur twice (then duplicates are not counted).
func (p *ChecksumPlan) Unique(side int) bool { return p.sides[side].unique }

// Name is the side's dataset name: "postgres table ledger.entries".
func (p *ChecksumPlan) Name(side int) string { return p.sides[side].r.name() }

// uniqueKeys reports whether a unique index (without predicate or expression, not a
// prefix index) has all its columns among the key columns.
func (s *csSide) uniqueKeys(ctx context.Context) (bool, error) {
	if s.r.Query != "" {
		return false, nil
	}
	keys := map[string]bool{}
	for _, k := range s.keys {
		keys[k.Name] = true
	}
	idx := map[string]bool{} // index name → all its columns are keys
	add := func(index, column string, ok bool) {
		if _, seen := idx[index]; !seen {
			idx[index] = true
		}
		idx[index] = idx[index] && ok && keys[column]
	}
	var err error
	if s.r.Driver == Postgres {
		err = s.r.query(ctx, `
SELECT i.indexrelid::text, a.attname
FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL`,
			[]string{quoteQualified(Postgres, s.r.tableParts)}, func(v [][]byte) error {
				add(string(v[0]), string(v[1]), true)
				return nil
			})
	} else {
		schema := "DATABASE()"
		if len(s.r.tableParts) == 2 {
			schema = mysqlLiteral(s.r.tableParts[0])
		}
		err = s.r.query(ctx, `
SELECT INDEX_NAME, COLUMN_NAME, SUB_PART IS NULL FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = `+schema+` AND TABLE_NAME = `+mysqlLiteral(s.r.tableParts[len(s.r.tableParts)-1])+` AND NON_UNIQUE = 0`,
			nil, func(v [][]byte) error {
				add(string(v[0]), string(v[1]), string(v[2]) == "1")
				return nil
			})
	}
	if err != nil {
		return false, s.r.wrap(err, "reading the unique indexes")
	}
	for _, ok := range idx {
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// mysqlLiteral is a MySQL string literal of s, as a hex literal converted to utf8mb4
// (no escaping rules to get wrong).
func mysqlLiteral(s string) string {
	return fmt.Sprintf("CONVERT(X'%x' USING utf8mb4)", s)
}

// Segment is a range of key tuples: Lo < key <= Hi, in the engine's order; a nil bound
// is unbounded. Bounds are key tuples as this package renders them (Boundaries).
type Segment struct {
	Lo, Hi []string
}

// BucketSum is what a database computes for one bucket of a segment.
type BucketSum struct {
	Bucket  int
	Rows    int64
	Sum1    string // decimal text of the sum of the first 60 bits of each row's MD5
	Sum2    string // of the next 60 bits
	Suspect int64  // rows with a value that may not parse
	// Distinct is the number of distinct keys; Rows when the side is Unique.
	Distinct int64
}

// Equal reports whether two buckets' rows are the same multiset of canonical rows
// (up to the checksum), without suspect rows or duplicate keys: then every key in
// the bucket is matched.
func (b BucketSum) Equal(o BucketSum) bool {
	return b.Rows == o.Rows && b.Sum1 == o.Sum1 && b.Sum2 == o.Sum2 &&
		b.Suspect == 0 && o.Suspect == 0 && b.Distinct == b.Rows && o.Distinct == o.Rows
}

// bucketExpr is the bucket of a row's key among n, from the MD5 of its canonical key
// text (28 bits; the same number in both databases). Between two PostgreSQL servers
// (hashRecords) keyHash is instead keyHashExpr's 64-bit hash: computing an MD5 and
// converting its hex digits cost about 2 s per million rows, the hash 0.1 s.
func (s *csSide) bucketExpr(keyHash string, n int) string {
	if s.hashRecords {
		return fmt.Sprintf("((%s & 2147483647) %% %d)", keyHash, n)
	}
	keyMD5 := keyHash
	if s.r.Driver == Postgres {
		return fmt.Sprintf("(('x' || substr(%s, 1, 7))::bit(28)::int %% %d)", keyMD5, n)
	}
	return fmt.Sprintf("(CAST(CONV(SUBSTRING(%s, 1, 7), 16, 10) AS UNSIGNED) %% %d)", keyMD5, n)
}

// keyHashExpr is what bucketExpr takes for the canonical key text e: its MD5 (hex),
// or between two PostgreSQL servers its 64-bit text hash (hashtextextended, the same
// on every PostgreSQL 11+ of the same byte order, as hash_record_extended already
// assumes; in the "C" collation, so bytes are hashed).
func (s *csSide) keyHashExpr(e string) string {
	if s.hashRecords {
		return "hashtextextended((" + e + `) COLLATE "C", 0)`
	}
	return s.md5(e)
}

func (s *csSide) md5(e string) string {
	if s.r.Driver == Postgres {
		return "md5(" + e + ")"
	}
	return "MD5(" + e + ")"
}

// where is the WHERE clause of a segment's rows: the filter, a usable key, the range.
func (s *csSide) where(seg Segment, args *[]string) (string, error) {
	return s.whereKeys(seg, args, true)
}

// whereKeys is where, without the usable-key condition unless keyValid.
func (s *csSide) whereKeys(seg Segment, args *[]string, keyValid bool) (string, error) {
	var parts []string
	if f := strings.TrimSpace(s.r.Filter); f != "" {
		parts = append(parts, "("+f+"\n)")
	}
	if keyValid {
		parts = append(parts, s.keyValid)
	}
	for _, b := range []struct {
		vals []string
		op   string
	}{{seg.Lo, ">"}, {seg.Hi, "<="}} {
		if b.vals == nil {
			continue
		}
		lits := make([]string, len(b.vals))
		for i, v := range b.vals {
			l, err := s.literal(i, v, args)
			if err != nil {
				return "", err
			}
			lits[i] = l
		}
		if len(lits) == 1 {
			parts = append(parts, s.order[0]+" "+b.op+" "+lits[0])
		} else {
			parts = append(parts, "("+strings.Join(s.order, ", ")+") "+b.op+" ("+strings.Join(lits, ", ")+")")
		}
	}
	if len(parts) == 0 {
		return "TRUE", nil
	}
	return strings.Join(parts, " AND "), nil
}

var (
	reNumber = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	reDate   = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	reHex    = regexp.MustCompile(`^([0-9a-f]{2})*$`)
)

// literal is key component i's bound v (rendered text) as an SQL value comparable with
// the component's ORDER BY term: a parameter on PostgreSQL, a checked literal on MySQL.
func (s *csSide) literal(i int, v string, args *[]string) (string, error) {
	c, t := s.keys[i], s.keyTypes[i]
	if t == "" {
		t = c.Type
	}
	d := s.r.Driver
	param := func(cast string) string {
		*args = append(*args, v)
		return "$" + strconv.Itoa(len(*args)) + cast
	}
	bad := func() (string, error) {
		// The bound is a key value from the data: not printed, the key may be sensitive.
		return "", fmt.Errorf("a key bound (%d bytes) does not fit key column %q (%s)", len(v), c.Name, c.NativeType)
	}
	switch t {
	case diff.TypeString:
		if c.order == oBinary {
			if !reHex.MatchString(v) {
				return bad()
			}
			if d == Postgres {
				return "decode(" + param("") + ", 'hex')", nil
			}
			return "X'" + v + "'", nil
		}
		if d == Postgres {
			return param("::text"), nil
		}
		return fmt.Sprintf("X'%x'", v), nil
	case diff.TypeInteger, diff.TypeDecimal:
		if !reNumber.MatchString(v) {
			return bad()
		}
		if d == MySQL {
			return v, nil
		}
		if c.order == oInteger && !strings.Contains(v, ".") && len(v) <= 18 {
			return param("::bigint"), nil
		}
		return param("::numeric"), nil
	case diff.TypeDate:
		if !reDate.MatchString(v) {
			return bad()
		}
		if d == MySQL {
			return "'" + v + "'", nil
		}
		return param("::date"), nil
	case diff.TypeTimestamp:
		ts, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return bad()
		}
		wall := ts.UTC().Format(mysqlTimeLayout)
		switch {
		case d == MySQL:
			return "'" + wall + "'", nil
		case c.render == rTimestampZ:
			v = wall + "+00"
			return param("::timestamptz"), nil
		}
		v = wall
		return param("::timestamp"), nil
	}
	return bad()
}

// samplesPerSegment is how many sampled rows stand for a segment when the bounds come
// from a sample.
const samplesPerSegment = 200

// Boundaries returns keys that cut the side's rows with a usable key into segments of
// about every rows, in key order: the key of every every-th row. A PostgreSQL table
// estimated (estRows) at many segments is sampled instead of read (TABLESAMPLE SYSTEM,
// about samplesPerSegment rows per segment): the segments are then only about equal.
func (p *ChecksumPlan) Boundaries(ctx context.Context, side int, every, estRows int64) ([][]string, error) {
	s := p.sides[side]
	d := s.r.Driver
	names, exprs := make([]string, len(s.keys)), make([]string, len(s.keys))
	for i, k := range s.keys {
		names[i] = quoteIdent(d, k.Name)
		exprs[i] = valueExpr(d, k) + " AS " + names[i] // as read (money as numeric)
	}
	cols := strings.Join(names, ", ")
	where, err := s.where(Segment{}, nil)
	if err != nil {
		return nil, err
	}
	from := s.r.from()
	if d == Postgres && s.r.Query == "" && every > 10*samplesPerSegment && estRows > 10*every {
		from += fmt.Sprintf(" TABLESAMPLE SYSTEM (%g)", 100*float64(samplesPerSegment)/float64(every))
		every = samplesPerSegment
	}
	mod := fmt.Sprintf("ch_rn %% %d = 0", every)
	if d == MySQL {
		mod = fmt.Sprintf("MOD(ch_rn, %d) = 0", every)
	}
	stmt := "SELECT " + cols + " FROM (SELECT " + strings.Join(exprs, ", ") + ", ROW_NUMBER() OVER (ORDER BY " + strings.Join(s.order, ", ") +
		") AS ch_rn FROM " + from + " WHERE " + where + ") s WHERE " + mod + " ORDER BY ch_rn"
	var out [][]string
	var buf []byte
	err = s.r.query(ctx, stmt, nil, func(vals [][]byte) error {
		b := make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				return errors.New("a key bound is NULL")
			}
			buf = appendCell(buf[:0], v, s.keys[i].render, s.colLoc(i))
			b[i] = string(buf)
		}
		if len(out) > 0 && slices.Equal(out[len(out)-1], b) {
			return nil
		}
		out = append(out, b)
		return nil
	})
	if err != nil {
		return nil, s.r.wrap(err, "sampling key bounds")
	}
	return out, nil
}

func (s *csSide) colLoc(i int) *time.Location {
	if s.keys[i].utc {
		return time.UTC
	}
	return s.r.loc
}

// KeylessBucket is the bucket in which Sums counts, for the unbounded segment, the
// rows without a usable key (only Rows is set): OpenKeyless then need not look for
// them in a table that has none, which would cost another read of the whole table.
const KeylessBucket = -1

// Sums computes the sums of seg's rows in buckets buckets (absent: no rows). For the
// unbounded segment (no Lo, no Hi) it also counts the rows without a usable key, in
// KeylessBucket.
func (p *ChecksumPlan) Sums(ctx context.Context, side int, seg Segment, buckets int) (map[int]BucketSum, error) {
	s := p.sides[side]
	var args []string
	all := seg.Lo == nil && seg.Hi == nil
	where, err := s.whereKeys(seg, &args, !all)
	if err != nil {
		return nil, err
	}
	sure := "0"
	if s.sure != "" {
		sure = "CASE WHEN " + s.sure + " THEN 0 ELSE 1 END"
	}
	// bucket: the row's bucket, or KeylessBucket for a row without a usable key when
	// all rows are summed (the other sums of that bucket are not used).
	// v (computed with the row's columns) says whether the key is usable.
	valid, vcol := "", ""
	bucket := func(kh string) string {
		b := s.bucketExpr(kh, buckets)
		if all {
			b = fmt.Sprintf("CASE WHEN v THEN %s ELSE %d END", b, KeylessBucket)
		}
		return b
	}
	if all {
		valid, vcol = ", "+s.keyValid+" AS v", ", v"
	}
	// The per-row values are computed in derived tables, once (OFFSET 0 keeps
	// PostgreSQL from folding them into the aggregates, which would compute each twice,
	// and from sorting every row for the grouping instead of hashing).
	f := struct{ count, sum, text, distinct, rowMD5, fence string }{"count(*)::text", "sum(%s)::text", "('x' || substr(m, %d, 15))::bit(60)::bigint",
		"count(DISTINCT km)::text", "md5(kt || rt)", " OFFSET 0"}
	if s.r.Driver == MySQL {
		f = struct{ count, sum, text, distinct, rowMD5, fence string }{"COUNT(*)", "SUM(%s)", "CAST(CONV(SUBSTRING(m, %d, 15), 16, 10) AS UNSIGNED)",
			"COUNT(DISTINCT km)", "MD5(CONCAT(kt, rt))", ""}
	}
	if s.unique {
		f.distinct = "''"
	}
	if s.hashRecords {
		fs := "kt"
		for i := range s.fields {
			fs += fmt.Sprintf(", f%d", i)
		}
		inner := "SELECT " + s.keyText + ` COLLATE "C" AS kt`
		for i, e := range s.fields {
			inner += fmt.Sprintf(", %s AS f%d", e, i)
		}
		// A record's hash is linear in its fields' hashes (h*31 + h'), so summing them
		// would let values swapped between keys of a bucket cancel out: each row's hash
		// is mixed again first: its two halves hashed apart, the hashes xor'ed
		// (hashint8extended would fold its 64 bits to 32).
		hv := int8Halves("h")
		f.rowMD5 = "(hashint4extended(" + hv[0] + ", 0) # hashint4extended(" + hv[1] + ", 1))"
		stmt := "SELECT b, count(*)::text, sum(m)::text, '', sum(s)::text, " + f.distinct +
			" FROM (SELECT " + bucket("km") + " AS b, km, " + f.rowMD5 + " AS m, s FROM (SELECT " + s.keyHashExpr("kt") + " AS km, " +
			"hash_record_extended(ROW(" + fs + "), 0) AS h, *" +
			" FROM (" + inner + ", " + sure + " AS s" + valid + " FROM " + s.r.from() + " WHERE " + where + " OFFSET 0) x OFFSET 0) y OFFSET 0) z GROUP BY 1"
		return s.sums(ctx, stmt, args)
	}
	stmt := "SELECT " + bucket("km") + " AS b, " + f.count + ", " + fmt.Sprintf(f.sum, fmt.Sprintf(f.text, 1)) + ", " +
		fmt.Sprintf(f.sum, fmt.Sprintf(f.text, 16)) + ", " + fmt.Sprintf(f.sum, "s") + ", " + f.distinct +
		" FROM (SELECT " + s.md5("kt") + " AS km, " + f.rowMD5 + " AS m, s" + vcol + " FROM (SELECT " + s.keyText + " AS kt, " + s.rowText + " AS rt, " + sure +
		" AS s" + valid + " FROM " + s.r.from() + " WHERE " + where + f.fence + ") x" + f.fence + ") y GROUP BY 1"
	return s.sums(ctx, stmt, args)
}

// sums runs a Sums statement.
func (s *csSide) sums(ctx context.Context, stmt string, args []string) (map[int]BucketSum, error) {
	out := map[int]BucketSum{}
	err := s.r.query(ctx, stmt, args, func(v [][]byte) error {
		var b BucketSum
		var err error
		num := func(x []byte) int64 {
			n, e := strconv.ParseInt(string(x), 10, 64)
			if e != nil && err == nil {
				err = fmt.Errorf("unexpected sum %q", x)
			}
			return n
		}
		b.Bucket = int(num(v[0]))
		b.Rows = num(v[1])
		b.Sum1, b.Sum2 = string(v[2]), string(v[3])
		b.Suspect = num(v[4])
		if s.unique {
			b.Distinct = b.Rows
		} else {
			b.Distinct = num(v[5])
		}
		out[b.Bucket] = b
		return err
	})
	if err != nil {
		return nil, s.r.wrap(err, "summing a segment")
	}
	return out, nil
}

// OpenSegment reads the rows of seg (only those in the given buckets of buckets, all
// when only is nil) in key order, as an OrderedReader named name in positions.
func (p *ChecksumPlan) OpenSegment(ctx context.Context, side int, seg Segment, buckets int, only []int, name string) (diff.Reader, error) {
	s := p.sides[side]
	r := *s.r
	r.args = nil
	where, err := s.where(seg, &r.args)
	if err != nil {
		return nil, err
	}
	if only != nil {
		ids := make([]string, len(only))
		for i, b := range only {
			ids[i] = strconv.Itoa(b)
		}
		where += " AND " + s.bucketExpr(s.keyHashExpr(s.keyText), buckets) + " IN (" + strings.Join(ids, ", ") + ")"
	}
	// The filter is part of where.
	r.Filter = ""
	r.extraWhere = where
	r.Name = name
	rd, err := openResolved(ctx, &r)
	if err != nil {
		return nil, err
	}
	return orderedReader{rd}, nil
}

// OpenKeyless reads the side's rows without a usable key (unordered), named name.
func (p *ChecksumPlan) OpenKeyless(ctx context.Context, side int, name string) (diff.Reader, error) {
	s := p.sides[side]
	r := *s.r
	r.args = nil
	r.Ordered = false
	r.extraWhere = "NOT " + s.keyValid
	r.Name = name
	return openResolved(ctx, &r)
}

// Clustered reports whether the side's rows are stored about in key order, so that a
// key range is read without reading most of the table: a PostgreSQL table whose first
// key column has a correlation (pg_stats) of at least 0.9, or a MySQL table whose
// primary key is the key, compared as the column itself (InnoDB stores rows in primary
// key order; a string key's byte-order expression cannot use an index).
func (p *ChecksumPlan) Clustered(ctx context.Context, side int) (bool, error) {
	s := p.sides[side]
	if s.r.Query != "" {
		return false, nil
	}
	var ok bool
	var err error
	if s.r.Driver == Postgres {
		err = s.r.query(ctx, `
SELECT abs(correlation) >= 0.9 FROM pg_stats
WHERE format('%I.%I', schemaname, tablename)::regclass = to_regclass($1) AND attname = $2`,
			[]string{quoteQualified(Postgres, s.r.tableParts), s.keys[0].Name}, func(v [][]byte) error {
				ok = string(v[0]) == "t"
				return nil
			})
	} else {
		for i, k := range s.keys {
			if s.order[i] != quoteIdent(MySQL, k.Name) {
				return false, nil
			}
		}
		schema := "DATABASE()"
		if len(s.r.tableParts) == 2 {
			schema = mysqlLiteral(s.r.tableParts[0])
		}
		var pk []string
		err = s.r.query(ctx, `
SELECT COLUMN_NAME FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = `+schema+` AND TABLE_NAME = `+mysqlLiteral(s.r.tableParts[len(s.r.tableParts)-1])+` AND INDEX_NAME = 'PRIMARY'
ORDER BY SEQ_IN_INDEX`, nil, func(v [][]byte) error {
			pk = append(pk, string(v[0]))
			return nil
		})
		ok = len(pk) == len(s.keys)
		for i := range pk {
			ok = ok && pk[i] == s.keys[i].Name
		}
	}
	if err != nil {
		return false, s.r.wrap(err, "reading how the table is stored")
	}
	return ok, nil
}

// EstimateRows estimates the side's rows (see EstimateRows).
func (p *ChecksumPlan) EstimateRows(ctx context.Context, side int) (int64, error) {
	return EstimateRows(ctx, p.sides[side].cfg)
}

// query runs one statement on a new read-only connection and calls fn with each row's
// values (nil for NULL; valid during the call). The context ends the statement on
// the server too.
func (r *resolved) query(ctx context.Context, stmt string, args []string, fn func([][]byte) error) error {
	if r.Driver == Postgres {
		conn, err := pgConnect(ctx, r, true)
		if err != nil {
			return err
		}
		defer closePG(conn)
		params := make([][]byte, len(args))
		for i, a := range args {
			params[i] = []byte(a)
		}
		rr := conn.PgConn().ExecParams(ctx, stmt, params, nil, nil, []int16{pgx.TextFormatCode})
		var ferr error
		for rr.NextRow() {
			if ferr == nil {
				ferr = fn(rr.Values())
			}
		}
		_, err = rr.Close()
		if err == nil {
			err = ferr
		}
		if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return err
	}
	db, conn, err := mysqlOpen(ctx, r, true)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(); _ = db.Close() }()
	var connID int64
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&connID); err != nil {
		return err
	}
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(qctx, func() {
		if ctx.Err() != nil {
			killQuery(r, connID)
		}
	})
	defer stop()
	anyArgs := make([]any, len(args))
	for i, a := range args {
		anyArgs[i] = a
	}
	rows, err := conn.QueryContext(qctx, stmt, anyArgs...)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return err
	}
	defer func() { _ = rows.Close() }()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	raw := make([]sql.RawBytes, len(cols))
	dest := make([]any, len(cols))
	vals := make([][]byte, len(cols))
	for i := range raw {
		dest[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		for i, b := range raw {
			vals[i] = b
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	err = rows.Err()
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// CanonicalRows returns, for up to limit rows of seg in key order, the canonical key
// text, the canonical text of the compared values and whether the row is suspect: what
// the checksums are computed over (a diagnostic: why do two equal rows differ?).
func (p *ChecksumPlan) CanonicalRows(ctx context.Context, side int, seg Segment, limit int) ([][3]string, error) {
	s := p.sides[side]
	var args []string
	where, err := s.where(seg, &args)
	if err != nil {
		return nil, err
	}
	suspect := "'false'"
	if s.sure != "" {
		suspect = "CASE WHEN " + s.sure + " THEN 'false' ELSE 'true' END"
	}
	stmt := fmt.Sprintf("SELECT %s, %s, %s FROM %s WHERE %s ORDER BY %s LIMIT %d",
		s.keyText, s.rowText, suspect, s.r.from(), where, strings.Join(s.order, ", "), limit)
	var out [][3]string
	err = s.r.query(ctx, stmt, args, func(v [][]byte) error {
		out = append(out, [3]string{string(v[0]), string(v[1]), string(v[2])})
		return nil
	})
	if err != nil {
		return nil, s.r.wrap(err, "reading canonical rows")
	}
	return out, nil
}
