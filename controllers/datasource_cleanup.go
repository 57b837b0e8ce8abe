package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/capture"
	"github.com/clearhouse-dev/clearhouse/internal/connect"
	"github.com/clearhouse-dev/clearhouse/internal/pipeline"
)

// CaptureCleanupFinalizer is on every PostgreSQL DataSource with spec.capture: it holds
// the DataSource's deletion (and stays after capture is removed) until the Debezium
// replication slot and publication are dropped, or the cleanup gives up.
const CaptureCleanupFinalizer = "clearhouse.dev/capture-cleanup"

// Event reasons of the capture cleanup.
const (
	ReasonCaptureCleanedUp       = "CaptureCleanedUp"
	ReasonCaptureCleanupFailed   = "CaptureCleanupFailed"
	ReasonCaptureCleanupGaveUp   = "CaptureCleanupAbandoned"
	captureCleanupAction         = "CleanupCapture"
	connectorGoneRecheckInterval = 5 * time.Second
)

// CleanupRetry bounds the cleanup of a capture's slot and publication. Every attempt
// that cannot finish (the connector still exists, the slot is still active, the
// database refuses or cannot be reached) waits Initial, doubling up to Max; after
// Attempts of them the finalizer is removed anyway, with a Warning event naming what
// to drop by hand. The defaults (5s, 2m, 12 attempts) give up after about 15 minutes:
// long enough for Kafka Connect to stop a task and for a short outage, short enough
// not to hold a namespace deletion for good.
type CleanupRetry struct {
	Initial  time.Duration
	Max      time.Duration
	Attempts int
}

func (c CleanupRetry) withDefaults() CleanupRetry {
	if c.Initial <= 0 {
		c.Initial = 5 * time.Second
	}
	if c.Max < c.Initial {
		c.Max = max(2*time.Minute, c.Initial)
	}
	if c.Attempts <= 0 {
		c.Attempts = 12
	}
	return c
}

// after is the wait after the given number of failed attempts (1, 2, ...).
func (c CleanupRetry) after(failures int) time.Duration {
	d := c.Initial
	for i := 1; i < failures && d < c.Max; i++ {
		d *= 2
	}
	return min(d, c.Max)
}

// needsCaptureCleanup: only PostgreSQL captures leave something in the database
// (MySQL binlog readers hold no slot).
func needsCaptureCleanup(ds *chv1.DataSource) bool {
	return ds.Spec.Capture != nil && ds.Spec.PostgreSQL != nil
}

// ensureCaptureFinalizer adds the finalizer to a PostgreSQL capture before anything is
// applied, so that no connector exists without it. ds is updated in place.
func (r *DataSourceReconciler) ensureCaptureFinalizer(ctx context.Context, ds *chv1.DataSource) (conflict bool, err error) {
	if !needsCaptureCleanup(ds) || controllerutil.ContainsFinalizer(ds, CaptureCleanupFinalizer) {
		return false, nil
	}
	orig := ds.DeepCopy()
	controllerutil.AddFinalizer(ds, CaptureCleanupFinalizer)
	return r.patchFinalizers(ctx, orig, ds)
}

