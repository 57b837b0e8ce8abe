// Package runner runs one comparison of a ReconciliationJob: PlanFor turns the job and
// its two DataSources into a Plan (pure, JSON-serialisable, without secrets), and
// Execute opens both sides with credentials, runs the engine over one partition of the
// key space and writes that partition's result to the results store. The inline
// executor calls both in the manager; a Kubernetes worker pod receives the Plan and
// calls Execute for the partition its JOB_COMPLETION_INDEX names.
//
// Column rules. A job names its keys (spec.keys) and, optionally, its compared columns
// (spec.compare). Each column's type is the job's when the job gives one other than
// String (String is the API default, so it cannot be told from "not given"); otherwise
// the type a DataSource declares for it in spec.columns (the source's declaration for
// the source name, then the target's for the target name; two different non-String
// declarations are an error asking the job to say). A column is sensitive when either
// DataSource declares it sensitive, and a timestamp's precision is the coarser of the
// two declared precisions.
//
// When spec.compare is empty, every non-key column present on both sides under the same
// name is compared. The columns of a side are its DataSource's status.schema when both
// DataSources have one (the plan then lists them and SQL and Kafka sides read only those), else
// the columns each reader returns when it is opened (Plan.CompareAll). Columns present on
// one side only are not compared.
package runner

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/window"
)

// DefaultMaxDiscrepancies applies when a job built in Go leaves limits.maxDiscrepancies
// at zero (the API server defaults it to the same): it bounds the memory a partition
// holds before writing.
const DefaultMaxDiscrepancies = 100000

// Plan is one comparison of a job, everything a worker needs except credentials.
type Plan struct {
	// Job is namespace/name of the ReconciliationJob.
	Job string `json:"job"`
	// Source and Target are the two sides.
	Source Side `json:"source"`
	Target Side `json:"target"`
	// Spec is the engine's spec. With CompareAll, Spec.Compare is empty and Execute
	// fills it from the columns the readers return.
	Spec diff.Spec `json:"spec"`
	// CompareAll: spec.compare was empty and the DataSources have no discovered
	// schema, so the compared columns are decided at open time (see the package doc).
	CompareAll bool `json:"compareAll,omitempty"`
	// Checksum asks for checksum bisection pushed down into both (SQL) databases.
	Checksum bool `json:"checksum,omitempty"`
	// RowsPerSecond caps the rows read on each side (0: no cap). With partitions, each
	// worker's reads are capped separately.
	RowsPerSecond int64 `json:"rowsPerSecond,omitempty"`
	// Timeout bounds a partition's run (0: none).
	Timeout time.Duration `json:"timeout,omitempty"`
	// TimeZone is the zone of zone-less timestamps in file sides (SQL sides convert in
	// the database driver); empty means UTC.
	TimeZone string `json:"timeZone,omitempty"`
}

// Side is one side of a plan.
type Side struct {
	// DataSource is the DataSource's name, namespace and spec (no status, no metadata
	// beyond the name: a plan travels in a pod's environment).
	DataSource chv1.DataSource `json:"dataSource"`
	// Filter is the job's SQL filter for this side.
	Filter string `json:"filter,omitempty"`
	// Columns a SQL or Kafka side reads (nil: every column; a Kafka side learns them
	// from its first rows).
	Columns []string `json:"columns,omitempty"`
	// Ordered opens the side ordered by its keys, so the engine can merge.
	Ordered bool `json:"ordered,omitempty"`
}

// Name is namespace/name of the side's DataSource.
func (s Side) Name() string { return s.DataSource.Namespace + "/" + s.DataSource.Name }

// KeyNames returns the key column names of a side (source names for the source).
func (p Plan) KeyNames(target bool) []string {
	out := make([]string, len(p.Spec.Keys))
	for i, k := range p.Spec.Keys {
		out[i] = k.Name
		if target {
			out[i] = k.TargetName()
		}
	}
	return out
}

