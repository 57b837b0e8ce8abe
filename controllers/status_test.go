package controllers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

func namespace(t *testing.T, name string) {
	t.Helper()
	if err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

// applySamples creates every object of config/samples in ns.
func applySamples(t *testing.T, ns string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(env.Root, "config", "samples", "*.yaml"))
	for _, f := range files {
		if strings.HasSuffix(f, "kustomization.yaml") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewYAMLOrJSONDecoder(strings.NewReader(string(b)), 4096)
		for {
			var u unstructured.Unstructured
			if err := dec.Decode(&u.Object); err != nil {
				break
			}
			if len(u.Object) == 0 {
				continue
			}
			u.SetNamespace(ns)
			if err := env.Client.Create(context.Background(), &u); err != nil {
				t.Fatalf("%s: create %s %s: %v", f, u.GetKind(), u.GetName(), err)
			}
		}
	}
}

func conditionsOf(o client.Object) ([]metav1.Condition, int64) {
	switch v := o.(type) {
	case *chv1.DataSource:
		return v.Status.Conditions, v.Status.ObservedGeneration
	case *chv1.ReconciliationJob:
		return v.Status.Conditions, v.Status.ObservedGeneration
	case *chv1.SettlementWindow:
		return v.Status.Conditions, v.Status.ObservedGeneration
	case *chv1.BusinessModule:
		return v.Status.Conditions, v.Status.ObservedGeneration
	}
	panic(fmt.Sprintf("unexpected %T", o))
}

// waitFor polls obj until check passes for its current generation, or fails with the
// last status seen.
func waitFor(t *testing.T, obj client.Object, check func() error) {
	t.Helper()
	waitWithin(t, 20*time.Second, obj, check)
}

// waitWithin is waitFor with another deadline.
func waitWithin(t *testing.T, d time.Duration, obj client.Object, check func() error) {
	t.Helper()
	key := client.ObjectKeyFromObject(obj)
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		if err := env.Client.Get(context.Background(), key, obj); err != nil {
			last = err
		} else if _, gen := conditionsOf(obj); gen != obj.GetGeneration() {
			last = fmt.Errorf("observedGeneration %d, generation %d", gen, obj.GetGeneration())
		} else if last = check(); last == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%T %s: %v", obj, key, last)
}

// wantCondition checks one condition's status, reason and message fragment.
func wantCondition(obj client.Object, typ string, status metav1.ConditionStatus, reason, msg string) error {
	conds, _ := conditionsOf(obj)
	c := meta.FindStatusCondition(conds, typ)
	switch {
	case c == nil:
		return fmt.Errorf("no %s condition in %v", typ, conds)
	case c.Status != status || c.Reason != reason || !strings.Contains(c.Message, msg):
		return fmt.Errorf("%s = %s/%s %q, want %s/%s containing %q", typ, c.Status, c.Reason, c.Message, status, reason, msg)
	case c.ObservedGeneration != obj.GetGeneration():
		return fmt.Errorf("%s observedGeneration %d, want %d", typ, c.ObservedGeneration, obj.GetGeneration())
	}
	return nil
}