func (r *DataSourceReconciler) patchFinalizers(ctx context.Context, orig, ds *chv1.DataSource) (conflict bool, err error) {
	err = r.Patch(ctx, ds, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
	switch {
	case apierrors.IsConflict(err):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("datasource %s/%s: update finalizers: %w", ds.Namespace, ds.Name, err)
	}
	return false, nil
}

// cleanupCapture runs one attempt at removing what the capture of ds left behind: it
// deletes the KafkaConnector (KafkaTopics are left to the garbage collector, as
// without the finalizer, or to the pipeline's pruning when capture was removed), waits
// until it is gone, drops the slot and publication, and then removes the finalizer.
// Failures are retried with backoff and bounded (CleanupRetry).
func (r *DataSourceReconciler) cleanupCapture(ctx context.Context, ds *chv1.DataSource) (ctrl.Result, error) {
	key := client.ObjectKeyFromObject(ds)
	// The cache may still hold a version from before the finalizer was removed: work
	// from the API server's, so that a finished cleanup is not run (and reported) again.
	fresh := &chv1.DataSource{}
	if err := r.reader().Get(ctx, key, fresh); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if fresh.UID != ds.UID || !controllerutil.ContainsFinalizer(fresh, CaptureCleanupFinalizer) ||
		(fresh.DeletionTimestamp.IsZero() && needsCaptureCleanup(fresh)) {
		return ctrl.Result{}, nil // done, or capture is back: the next reconcile sees it
	}
	ds = fresh
	slot, pub := pipeline.SlotName(ds), pipeline.PublicationName(ds)
	retry := r.CleanupRetry.withDefaults()

	gone, err := r.connectorGone(ctx, ds)
	waiting := err == nil && !gone
	if waiting {
		err = fmt.Errorf("KafkaConnector %s is still being deleted", pipeline.ConnectorName(ds))
	}
	var dropped capture.Dropped
	if err == nil {
		dropped, err = r.dropSlotAndPublication(ctx, ds, slot, pub)
	}
	if err == nil {
		r.Recorder.Eventf(ds, nil, corev1.EventTypeNormal, ReasonCaptureCleanedUp, captureCleanupAction, "%s", droppedNote(dropped, slot, pub, ds))
		if conflict, err := r.removeCaptureFinalizer(ctx, ds); err != nil || conflict {
			return ctrl.Result{RequeueAfter: time.Second}, err
		}
		r.forgetCleanup(key)
		return ctrl.Result{}, nil
	}

	failures := r.cleanupFailed(key, ds.UID)
	msg := err.Error() // redacted by internal/capture and connect: no credential
	log.FromContext(ctx).Info("capture cleanup failed", "slot", slot, "publication", pub, "error", msg,
		"failures", failures, "attempts", retry.Attempts)
	if failures < retry.Attempts {
		r.Recorder.Eventf(ds, nil, corev1.EventTypeWarning, ReasonCaptureCleanupFailed, captureCleanupAction,
			"cannot drop replication slot %s and publication %s yet (will retry): %s", slot, pub, msg)
		wait := retry.after(failures)
		if waiting {
			// Its deletion wakes us too (the controller owns it); this is a fallback.
			wait = min(wait, connectorGoneRecheckInterval)
		}
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	// Give up: a DataSource that cannot be deleted is worse than a slot an
	// administrator is told about.
	r.Recorder.Eventf(ds, nil, corev1.EventTypeWarning, ReasonCaptureCleanupGaveUp, captureCleanupAction,
		"gave up after %d attempts: drop the replication slot %s and publication %s %s by hand (%s); an inactive slot keeps WAL from being recycled. Last error: %s",
		failures, slot, pub, databaseOf(ds), capture.HandSQL(slot, pub), msg)
	if conflict, err := r.removeCaptureFinalizer(ctx, ds); err != nil || conflict {
		return ctrl.Result{RequeueAfter: time.Second}, err
	}
	r.forgetCleanup(key)
	return ctrl.Result{}, nil
}

func droppedNote(d capture.Dropped, slot, pub string, ds *chv1.DataSource) string {
	var parts []string
	if d.Slot {
		parts = append(parts, "dropped replication slot "+slot)
	} else {
		parts = append(parts, "no replication slot "+slot)
	}
	if d.Publication {
		parts = append(parts, "dropped publication "+pub)
	} else {
		parts = append(parts, "no publication "+pub)
	}
	return fmt.Sprintf("%s %s", strings.Join(parts, ", "), databaseOf(ds))
}

// databaseOf says where the slot is: "in database ledger on db.example:5432".
func databaseOf(ds *chv1.DataSource) string {
	pg := ds.Spec.PostgreSQL
	if pg == nil {
		return "in the database the capture read"
	}
	port := pg.Port
	if port == 0 {
		port = 5432
	}
	return fmt.Sprintf("in database %s on %s", pg.Database, net.JoinHostPort(pg.Host, strconv.Itoa(int(port))))
}

// connectorGone deletes the KafkaConnectors ds owns and reports whether none is left.
// It reads the API server directly: the cache may lag behind a deletion just made.
func (r *DataSourceReconciler) connectorGone(ctx context.Context, ds *chv1.DataSource) (bool, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(pipeline.KafkaConnectorGVK.GroupVersion().WithKind(pipeline.KafkaConnectorGVK.Kind + "List"))
	reader := r.reader()
	if err := reader.List(ctx, list, client.InNamespace(ds.Namespace), client.MatchingLabels(pipeline.Selector(ds))); err != nil {
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			return true, nil // Strimzi is not installed: no connector can exist
		}
		return false, fmt.Errorf("list KafkaConnectors: %w", err)
	}
	gone := true
	for i := range list.Items {
		o := &list.Items[i]
		if !ownedBy(o, ds) {
			continue
		}
		if o.GetDeletionTimestamp() == nil {
			if err := r.Delete(ctx, o); client.IgnoreNotFound(err) != nil {
				return false, fmt.Errorf("delete KafkaConnector %s: %w", o.GetName(), err)
			}
			// Without a finalizer on it, it is gone at once: no need to come back.
			err := reader.Get(ctx, client.ObjectKeyFromObject(o), pipelineObject(pipeline.KafkaConnectorGVK))
			if apierrors.IsNotFound(err) {
				continue
			}
		}
		gone = false
	}
	return gone, nil
}

// reader reads around the cache.
func (r *DataSourceReconciler) reader() client.Reader {
	if r.APIReader != nil {
		return r.APIReader
	}
	return r.Client
}

// dropSlotAndPublication connects with the DataSource's own credentials.
func (r *DataSourceReconciler) dropSlotAndPublication(ctx context.Context, ds *chv1.DataSource, slot, pub string) (capture.Dropped, error) {
	if ds.Spec.PostgreSQL == nil {
		return capture.Dropped{}, errors.New("spec.postgresql is gone: cannot connect to the database")
	}
	src, err := connect.Resolve(ctx, ds, connect.FromCluster(r.APIReader, ds.Namespace))
	if err != nil {
		return capture.Dropped{}, err
	}
	cfg, err := src.SQLConfig(connect.OpenOptions{})
	if err != nil {
		return capture.Dropped{}, err
	}
	return capture.Drop(ctx, cfg, slot, pub)
}

func (r *DataSourceReconciler) removeCaptureFinalizer(ctx context.Context, ds *chv1.DataSource) (bool, error) {
	orig := ds.DeepCopy()
	if !controllerutil.RemoveFinalizer(ds, CaptureCleanupFinalizer) {
		return false, nil
	}
	conflict, err := r.patchFinalizers(ctx, orig, ds)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return conflict, err
}

// cleanupAttempts counts the failed cleanup attempts of a DataSource (by UID: a new
// DataSource of the same name starts again). It lives in memory: a restarted
// operator starts counting again, which only lengthens the bound.
type cleanupAttempts struct {
	uid      types.UID
	failures int
}

func (r *DataSourceReconciler) cleanupFailed(key types.NamespacedName, uid types.UID) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cleanups == nil {
		r.cleanups = map[types.NamespacedName]*cleanupAttempts{}
	}
	a := r.cleanups[key]
	if a == nil || a.uid != uid {
		a = &cleanupAttempts{uid: uid}
		r.cleanups[key] = a
	}
	a.failures++
	return a.failures
}

func (r *DataSourceReconciler) forgetCleanup(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.cleanups, key)
}