// PlanFor builds the plan of job comparing source with target. It only reads its
// arguments. Errors name the field at fault, e.g.
// `spec.compare[2].tolerance.absolute: "x" is not a decimal`.
func PlanFor(job *chv1.ReconciliationJob, source, target *chv1.DataSource) (Plan, error) {
	if job == nil || source == nil || target == nil {
		return Plan{}, errors.New("runner: a job and both DataSources are required")
	}
	spec := job.Spec
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if source.Name != spec.Source.DataSource {
		add("spec.source.dataSource", "is %q but DataSource %q was given", spec.Source.DataSource, source.Name)
	}
	if target.Name != spec.Target.DataSource {
		add("spec.target.dataSource", "is %q but DataSource %q was given", spec.Target.DataSource, target.Name)
	}
	p := Plan{
		Job:    job.Namespace + "/" + job.Name,
		Source: Side{DataSource: stripped(source), Filter: spec.Source.Filter},
		Target: Side{DataSource: stripped(target), Filter: spec.Target.Filter},
	}
	r := rules{src: &p.Source.DataSource, tgt: &p.Target.DataSource}
	for _, s := range []struct {
		field string
		side  *Side
	}{{"spec.source.filter", &p.Source}, {"spec.target.filter", &p.Target}} {
		if s.side.Filter != "" && !isSQL(&s.side.DataSource) {
			add(s.field, "datasource %s is of type %s; filters apply to PostgreSQL and MySQL sources only", s.side.Name(), s.side.DataSource.Spec.Type)
		}
	}

	if len(spec.Keys) == 0 {
		add("spec.keys", "at least one key column is required")
	}
	for i, k := range spec.Keys {
		f := fmt.Sprintf("spec.keys[%d]", i)
		c, err := r.column(f, k.Source, k.Target, k.Type)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.Spec.Keys = append(p.Spec.Keys, c)
	}
	for i, cc := range spec.Compare {
		f := fmt.Sprintf("spec.compare[%d]", i)
		c, err := r.column(f, cc.Source, cc.Target, cc.Type)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := applyComparison(f, &c, cc); err != nil {
			errs = append(errs, err)
			continue
		}
		p.Spec.Compare = append(p.Spec.Compare, c)
	}
	if err := r.checkPrecisions(); err != nil {
		errs = append(errs, err)
	}

	// Limits.
	p.Spec.MaxDiscrepancies = spec.Limits.MaxDiscrepancies
	if p.Spec.MaxDiscrepancies <= 0 {
		p.Spec.MaxDiscrepancies = DefaultMaxDiscrepancies
	}
	p.RowsPerSecond = spec.Limits.RowsPerSecond
	if p.RowsPerSecond < 0 {
		add("spec.limits.rowsPerSecond", "must not be negative")
	}
	if t := spec.Limits.Timeout; t != nil {
		if t.Duration <= 0 {
			add("spec.limits.timeout", "must be positive")
		}
		p.Timeout = t.Duration
	}
	if m := spec.Limits.Memory; m != nil {
		p.Spec.MemoryBudget = m.Value()
		if p.Spec.MemoryBudget < diff.MinMemoryBudget {
			add("spec.limits.memory", "%s is below the minimum of %d bytes", m.String(), diff.MinMemoryBudget)
		}
	}

	// Time zone of zone-less timestamps in files: one per column in the engine.
	if tz, err := fileTimeZone(source, target); err != nil {
		errs = append(errs, err)
	} else {
		p.TimeZone = tz
	}

	if err := planStrategy(&p, spec.Strategy); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return Plan{}, errors.Join(errs...)
	}

	if len(spec.Compare) == 0 {
		srcCols, tgtCols := schemaNames(source), schemaNames(target)
		if srcCols == nil || tgtCols == nil {
			p.CompareAll = true
		} else {
			cols, err := r.compareAll(p.Spec.Keys, srcCols, tgtCols)
			if err != nil {
				return Plan{}, err
			}
			p.Spec.Compare = cols
		}
	}
	if !p.CompareAll {
		p.Source.Columns, p.Target.Columns = readColumns(&p, false), readColumns(&p, true)
	}
	if err := p.Spec.Validate(); err != nil {
		return Plan{}, fmt.Errorf("spec: %w", err)
	}
	return p, nil
}

// stripped keeps what a worker needs of a DataSource: its name and spec (not even its
// TypeMeta, which depends on how the object was read, so that equal inputs plan equal).
func stripped(ds *chv1.DataSource) chv1.DataSource {
	out := chv1.DataSource{Spec: *ds.Spec.DeepCopy()}
	out.Name, out.Namespace = ds.Name, ds.Namespace
	return out
}

func isSQL(ds *chv1.DataSource) bool { return ds.Spec.PostgreSQL != nil || ds.Spec.MySQL != nil }

// orderable reports whether a side can be read in key order: SQL pushes ORDER BY down,
// a file must promise it.
func orderable(ds *chv1.DataSource) bool {
	return isSQL(ds) || (ds.Spec.File != nil && ds.Spec.File.SortedByKey)
}

