package rbac_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/controllers"
	"github.com/clearhouse-dev/clearhouse/internal/capture"
	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/kubejob"
	"github.com/clearhouse-dev/clearhouse/internal/kubejob/kubejobtest"
	"github.com/clearhouse-dev/clearhouse/internal/pipeline"
	"github.com/clearhouse-dev/clearhouse/internal/runner/runnertest"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
	"github.com/clearhouse-dev/clearhouse/internal/trigger"
)

// condition checks that conds hold typ with status for generation gen.
func condition(conds []metav1.Condition, gen int64, typ string, status metav1.ConditionStatus) error {
	c := meta.FindStatusCondition(conds, typ)
	switch {
	case c == nil:
		return fmt.Errorf("no %s condition in %v", typ, conds)
	case c.Status != status:
		return fmt.Errorf("%s = %s (%s: %s), want %s", typ, c.Status, c.Reason, c.Message, status)
	case c.ObservedGeneration != gen:
		return fmt.Errorf("%s observedGeneration %d, want %d", typ, c.ObservedGeneration, gen)
	}
	return nil
}

// waitCondition waits until obj's condition typ has status.
func waitCondition(t *testing.T, obj client.Object, conds func() []metav1.Condition, typ string, status metav1.ConditionStatus) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s %s: %s=%s", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), typ, status), func() error {
		if err := get(obj); err != nil {
			return err
		}
		return condition(conds(), obj.GetGeneration(), typ, status)
	})
}

// waitEvents waits until the events regarding the object kind/name in ns, as
// "Reason: note", include one starting with each of want.
func waitEvents(t *testing.T, ns, kind, name string, want ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("events of %s %s", kind, name), func() error {
		var list eventsv1.EventList
		if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return err
		}
		var got []string
		for _, e := range list.Items {
			if e.Regarding.Kind == kind && e.Regarding.Name == name {
				got = append(got, e.Reason+": "+e.Note)
			}
		}
		for _, w := range want {
			if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w) }) {
				return fmt.Errorf("no event %q in %q", w, got)
			}
		}
		return nil
	})
}

// job reads a ReconciliationJob afresh.
func job(t *testing.T, j *chv1.ReconciliationJob) *chv1.ReconciliationJob {
	t.Helper()
	out := j.DeepCopy()
	if err := get(out); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitRun waits until the job's last run is id with a result other than Running
// (wantRunning: with Running) and returns the job.
func waitRun(t *testing.T, j *chv1.ReconciliationJob, id string, wantRunning bool) *chv1.ReconciliationJob {
	t.Helper()
	var cur *chv1.ReconciliationJob
	eventually(t, "run "+id, func() error {
		cur = job(t, j)
		l := cur.Status.LastRun
		switch {
		case l == nil || l.ID != id:
			return fmt.Errorf("lastRun %+v, want %s; conditions %v", l, id, cur.Status.Conditions)
		case wantRunning != (l.Result == chv1.RunRunning):
			return fmt.Errorf("run %s is %s", id, l.Result)
		case !wantRunning && l.Alert == "":
			return fmt.Errorf("run %s ended, its end not reported yet", id)
		}
		return nil
	})
	return cur
}

// TestInlineRunOfFileSources: under its own role the manager probes two CSV
// DataSources Ready, counts them in their BusinessModule's status, lists the job in
// its SettlementWindow's status, runs the job inline on a new runNonce to its end
// with status, events and a webhook alert whose URL it reads from a Secret.
func TestInlineRunOfFileSources(t *testing.T) {
	ns := "files"
	namespace(t, ns)
	var hooks atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		hooks.Add(1)
	}))
	defer hook.Close()

	cfg := gen.DefaultConfig(t.TempDir())
	cfg.Rows = 200
	p := runnertest.Generate(t, cfg, ns, mgr.Store)
	bm := &chv1.BusinessModule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "payments"},
		Spec: chv1.BusinessModuleSpec{Owners: []chv1.Owner{{Name: "payments-team"}}}}
	p.Source.Spec.Module, p.Target.Spec.Module = bm.Name, bm.Name
	p.Job.Labels = map[string]string{"clearhouse.dev/settlement": "daily"}
	p.Job.Spec.Alerts = &chv1.Alerts{Channels: []chv1.AlertChannel{
		{Name: "ops", Webhook: &chv1.WebhookChannel{URLSecretRef: chv1.SecretKeyRef{Name: "hooks", Key: "ops"}}},
	}}
	p.Job.Spec.RunNonce = "a"
	sw := &chv1.SettlementWindow{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "daily-close"},
		Spec: chv1.SettlementWindowSpec{Strategy: chv1.WindowScheduled, Schedule: "0 22 * * 1-5", TimeZone: "Europe/London",
			Duration: &metav1.Duration{Duration: 2 * time.Hour},
			Jobs:     chv1.WindowJobs{Selector: metav1.LabelSelector{MatchLabels: p.Job.Labels}}}}
	create(t, bm, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hooks"},
		StringData: map[string]string{"ops": hook.URL + "/hook"}}, p.Source, p.Target, p.Job, sw)

	for _, ds := range []*chv1.DataSource{p.Source, p.Target} {
		waitCondition(t, ds, func() []metav1.Condition { return ds.Status.Conditions }, chv1.ConditionReady, metav1.ConditionTrue)
	}
	id := trigger.RunID(string(job(t, p.Job).UID), trigger.Trigger{Kind: trigger.Nonce, Nonce: "a"})
	done := waitRun(t, p.Job, id, false)
	if l := done.Status.LastRun; l.Result != chv1.RunDiscrepant || l.Counts.Compared != p.Expected.Summary.Compared || l.Alert != chv1.AlertSent {
		t.Errorf("lastRun %+v, want Discrepant, %d compared, alert sent", l, p.Expected.Summary.Compared)
	}
	if hooks.Load() == 0 {
		t.Error("the webhook was not called")
	}
	waitEvents(t, ns, "ReconciliationJob", p.Job.Name, "RunStarted: run "+id, "RunFinished: run "+id, "AlertSent: alert of run "+id)

	eventually(t, "BusinessModule status", func() error {
		if err := get(bm); err != nil {
			return err
		}
		if bm.Status.DataSources != 2 {
			return fmt.Errorf("dataSources %d, want 2", bm.Status.DataSources)
		}
		return condition(bm.Status.Conditions, bm.Generation, chv1.ConditionReady, metav1.ConditionFalse) // rendering topics is not implemented
	})
	eventually(t, "SettlementWindow status", func() error {
		if err := get(sw); err != nil {
			return err
		}
		if sw.Status.ObservedGeneration != sw.Generation {
			return fmt.Errorf("observedGeneration %d, want %d", sw.Status.ObservedGeneration, sw.Generation)
		}
		return condition(sw.Status.Conditions, sw.Generation, chv1.WindowOpen, metav1.ConditionFalse)
	})
	noneRefused(t)
}

