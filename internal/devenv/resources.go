package devenv

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"text/template"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// The demo's namespace and job.
const (
	Namespace = "demo"
	JobName   = "ledger-vs-bank"
	// FieldOwner owns the fields `clearhouse dev` applies (server-side apply).
	FieldOwner = "clearhouse-dev"
)

//go:embed demo/resources.yaml
var resourcesTemplate string

var resources = template.Must(template.New("resources.yaml").Parse(resourcesTemplate))

// RenderResources renders the demo resources for the generated files: the payments
// BusinessModule, the ledger and bank DataSources (file:/// URLs of d's files) and the
// ReconciliationJob with runNonce set to nonce.
func RenderResources(d *Demo, nonce string) ([]byte, error) {
	fileURL := func(p string) (string, error) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", fmt.Errorf("demo file %s: %w", p, err)
		}
		return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), nil
	}
	ledger, err := fileURL(d.LedgerPath)
	if err != nil {
		return nil, err
	}
	bank, err := fileURL(d.SettlementPath)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = resources.Execute(&b, map[string]string{
		"Namespace": Namespace, "LedgerURL": ledger, "SettlementURL": bank, "Nonce": nonce,
	})
	if err != nil {
		return nil, fmt.Errorf("render demo resources: %w", err)
	}
	return b.Bytes(), nil
}

// Apply server-side applies every object of a multi-document YAML manifest, in order,
// and returns them as kind/name.
func Apply(ctx context.Context, c client.Client, manifest []byte) ([]string, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var applied []string
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return applied, nil
		}
		if err != nil {
			return applied, fmt.Errorf("read demo resources: %w", err)
		}
		if len(u.Object) == 0 {
			continue
		}
		name := u.GetKind() + "/" + u.GetName()
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
			return applied, fmt.Errorf("apply %s: %w", name, err)
		}
		applied = append(applied, name)
	}
}

// ErrNotRunning says the operator does not run the job (the controller reports it
// cannot, or the spec is refused); the error's text gives the condition.
var ErrNotRunning = errors.New("the job is not run")

// WaitForRun polls the job until the run triggered by nonce has finished and returns
// the job as it then is. It fails early when the job's conditions say no run will
// come (invalid spec, runs not implemented) instead of waiting for ctx's deadline.
func WaitForRun(ctx context.Context, c client.Reader, nonce string) (*chv1.ReconciliationJob, error) {
	key := types.NamespacedName{Namespace: Namespace, Name: JobName}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		var job chv1.ReconciliationJob
		if err := c.Get(ctx, key, &job); err != nil {
			return nil, fmt.Errorf("get ReconciliationJob %s: %w", key, err)
		}
		st := job.Status
		if st.LastRunNonce == nonce && st.LastRun != nil && st.LastRun.Result != chv1.RunRunning && st.LastRun.Result != "" {
			return &job, nil
		}
		if err := notRunning(&job); err != nil {
			return &job, err
		}
		select {
		case <-ctx.Done():
			return &job, fmt.Errorf("waiting for the run of ReconciliationJob %s (runNonce %q): %w", key, nonce, ctx.Err())
		case <-tick.C:
		}
	}
}

// notRunning turns the conditions that mean "no run is coming" into an error.
func notRunning(job *chv1.ReconciliationJob) error {
	if job.Status.ObservedGeneration != job.Generation {
		return nil // not looked at since the last change
	}
	for _, t := range []string{chv1.ConditionReady, chv1.JobRunning} {
		c := meta.FindStatusCondition(job.Status.Conditions, t)
		if c == nil {
			continue
		}
		if c.Reason == chv1.ReasonNotImplemented || (t == chv1.ConditionReady && c.Reason == chv1.ReasonInvalidSpec) {
			return fmt.Errorf("%w: ReconciliationJob %s/%s is %s=%s (%s): %s", ErrNotRunning, job.Namespace, job.Name, t, c.Status, c.Reason, c.Message)
		}
	}
	return nil
}
