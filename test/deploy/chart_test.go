package deploy

import (
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// helmBin is the Helm binary the tests run.
func helmBin(t *testing.T) string {
	t.Helper()
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Fatal("HELM is not set: run through `make test`, which installs Helm into bin/")
	}
	return helm
}

// template renders the chart into clearhouse-system with the given --set values.
func template(t *testing.T, release string, set ...string) string {
	t.Helper()
	args := []string{"template", release, "charts/clearhouse", "--namespace", "clearhouse-system"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return run(t, nil, helmBin(t), args...)
}

// objects parses rendered manifests into generic objects.
func objects(t *testing.T, rendered string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, doc := range strings.Split(rendered, "\n---\n") {
		var o map[string]any
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatal(err)
		}
		if o["kind"] != nil {
			out = append(out, o)
		}
	}
	return out
}

// ofKind returns the rendered objects of a kind.
func ofKind(objs []map[string]any, kind string) []map[string]any {
	var out []map[string]any
	for _, o := range objs {
		if o["kind"] == kind {
			out = append(out, o)
		}
	}
	return out
}

// field walks nested maps (and the first element of a list when the key is "0").
func field(o any, path ...string) any {
	for _, p := range path {
		switch v := o.(type) {
		case map[string]any:
			o = v[p]
		case []any:
			if p != "0" || len(v) == 0 {
				return nil
			}
			o = v[0]
		default:
			return nil
		}
	}
	return o
}

// deployment is the chart's one Deployment.
func deployment(t *testing.T, objs []map[string]any) map[string]any {
	t.Helper()
	ds := ofKind(objs, "Deployment")
	if len(ds) != 1 {
		t.Fatalf("%d Deployments rendered", len(ds))
	}
	return ds[0]
}

// TestHelmLongReleaseNameIsValid: Helm accepts release names of up to 53 characters,
// and every object the chart renders for one must still be valid: a Service name is a
// DNS label of at most 63 characters, so a suffix must not push it past that.
func TestHelmLongReleaseNameIsValid(t *testing.T) {
	release := "settlement-reconciliation-production-euwest-primary1"
	release += strings.Repeat("x", 53-len(release))
	rendered := template(t, release, "metrics.serviceMonitor.enabled=true", "store.persistence.enabled=true")
	accepted := dryRun(t, []byte(rendered))
	if want := len(objects(t, rendered)); len(accepted) != want {
		t.Errorf("%d objects accepted, want %d:\n%s", len(accepted), want, strings.Join(accepted, "\n"))
	}
}

// args is the manager container's arguments.
func args(t *testing.T, objs []map[string]any) []string {
	t.Helper()
	var out []string
	for _, a := range field(deployment(t, objs), "spec", "template", "spec", "containers", "0", "args").([]any) {
		out = append(out, a.(string))
	}
	return out
}

// TestHelmWorkersOnlyWithASharedStore: Kubernetes-executor workers write their
// partitions to the results store, which they cannot reach when it is the manager's
// SQLite file. Without a shared store the chart must not enable the executor (the
// manager would otherwise hand workers the manager's sqlite: path, and every worker
// pod would open a file in its own read-only filesystem): a Kubernetes run then fails
// at once saying the executor is unavailable.
func TestHelmWorkersOnlyWithASharedStore(t *testing.T) {
	for _, a := range args(t, objects(t, template(t, "clearhouse"))) {
		if strings.HasPrefix(a, "--worker-image") || strings.HasPrefix(a, "--worker-store") {
			t.Errorf("SQLite store: the manager is given %s", a)
		}
	}
	got := strings.Join(args(t, objects(t, template(t, "clearhouse", "store.existingSecret=clearhouse-store"))), " ")
	for _, want := range []string{"--worker-image=ghcr.io/clearhouse-dev/clearhouse:0.1.0", "--worker-store-secret=clearhouse-store/uri"} {
		if !strings.Contains(got, want) {
			t.Errorf("PostgreSQL store: the manager's args %q lack %s", got, want)
		}
	}
}

// templateFails renders the chart and returns Helm's output, failing the test when
// rendering succeeds.
func templateFails(t *testing.T, set ...string) string {
	t.Helper()
	args := []string{"template", "clearhouse", "charts/clearhouse", "--namespace", "clearhouse-system"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	cmd := exec.CommandContext(t.Context(), helmBin(t), args...)
	cmd.Dir = env.Root
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Errorf("helm template %v rendered, want a failure", set)
	}
	return string(out)
}