// TestKubernetesRun: under its own role the manager reads the workers' store Secret,
// creates a run's worker Job (owned by the job, blocking its deletion), deletes it when a new trigger replaces
// the run, and, when a worker Job fails, lists its pods to say why.
func TestKubernetesRun(t *testing.T) {
	ns := "kube"
	namespace(t, ns)
	cfg := gen.DefaultConfig(t.TempDir())
	cfg.Rows = 200
	p := runnertest.Generate(t, cfg, ns, mgr.Store)
	p.Job.Spec.ConcurrencyPolicy = chv1.ConcurrencyReplace
	p.Job.Spec.Execution = chv1.Execution{Executor: chv1.ExecutorKubernetes, Parallelism: 2}
	p.Job.Spec.RunNonce = "k1"
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "results-store"},
		StringData: map[string]string{"uri": "postgres://clearhouse:pw@results.clearhouse-system/results"}},
		p.Source, p.Target, p.Job)
	uid := string(job(t, p.Job).UID)

	first := trigger.RunID(uid, trigger.Trigger{Kind: trigger.Nonce, Nonce: "k1"})
	waitRun(t, p.Job, first, true)
	old := workerJob(t, ns, first)
	if refs := old.OwnerReferences; len(refs) != 1 || refs[0].UID != types.UID(uid) || !ptr.Deref(refs[0].BlockOwnerDeletion, false) {
		t.Errorf("worker Job owner references %+v, want the job's, blocking its deletion", refs)
	}

	// A new trigger replaces the run: its worker Job is deleted.
	eventually(t, "set runNonce k2", func() error {
		cur := job(t, p.Job)
		cur.Spec.RunNonce = "k2"
		return env.Client.Update(context.Background(), cur)
	})
	second := trigger.RunID(uid, trigger.Trigger{Kind: trigger.Nonce, Nonce: "k2"})
	waitRun(t, p.Job, second, true)
	eventually(t, "the replaced run's worker Job is deleted", func() error {
		err := get(old.DeepCopy())
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (%v)", err)
	})

	// The Job controller and the kubelet: a pod of index 1 failed, then the Job.
	bj := workerJob(t, ns, second)
	pod := failedPod(t, bj, 1, "clearhouse: run "+second+" partition 1: no such file")
	eventually(t, "fail the worker Job", func() error {
		cur := bj.DeepCopy()
		if err := get(cur); err != nil {
			return err
		}
		now := metav1.Now()
		cur.Status.StartTime = &now
		cur.Status.Ready, cur.Status.Terminating = ptr.To[int32](0), ptr.To[int32](0)
		cur.Status.Failed, cur.Status.FailedIndexes = 3, ptr.To("1")
		cur.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonFailedIndexes, Message: "Job has failed indexes", LastTransitionTime: now, LastProbeTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonFailedIndexes, Message: "Job has failed indexes", LastTransitionTime: now, LastProbeTime: now},
		}
		return env.Client.Status().Update(context.Background(), cur)
	})
	done := waitRun(t, p.Job, second, false)
	if l := done.Status.LastRun; l.Result != chv1.RunFailed || !strings.Contains(l.Message, "pod "+pod.Name+": Error (exit code 2)") {
		t.Errorf("lastRun %+v, want Failed saying why pod %s failed (the manager lists the pods)", l, pod.Name)
	}
	waitEvents(t, ns, "ReconciliationJob", p.Job.Name, "RunStarted: run "+second, "RunFailed: run "+second)
	noneRefused(t)
}