// TestSamplesGetHonestStatus: every sample gets every condition on the first visit,
// with a reason, and Ready=False (NotImplemented; for DataSources the reason their
// probe failed, and for the jobs reading them SourceNotReady) — never a pretend success.
func TestSamplesGetHonestStatus(t *testing.T) {
	namespace(t, "samples")
	applySamples(t, "samples")
	for _, tc := range []struct {
		obj   client.Object
		conds []string
	}{
		{&chv1.BusinessModule{ObjectMeta: metav1.ObjectMeta{Name: "payments"}}, []string{"Ready", "TopicsReady", "AccessReady"}},
		{&chv1.BusinessModule{ObjectMeta: metav1.ObjectMeta{Name: "promotions"}}, []string{"Ready", "TopicsReady", "AccessReady"}},
		{&chv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "payments-ledger"}}, []string{"Ready", "Reachable", "SchemaDiscovered", "SchemaDrift", "PipelineReady"}},
		{&chv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "catalog-skus"}}, []string{"Ready", "Reachable", "SchemaDiscovered", "SchemaDrift", "PipelineReady"}},
		{&chv1.ReconciliationJob{ObjectMeta: metav1.ObjectMeta{Name: "ledger-vs-bank"}}, []string{"Ready", "Running", "Balanced"}},
		{&chv1.ReconciliationJob{ObjectMeta: metav1.ObjectMeta{Name: "sku-sync"}}, []string{"Ready", "Running", "Balanced"}},
		{&chv1.SettlementWindow{ObjectMeta: metav1.ObjectMeta{Name: "payments-daily-close"}}, []string{"Ready", "Open", "Settled"}},
		{&chv1.SettlementWindow{ObjectMeta: metav1.ObjectMeta{Name: "black-friday-clearing"}}, []string{"Ready", "Open", "Settled"}},
	} {
		tc.obj.SetNamespace("samples")
		waitFor(t, tc.obj, func() error {
			if ds, ok := tc.obj.(*chv1.DataSource); ok {
				// The samples' servers do not exist here: probed, unreachable, and Ready
				// says why.
				reach := meta.FindStatusCondition(ds.Status.Conditions, "Reachable")
				if reach == nil || reach.Status != metav1.ConditionFalse {
					return fmt.Errorf("Reachable = %v, want False", reach)
				}
				if err := wantCondition(ds, "Ready", metav1.ConditionFalse, reach.Reason, ds.Namespace+"/"+ds.Name); err != nil {
					return err
				}
			} else if _, ok := tc.obj.(*chv1.ReconciliationJob); ok {
				// ...so the jobs reading them are not Ready either.
				if err := wantCondition(tc.obj, "Ready", metav1.ConditionFalse, chv1.ReasonSourceError, "is not ready"); err != nil {
					return err
				}
			} else if err := wantCondition(tc.obj, "Ready", metav1.ConditionFalse, chv1.ReasonNotImplemented, "not implemented yet"); err != nil {
				return err
			}
			conds, _ := conditionsOf(tc.obj)
			if len(conds) != len(tc.conds) {
				return fmt.Errorf("conditions %v, want exactly %v", conds, tc.conds)
			}
			for _, typ := range tc.conds {
				c := meta.FindStatusCondition(conds, typ)
				if c == nil || c.Reason == "" {
					return fmt.Errorf("condition %s missing or without reason: %v", typ, conds)
				}
			}
			return nil
		})
	}
	// Counts the module controller already knows.
	bm := &chv1.BusinessModule{ObjectMeta: metav1.ObjectMeta{Namespace: "samples", Name: "payments"}}
	waitFor(t, bm, func() error {
		if bm.Status.DataSources != 2 {
			return fmt.Errorf("payments dataSources = %d, want 2", bm.Status.DataSources)
		}
		return nil
	})
}