// planStrategy decides the engine strategy and which sides are read ordered.
func planStrategy(p *Plan, s chv1.Strategy) error {
	src, tgt := &p.Source.DataSource, &p.Target.DataSource
	both := orderable(src) && orderable(tgt)
	switch s {
	case "", chv1.StrategyAuto:
		// Two SQL sides: checksum bisection (it reads every row in key order itself when
		// checksums cannot apply); else merge when both can be read in key order.
		p.Checksum = isSQL(src) && isSQL(tgt)
		p.Spec.Strategy = diff.StrategyAuto
		p.Source.Ordered, p.Target.Ordered = both, both
	case chv1.StrategyMerge:
		for _, side := range []Side{p.Source, p.Target} {
			if !orderable(&side.DataSource) {
				return fmt.Errorf("spec.strategy: Merge needs both sides in key order, but datasource %s is a file without sortedByKey", side.Name())
			}
		}
		p.Spec.Strategy = diff.StrategyMerge
		p.Source.Ordered, p.Target.Ordered = true, true
	case chv1.StrategyHash:
		p.Spec.Strategy = diff.StrategyHash
	case chv1.StrategyChecksum:
		for _, side := range []Side{p.Source, p.Target} {
			if !isSQL(&side.DataSource) {
				return fmt.Errorf("spec.strategy: Checksum needs two PostgreSQL or MySQL sources, but datasource %s is of type %s", side.Name(), side.DataSource.Spec.Type)
			}
		}
		p.Checksum = true
		p.Spec.Strategy = diff.StrategyChecksum
		p.Source.Ordered, p.Target.Ordered = true, true
	default:
		return fmt.Errorf("spec.strategy: unknown strategy %q (want Auto, Merge, Hash or Checksum)", s)
	}
	return nil
}

// fileTimeZone is the zone the engine reads zone-less timestamps of file sides in.
func fileTimeZone(source, target *chv1.DataSource) (string, error) {
	zone := func(ds *chv1.DataSource) string {
		if ds.Spec.TimeZone == "" {
			return "UTC"
		}
		return ds.Spec.TimeZone
	}
	var tz, from string
	for _, ds := range []*chv1.DataSource{source, target} {
		if ds.Spec.File == nil {
			continue
		}
		z := zone(ds)
		if _, err := window.LoadLocation(z); err != nil {
			return "", fmt.Errorf("datasource %s/%s: spec.timeZone: %w", ds.Namespace, ds.Name, err)
		}
		if tz != "" && z != tz {
			return "", fmt.Errorf("datasource %s/%s: spec.timeZone: %q differs from %q of datasource %s; two files must share a time zone", ds.Namespace, ds.Name, z, tz, from)
		}
		tz, from = z, ds.Namespace+"/"+ds.Name
	}
	if tz == "UTC" {
		tz = ""
	}
	return tz, nil
}

func schemaNames(ds *chv1.DataSource) []string {
	if len(ds.Status.Schema) == 0 {
		return nil
	}
	out := make([]string, len(ds.Status.Schema))
	for i, c := range ds.Status.Schema {
		out[i] = c.Name
	}
	return out
}

// readColumns lists the columns a SQL or Kafka side reads: its keys, then its compared
// columns.
func readColumns(p *Plan, target bool) []string {
	side := &p.Source
	if target {
		side = &p.Target
	}
	if !isSQL(&side.DataSource) && side.DataSource.Spec.Kafka == nil {
		// A Kafka side reads the named columns too: learned from its first rows, a
		// column the table gained later (Debezium then sends it in every event) would
		// make every later event an invalid row, though the job does not compare it.
		return nil
	}
	out := p.KeyNames(target)
	for _, c := range p.Spec.Compare {
		name := c.Name
		if target {
			name = c.TargetName()
		}
		out = append(out, name)
	}
	return out
}

// rules resolve a column's type, sensitivity and precision from both DataSources'
// declarations.
type rules struct {
	src, tgt *chv1.DataSource
}

func declared(ds *chv1.DataSource, name string) (chv1.ColumnSpec, int, bool) {
	for i, c := range ds.Spec.Columns {
		if c.Name == name {
			return c, i, true
		}
	}
	return chv1.ColumnSpec{}, -1, false
}

var engineTypes = map[chv1.ColumnType]diff.Type{
	chv1.ColumnString: diff.TypeString, chv1.ColumnInteger: diff.TypeInteger, chv1.ColumnDecimal: diff.TypeDecimal,
	chv1.ColumnTimestamp: diff.TypeTimestamp, chv1.ColumnDate: diff.TypeDate, chv1.ColumnBoolean: diff.TypeBoolean,
	chv1.ColumnJSON: diff.TypeJSON,
}

var precisions = map[string]time.Duration{"s": time.Second, "ms": time.Millisecond, "us": time.Microsecond, "ns": time.Nanosecond}

