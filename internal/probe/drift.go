package probe

import (
	"slices"
	"strings"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// Drift is how a discovered schema differs from what the DataSource declares and from
// a baseline (the schema observed earlier and accepted).
type Drift struct {
	// Added columns are in the discovered schema but not in the baseline (one whose
	// declared type cannot be read from it is in Retyped instead).
	Added []chv1.DiscoveredColumn
	// Removed columns were in the baseline, or are declared (key columns and
	// spec.columns), and are not in the discovered schema; sorted by name.
	Removed []string
	// Retyped columns changed type since the baseline, or hold a type their declared
	// type cannot be read from; sorted by name.
	Retyped []Retype
	// MissingKeys are the key columns not in the discovered schema, in keyColumns order.
	MissingKeys []string
	// MissingColumns are the spec.columns not in the discovered schema, in spec order.
	MissingColumns []string
}

// Retype is one column whose type changed.
type Retype struct {
	Name string
	// From is the baseline's native type, or "declared <Type>".
	From string
	// To is the discovered native type.
	To string
}

// Empty reports whether there is no drift.
func (d Drift) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Retyped) == 0
}

// Message names every added, removed and retyped column, in that order:
//
//	added columns: note (text); removed columns: amount; retyped columns: qty (integer -> text)
func (d Drift) Message() string {
	var parts []string
	if len(d.Added) > 0 {
		s := make([]string, len(d.Added))
		for i, c := range d.Added {
			s[i] = c.Name + " (" + typeName(c) + ")"
		}
		parts = append(parts, "added columns: "+strings.Join(s, ", "))
	}
	if len(d.Removed) > 0 {
		parts = append(parts, "removed columns: "+strings.Join(d.Removed, ", "))
	}
	if len(d.Retyped) > 0 {
		s := make([]string, len(d.Retyped))
		for i, r := range d.Retyped {
			s[i] = r.Name + " (" + r.From + " -> " + r.To + ")"
		}
		parts = append(parts, "retyped columns: "+strings.Join(s, ", "))
	}
	return strings.Join(parts, "; ")
}

// Compare finds the drift of discovered against spec's key columns and declared
// columns and against baseline (nil: no baseline yet, only the declarations count).
//
// Only disappearance and incompatible types count against the declarations: a source
// may have more columns than declared (they are compared as text), and a declared
// type may be read from a text column. For Kafka and JSON Lines, where names are
// field paths, a declared a.b is present when the top-level field a is.
func Compare(discovered []chv1.DiscoveredColumn, spec *chv1.DataSourceSpec, baseline []chv1.DiscoveredColumn) Drift {
	paths := spec.Type == chv1.DataSourceKafka || (spec.File != nil && FileFormat(spec.File) == chv1.FileJSONLines)
	byName := make(map[string]chv1.DiscoveredColumn, len(discovered))
	for _, c := range discovered {
		byName[c.Name] = c
	}
	lookup := func(name string) (chv1.DiscoveredColumn, bool) {
		if c, ok := byName[name]; ok {
			return c, true
		}
		if paths {
			if top, _, ok := strings.Cut(name, "."); ok {
				c, ok := byName[top]
				return c, ok
			}
		}
		return chv1.DiscoveredColumn{}, false
	}

	var d Drift
	removed := map[string]bool{}
	retyped := map[string]Retype{}
	if baseline != nil {
		old := make(map[string]chv1.DiscoveredColumn, len(baseline))
		for _, c := range baseline {
			old[c.Name] = c
			n, ok := byName[c.Name]
			switch {
			case !ok:
				removed[c.Name] = true
			case n.Type != c.Type || n.NativeType != c.NativeType || n.Nullable != c.Nullable:
				// NOT NULL dropped lets NULLs in, which the engine keeps apart from "";
				// NOT NULL added changes what the source holds too.
				name := typeName
				if n.Nullable != c.Nullable {
					name = nullName
				}
				retyped[c.Name] = Retype{Name: c.Name, From: name(c), To: name(n)}
			}
		}
		for _, c := range discovered {
			if _, ok := old[c.Name]; !ok {
				d.Added = append(d.Added, c)
			}
		}
	}
	for _, k := range spec.KeyColumns {
		if _, ok := lookup(k); !ok {
			d.MissingKeys = append(d.MissingKeys, k)
			removed[k] = true
		}
	}
	for _, col := range spec.Columns {
		c, ok := lookup(col.Name)
		if !ok {
			d.MissingColumns = append(d.MissingColumns, col.Name)
			removed[col.Name] = true
			continue
		}
		if _, done := retyped[col.Name]; done || c.Name != col.Name {
			continue
		}
		declared := col.Type
		if declared == "" {
			declared = chv1.ColumnString
		}
		if !Compatible(declared, c.Type) {
			retyped[col.Name] = Retype{Name: col.Name, From: "declared " + string(declared), To: typeName(c)}
		}
	}
	// A declared column added with a type its declaration cannot be read from is
	// reported once, as retyped (the message names its type).
	d.Added = slices.DeleteFunc(d.Added, func(c chv1.DiscoveredColumn) bool {
		_, ok := retyped[c.Name]
		return ok
	})
	for n := range removed {
		d.Removed = append(d.Removed, n)
	}
	slices.Sort(d.Removed)
	for _, r := range retyped {
		d.Retyped = append(d.Retyped, r)
	}
	slices.SortFunc(d.Retyped, func(a, b Retype) int { return strings.Compare(a.Name, b.Name) })
	return d
}

// Compatible reports whether values of a column discovered as type have can be read
// as declared: text can hold anything (the engine parses it), anything can be read as
// text, integers as decimals, dates as timestamps.
func Compatible(declared, have chv1.ColumnType) bool {
	switch {
	case declared == have, declared == chv1.ColumnString, have == chv1.ColumnString:
		return true
	case declared == chv1.ColumnDecimal:
		return have == chv1.ColumnInteger
	case declared == chv1.ColumnTimestamp:
		return have == chv1.ColumnDate
	}
	return false
}

// nullName is typeName with " not null" for a column that refuses NULL.
func nullName(c chv1.DiscoveredColumn) string {
	if !c.Nullable {
		return typeName(c) + " not null"
	}
	return typeName(c)
}

// typeName is the native type when the source names one, else the column type.
func typeName(c chv1.DiscoveredColumn) string {
	if c.NativeType != "" {
		return c.NativeType
	}
	return string(c.Type)
}
