package diff

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Type is the declared type of a column. The zero value is TypeString.
type Type string

const (
	TypeString    Type = "string"
	TypeInteger   Type = "integer"
	TypeDecimal   Type = "decimal"
	TypeTimestamp Type = "timestamp"
	TypeDate      Type = "date"
	TypeBoolean   Type = "boolean"
	TypeJSON      Type = "json"
)

func (t Type) normalized() Type {
	if t == "" {
		return TypeString
	}
	return t
}

func (t Type) valid() bool {
	switch t.normalized() {
	case TypeString, TypeInteger, TypeDecimal, TypeTimestamp, TypeDate, TypeBoolean, TypeJSON:
		return true
	}
	return false
}

// Strategy selects how rows are matched. The zero value is StrategyAuto.
type Strategy string

const (
	// StrategyAuto uses merge when both readers are OrderedReaders ordered by the key
	// columns (and no key column is trimmed or case-folded), else hash.
	StrategyAuto Strategy = "auto"
	// StrategyMerge streams two key-ordered inputs; out-of-order input is an error.
	StrategyMerge Strategy = "merge"
	// StrategyHash partitions both inputs by key hash, spilling to disk past the budget.
	StrategyHash Strategy = "hash"
	// StrategyChecksum is checksum bisection inside two SQL databases. It is a valid
	// Spec strategy (so a spec says what ran, e.g. in Summary.Strategy) but Run cannot
	// run it: it needs the databases, not Readers, and runs through internal/checksum.
	StrategyChecksum Strategy = "checksum"
)

const (
	// DefaultMemoryBudget is used when Spec.MemoryBudget is 0.
	DefaultMemoryBudget = 256 << 20
	// MinMemoryBudget is the smallest accepted Spec.MemoryBudget.
	MinMemoryBudget = 64 << 10
	// DefaultPrecision is the timestamp precision when Column.Precision is 0.
	DefaultPrecision = time.Microsecond
)

// Column is a key column or a compared column: how a source column maps to a target
// column and how its values are typed and compared.
type Column struct {
	// Name is the source column name; it names the column in every outcome.
	Name string `json:"name"`
	// Target is the target column name; empty means the same as Name.
	Target string `json:"target,omitempty"`
	// Type is how values are parsed and compared; empty means string.
	Type Type `json:"type,omitempty"`
	// AbsTolerance (integer, decimal): values within this absolute difference are equal
	// (inclusive). Decimal text, e.g. "0.01"; empty means none.
	AbsTolerance string `json:"absTolerance,omitempty"`
	// RelTolerance (integer, decimal): equal when |s-t| <= rel*max(|s|,|t|) (inclusive).
	// When both tolerances are set, being within either one is enough.
	RelTolerance string `json:"relTolerance,omitempty"`
	// TimeTolerance (timestamp, date): equal when the instants differ by at most this.
	TimeTolerance time.Duration `json:"timeTolerance,omitempty"`
	// Precision (timestamp): values are truncated to it before comparing; it must divide
	// a second or be a whole number of seconds. 0 means DefaultPrecision.
	Precision time.Duration `json:"precision,omitempty"`
	// Location (timestamp): the zone of values written without one; nil means UTC.
	Location *time.Location `json:"-"`
	// Trim removes leading and trailing white space (typed values are always trimmed).
	Trim bool `json:"trim,omitempty"`
	// IgnoreCase (string): compare with Unicode case folding.
	IgnoreCase bool `json:"ignoreCase,omitempty"`
	// Sensitive masks the column's values in every output (see SEMANTICS.md).
	Sensitive bool `json:"sensitive,omitempty"`
}

// TargetName is the target column name.
func (c Column) TargetName() string {
	if c.Target == "" {
		return c.Name
	}
	return c.Target
}

