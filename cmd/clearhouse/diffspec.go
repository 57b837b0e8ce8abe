package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// diffFlags are the comparison flags of `clearhouse diff`, as given.
type diffFlags struct {
	keys          []string
	maps          []string // SRC=TGT
	compare       []string // COL[,COL...]
	types         []string // COL=TYPE
	tolerances    []string // COL=ABS
	relTolerances []string // COL=FRACTION
	timeTols      []string // COL=DURATION
	trim          []string
	ignoreCase    []string
	sensitive     []string
	timeZone      string
	strategy      string
	maxDiscrep    int64
	rowsPerSecond float64
}

// pairs parses repeated COL=VALUE flags into a map, naming the flag at fault.
func pairs(flag string, values []string) (map[string]string, error) {
	m := make(map[string]string, len(values))
	for _, v := range values {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" || val == "" {
			return nil, fmt.Errorf("--%s %q: want COLUMN=VALUE", flag, v)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("--%s: column %q given twice", flag, k)
		}
		m[k] = val
	}
	return m, nil
}

func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

var typeNames = map[string]diff.Type{
	"string": diff.TypeString, "integer": diff.TypeInteger, "decimal": diff.TypeDecimal,
	"timestamp": diff.TypeTimestamp, "date": diff.TypeDate, "boolean": diff.TypeBoolean, "json": diff.TypeJSON,
}

// buildSpec turns the flags and both sides' columns into an engine spec. Without
// --compare, every non-key source column whose (mapped) target column exists is
// compared; skipped names which columns exist on one side only, for a note to the user.
func buildSpec(f diffFlags, srcCols, tgtCols []string) (spec diff.Spec, skipped []string, err error) {
	if len(splitList(f.keys)) == 0 {
		return spec, nil, fmt.Errorf("--key: at least one key column is required")
	}
	maps, err := pairs("map", f.maps)
	if err != nil {
		return spec, nil, err
	}
	types, err := pairs("type", f.types)
	if err != nil {
		return spec, nil, err
	}
	abs, err := pairs("tolerance", f.tolerances)
	if err != nil {
		return spec, nil, err
	}
	rel, err := pairs("tolerance-relative", f.relTolerances)
	if err != nil {
		return spec, nil, err
	}
	timeTol, err := pairs("time-tolerance", f.timeTols)
	if err != nil {
		return spec, nil, err
	}
	for flag, m := range map[string]map[string]string{"tolerance": abs, "tolerance-relative": rel} {
		for _, col := range keysOf(m) {
			if d, err := decimal.NewFromString(strings.TrimSpace(m[col])); err != nil || d.Sign() < 0 {
				return spec, nil, fmt.Errorf("--%s %s=%s: want a decimal number >= 0 such as 0.01", flag, col, m[col])
			}
		}
	}
	switch diff.Strategy(strings.ToLower(f.strategy)) {
	case "", diff.StrategyAuto, diff.StrategyMerge, diff.StrategyHash, diff.StrategyChecksum:
	default:
		return spec, nil, fmt.Errorf("--strategy %q: want auto, merge, hash or checksum", f.strategy)
	}
	if f.maxDiscrep < 0 {
		return spec, nil, fmt.Errorf("--max-discrepancies %d: want 0 (no limit) or more", f.maxDiscrep)
	}
	if !(f.rowsPerSecond >= 0) {
		return spec, nil, fmt.Errorf("--rows-per-second %v: want 0 (no limit) or more", f.rowsPerSecond)
	}
	loc := time.UTC
	if f.timeZone != "" {
		if loc, err = time.LoadLocation(f.timeZone); err != nil {
			return spec, nil, fmt.Errorf("--time-zone %q: unknown time zone", f.timeZone)
		}
	}
	target := func(col string) string {
		if t, ok := maps[col]; ok {
			return t
		}
		return col
	}
	keys := splitList(f.keys)
	for i, k := range keys {
		if slices.Contains(keys[:i], k) {
			return spec, nil, fmt.Errorf("--key %s: given twice", k)
		}
	}
	compare := splitList(f.compare)
	if len(compare) == 0 {
		tgt := make(map[string]bool, len(tgtCols))
		for _, c := range tgtCols {
			tgt[c] = true
		}
		mapped := map[string]bool{}
		for _, c := range srcCols {
			if slices.Contains(keys, c) {
				mapped[target(c)] = true
				continue
			}
			if tgt[target(c)] {
				compare = append(compare, c)
				mapped[target(c)] = true
			} else if t, ok := maps[c]; ok && len(tgtCols) > 0 {
				return spec, nil, fmt.Errorf("--map %s=%s: the target has no column %q (columns: %s)", c, t, t, strings.Join(tgtCols, ", "))
			} else {
				skipped = append(skipped, c+" (source only)")
			}
		}
		for _, c := range tgtCols {
			if !mapped[c] {
				skipped = append(skipped, c+" (target only)")
			}
		}
	}

	used := map[string]bool{}
	column := func(name string) (diff.Column, error) {
		used[name] = true
		c := diff.Column{Name: name, Target: target(name)}
		if c.Target == name {
			c.Target = ""
		}
		if t, ok := types[name]; ok {
			typ, known := typeNames[strings.ToLower(t)]
			if !known {
				return c, fmt.Errorf("--type %s=%s: unknown type (want string, integer, decimal, timestamp, date, boolean or json)", name, t)
			}
			c.Type = typ
		}
		if v, ok := abs[name]; ok {
			c.AbsTolerance = v
		}
		if v, ok := rel[name]; ok {
			c.RelTolerance = v
		}
		if (c.AbsTolerance != "" || c.RelTolerance != "") && c.Type == "" {
			c.Type = diff.TypeDecimal // a numeric tolerance implies a number
		}
		if v, ok := timeTol[name]; ok {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return c, fmt.Errorf("--time-tolerance %s=%s: want a duration >= 0 such as 2s or 24h", name, v)
			}
			c.TimeTolerance = d
			if c.Type == "" {
				c.Type = diff.TypeTimestamp
			}
		}
		if c.Type == diff.TypeTimestamp && f.timeZone != "" {
			c.Location = loc
		}
		c.Trim = slices.Contains(f.trim, name)
		c.IgnoreCase = slices.Contains(f.ignoreCase, name)
		c.Sensitive = slices.Contains(f.sensitive, name)
		return c, nil
	}
	for _, k := range keys {
		c, err := column(k)
		if err != nil {
			return spec, nil, err
		}
		spec.Keys = append(spec.Keys, c)
	}
	for _, name := range compare {
		c, err := column(name)
		if err != nil {
			return spec, nil, err
		}
		spec.Compare = append(spec.Compare, c)
	}
	// A rule on a column that is neither a key nor compared is a typo, not a no-op.
	// In flag order, so that the same command always names the same flag.
	for _, r := range []struct {
		flag string
		cols []string
	}{
		{"map", keysOf(maps)}, {"type", keysOf(types)}, {"tolerance", keysOf(abs)}, {"tolerance-relative", keysOf(rel)},
		{"time-tolerance", keysOf(timeTol)}, {"trim", f.trim}, {"ignore-case", f.ignoreCase}, {"sensitive", f.sensitive},
	} {
		for _, c := range r.cols {
			if !used[c] {
				return spec, nil, fmt.Errorf("--%s %s: %s is neither a key nor a compared column", r.flag, c, c)
			}
		}
	}
	spec.Strategy = diff.Strategy(strings.ToLower(f.strategy))
	spec.MaxDiscrepancies = f.maxDiscrep
	spec.RowsPerSecond = f.rowsPerSecond
	return spec, skipped, nil
}

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
