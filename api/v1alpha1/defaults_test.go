package v1alpha1_test

import (
	"context"
	"slices"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// TestDefaultsAreApplied creates minimal objects and reads back what the API server
// filled in.
func TestDefaultsAreApplied(t *testing.T) {
	createNamespace(t, "defaults")
	ctx := context.Background()
	c := env.Client
	for _, y := range []string{baseDataSource, baseJob, baseWindow, baseModule} {
		obj := parse(t, y)
		obj.SetNamespace("defaults")
		obj.SetName("minimal")
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	key := types.NamespacedName{Namespace: "defaults", Name: "minimal"}

	var ds chv1.DataSource
	if err := c.Get(ctx, key, &ds); err != nil {
		t.Fatal(err)
	}
	check(t, "DataSource timeZone", ds.Spec.TimeZone, "UTC")
	check(t, "DataSource probeInterval", ds.Spec.ProbeInterval.Duration, 5*time.Minute)
	check(t, "DataSource tlsMode", ds.Spec.PostgreSQL.TLSMode, "require")
	check(t, "DataSource connectTimeout", ds.Spec.PostgreSQL.ConnectTimeout.Duration, 10*time.Second)
	check(t, "DataSource secretRef.usernameKey", ds.Spec.PostgreSQL.SecretRef.UsernameKey, "username")
	check(t, "DataSource secretRef.passwordKey", ds.Spec.PostgreSQL.SecretRef.PasswordKey, "password")
	check(t, "DataSource columns[0].type", ds.Spec.Columns[0].Type, chv1.ColumnString)

	var job chv1.ReconciliationJob
	if err := c.Get(ctx, key, &job); err != nil {
		t.Fatal(err)
	}
	check(t, "job mode", job.Spec.Mode, chv1.ModeBatch)
	check(t, "job strategy", job.Spec.Strategy, chv1.StrategyAuto)
	check(t, "job concurrencyPolicy", job.Spec.ConcurrencyPolicy, chv1.ConcurrencyForbid)
	check(t, "job historyLimit", job.Spec.HistoryLimit, int32(10))
	check(t, "job keys[0].type", job.Spec.Keys[0].Type, chv1.ColumnString)
	check(t, "job limits.maxDiscrepancies", job.Spec.Limits.MaxDiscrepancies, int64(100000))
	check(t, "job limits.timeout", job.Spec.Limits.Timeout.Duration, time.Hour)
	check(t, "job limits.memory", job.Spec.Limits.Memory.Cmp(resource.MustParse("256Mi")), 0)
	check(t, "job execution.executor", job.Spec.Execution.Executor, chv1.ExecutorInline)
	check(t, "job execution.parallelism", job.Spec.Execution.Parallelism, int32(1))
	check(t, "job execution.ttlSecondsAfterFinished", *job.Spec.Execution.TTLSecondsAfterFinished, int32(3600))
	check(t, "job execution.backoffLimitPerIndex", *job.Spec.Execution.BackoffLimitPerIndex, int32(2))

	var sw chv1.SettlementWindow
	if err := c.Get(ctx, key, &sw); err != nil {
		t.Fatal(err)
	}
	check(t, "window timeZone", sw.Spec.TimeZone, "UTC")
	check(t, "window gracePeriod unset", sw.Spec.GracePeriod == nil, true)
	check(t, "window grace", sw.Spec.Grace(), 15*time.Minute)
	check(t, "window carryForward.enabled", sw.Spec.CarryForward.Enabled != nil && *sw.Spec.CarryForward.Enabled, true)
	check(t, "window carryForward.escalateAfter", sw.Spec.CarryForward.EscalateAfter.Duration, 72*time.Hour)
	check(t, "window historyLimit", sw.Spec.HistoryLimit, int32(10))

	var bm chv1.BusinessModule
	if err := c.Get(ctx, key, &bm); err != nil {
		t.Fatal(err)
	}
	check(t, "stream partitions", bm.Spec.Streams[0].Partitions, int32(3))
	check(t, "stream replicas", bm.Spec.Streams[0].Replicas, int32(3))
	check(t, "stream retention", bm.Spec.Streams[0].Retention.Duration, 168*time.Hour)

	// Lead times by strategy are defaulted in code (a marker cannot depend on strategy).
	for s, want := range map[chv1.WindowStrategy]time.Duration{chv1.WindowDaily: 24 * time.Hour, chv1.WindowLimited: 5 * time.Hour, chv1.WindowEmergency: 12 * time.Hour, chv1.WindowScheduled: 0} {
		check(t, "DefaultLeadTime("+string(s)+")", chv1.DefaultLeadTime(s), want)
	}
}

func check[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// TestServedCRDs checks what `kubectl get` shows: printer columns, short names and the
// clearhouse category, as the API server serves them.
func TestServedCRDs(t *testing.T) {
	want := map[string]struct {
		short   string
		columns []string
	}{
		"businessmodules":    {"bm", []string{"Ready", "Sources", "Jobs", "Open Cases", "Reason", "Age"}},
		"datasources":        {"ds", []string{"Type", "Ready", "Reachable", "Drift", "Rows", "Reason", "Age"}},
		"reconciliationjobs": {"rj", []string{"Source", "Target", "Last Run", "Result", "Discrepancies", "Ready", "Schedule", "Open Cases", "Age"}},
		"settlementwindows":  {"sw", []string{"Strategy", "State", "Window Start", "Window End", "Ready", "Age"}},
	}
	for plural, w := range want {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := env.Client.Get(context.Background(), types.NamespacedName{Name: plural + ".clearhouse.dev"}, &crd); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(crd.Spec.Names.ShortNames, []string{w.short}) {
			t.Errorf("%s short names = %v, want [%s]", plural, crd.Spec.Names.ShortNames, w.short)
		}
		if !slices.Equal(crd.Spec.Names.Categories, []string{"clearhouse"}) {
			t.Errorf("%s categories = %v, want [clearhouse]", plural, crd.Spec.Names.Categories)
		}
		if crd.Spec.Scope != apiextensionsv1.NamespaceScoped {
			t.Errorf("%s scope = %s", plural, crd.Spec.Scope)
		}
		var cols []string
		for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
			cols = append(cols, c.Name)
		}
		if !slices.Equal(cols, w.columns) {
			t.Errorf("%s printer columns = %v, want %v", plural, cols, w.columns)
		}
		if crd.Spec.Versions[0].Subresources == nil || crd.Spec.Versions[0].Subresources.Status == nil {
			t.Errorf("%s has no status subresource", plural)
		}
	}
}