// workerJob waits for the worker Job of run id.
func workerJob(t *testing.T, ns, id string) *batchv1.Job {
	t.Helper()
	bj := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: kubejob.Name(id)}}
	eventually(t, "worker Job of "+id, func() error { return get(bj) })
	return bj
}

// failedPod creates the pod of index of bj as the Job controller would and fails it
// as the kubelet would, its termination message last.
func failedPod(t *testing.T, bj *batchv1.Job, index int, last string) *corev1.Pod {
	t.Helper()
	pod, status := kubejobtest.FailedPod(bj, index, last)
	create(t, pod)
	pod.Status = status
	if err := env.Client.Status().Update(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	return pod
}

// TestPostgresCapture: under its own role the manager probes a PostgreSQL DataSource
// with credentials from a Secret, probes again when the Secret changes (its watch of
// Secrets), adds its capture finalizer, applies the Debezium KafkaConnector and the
// KafkaTopics (controlled by the DataSource, blocking its deletion), and on deletion
// deletes the connector, drops the replication slot and publication, records it and
// removes its finalizer.
func TestPostgresCapture(t *testing.T) {
	ctx := context.Background()
	ns := "cdc"
	namespace(t, ns)
	db := testdb.NewPostgres(t)
	db.Exec(t, "CREATE TABLE entries (id INT PRIMARY KEY, amount DECIMAL(10,2))")
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
		Data: map[string][]byte{"username": []byte(db.Server.User), "password": []byte(db.Server.Password)}}
	bm := &chv1.BusinessModule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "payments"},
		Spec: chv1.BusinessModuleSpec{Owners: []chv1.Owner{{Name: "payments-team"}}, KafkaCluster: &chv1.KafkaClusterRef{Name: "events"}}}
	ds := &chv1.DataSource{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ledger"},
		Spec: chv1.DataSourceSpec{Type: chv1.DataSourcePostgreSQL, KeyColumns: []string{"id"}, Module: bm.Name,
			ProbeInterval: &metav1.Duration{Duration: time.Hour},
			PostgreSQL: &chv1.SQLSource{Host: db.Server.Host, Port: int32(db.Server.Port), Database: db.Name, Table: "entries",
				SecretRef: chv1.CredentialsSecretRef{Name: secret.Name}, TLSMode: "disable"},
			Capture: &chv1.CaptureSpec{KafkaConnect: "connect", TopicPrefix: "ledger"}}}
	create(t, secret, bm, ds)
	conds := func() []metav1.Condition { return ds.Status.Conditions }
	waitCondition(t, ds, conds, "Reachable", metav1.ConditionTrue)
	eventually(t, "capture finalizer", func() error {
		if err := get(ds); err != nil {
			return err
		}
		if !slices.Contains(ds.Finalizers, controllers.CaptureCleanupFinalizer) {
			return fmt.Errorf("finalizers %v", ds.Finalizers)
		}
		return nil
	})
	want, err := pipeline.Render(ds, pipeline.Options{KafkaCluster: "events"})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 2 {
		t.Fatalf("rendered %d objects, want a KafkaConnector and KafkaTopics", len(want))
	}
	for _, o := range want {
		cur := &unstructured.Unstructured{}
		cur.SetGroupVersionKind(o.GroupVersionKind())
		cur.SetNamespace(o.GetNamespace())
		cur.SetName(o.GetName())
		eventually(t, o.GetKind()+" "+o.GetName(), func() error { return get(cur) })
		if refs := cur.GetOwnerReferences(); len(refs) != 1 || refs[0].UID != ds.UID || !ptr.Deref(refs[0].BlockOwnerDeletion, false) {
			t.Errorf("%s %s: owner references %+v, want the DataSource's, blocking its deletion", o.GetKind(), o.GetName(), refs)
		}
	}
	waitCondition(t, ds, conds, "PipelineReady", metav1.ConditionFalse) // Strimzi says nothing here

	// New credentials, wrong ones: the Secret's watch brings a probe long before the
	// hour is up. Then the right ones again.
	for _, c := range []struct {
		password string
		want     metav1.ConditionStatus
	}{{"wrong", metav1.ConditionFalse}, {db.Server.Password, metav1.ConditionTrue}} {
		eventually(t, "update the Secret", func() error {
			cur := secret.DeepCopy()
			if err := get(cur); err != nil {
				return err
			}
			cur.Data["password"] = []byte(c.password)
			return env.Client.Update(ctx, cur)
		})
		waitCondition(t, ds, conds, "Reachable", c.want)
		waitEvents(t, ns, "DataSource", ds.Name, meta.FindStatusCondition(ds.Status.Conditions, "Reachable").Reason)
	}

	// What Debezium leaves in the database, which deleting the DataSource drops.
	slot, pub := pipeline.SlotName(ds), pipeline.PublicationName(ds)
	db.Exec(t, "SELECT pg_create_logical_replication_slot('"+slot+"', 'pgoutput')", "CREATE PUBLICATION "+pub+" FOR TABLE entries")
	t.Cleanup(func() {
		db.Exec(t, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '"+slot+"'")
	})
	if err := env.Client.Delete(ctx, ds); err != nil {
		t.Fatal(err)
	}
	eventually(t, "DataSource deleted", func() error {
		err := get(ds.DeepCopy())
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (%v); finalizers %v", err, ds.Finalizers)
	})
	for _, o := range want {
		if o.GroupVersionKind() != pipeline.KafkaConnectorGVK {
			continue // the KafkaTopics go with the garbage collector, which envtest has not
		}
		cur := &unstructured.Unstructured{}
		cur.SetGroupVersionKind(o.GroupVersionKind())
		cur.SetNamespace(o.GetNamespace())
		cur.SetName(o.GetName())
		if err := get(cur); !apierrors.IsNotFound(err) {
			t.Errorf("KafkaConnector %s: %v, want deleted", o.GetName(), err)
		}
	}
	hasSlot, hasPub, err := capture.Find(ctx, db.Config(), slot, pub)
	if err != nil || hasSlot || hasPub {
		t.Errorf("after deletion: slot %v, publication %v (%v), want both dropped", hasSlot, hasPub, err)
	}
	waitEvents(t, ns, "DataSource", ds.Name, controllers.ReasonCaptureCleanedUp)
	noneRefused(t)
}

