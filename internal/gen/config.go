// Package gen generates ground truth for the comparison engine: a pair of datasets
// (source and target) of a payments ledger, with a known set of injected
// discrepancies, and the outcome set the engine must return for them.
//
// Generate writes, into Config.Dir:
//
//   - source.<ext> and target.<ext> (CSV, JSON Lines or Parquet; .gz optional for
//     CSV and JSON Lines), readable by internal/source;
//   - expected.json: {"summary": {...}, "discrepancies": [...]}, the outcomes of
//     SEMANTICS.md for those files under the spec in manifest.json. Only
//     discrepancies are listed; matched keys are only counted;
//   - manifest.json: the config, the row counts, and "spec", the comparison the
//     expected set assumes, in the JSON form of diff.Spec (keys, compared columns
//     with types, tolerances and the sensitive flag).
//
// Generation is deterministic (same config and seed, same bytes) and streaming:
// memory is bounded by the number of injected discrepancies, not by Rows (a 10M-row
// pair needs under 100 MB).
//
// Conventions of the files: columns [region,] id, amount, currency, value_date,
// booked_at, status, account, memo, every value written as text (Parquet: optional
// UTF-8 columns), NULL as the format's NULL (CSV: the unquoted null marker, "" quoted
// when it is the empty string; JSON: null; Parquet: a null). amount is a JSON number
// in JSON Lines when it is valid JSON number text. Sorted files are in ascending byte
// order of the key tuple, component by component, a NULL component last (the
// engine skips rows with a NULL or empty key when it checks the order).
//
// Conventions of expected.json: discrepancies are sorted by diff.CompareDiscrepancies
// and have diff.Discrepancy's JSON form; positions are what internal/source readers
// report ("source.csv line 12" — the line a record starts on, header = line 1;
// "source.jsonl line 12"; "source.parquet row 12"); reasons use the engine's
// wording ("key column id is NULL", "key column id is empty",
// `column amount: "12,5x" is not a valid decimal`, several joined by "; " in column
// order); values of Config.Sensitive columns are masked with SEMANTICS.md's rule
// (diff.Mask, under Config.MaskKey). The summary is a diff.Summary.
package gen

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source"
)

// SeedMaskKey is the mask key of generated data when none is given: derived from the
// seed, so the same seed gives the same expected.json. It is no secret (the data is
// made up); real data needs a key of its own.
func SeedMaskKey(seed uint64) []byte {
	sum := sha256.Sum256(fmt.Appendf(nil, "clearhouse gen mask key, seed %d", seed))
	return []byte(hex.EncodeToString(sum[:]))
}

// Config configures Generate.
type Config struct {
	// Dir receives the files; it is created if needed.
	Dir string `json:"-"`
	// Rows is the number of base keys. Each is on both sides and matched unless
	// an injection of the base kinds picks it. Extra keys (unicode, separator-like,
	// NULL/empty keys) come on top.
	Rows int `json:"rows"`
	// Seed makes the data; the same seed gives the same bytes.
	Seed uint64 `json:"seed"`
	// Format of both files: csv (default), jsonl or parquet.
	Format source.Format `json:"format"`
	// Gzip compresses CSV and JSON Lines files (names get .gz).
	Gzip bool `json:"gzip,omitempty"`
	// Sorted writes both files in ascending byte order of the key tuple (a NULL
	// key component sorts last); otherwise both are shuffled (independently).
	Sorted bool `json:"sorted"`
	// Composite makes the key (region, id) instead of (id).
	Composite bool `json:"composite"`
	// SourceName and TargetName are the file base names; default source.<ext>
	// and target.<ext>. Positions in expected.json use them.
	SourceName string `json:"sourceName,omitempty"`
	TargetName string `json:"targetName,omitempty"`
	// CSVDelimiter (default ',') and CSVNullMarker (default "": an unquoted empty
	// field is NULL) are the CSV dialect written.
	CSVDelimiter  byte   `json:"csvDelimiter,omitempty"`
	CSVNullMarker string `json:"csvNullMarker,omitempty"`
	// Sensitive lists compared string columns (currency, status, account, memo)
	// whose values expected.json masks as the engine does (diff.Mask with MaskKey).
	// DefaultConfig marks account.
	Sensitive []string `json:"sensitive,omitempty"`
	// MaskKey is the key expected.json's masks are made with; a comparison must use it
	// (diff.Spec.MaskKey) to return them. Empty: SeedMaskKey(Seed), set by Run. Never
	// written to manifest.json.
	MaskKey []byte `json:"-"`
	// AmountTolerance is the absolute tolerance on amount the expected set assumes:
	// decimal text with at most 3 fractional digits, at least 0.01 (default
	// "0.01").
	AmountTolerance string `json:"amountTolerance"`
	// BookedAtTolerance is the tolerance on booked_at the expected set assumes: a
	// whole number of seconds, at least 2s (default 2s).
	BookedAtTolerance time.Duration `json:"bookedAtTolerance"`
	// Inject says how many of each discrepancy to inject.
	Inject Injections `json:"inject"`
	// Rate, when > 0, replaces Inject with AtRate(Rows, Rate).
	Rate float64 `json:"rate,omitempty"`
}