// TestHelmPersistentVolumeHasOnePod: the data volume's claim is ReadWriteOnce, and
// with SQLite it holds the store, which one manager at a time may open. A rolling
// update starts the new pod before stopping the old one: on another node it waits on
// the volume for ever (Multi-Attach) and the rollout never ends; on the same node two
// managers open the one SQLite file. So the Deployment recreates its pod, and two
// replicas cannot share the claim.
func TestHelmPersistentVolumeHasOnePod(t *testing.T) {
	d := deployment(t, objects(t, template(t, "clearhouse", "store.persistence.enabled=true")))
	if got := field(d, "spec", "strategy", "type"); got != "Recreate" {
		t.Errorf("persistent data volume: Deployment strategy %v, want Recreate", got)
	}
	d = deployment(t, objects(t, template(t, "clearhouse")))
	if got := field(d, "spec", "strategy", "type"); got == "Recreate" {
		t.Errorf("emptyDir data volume: Deployment strategy %v, want a rolling update", got)
	}
	out := templateFails(t, "replicas=2", "store.existingSecret=clearhouse-store", "store.persistence.enabled=true")
	if !strings.Contains(out, "store.persistence") {
		t.Errorf("replicas=2 on one ReadWriteOnce claim: %s", out)
	}
}

// TestHelmPodRunsAsANumericUserThatCanWriteTheVolume: runAsNonRoot alone makes the
// kubelet refuse an image whose user is a name or root (the chart cannot know the
// image's USER), and a freshly provisioned volume is owned by root, so a non-root
// manager cannot create its SQLite file on it. The pod names its user and group, and
// the volume is given to that group (fsGroup).
func TestHelmPodRunsAsANumericUserThatCanWriteTheVolume(t *testing.T) {
	rendered := template(t, "clearhouse", "store.persistence.enabled=true")
	sc := field(deployment(t, objects(t, rendered)), "spec", "template", "spec", "securityContext")
	for _, k := range []string{"runAsUser", "runAsGroup", "fsGroup"} {
		if v, ok := field(sc, k).(float64); !ok || v == 0 {
			t.Errorf("pod securityContext.%s = %v, want a non-root id", k, field(sc, k))
		}
	}
	if field(sc, "runAsNonRoot") != true || field(sc, "seccompProfile", "type") != "RuntimeDefault" {
		t.Errorf("pod securityContext %v lost runAsNonRoot or the RuntimeDefault seccomp profile", sc)
	}
	dryRun(t, []byte(rendered))
}

// TestHelmMetricsReaderRole: the metrics endpoint authorizes each scrape as a GET on
// the non-resource URL /metrics. The chart ships the ClusterRole to bind Prometheus's
// service account to (as config/rbac does), or a ServiceMonitor's scrapes are denied.
func TestHelmMetricsReaderRole(t *testing.T) {
	rendered := template(t, "clearhouse", "metrics.serviceMonitor.enabled=true")
	var names []string
	for _, r := range ofKind(objects(t, rendered), "ClusterRole") {
		for _, rule := range field(r, "rules").([]any) {
			urls, _ := field(rule, "nonResourceURLs").([]any)
			verbs, _ := field(rule, "verbs").([]any)
			if len(urls) == 1 && urls[0] == "/metrics" && len(verbs) == 1 && verbs[0] == "get" {
				names = append(names, field(r, "metadata", "name").(string))
			}
		}
	}
	if len(names) != 1 || names[0] != "clearhouse-metrics-reader" {
		t.Errorf("ClusterRoles granting get on /metrics: %v, want clearhouse-metrics-reader", names)
	}
	dryRun(t, []byte(rendered))
}

// TestHelmDisruptionBudgetWithReplicas: with two replicas a node drain must not evict
// both at once (leader and stand-by), so the chart bounds voluntary disruptions to one
// pod; with one replica it adds no budget, which would block every drain.
func TestHelmDisruptionBudgetWithReplicas(t *testing.T) {
	if pdbs := ofKind(objects(t, template(t, "clearhouse")), "PodDisruptionBudget"); len(pdbs) != 0 {
		t.Errorf("one replica: %d PodDisruptionBudgets, want none", len(pdbs))
	}
	rendered := template(t, "clearhouse", "replicas=2", "store.existingSecret=clearhouse-store")
	objs := objects(t, rendered)
	pdbs := ofKind(objs, "PodDisruptionBudget")
	if len(pdbs) != 1 {
		t.Fatalf("two replicas: %d PodDisruptionBudgets, want 1", len(pdbs))
	}
	if got := field(pdbs[0], "spec", "maxUnavailable"); got != float64(1) {
		t.Errorf("PodDisruptionBudget maxUnavailable %v, want 1", got)
	}
	pods := field(deployment(t, objs), "spec", "template", "metadata", "labels").(map[string]any)
	sel := field(pdbs[0], "spec", "selector", "matchLabels").(map[string]any)
	for k, v := range sel {
		if pods[k] != v {
			t.Errorf("PodDisruptionBudget selector %v does not select the manager pods %v", sel, pods)
		}
	}
	dryRun(t, []byte(rendered))
}