// TestLeaderElection: the manager holds its lease in its namespace and records that
// it became leader there.
func TestLeaderElection(t *testing.T) {
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: system, Name: "clearhouse.clearhouse.dev"}}
	eventually(t, "lease", func() error {
		if err := get(lease); err != nil {
			return err
		}
		if h := ptr.Deref(lease.Spec.HolderIdentity, ""); h == "" {
			return fmt.Errorf("no holder")
		}
		return nil
	})
	waitEvents(t, system, "Lease", lease.Name, "LeaderElection: ")
	noneRefused(t)
}

// TestSecureMetrics: a scraper whose ServiceAccount is bound to the metrics-reader
// ClusterRole reads /metrics; the manager reviews its token and its access under the
// metrics-auth ClusterRole. One without the binding is refused.
func TestSecureMetrics(t *testing.T) {
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	token := func(name string) string {
		t.Helper()
		create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: system, Name: name}})
		tr, err := cs.CoreV1().ServiceAccounts(system).CreateToken(ctx, name,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	prometheus, stranger := token("prometheus"), token("stranger")
	create(t, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "prometheus-metrics-reader"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "metrics-reader"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: system, Name: "prometheus"}}})
	hc := &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the manager's self-signed certificate
	scrape := func(token string) (int, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+metricsAddr+"/metrics", nil)
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	eventually(t, "scrape as prometheus", func() error {
		code, body, err := scrape(prometheus)
		switch {
		case err != nil:
			return err
		case code != http.StatusOK:
			return fmt.Errorf("%d %s", code, body)
		case !strings.Contains(body, "clearhouse_"):
			return fmt.Errorf("no clearhouse_ metrics")
		}
		return nil
	})
	if code, body, err := scrape(stranger); err != nil || code != http.StatusForbidden {
		t.Errorf("scrape without the metrics-reader binding: %d %s (%v), want 403", code, body, err)
	}
	noneRefused(t)
}

