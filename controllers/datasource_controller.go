package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/connect"
	"github.com/clearhouse-dev/clearhouse/internal/probe"
)

// dataSourceSecretIndex indexes DataSources by the names of the Secrets they reference
// (credentials, CA certificates).
const dataSourceSecretIndex = "spec.secretRef.name"

// DataSourceReconciler probes DataSources, records their schema and drift, and applies
// their capture pipelines.
//
// Secrets: the controller watches Secrets' metadata only (a metadata informer: names
// and resourceVersions, never the data, so the operator holds no copy of every
// Secret's contents) and maps a change through a field index of DataSources by secret
// name to the DataSources that use it. The credentials themselves are read with an
// uncached GET at probe time (APIReader), which keeps Secrets out of the manager's
// object cache.
type DataSourceReconciler struct {
	client.Client
	// APIReader reads Secrets without a cache.
	APIReader client.Reader
	// Recorder records drift and reachability events.
	Recorder events.EventRecorder
	// Clock decides when probes are due.
	Clock clock.PassiveClock

	// CleanupRetry bounds the cleanup of a PostgreSQL capture's replication slot and
	// publication (zero: the defaults, about 15 minutes).
	CleanupRetry CleanupRetry

	mu       sync.Mutex
	memo     map[types.NamespacedName]*probeMemo
	cleanups map[types.NamespacedName]*cleanupAttempts
}

// +kubebuilder:rbac:groups=clearhouse.dev,resources=datasources,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=clearhouse.dev,resources=datasources/status,verbs=get;update;patch
// (finalizers: its capture finalizer, and Strimzi objects' owner references block its deletion.)
// +kubebuilder:rbac:groups=clearhouse.dev,resources=datasources/finalizers,verbs=update
// +kubebuilder:rbac:groups=clearhouse.dev,resources=businessmodules,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=kafka.strimzi.io,resources=kafkaconnectors;kafkatopics,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile probes a DataSource when a probe is due, applies its pipeline, records
// events for what changed and patches the status once.
func (r *DataSourceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var ds chv1.DataSource
	if err := r.Get(ctx, req.NamespacedName, &ds); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
			r.forgetCleanup(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ds.DeletionTimestamp.IsZero() {
		// Being deleted: the garbage collector removes the pipeline objects it owns.
		// Applying them again would recreate what it just deleted, and a foreground
		// deletion (kubectl --cascade=foreground, Argo CD) waits for them: a fight.
		// A PostgreSQL capture's connector is deleted here instead (the collector
		// waits for the finalizer), then its slot and publication are dropped.
		r.forget(req.NamespacedName)
		if controllerutil.ContainsFinalizer(&ds, CaptureCleanupFinalizer) {
			return r.cleanupCapture(ctx, &ds)
		}
		return ctrl.Result{}, nil
	}
	if conflict, err := r.ensureCaptureFinalizer(ctx, &ds); err != nil || conflict {
		return ctrl.Result{RequeueAfter: time.Second}, err
	}
	before := ds.DeepCopy()
	now := r.Clock.Now()

	var obs *probeObservation
	memo := r.recall(req.NamespacedName)
	if memo != nil && memo.uid != ds.UID {
		// Deleted and created again under the same name before we saw the deletion:
		// the old object's probe is not this one's.
		memo = nil
	}
	secretVersion, err := r.secretVersion(ctx, &ds)
	if err != nil {
		return ctrl.Result{}, err
	}
	if len(validateDataSource(&ds)) == 0 && probeDue(memo, ds.Generation, secretVersion, now) {
		res, err := probe.Run(ctx, &ds, connect.FromCluster(r.APIReader, ds.Namespace))
		obs = &probeObservation{Result: res, Err: err, At: metav1.NewTime(now.Truncate(time.Second))}
		m := &probeMemo{uid: ds.UID, generation: ds.Generation, secretVersion: secretVersion}
		if err != nil {
			if memo != nil && memo.generation == ds.Generation {
				m.failures = memo.failures
			}
			m.failures++
			log.FromContext(ctx).Info("probe failed", "reason", reasonOf(err), "error", err.Error(), "failures", m.failures)
		}
		m.next = now.Add(nextProbeIn(m.failures, probeInterval(&ds)))
		memo = m
	}

	pipe := r.reconcilePipeline(ctx, &ds)
	ds.Status = dataSourceStatus(&ds, obs, pipe)
	// The status is computed from the cached DataSource, which may lag behind our own
	// last patch (a KafkaConnector we applied wakes us before the cache has the status
	// we wrote). A merge patch from a stale copy would replace the conditions with stale
	// ones ("not probed yet" for an hour): patch only the version we read, and remember
	// the probe and record events only once its status is written.
	conflict, err := patchDataSourceStatus(ctx, r.Client, before, &ds)
	switch {
	case err != nil:
		return ctrl.Result{}, err
	case conflict:
		// The newer version is on its way to the cache and will be reconciled again;
		// a probe made here is made again then.
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	if obs != nil {
		r.remember(req.NamespacedName, memo)
	}
	for _, e := range dataSourceEvents(before.Status.Conditions, ds.Status.Conditions) {
		r.Recorder.Eventf(&ds, nil, e.Type, e.Reason, e.Action, "%s", eventNote(e.Note))
	}
	var next ctrl.Result
	if memo != nil {
		next.RequeueAfter = max(memo.next.Sub(now), time.Second)
	} // else an invalid spec: nothing to probe until it changes
	if !needsCaptureCleanup(&ds) && controllerutil.ContainsFinalizer(&ds, CaptureCleanupFinalizer) {
		// Capture was removed: reconcilePipeline pruned its objects; drop what
		// Debezium left in the database.
		res, err := r.cleanupCapture(ctx, &ds)
		if err != nil {
			return res, err
		}
		if res.RequeueAfter > 0 && (next.RequeueAfter == 0 || res.RequeueAfter < next.RequeueAfter) {
			next.RequeueAfter = res.RequeueAfter
		}
	}
	return next, nil
}

// patchDataSourceStatus writes ds's status when it changed, with an optimistic lock on
// the resourceVersion before was read at; conflict reports that a newer version exists.
func patchDataSourceStatus(ctx context.Context, c client.Client, before, ds *chv1.DataSource) (conflict bool, err error) {
	if equality.Semantic.DeepEqual(before.Status, ds.Status) {
		return false, nil
	}
	err = c.Status().Patch(ctx, ds, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	switch {
	case apierrors.IsConflict(err):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("patch status of DataSource %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	return false, nil
}

// reasonOf is the probe's failure reason, for logs.
func reasonOf(err error) string {
	var pe *probe.Error
	if errors.As(err, &pe) {
		return pe.Reason
	}
	return "Unknown"
}

// secretVersion is the resourceVersion of the Secrets ds references, from the metadata
// cache (empty for one there is none of or that does not exist): a new version means
// new credentials or CA certificates, so a probe is due.
func (r *DataSourceReconciler) secretVersion(ctx context.Context, ds *chv1.DataSource) (string, error) {
	var versions []string
	for _, name := range connect.SecretNames(ds) {
		var m metav1.PartialObjectMetadata
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		if err := r.Get(ctx, types.NamespacedName{Namespace: ds.Namespace, Name: name}, &m); err != nil {
			if !apierrors.IsNotFound(err) {
				return "", err
			}
		}
		versions = append(versions, m.ResourceVersion)
	}
	return strings.Join(versions, "/"), nil
}

func (r *DataSourceReconciler) recall(key types.NamespacedName) *probeMemo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.memo[key]
}

func (r *DataSourceReconciler) remember(key types.NamespacedName, m *probeMemo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.memo == nil {
		r.memo = map[types.NamespacedName]*probeMemo{}
	}
	r.memo[key] = m
}

func (r *DataSourceReconciler) forget(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.memo, key)
}

// dataSourcesUsingSecret maps a Secret to the DataSources that reference it.
func (r *DataSourceReconciler) dataSourcesUsingSecret(ctx context.Context, o client.Object) []reconcile.Request {
	var list chv1.DataSourceList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{dataSourceSecretIndex: o.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "list DataSources using a Secret", "secret", o.GetName())
		return nil
	}
	reqs := make([]reconcile.Request, len(list.Items))
	for i := range list.Items {
		reqs[i] = reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])}
	}
	return reqs
}