// column resolves one column (a key or a compared one) named src on the source and tgt
// (default src) on the target.
func (r rules) column(field, src, tgt string, jobType chv1.ColumnType) (diff.Column, error) {
	if src == "" {
		return diff.Column{}, fmt.Errorf("%s.source: required", field)
	}
	if tgt == "" {
		tgt = src
	}
	c := diff.Column{Name: src}
	if tgt != src {
		c.Target = tgt
	}
	sd, _, sok := declared(r.src, src)
	td, _, tok := declared(r.tgt, tgt)
	typ := jobType
	if typ == "" || typ == chv1.ColumnString {
		st, tt := sd.Type, td.Type
		if st == chv1.ColumnString {
			st = ""
		}
		if tt == chv1.ColumnString {
			tt = ""
		}
		switch {
		case st != "" && tt != "" && st != tt:
			return c, fmt.Errorf("%s.type: datasource %s declares %s as %s but datasource %s declares %s as %s; set the type on the job",
				field, nsName(r.src), src, st, nsName(r.tgt), tgt, tt)
		case st != "":
			typ = st
		case tt != "":
			typ = tt
		}
	}
	if typ == "" {
		typ = chv1.ColumnString
	}
	et, ok := engineTypes[typ]
	if !ok {
		return c, fmt.Errorf("%s.type: unknown type %q (want String, Integer, Decimal, Timestamp, Date, Boolean or JSON)", field, typ)
	}
	if et != diff.TypeString {
		c.Type = et
	}
	c.Sensitive = (sok && sd.Sensitive) || (tok && td.Sensitive)
	if et == diff.TypeTimestamp {
		for _, d := range []struct {
			ds   *chv1.DataSource
			spec chv1.ColumnSpec
			ok   bool
		}{{r.src, sd, sok}, {r.tgt, td, tok}} {
			if !d.ok || d.spec.Precision == "" {
				continue
			}
			if p := precisions[d.spec.Precision]; p > c.Precision {
				c.Precision = p // the coarser of the two: finer digits one side lacks are noise
			}
		}
	}
	return c, nil
}

// checkPrecisions names a declared precision that is not one of s, ms, us, ns.
func (r rules) checkPrecisions() error {
	var errs []error
	for _, ds := range []*chv1.DataSource{r.src, r.tgt} {
		for i, c := range ds.Spec.Columns {
			if _, ok := precisions[c.Precision]; c.Precision != "" && !ok {
				errs = append(errs, fmt.Errorf("datasource %s: spec.columns[%d].precision: %q is not one of s, ms, us, ns", nsName(ds), i, c.Precision))
			}
		}
	}
	return errors.Join(errs...)
}

func nsName(ds *chv1.DataSource) string { return ds.Namespace + "/" + ds.Name }

// applyComparison adds a spec.compare entry's tolerances and string rules to c.
func applyComparison(field string, c *diff.Column, cc chv1.ColumnComparison) error {
	var errs []error
	add := func(f, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", field, f, fmt.Sprintf(format, args...)))
	}
	typ := c.Type
	if typ == "" {
		typ = diff.TypeString
	}
	numeric := typ == diff.TypeInteger || typ == diff.TypeDecimal
	if t := cc.Tolerance; t != nil {
		for _, tol := range []struct {
			f    string
			text string
			dst  *string
		}{{"tolerance.absolute", t.Absolute, &c.AbsTolerance}, {"tolerance.relative", t.Relative, &c.RelTolerance}} {
			if tol.text == "" {
				continue
			}
			d, err := decimal.NewFromString(strings.TrimSpace(tol.text))
			switch {
			case err != nil:
				add(tol.f, "%q is not a decimal", tol.text)
			case d.Sign() < 0:
				add(tol.f, "%q must not be negative", tol.text)
			case !numeric:
				add(tol.f, "needs type Decimal or Integer (%s is %s)", cc.Source, typ)
			default:
				*tol.dst = strings.TrimSpace(tol.text)
			}
		}
		if t.Time != nil {
			switch {
			case t.Time.Duration < 0:
				add("tolerance.time", "%s must not be negative", t.Time.Duration)
			case typ != diff.TypeTimestamp && typ != diff.TypeDate:
				add("tolerance.time", "needs type Timestamp or Date (%s is %s)", cc.Source, typ)
			default:
				c.TimeTolerance = t.Time.Duration
			}
		}
	}
	if cc.Trim || cc.IgnoreCase {
		if typ != diff.TypeString {
			add("trim", "trim and ignoreCase apply to type String only (%s is %s)", cc.Source, typ)
		}
		c.Trim, c.IgnoreCase = cc.Trim, cc.IgnoreCase
	}
	return errors.Join(errs...)
}

// compareAll lists the compared columns when the job names none: every non-key source
// column whose name is also a non-key target column, in source order.
func (r rules) compareAll(keys []diff.Column, srcCols, tgtCols []string) ([]diff.Column, error) {
	srcKeys, tgtKeys := map[string]bool{}, map[string]bool{}
	for _, k := range keys {
		srcKeys[k.Name], tgtKeys[k.TargetName()] = true, true
	}
	var out []diff.Column
	for _, name := range srcCols {
		if srcKeys[name] || tgtKeys[name] || !slices.Contains(tgtCols, name) {
			continue
		}
		c, err := r.column("spec.compare (every common column): "+name, name, name, "")
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