// TestInvalidSpecsTheSchemaCannotCatch: what only the controller can check is reported
// in Ready with reason InvalidSpec and a message naming the field; fixing it clears it.
func TestInvalidSpecsTheSchemaCannotCatch(t *testing.T) {
	namespace(t, "semantic")
	ctx := context.Background()
	c := env.Client

	ds := &chv1.DataSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: "semantic", Name: "ledger"},
		Spec: chv1.DataSourceSpec{
			Type:       chv1.DataSourceFile,
			File:       &chv1.FileSource{URL: "file:///data/ledger.csv"},
			KeyColumns: []string{"id"},
			TimeZone:   "Europe/Londres",
		},
	}
	if err := c.Create(ctx, ds); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ds, func() error {
		return wantCondition(ds, "Ready", metav1.ConditionFalse, chv1.ReasonInvalidSpec, `spec.timeZone: unknown time zone "Europe/Londres"`)
	})
	ds.Spec.TimeZone = "Europe/London"
	if err := c.Update(ctx, ds); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ds, func() error {
		return wantCondition(ds, "Ready", metav1.ConditionFalse, "NotFound", "/data/ledger.csv")
	})

	// A job naming a DataSource that does not exist yet, with a bad schedule.
	job := &chv1.ReconciliationJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: "semantic", Name: "ledger-vs-bank", Labels: map[string]string{"settle": "eod"}},
		Spec: chv1.ReconciliationJobSpec{
			Source:   chv1.JobSide{DataSource: "ledger"},
			Target:   chv1.JobSide{DataSource: "bank"},
			Keys:     []chv1.KeyMapping{{Source: "id"}},
			Schedule: "61 * * * *",
		},
	}
	if err := c.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	waitFor(t, job, func() error {
		return wantCondition(job, "Ready", metav1.ConditionFalse, chv1.ReasonInvalidSpec,
			`spec.schedule: invalid cron expression "61 * * * *"`)
	})
	waitFor(t, job, func() error {
		return wantCondition(job, "Ready", metav1.ConditionFalse, chv1.ReasonInvalidSpec, `spec.target.dataSource: DataSource "bank" not found`)
	})
	job.Spec.Schedule = "0 18 * * 1-5"
	if err := c.Update(ctx, job); err != nil {
		t.Fatal(err)
	}
	// Creating the missing DataSource wakes the job (watch by index), with no edit to it.
	bank := ds.DeepCopy()
	bank.ObjectMeta = metav1.ObjectMeta{Namespace: "semantic", Name: "bank"}
	bank.Status = chv1.DataSourceStatus{}
	if err := c.Create(ctx, bank); err != nil {
		t.Fatal(err)
	}
	waitFor(t, job, func() error {
		return wantCondition(job, "Ready", metav1.ConditionFalse, chv1.ReasonSourceError, `spec.target: DataSource "bank" is not ready (NotFound`)
	})

	// A window whose order has a cycle and names a job the selector does not match.
	sw := &chv1.SettlementWindow{
		ObjectMeta: metav1.ObjectMeta{Namespace: "semantic", Name: "eod"},
		Spec: chv1.SettlementWindowSpec{
			Strategy: chv1.WindowScheduled,
			Schedule: "0 22 * * *",
			Duration: &metav1.Duration{Duration: 2 * time.Hour},
			Jobs: chv1.WindowJobs{
				Selector: metav1.LabelSelector{MatchLabels: map[string]string{"settle": "eod"}},
				Order:    []chv1.JobDependency{{Job: "ledger-vs-bank", After: []string{"fees"}}},
			},
		},
	}
	if err := c.Create(ctx, sw); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sw, func() error {
		return wantCondition(sw, "Ready", metav1.ConditionFalse, chv1.ReasonInvalidSpec,
			`spec.jobs.order: job "ledger-vs-bank" runs after "fees", which the selector does not match`)
	})
	// Adding the job it waits for fixes the order: the window is re-checked on job changes.
	fees := job.DeepCopy()
	fees.ObjectMeta = metav1.ObjectMeta{Namespace: "semantic", Name: "fees", Labels: map[string]string{"settle": "eod"}}
	fees.Status = chv1.ReconciliationJobStatus{}
	if err := c.Create(ctx, fees); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sw, func() error {
		return wantCondition(sw, "Ready", metav1.ConditionFalse, chv1.ReasonNotImplemented, "")
	})
}

// TestStatusIsWrittenOnlyWhenItChanges: once settled, a reconcile that changes nothing
// (a label edit) writes no status, so resourceVersion moves only with the edit itself.
func TestStatusIsWrittenOnlyWhenItChanges(t *testing.T) {
	namespace(t, "quiet")
	ctx := context.Background()
	ds := &chv1.DataSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: "quiet", Name: "ledger"},
		Spec: chv1.DataSourceSpec{
			Type:       chv1.DataSourceFile,
			File:       &chv1.FileSource{URL: "file:///data/ledger.csv"},
			KeyColumns: []string{"id"},
		},
	}
	if err := env.Client.Create(ctx, ds); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ds, func() error {
		return wantCondition(ds, "Ready", metav1.ConditionFalse, "NotFound", "/data/ledger.csv")
	})
	ds.Labels = map[string]string{"touched": "yes"}
	if err := env.Client.Update(ctx, ds); err != nil {
		t.Fatal(err)
	}
	rv := ds.ResourceVersion
	time.Sleep(2 * time.Second) // let the reconcile triggered by the edit happen
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(ds), ds); err != nil {
		t.Fatal(err)
	}
	if ds.ResourceVersion != rv {
		t.Errorf("resourceVersion moved from %s to %s without a change of status", rv, ds.ResourceVersion)
	}
}