// CacheByObject is the manager's per-kind cache configuration the reconcilers need:
// Secrets are cached as metadata only (the DataSource controller's watch), and even
// metadata can carry a Secret's data (kubectl apply's last-applied-configuration
// annotation), so their annotations and managed fields are dropped before caching.
// Credentials are always read with an uncached GET.
func CacheByObject() map[client.Object]cache.ByObject {
	return map[client.Object]cache.ByObject{&corev1.Secret{}: {Transform: stripSecretMetadata}}
}

// stripSecretMetadata keeps a cached Secret's name, namespace, labels and versions.
func stripSecretMetadata(o any) (any, error) {
	if m, ok := o.(metav1.Object); ok {
		m.SetAnnotations(nil)
		m.SetManagedFields(nil)
	}
	if s, ok := o.(*corev1.Secret); ok {
		s.Data, s.StringData = nil, nil
	}
	return o, nil
}

// capturesInModule maps a BusinessModule to its DataSources that capture changes
// (through the BusinessModule controller's index of DataSources by module).
func (r *DataSourceReconciler) capturesInModule(ctx context.Context, o client.Object) []reconcile.Request {
	var list chv1.DataSourceList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{dataSourceModuleIndex: o.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "list DataSources of a module", "module", o.GetName())
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if list.Items[i].Spec.Capture != nil {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}

// SetupWithManager registers the reconciler, its Secret index and watches.
func (r *DataSourceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("clearhouse-datasource")
	}
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &chv1.DataSource{}, dataSourceSecretIndex,
		func(o client.Object) []string { return connect.SecretNames(o.(*chv1.DataSource)) }); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).For(&chv1.DataSource{}).Named("datasource").
		// Probes wait on the network: a slow source must not hold up the others.
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.dataSourcesUsingSecret)).
		// A module's Kafka cluster decides which KafkaTopics a capture renders.
		Watches(&chv1.BusinessModule{}, handler.EnqueueRequestsFromMapFunc(r.capturesInModule),
			builder.WithPredicates(predicate.GenerationChangedPredicate{}))
	// Watch the pipeline objects only when Strimzi is installed: a watch on a kind the
	// API server does not serve would keep the controller from starting.
	for _, gvk := range pipelineKinds() {
		if _, err := mgr.GetRESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err == nil {
			b = b.Owns(pipelineObject(gvk), builder.OnlyMetadata)
		}
	}
	return b.Complete(r)
}