// TestHelmNetworkPolicy: the metrics endpoint serves a self-signed certificate that
// Prometheus does not verify, so who may reach it must be restricted: the chart can
// render a NetworkPolicy that admits only the metrics port, and only from the peers
// given (none: no ingress at all). Egress (API server, sources, store) is left open.
func TestHelmNetworkPolicy(t *testing.T) {
	if nps := ofKind(objects(t, template(t, "clearhouse")), "NetworkPolicy"); len(nps) != 0 {
		t.Errorf("by default: %d NetworkPolicies, want none", len(nps))
	}
	rendered := template(t, "clearhouse", "networkPolicy.enabled=true",
		"networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name=monitoring")
	objs := objects(t, rendered)
	nps := ofKind(objs, "NetworkPolicy")
	if len(nps) != 1 {
		t.Fatalf("networkPolicy.enabled: %d NetworkPolicies, want 1", len(nps))
	}
	np := nps[0]
	pods := field(deployment(t, objs), "spec", "template", "metadata", "labels").(map[string]any)
	for k, v := range field(np, "spec", "podSelector", "matchLabels").(map[string]any) {
		if pods[k] != v {
			t.Errorf("NetworkPolicy podSelector does not select the manager pods %v", pods)
		}
	}
	if got := field(np, "spec", "policyTypes"); len(got.([]any)) != 1 || got.([]any)[0] != "Ingress" {
		t.Errorf("policyTypes %v, want [Ingress]", got)
	}
	ingress, _ := field(np, "spec", "ingress").([]any)
	if len(ingress) != 1 || field(ingress[0], "ports", "0", "port") != float64(8443) ||
		field(ingress[0], "from", "0", "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name") != "monitoring" {
		t.Errorf("ingress %v, want port 8443 from the monitoring namespace only", ingress)
	}
	dryRun(t, []byte(rendered))
	// No peers: no ingress (a rule without "from" would admit everyone).
	np = ofKind(objects(t, template(t, "clearhouse", "networkPolicy.enabled=true")), "NetworkPolicy")[0]
	if ingress, _ := field(np, "spec", "ingress").([]any); len(ingress) != 0 {
		t.Errorf("no metricsFrom: ingress %v, want none", ingress)
	}
}