// Injections counts the injected cases of each kind. Each "base" kind picks that
// many distinct base keys; the others add keys or rows. Variants rotate with the
// ordinal of the case; the resulting outcomes are in the comment of each field.
type Injections struct {
	// Base kinds.

	// MissingInTarget: the key's row is only in the source → missing_in_target.
	MissingInTarget int `json:"missingInTarget,omitempty"`
	// MissingInSource: only in the target → missing_in_source.
	MissingInSource int `json:"missingInSource,omitempty"`
	// Mismatch: one or more compared columns differ beyond tolerance (amount,
	// currency, status, value_date, booked_at, memo, account, NULL vs "", NULL vs a
	// value, several columns, letter case, a trailing space) → mismatch.
	Mismatch int `json:"mismatch,omitempty"`
	// WithinTolerance: amount and/or booked_at differ by less than the tolerance
	// → matched.
	WithinTolerance int `json:"withinTolerance,omitempty"`
	// EdgeOn: amount or booked_at differ by exactly the tolerance → matched.
	EdgeOn int `json:"edgeOn,omitempty"`
	// EdgePast: differ by the tolerance plus one unit (0.01, 1s) → mismatch.
	EdgePast int `json:"edgePast,omitempty"`
	// DuplicateSource: 2 or 3 source rows for the key (the target has 0 or 1, some
	// rows unparsable or different) → one duplicate_key (source), nothing else.
	DuplicateSource int `json:"duplicateSource,omitempty"`
	// DuplicateTarget: mirror of DuplicateSource → one duplicate_key (target).
	DuplicateTarget int `json:"duplicateTarget,omitempty"`
	// DuplicateBoth: several rows on both sides → two duplicate_key outcomes.
	DuplicateBoth int `json:"duplicateBoth,omitempty"`
	// Unparsable: a value does not parse as its type (amount "12,5x", "" or
	// "1.2.3", value_date "2026-02-30", booked_at "2026-03-01T25:00:00Z", ...) on one
	// side (the other side differing or missing) → one invalid_row; every sixth on
	// both sides → two.
	Unparsable int `json:"unparsable,omitempty"`
	// NumericFormat: amount written differently, equal as decimals ("10.5" vs
	// "10.50", "7" vs "7.00", "007.50" vs "7.5") → matched.
	NumericFormat int `json:"numericFormat,omitempty"`
	// TimezoneEqual: booked_at written in different zones, same instant → matched.
	TimezoneEqual int `json:"timezoneEqual,omitempty"`

	// Extra kinds.

	// NullKey: rows with a NULL key component, alternating sides → one invalid_row
	// each (also when their values are unparsable or they look alike).
	NullKey int `json:"nullKey,omitempty"`
	// EmptyKey: rows with an empty ("") key component → one invalid_row each.
	EmptyKey int `json:"emptyKey,omitempty"`
	// UnicodeKeys: keys such as "zürich-ß-東京-🙂" (NFC and NFD forms are distinct
	// keys), rotating matched, mismatch, missing_in_target, missing_in_source.
	UnicodeKeys int `json:"unicodeKeys,omitempty"`
	// SeparatorKeys: keys holding separator-like characters (| , ; " tab, line
	// break, backslash). Even ordinals are a pair that a concatenated key would
	// confuse — ("a|b","c") only in the source and ("a","b|c") only in the target
	// (single key: "a|b" and "a,b") → missing_in_target + missing_in_source; odd
	// ordinals rotate matched and mismatch.
	SeparatorKeys int `json:"separatorKeys,omitempty"`
}