// Spec describes one comparison.
type Spec struct {
	// Keys identify a row: a tuple, compared as strings unless typed.
	Keys []Column `json:"keys"`
	// Compare lists the compared columns; columns not named are not compared.
	Compare []Column `json:"compare,omitempty"`
	// Strategy: auto (default), merge, hash, or checksum (internal/checksum only).
	Strategy Strategy `json:"strategy,omitempty"`
	// MaxDiscrepancies stops the run after that many discrepancies (0 = no limit).
	MaxDiscrepancies int64 `json:"maxDiscrepancies,omitempty"`
	// RowsPerSecond limits reading, both sides together (0 = no limit).
	RowsPerSecond float64 `json:"rowsPerSecond,omitempty"`
	// MemoryBudget bounds the hash strategy's memory, in bytes (0 = DefaultMemoryBudget).
	MemoryBudget int64 `json:"memoryBudget,omitempty"`
	// TempDir is where the hash strategy spills (empty = os.TempDir()).
	TempDir string `json:"tempDir,omitempty"`
	// MaskKey keys the hash sensitive values are masked with (Mask): the same key gives
	// the same masks in every run, so outcomes of several runs (or partitions of one)
	// can be matched. At least MaskKeySize bytes; empty draws a key for the run, whose
	// masks then compare only within it. A secret: never serialized.
	MaskKey []byte `json:"-"`
}

// Validate checks the spec on its own (CheckColumns checks it against the readers). It
// returns every problem found, each naming its field, e.g.
// "compare[2].absTolerance: must be >= 0".
func (s Spec) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if len(s.Keys) == 0 {
		add("keys", "at least one key column")
	}
	if n := len(s.MaskKey); n > 0 && n < MaskKeySize {
		add("maskKey", "%d bytes; want at least %d (or none: a key drawn for the run)", n, MaskKeySize)
	}
	seenKey := map[string]string{}
	seenTargetKey := map[string]string{}
	for i, c := range s.Keys {
		f := fmt.Sprintf("keys[%d]", i)
		validateColumn(f, c, true, add)
		dupName := false
		if c.Name != "" {
			if prev, ok := seenKey[c.Name]; ok {
				add(f+".name", "%q is already %s", c.Name, prev)
				dupName = true
			} else {
				seenKey[c.Name] = f
			}
		}
		if t := c.TargetName(); t != "" {
			if prev, ok := seenTargetKey[t]; ok {
				if !dupName || c.Target != "" {
					add(f+".target", "%q is already %s", t, prev)
				}
			} else {
				seenTargetKey[t] = f
			}
		}
	}
	seen := map[string]string{}
	seenTarget := map[string]string{}
	for i, c := range s.Compare {
		f := fmt.Sprintf("compare[%d]", i)
		validateColumn(f, c, false, add)
		dupName := false
		if c.Name != "" {
			if prev, ok := seenKey[c.Name]; ok {
				add(f+".name", "%q is a key column (%s)", c.Name, prev)
				dupName = true
			} else if prev, ok := seen[c.Name]; ok {
				add(f+".name", "%q is already %s", c.Name, prev)
				dupName = true
			} else {
				seen[c.Name] = f
			}
		}
		if t := c.TargetName(); t != "" && (!dupName || c.Target != "") {
			if prev, ok := seenTargetKey[t]; ok {
				add(f+".target", "%q is a key column (%s)", t, prev)
			} else if prev, ok := seenTarget[t]; ok {
				add(f+".target", "%q is already %s", t, prev)
			} else {
				seenTarget[t] = f
			}
		}
	}
	switch s.Strategy {
	case "", StrategyAuto, StrategyMerge, StrategyHash, StrategyChecksum:
	default:
		add("strategy", "unknown strategy %q (want auto, merge, hash or checksum)", s.Strategy)
	}
	if s.MaxDiscrepancies < 0 {
		add("maxDiscrepancies", "must be >= 0")
	}
	if s.RowsPerSecond < 0 || s.RowsPerSecond != s.RowsPerSecond {
		add("rowsPerSecond", "must be >= 0")
	}
	if s.MemoryBudget < 0 {
		add("memoryBudget", "must be >= 0")
	} else if s.MemoryBudget > 0 && s.MemoryBudget < MinMemoryBudget {
		add("memoryBudget", "must be at least %d bytes", MinMemoryBudget)
	}
	return errors.Join(errs...)
}