// TestPostgresCaptureRemoved: when a DataSource's capture is removed, the manager
// deletes the KafkaConnector and KafkaTopics it applied, drops the slot and publication
// and removes its finalizer, under its own role.
func TestPostgresCaptureRemoved(t *testing.T) {
	ctx := context.Background()
	ns := "cdc-removed"
	namespace(t, ns)
	db := testdb.NewPostgres(t)
	db.Exec(t, "CREATE TABLE entries (id INT PRIMARY KEY, amount DECIMAL(10,2))")
	bm := &chv1.BusinessModule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "payments"},
		Spec: chv1.BusinessModuleSpec{Owners: []chv1.Owner{{Name: "payments-team"}}, KafkaCluster: &chv1.KafkaClusterRef{Name: "events"}}}
	ds := &chv1.DataSource{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "orders"},
		Spec: chv1.DataSourceSpec{Type: chv1.DataSourcePostgreSQL, KeyColumns: []string{"id"}, Module: bm.Name,
			ProbeInterval: &metav1.Duration{Duration: time.Hour},
			PostgreSQL: &chv1.SQLSource{Host: db.Server.Host, Port: int32(db.Server.Port), Database: db.Name, Table: "entries",
				SecretRef: chv1.CredentialsSecretRef{Name: "db"}, TLSMode: "disable"},
			Capture: &chv1.CaptureSpec{KafkaConnect: "connect", TopicPrefix: "orders"}}}
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
		Data: map[string][]byte{"username": []byte(db.Server.User), "password": []byte(db.Server.Password)}}, bm, ds)
	want, err := pipeline.Render(ds, pipeline.Options{KafkaCluster: "events"})
	if err != nil {
		t.Fatal(err)
	}
	objects := func() []*unstructured.Unstructured {
		var out []*unstructured.Unstructured
		for _, o := range want {
			cur := &unstructured.Unstructured{}
			cur.SetGroupVersionKind(o.GroupVersionKind())
			cur.SetNamespace(o.GetNamespace())
			cur.SetName(o.GetName())
			out = append(out, cur)
		}
		return out
	}
	eventually(t, "capture applied", func() error {
		if err := get(ds); err != nil {
			return err
		}
		if !slices.Contains(ds.Finalizers, controllers.CaptureCleanupFinalizer) {
			return fmt.Errorf("finalizers %v", ds.Finalizers)
		}
		for _, o := range objects() {
			if err := get(o); err != nil {
				return err
			}
		}
		return nil
	})
	slot, pub := pipeline.SlotName(ds), pipeline.PublicationName(ds)
	db.Exec(t, "SELECT pg_create_logical_replication_slot('"+slot+"', 'pgoutput')", "CREATE PUBLICATION "+pub+" FOR TABLE entries")
	t.Cleanup(func() {
		db.Exec(t, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '"+slot+"'")
	})

	eventually(t, "remove capture", func() error {
		cur := ds.DeepCopy()
		if err := get(cur); err != nil {
			return err
		}
		cur.Spec.Capture = nil
		return env.Client.Update(ctx, cur)
	})
	eventually(t, "capture removed", func() error {
		if err := get(ds); err != nil {
			return err
		}
		if slices.Contains(ds.Finalizers, controllers.CaptureCleanupFinalizer) {
			return fmt.Errorf("finalizers %v", ds.Finalizers)
		}
		if err := condition(ds.Status.Conditions, ds.Generation, "PipelineReady", metav1.ConditionFalse); err != nil {
			return err
		}
		for _, o := range objects() {
			if err := get(o); !apierrors.IsNotFound(err) {
				return fmt.Errorf("%s %s: %v, want deleted", o.GetKind(), o.GetName(), err)
			}
		}
		return nil
	})
	if c := meta.FindStatusCondition(ds.Status.Conditions, "PipelineReady"); c.Reason != chv1.ReasonCaptureNotRequested {
		t.Errorf("PipelineReady reason %s, want %s", c.Reason, chv1.ReasonCaptureNotRequested)
	}
	hasSlot, hasPub, err := capture.Find(ctx, db.Config(), slot, pub)
	if err != nil || hasSlot || hasPub {
		t.Errorf("after removal: slot %v, publication %v (%v), want both dropped", hasSlot, hasPub, err)
	}
	waitEvents(t, ns, "DataSource", ds.Name, controllers.ReasonCaptureCleanedUp)
	noneRefused(t)
}
