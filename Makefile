# Clearhouse. `make help` lists the targets.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

BIN ?= $(CURDIR)/bin
CONTROLLER_GEN_VERSION ?= v0.21.0
CONTROLLER_GEN ?= $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT ?= $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
HELM_VERSION ?= v4.3.1
HELM ?= $(BIN)/helm-$(HELM_VERSION)
CRD_REF_DOCS_VERSION ?= v0.3.0
CRD_REF_DOCS ?= $(BIN)/crd-ref-docs-$(CRD_REF_DOCS_VERSION)
GOLANGCI_LINT ?= $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
# The test control plane built by hack/build-control-plane.sh (envtest reads this).
export KUBEBUILDER_ASSETS ?= $(BIN)/k8s
GO_PACKAGES := ./...
CODE_PATHS := ./api/...;./controllers/...

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC from the API types and markers.
	$(CONTROLLER_GEN) crd rbac:roleName=manager-role paths="$(CODE_PATHS)" \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	mkdir -p charts/clearhouse/files/crds && rm -f charts/clearhouse/files/crds/*.yaml
	cp config/crd/bases/*.yaml charts/clearhouse/files/crds/
	cp config/rbac/role.yaml charts/clearhouse/files/manager-role.yaml

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths="./api/..."

.PHONY: docs
docs: $(CRD_REF_DOCS) ## Generate docs/api.md from the API types and samples.
	CRD_REF_DOCS=$(CRD_REF_DOCS) ./hack/gen-api-docs.sh

.PHONY: fmt
fmt: ## Format the code with gofmt.
	gofmt -s -w $$(git ls-files -co --exclude-standard '*.go')

.PHONY: vet
vet: ## Run go vet and check formatting.
	go vet $(GO_PACKAGES)
	@out=$$(gofmt -s -l $$(git ls-files -co --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

.PHONY: lint
lint: vet $(GOLANGCI_LINT) ## Run golangci-lint (after vet and gofmt).
	$(GOLANGCI_LINT) run $(GO_PACKAGES)

.PHONY: verify-generated
verify-generated: manifests generate docs ## Fail when generated files are not committed as generated.
	@if [ -n "$$(git status --porcelain -- api config charts docs)" ]; then \
		if [ -n "$${CI:-}" ]; then echo "generated files differ from the commit; run 'make manifests generate' and commit:"; git status --porcelain -- api config charts docs; exit 1; \
		else echo "note: generated files differ from HEAD (uncommitted changes); CI will require them committed"; fi; fi

##@ Test

.PHONY: envtest
envtest: ## Build (once) the test control plane: kube-apiserver, kubectl, etcd into bin/k8s.
	./hack/build-control-plane.sh

.PHONY: test
test: envtest test-deps $(HELM) verify-generated lint ## Install what the tests need and run every test.
	HELM=$(HELM) CLEARHOUSE_LONG_TESTS=1 go test -count=1 $(GO_PACKAGES)
	$(MAKE) --no-print-directory fuzz

.PHONY: test-deps
test-deps: ## Install the database servers the tests start on loopback (PostgreSQL, MariaDB; apt-get).
	./hack/install-test-deps.sh

# Fuzz budgets are counts of inputs (about 15 s each here), not durations: with a
# duration, Go 1.26's fuzzing coordinator can fail at the deadline with a bare "context
# deadline exceeded" and no failing input (go.dev/issue/75804, fixed in Go 1.27).
# FUZZTIME (a duration such as 1m, or a count such as 500000x) overrides both.
FUZZ_NORMALIZE ?= 200000x
FUZZ_CSV ?= 60000x
.PHONY: fuzz
fuzz: ## Run each fuzz test for its budget (seed corpora in testdata/fuzz are also run by go test).
	go test -run '^$$' -fuzz '^FuzzNormalize$$' -fuzztime $(or $(FUZZTIME),$(FUZZ_NORMALIZE)) ./internal/diff/
	go test -run '^$$' -fuzz '^FuzzCSVReader$$' -fuzztime $(or $(FUZZTIME),$(FUZZ_CSV)) ./internal/source/

.PHONY: bench
bench: ## Benchmark diff vs the read floor and DuckDB at 1M and 10M rows, then PostgreSQL: COPY floor, merge, checksum, plain join (BENCH_SIZES, BENCH_REPEAT, BENCH_DB=0 skips; docs/benchmarks.md).
	BIN=$(BIN) ./hack/bench/bench.sh

##@ Build

# The profile release builds are optimized with (make pgo refreshes it). Tests and
# make dev build without it: a first build with it compiles every dependency again (~2 min).
PGO ?= $(CURDIR)/hack/pgo/clearhouse.pgo

.PHONY: build
build: ## Build bin/clearhouse (profile-guided: PGO).
	go build -pgo=$(PGO) -o $(BIN)/clearhouse ./cmd/clearhouse

.PHONY: pgo
pgo: ## Refresh the PGO profile from hash and merge runs on the bench's ledger pairs.
	./hack/pgo.sh

.PHONY: run
run: manifests generate ## Run the manager against the cluster of the current kubeconfig.
	go run ./cmd/clearhouse manager --metrics-bind-address=:8080 --metrics-secure=false --zap-devel

DEV_ARGS ?=
.PHONY: dev
dev: envtest ## Run Clearhouse locally: control plane, manager, demo data and a run (Ctrl-C stops it; DEV_ARGS for `clearhouse dev` flags).
	@echo ">> building bin/clearhouse"
	go build -o $(BIN)/clearhouse ./cmd/clearhouse
	$(BIN)/clearhouse dev $(DEV_ARGS)

##@ Tools

$(CONTROLLER_GEN):
	mkdir -p $(BIN)
	GOBIN=$(BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/controller-gen $@

$(GOLANGCI_LINT):
	mkdir -p $(BIN)
	GOBIN=$(BIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(BIN)/golangci-lint $@

$(HELM):
	mkdir -p $(BIN)
	GOBIN=$(BIN) go install helm.sh/helm/v4/cmd/helm@$(HELM_VERSION)
	mv $(BIN)/helm $@

$(CRD_REF_DOCS):
	mkdir -p $(BIN)
	GOBIN=$(BIN) go install github.com/elastic/crd-ref-docs@$(CRD_REF_DOCS_VERSION)
	mv $(BIN)/crd-ref-docs $@