func validateColumn(f string, c Column, key bool, add func(field, format string, args ...any)) {
	if c.Name == "" {
		add(f+".name", "required")
	}
	t := c.Type.normalized()
	if !c.Type.valid() {
		add(f+".type", "unknown type %q (want string, integer, decimal, timestamp, date, boolean or json)", c.Type)
		return
	}
	if key && t == TypeJSON {
		add(f+".type", "json is not allowed for a key column")
	}
	numeric := t == TypeInteger || t == TypeDecimal
	for _, tol := range []struct{ field, text string }{{"absTolerance", c.AbsTolerance}, {"relTolerance", c.RelTolerance}} {
		if tol.text == "" {
			continue
		}
		switch {
		case key:
			add(f+"."+tol.field, "not allowed on a key column")
		case !numeric:
			add(f+"."+tol.field, "only for integer or decimal columns (type is %s)", t)
		default:
			d, err := decimal.NewFromString(strings.TrimSpace(tol.text))
			if err != nil {
				add(f+"."+tol.field, "%q is not a decimal number", tol.text)
			} else if d.Sign() < 0 {
				add(f+"."+tol.field, "must be >= 0")
			}
		}
	}
	if c.TimeTolerance != 0 {
		switch {
		case key:
			add(f+".timeTolerance", "not allowed on a key column")
		case t != TypeTimestamp && t != TypeDate:
			add(f+".timeTolerance", "only for timestamp or date columns (type is %s)", t)
		case c.TimeTolerance < 0:
			add(f+".timeTolerance", "must be >= 0")
		}
	}
	if c.Precision != 0 {
		switch {
		case t != TypeTimestamp:
			add(f+".precision", "only for timestamp columns (type is %s)", t)
		case c.Precision < 0:
			add(f+".precision", "must be > 0")
		case c.Precision < time.Second && time.Second%c.Precision != 0,
			c.Precision > time.Second && c.Precision%time.Second != 0:
			add(f+".precision", "%s must divide a second or be a whole number of seconds", c.Precision)
		}
	}
	if c.Location != nil && t != TypeTimestamp {
		add(f+".location", "only for timestamp columns (type is %s)", t)
	}
	if c.IgnoreCase && t != TypeString {
		add(f+".ignoreCase", "only for string columns (type is %s)", t)
	}
}

// CheckColumns checks that every column the spec names exists in the source and target
// columns, e.g. `target: column "amt" (compare[1].target) is not among the target
// columns [id amount]`.
func (s Spec) CheckColumns(sourceColumns, targetColumns []string) error {
	var errs []error
	check := func(side string, cols []string, name, field string) {
		for _, c := range cols {
			if c == name {
				return
			}
		}
		if len(cols) == 0 {
			// A file whose columns are learned from its rows, without rows.
			errs = append(errs, fmt.Errorf("%s: column %q (%s): the %s has no columns (an empty file read without declared columns?)", side, name, field, side))
			return
		}
		errs = append(errs, fmt.Errorf("%s: column %q (%s) is not among the %s columns %v", side, name, field, side, cols))
	}
	for _, group := range []struct {
		field string
		cols  []Column
	}{{"keys", s.Keys}, {"compare", s.Compare}} {
		for i, c := range group.cols {
			check("source", sourceColumns, c.Name, fmt.Sprintf("%s[%d].name", group.field, i))
			f := fmt.Sprintf("%s[%d].target", group.field, i)
			if c.Target == "" {
				f = fmt.Sprintf("%s[%d].name", group.field, i)
			}
			check("target", targetColumns, c.TargetName(), f)
		}
	}
	return errors.Join(errs...)
}