// DefaultConfig returns a small config with every injection present.
func DefaultConfig(dir string) Config {
	return Config{
		Dir:               dir,
		Rows:              1000,
		Seed:              1,
		Format:            source.FormatCSV,
		Sensitive:         []string{"account"},
		AmountTolerance:   "0.01",
		BookedAtTolerance: 2 * time.Second,
		Inject: Injections{
			MissingInTarget: 5, MissingInSource: 5, Mismatch: 12, WithinTolerance: 6, EdgeOn: 4, EdgePast: 4,
			DuplicateSource: 4, DuplicateTarget: 4, DuplicateBoth: 2, Unparsable: 6, NumericFormat: 5,
			TimezoneEqual: 5, NullKey: 4, EmptyKey: 4, UnicodeKeys: 8, SeparatorKeys: 8,
		},
	}
}

// AtRate spreads round(rows×rate) injections evenly over every kind (the first
// kinds get the remainder).
func AtRate(rows int, rate float64) Injections {
	total := int(float64(rows)*rate + 0.5)
	var in Injections
	ptrs := in.all()
	for i, p := range ptrs {
		*p.n = total / len(ptrs)
		if i < total%len(ptrs) {
			*p.n++
		}
	}
	return in
}

type injField struct {
	name string
	n    *int
	base bool
}

func (in *Injections) all() []injField {
	return []injField{
		{"missingInTarget", &in.MissingInTarget, true},
		{"missingInSource", &in.MissingInSource, true},
		{"mismatch", &in.Mismatch, true},
		{"withinTolerance", &in.WithinTolerance, true},
		{"edgeOn", &in.EdgeOn, true},
		{"edgePast", &in.EdgePast, true},
		{"duplicateSource", &in.DuplicateSource, true},
		{"duplicateTarget", &in.DuplicateTarget, true},
		{"duplicateBoth", &in.DuplicateBoth, true},
		{"unparsable", &in.Unparsable, true},
		{"numericFormat", &in.NumericFormat, true},
		{"timezoneEqual", &in.TimezoneEqual, true},
		{"nullKey", &in.NullKey, false},
		{"emptyKey", &in.EmptyKey, false},
		{"unicodeKeys", &in.UnicodeKeys, false},
		{"separatorKeys", &in.SeparatorKeys, false},
	}
}

// BaseTotal is the number of base keys the injections pick.
func (in Injections) BaseTotal() int {
	n := 0
	for _, f := range in.all() {
		if f.base {
			n += *f.n
		}
	}
	return n
}

