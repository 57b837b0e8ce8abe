// Package runnertest builds ReconciliationJobs over pairs from internal/gen, for the
// tests of the runner, the worker command and the controllers: a job whose expected
// outcomes are known exactly.
package runnertest

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
	"github.com/clearhouse-dev/clearhouse/internal/store"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// Pair is a generated pair and a job comparing it.
type Pair struct {
	Dir      string
	Manifest *gen.Manifest
	Expected *gen.Expected
	// Job compares Source with Target; Source and Target are File DataSources until
	// OnPostgres moves them.
	Job            *chv1.ReconciliationJob
	Source, Target *chv1.DataSource
}

// Generate writes a pair with cfg (cfg.Dir defaults to a temporary directory) and
// builds a job in namespace comparing it with the manifest's rules, spread over the job
// and the DataSources the way users write them: amount's type and tolerance on the job,
// value_date's type declared by the source DataSource, booked_at's type and tolerance
// on the job, the sensitive columns declared by the target DataSource. The expected
// set masks sensitive values as the runs recorded in st mask them (st nil: with the
// seed's key).
func Generate(t testing.TB, cfg gen.Config, namespace string, st store.Store) *Pair {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if st != nil {
		key, err := st.MaskKey(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaskKey = runner.NamespaceMaskKey(key, namespace)
	}
	m, exp, err := gen.RunExpected(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &Pair{Dir: cfg.Dir, Manifest: m, Expected: exp}
	p.Source = fileSource(namespace, "ledger", filepath.Join(cfg.Dir, m.Source.File), m.Keys)
	p.Target = fileSource(namespace, "bank", filepath.Join(cfg.Dir, m.Target.File), m.Keys)
	p.Job = &chv1.ReconciliationJob{
		ObjectMeta: metav1.ObjectMeta{Name: "ledger-vs-bank", Namespace: namespace},
		Spec: chv1.ReconciliationJobSpec{
			Source: chv1.JobSide{DataSource: p.Source.Name},
			Target: chv1.JobSide{DataSource: p.Target.Name},
		},
	}
	for _, k := range m.Spec.Keys {
		p.Job.Spec.Keys = append(p.Job.Spec.Keys, chv1.KeyMapping{Source: k.Name, Type: columnType(k.Type)})
	}
	for _, c := range m.Spec.Compare {
		cc := chv1.ColumnComparison{Source: c.Name}
		if c.Type == "date" {
			p.Source.Spec.Columns = append(p.Source.Spec.Columns, chv1.ColumnSpec{Name: c.Name, Type: chv1.ColumnDate})
		} else {
			cc.Type = columnType(c.Type)
		}
		if c.AbsTolerance != "" {
			cc.Tolerance = &chv1.Tolerance{Absolute: c.AbsTolerance}
		}
		if c.TimeTolerance != 0 {
			cc.Tolerance = &chv1.Tolerance{Time: &metav1.Duration{Duration: c.TimeTolerance}}
		}
		if c.Sensitive {
			p.Target.Spec.Columns = append(p.Target.Spec.Columns, chv1.ColumnSpec{Name: c.Name, Sensitive: true})
		}
		p.Job.Spec.Compare = append(p.Job.Spec.Compare, cc)
	}
	return p
}

func columnType(t string) chv1.ColumnType {
	if t == "" {
		return chv1.ColumnString
	}
	return chv1.ColumnType(strings.ToUpper(t[:1]) + t[1:])
}

func fileSource(namespace, name, path string, keys []string) *chv1.DataSource {
	return &chv1.DataSource{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: chv1.DataSourceSpec{
			Type:       chv1.DataSourceFile,
			File:       &chv1.FileSource{URL: "file://" + path},
			KeyColumns: keys,
			TimeZone:   "UTC",
		},
	}
}

// OnPostgres loads both files into tables "ledger" and "bank" of db and points the
// DataSources at them, with credentials in the Secret secretName (keys username and
// password; the caller provides them, e.g. from db.Server.User and Password).
func (p *Pair) OnPostgres(t testing.TB, db *testdb.Database, secretName string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, s := range []struct {
		side testdb.Side
		ds   *chv1.DataSource
	}{{testdb.Source, p.Source}, {testdb.Target, p.Target}} {
		if _, err := testdb.LoadGenerated(ctx, db, p.Dir, s.side, s.ds.Name); err != nil {
			t.Fatalf("load %s: %v", s.side, err)
		}
		s.ds.Spec.Type = chv1.DataSourcePostgreSQL
		s.ds.Spec.File = nil
		s.ds.Spec.PostgreSQL = &chv1.SQLSource{
			Host: db.Server.Host, Port: int32(db.Server.Port), Database: db.Name, Table: s.ds.Name,
			SecretRef: chv1.CredentialsSecretRef{Name: secretName}, TLSMode: "disable",
		}
	}
}

// ExpectedDiscrepancies is the expected set as engine discrepancies.
func (p *Pair) ExpectedDiscrepancies(t testing.TB) []diff.Discrepancy {
	t.Helper()
	var ds []diff.Discrepancy
	for _, e := range p.Expected.Discrepancies {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var d diff.Discrepancy
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	return ds
}

// Lines renders discrepancies as sorted JSON lines with each invalid row's position
// replaced by "@" (a DataSource names its positions after itself, a database has no
// line numbers); an invalid row without a position fails the test.
func Lines(t testing.TB, ds []diff.Discrepancy) []string {
	t.Helper()
	ds = slices.Clone(ds)
	for i := range ds {
		if ds[i].Kind != diff.KindInvalidRow {
			continue
		}
		if ds[i].Position == "" {
			t.Errorf("invalid_row without a position: %s", ds[i].AppendJSON(nil))
		}
		ds[i].Position = "@"
	}
	diff.SortDiscrepancies(ds)
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = string(d.AppendJSON(nil))
	}
	return out
}

// Equal reports a difference between two sets of Lines, at most 15 lines of each way.
func Equal(t testing.TB, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	gs, ws := map[string]int{}, map[string]int{}
	for _, g := range got {
		gs[g]++
	}
	for _, w := range want {
		ws[w]++
	}
	n := 0
	for _, w := range want {
		if gs[w] == 0 && n < 15 {
			t.Errorf("missing: %s", w)
			n++
		}
	}
	for _, g := range got {
		if ws[g] == 0 && n < 30 {
			t.Errorf("unexpected: %s", g)
			n++
		}
	}
	t.Errorf("got %d discrepancies, want %d", len(got), len(want))
}

// SummaryJSON is a summary's JSON form (the counts and truncated), for exact checks.
func SummaryJSON(s diff.Summary) string {
	b, _ := json.Marshal(s)
	return string(b)
}