// TestHelmUpgradeUpdatesCRDs: Helm installs the files of a chart's crds/ directory and
// never upgrades them, so after `helm upgrade` the API server keeps the previous
// release's schema and silently prunes every field the new release added. The chart's
// CRDs are upgraded with it (and kept on uninstall, with the resources in them).
func TestHelmUpgradeUpdatesCRDs(t *testing.T) {
	helm := helmBin(t)
	kubectl := func(args ...string) string {
		return run(t, nil, env.Kubectl(), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	}
	crds := []string{"businessmodules", "datasources", "reconciliationjobs", "settlementwindows"}
	for _, c := range crds {
		kubectl("delete", "crd", c+".clearhouse.dev", "--wait=true")
	}
	t.Cleanup(func() {
		cmd := exec.Command(helm, "uninstall", "clearhouse", "-n", "crd-upgrade", "--kubeconfig", kubeconfig)
		_, _ = cmd.CombinedOutput()
		cmd = exec.Command(env.Kubectl(), "--kubeconfig", kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", "config/crd/bases")
		cmd.Dir = env.Root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("restore the CRDs: %v\n%s", err, out)
		}
	})
	// The previous release: the same chart, its ReconciliationJob without spec.runNonce.
	old := t.TempDir()
	if err := os.CopyFS(old, os.DirFS(filepath.Join(env.Root, "charts", "clearhouse"))); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(old, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != "clearhouse.dev_reconciliationjobs.yaml" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var crd map[string]any
		if err := yaml.Unmarshal(b, &crd); err != nil {
			return err
		}
		for _, v := range field(crd, "spec", "versions").([]any) {
			delete(field(v, "schema", "openAPIV3Schema", "properties", "spec", "properties").(map[string]any), "runNonce")
		}
		if b, err = yaml.Marshal(crd); err != nil {
			return err
		}
		return os.WriteFile(path, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	runNonce := func() string {
		return kubectl("get", "crd", "reconciliationjobs.clearhouse.dev", "-o",
			"jsonpath={.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.runNonce.type}")
	}
	run(t, nil, helm, "install", "clearhouse", old, "-n", "crd-upgrade", "--create-namespace", "--kubeconfig", kubeconfig)
	if got := runNonce(); got != "" {
		t.Fatalf("previous release: spec.runNonce is in the schema (%q)", got)
	}
	run(t, nil, helm, "upgrade", "clearhouse", "charts/clearhouse", "-n", "crd-upgrade", "--kubeconfig", kubeconfig)
	if got := runNonce(); got != "string" {
		t.Errorf("after helm upgrade: spec.runNonce type %q in the ReconciliationJob CRD, want string (the CRD was not upgraded)", got)
	}
	run(t, nil, helm, "uninstall", "clearhouse", "-n", "crd-upgrade", "--kubeconfig", kubeconfig)
	for _, c := range crds {
		kubectl("get", "crd", c+".clearhouse.dev")
	}
	// CRDs managed apart (config/crd): the release leaves them alone.
	if n := len(ofKind(objects(t, template(t, "clearhouse", "crds.install=false")), "CustomResourceDefinition")); n != 0 {
		t.Errorf("crds.install=false: %d CRDs rendered", n)
	}
}

// TestManagerRoleWritesOnlyWhatTheControllersWrite: of the four kinds, the controllers
// write only status, and a DataSource's finalizers (a merge patch); the owners of
// worker Jobs (ReconciliationJob) and of Strimzi objects (DataSource) need update on
// their finalizers subresource to set blockOwnerDeletion. A manager allowed to update
// every ReconciliationJob or SettlementWindow in the cluster could rewrite what is
// reconciled and with which tolerances: the generated role, which the chart installs,
// grants no more.
func TestManagerRoleWritesOnlyWhatTheControllersWrite(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(env.Root, "charts", "clearhouse", "files", "manager-role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role map[string]any
	if err := yaml.Unmarshal(b, &role); err != nil {
		t.Fatal(err)
	}
	writes := map[string][]string{}
	for _, rule := range field(role, "rules").([]any) {
		if groups := field(rule, "apiGroups").([]any); len(groups) != 1 || groups[0] != "clearhouse.dev" {
			continue
		}
		for _, r := range field(rule, "resources").([]any) {
			for _, v := range field(rule, "verbs").([]any) {
				if v != "get" && v != "list" && v != "watch" {
					writes[r.(string)] = append(writes[r.(string)], v.(string))
				}
			}
		}
	}
	want := map[string][]string{
		"datasources": {"patch"}, "datasources/finalizers": {"update"}, "reconciliationjobs/finalizers": {"update"},
		"businessmodules/status": {"patch", "update"}, "datasources/status": {"patch", "update"},
		"reconciliationjobs/status": {"patch", "update"}, "settlementwindows/status": {"patch", "update"},
	}
	for r, verbs := range writes {
		if strings.Join(verbs, ",") != strings.Join(want[r], ",") {
			t.Errorf("the manager may %v %s, want %v", verbs, r, want[r])
		}
	}
	for r := range want {
		if writes[r] == nil {
			t.Errorf("the manager may not %v %s", want[r], r)
		}
	}
}

// TestHelmManagerMemoryFitsItsInlineRuns: the manager runs two inline runs at once
// (--inline-workers), each with a hash memory budget of diff.DefaultMemoryBudget. The
// pod must request that much, or the scheduler places it where the memory is not and
// node pressure evicts it first; and the Go runtime must know the container's limit
// (GOMEMLIMIT), or the heap grows to twice the live data before a collection and the
// kubelet kills the manager mid-run.
func TestHelmManagerMemoryFitsItsInlineRuns(t *testing.T) {
	c := field(deployment(t, objects(t, template(t, "clearhouse"))), "spec", "template", "spec", "containers", "0")
	inline := resource.NewQuantity(2*diff.DefaultMemoryBudget, resource.BinarySI)
	request := resource.MustParse(field(c, "resources", "requests", "memory").(string))
	limit := resource.MustParse(field(c, "resources", "limits", "memory").(string))
	if request.Cmp(*inline) < 0 || limit.Cmp(request) < 0 {
		t.Errorf("memory request %s, limit %s: want a request of at least %s (two inline runs), within the limit",
			request.String(), limit.String(), inline.String())
	}
	var goMemLimit any
	envs, _ := field(c, "env").([]any)
	for _, e := range envs {
		if field(e, "name") == "GOMEMLIMIT" {
			goMemLimit = field(e, "valueFrom", "resourceFieldRef")
		}
	}
	if field(goMemLimit, "resource") != "limits.memory" {
		t.Errorf("GOMEMLIMIT from %v, want the container's limits.memory", goMemLimit)
	}
}

// TestHelmImagePullSecrets: a cluster that pulls from a private registry (a mirror of
// ghcr.io) needs pull secrets on the manager pod.
func TestHelmImagePullSecrets(t *testing.T) {
	rendered := template(t, "clearhouse", "image.repository=registry.bank.example/mirror/clearhouse",
		"imagePullSecrets[0].name=registry-mirror")
	spec := field(deployment(t, objects(t, rendered)), "spec", "template", "spec")
	if got := field(spec, "imagePullSecrets", "0", "name"); got != "registry-mirror" {
		t.Errorf("pod imagePullSecrets %v, want registry-mirror", field(spec, "imagePullSecrets"))
	}
	dryRun(t, []byte(rendered))
}

// TestHelmNoPasswordInArguments: a pod's arguments are readable by anyone who may get
// the Deployment or the pod, and show in process listings: a store URI with its
// password given through manager.extraArgs is refused, pointing at store.existingSecret.
func TestHelmNoPasswordInArguments(t *testing.T) {
	for _, arg := range []string{
		"--store=postgres://clearhouse:s3cret@db:5432/clearhouse",
		"--worker-store=postgres://clearhouse@db/clearhouse?sslmode=require&password=s3cret",
		"--store=postgresql://clearhouse:s3cret@db/clearhouse",
	} {
		if out := templateFails(t, "manager.extraArgs[0]="+arg); !strings.Contains(out, "store.existingSecret") {
			t.Errorf("extraArgs %s: %s", arg, out)
		}
	}
	rendered := template(t, "clearhouse", "manager.extraArgs[0]=--store=postgres://clearhouse@db/clearhouse?sslmode=verify-full")
	if !strings.Contains(rendered, "--store=postgres://clearhouse@db/clearhouse?sslmode=verify-full") {
		t.Error("a store URI without a password is not passed")
	}
}

// TestHelmRBACIsTheKustomizeRBAC: the chart binds its ServiceAccount to exactly the
// rules of config/rbac (the generated manager role, leader election, metrics auth), and
// its metrics-reader role is config/rbac's: test/rbac, which runs the manager under
// config/rbac, then proves the chart's install too.
func TestHelmRBACIsTheKustomizeRBAC(t *testing.T) {
	objs := objects(t, template(t, "clearhouse"))
	rules := map[string]any{} // "Kind name" -> rules
	for _, kind := range []string{"Role", "ClusterRole"} {
		for _, r := range ofKind(objs, kind) {
			rules[kind+" "+field(r, "metadata", "name").(string)] = field(r, "rules")
		}
	}
	kustomize := func(file string) any {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(env.Root, "config", "rbac", file))
		if err != nil {
			t.Fatal(err)
		}
		var o map[string]any
		if err := yaml.Unmarshal(b, &o); err != nil {
			t.Fatal(err)
		}
		return o["rules"]
	}
	want := map[string]string{
		"ClusterRole clearhouse-manager":      "role.yaml",
		"Role clearhouse-leader-election":     "leader_election_role.yaml",
		"ClusterRole clearhouse-metrics-auth": "metrics_auth_role.yaml",
	}
	var bound []string
	for _, kind := range []string{"RoleBinding", "ClusterRoleBinding"} {
		for _, b := range ofKind(objs, kind) {
			for _, s := range field(b, "subjects").([]any) {
				if field(s, "kind") == "ServiceAccount" && field(s, "name") == "clearhouse" && field(s, "namespace") == "clearhouse-system" {
					bound = append(bound, field(b, "roleRef", "kind").(string)+" "+field(b, "roleRef", "name").(string))
				}
			}
		}
	}
	slices.Sort(bound)
	if wantBound := slices.Sorted(maps.Keys(want)); !slices.Equal(bound, wantBound) {
		t.Errorf("the chart binds its ServiceAccount to %v, want %v", bound, wantBound)
	}
	want["ClusterRole clearhouse-metrics-reader"] = "metrics_reader_role.yaml"
	for role, file := range want {
		if got, ok := rules[role]; !ok {
			t.Errorf("the chart renders no %s", role)
		} else if !reflect.DeepEqual(got, kustomize(file)) {
			t.Errorf("%s grants %v, config/rbac/%s %v", role, got, file, kustomize(file))
		}
	}
}