// normalize fills defaults and checks the config.
func (c *Config) normalize() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("gen: Dir is required"))
	}
	if c.Rows < 0 {
		errs = append(errs, errors.New("gen: Rows must be >= 0"))
	}
	if len(c.MaskKey) == 0 {
		c.MaskKey = SeedMaskKey(c.Seed)
	} else if len(c.MaskKey) < diff.MaskKeySize {
		errs = append(errs, fmt.Errorf("gen: MaskKey has %d bytes; want at least %d", len(c.MaskKey), diff.MaskKeySize))
	}
	if !(c.Rate >= 0 && c.Rate <= 1) { // NaN too
		errs = append(errs, errors.New("gen: Rate must be in [0, 1]"))
	} else if c.Rate > 0 {
		c.Inject = AtRate(c.Rows, c.Rate)
	}
	if c.Format == "" {
		c.Format = source.FormatCSV
	}
	switch c.Format {
	case source.FormatCSV, source.FormatJSONL:
	case source.FormatParquet:
		if c.Gzip {
			errs = append(errs, errors.New("gen: Gzip is for csv and jsonl"))
		}
	default:
		errs = append(errs, fmt.Errorf("gen: unknown format %q (csv, jsonl, parquet)", c.Format))
	}
	ext := "." + string(c.Format)
	if c.Gzip {
		ext += ".gz"
	}
	if c.SourceName == "" {
		c.SourceName = "source" + ext
	}
	if c.TargetName == "" {
		c.TargetName = "target" + ext
	}
	if c.SourceName == c.TargetName {
		errs = append(errs, errors.New("gen: SourceName and TargetName must differ"))
	}
	if c.CSVDelimiter == 0 {
		c.CSVDelimiter = ','
	}
	if c.CSVDelimiter == '"' || c.CSVDelimiter == '\n' || c.CSVDelimiter == '\r' || c.CSVDelimiter >= 0x80 ||
		strings.IndexByte(c.CSVNullMarker, c.CSVDelimiter) >= 0 || strings.ContainsAny(c.CSVNullMarker, "\"\r\n") {
		errs = append(errs, fmt.Errorf("gen: invalid CSV dialect (delimiter %q, null marker %q)", c.CSVDelimiter, c.CSVNullMarker))
	}
	for _, s := range c.Sensitive {
		if !slices.Contains([]string{"currency", "status", "account", "memo"}, s) {
			errs = append(errs, fmt.Errorf("gen: sensitive column %q: only currency, status, account and memo can be masked here", s))
		}
	}
	if c.AmountTolerance == "" {
		c.AmountTolerance = "0.01"
	}
	if _, err := parseMillis(c.AmountTolerance); err != nil {
		errs = append(errs, fmt.Errorf("gen: AmountTolerance: %w", err))
	}
	if c.BookedAtTolerance == 0 {
		c.BookedAtTolerance = 2 * time.Second
	}
	if c.BookedAtTolerance < 2*time.Second || c.BookedAtTolerance%time.Second != 0 {
		errs = append(errs, errors.New("gen: BookedAtTolerance must be a whole number of seconds, at least 2s"))
	}
	for _, f := range c.Inject.all() {
		if *f.n < 0 {
			errs = append(errs, fmt.Errorf("gen: injection %s must be >= 0", f.name))
		}
	}
	if n := c.Inject.BaseTotal(); n > c.Rows {
		errs = append(errs, fmt.Errorf("gen: the base injections pick %d keys but there are only %d rows (more rows, or fewer injections: --rate or --inject)", n, c.Rows))
	}
	return errors.Join(errs...)
}

// parseMillis parses a tolerance ("0.01") into thousandths; it must be >= 0.01 and
// have at most 3 fractional digits.
func parseMillis(s string) (int64, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok || !plainDecimal(s) {
		return 0, fmt.Errorf("%q is not a plain decimal", s)
	}
	m := new(big.Rat).Mul(r, big.NewRat(1000, 1))
	if !m.IsInt() || !m.Num().IsInt64() {
		return 0, fmt.Errorf("%q has more than 3 fractional digits", s)
	}
	v := m.Num().Int64()
	if v < 10 || v > 1_000_000 {
		return 0, fmt.Errorf("%q must be between 0.01 and 1000", s)
	}
	return v, nil
}

// Kinds lists the injection kinds by their JSON names, in declaration order.
func Kinds() []string {
	var in Injections
	fields := in.all()
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	return names
}

// Set sets the count of the injection kind with the given JSON name.
func (in *Injections) Set(kind string, n int) error {
	if n < 0 {
		return fmt.Errorf("injection %s: count %d must be >= 0", kind, n)
	}
	for _, f := range in.all() {
		if f.name == kind {
			*f.n = n
			return nil
		}
	}
	return fmt.Errorf("unknown injection kind %q (kinds: %s)", kind, strings.Join(Kinds(), ", "))
}
