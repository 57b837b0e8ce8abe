#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, kubectl, etcd) from the Go module proxy
# into bin/k8s. Idempotent: a binary already built at the pinned version is kept.
#
# Why from source: no prebuilt release binaries can be downloaded here, and envtest only
# needs three static binaries that the module proxy can build reproducibly.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$ROOT/bin/k8s}"
WORK="$ROOT/bin/.build-control-plane"
STAMP="$OUT/.versions"
WANT="kube=$KUBE_VERSION etcd=$ETCD_VERSION"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -x "$OUT/kube-apiserver" && -x "$OUT/kubectl" && -x "$OUT/etcd" ]]; then
  echo "control plane $WANT already built in $OUT"
  exit 0
fi

mkdir -p "$OUT" "$WORK/kube" "$WORK/etcd"
staging_version="v0${KUBE_VERSION#v1}" # v1.36.3 -> v0.36.3

# kube-apiserver and kubectl: k8s.io/kubernetes replaces its staging modules with local
# paths, which a consumer cannot use, so pin every staging module to the matching tag.
echo ">> building kube-apiserver and kubectl $KUBE_VERSION (first time: a few minutes)"
modfile=$(curl -fsSL "$(go env GOPROXY | cut -d, -f1)/k8s.io/kubernetes/@v/$KUBE_VERSION.mod" 2>/dev/null || true)
if [[ -z "$modfile" ]]; then
  # Fall back to the module cache via go mod download.
  modfile=$(cd "$WORK/kube" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' | xargs cat)
fi
staging=$(printf '%s\n' "$modfile" | sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p')
{
  echo "module clearhouse.dev/hack/kube"
  echo
  echo "go 1.26"
  echo
  echo "require k8s.io/kubernetes $KUBE_VERSION"
  echo
  echo "replace ("
  for m in $staging; do echo "	$m => $m $staging_version"; done
  echo ")"
} >"$WORK/kube/go.mod"
cat >"$WORK/kube/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
(
  cd "$WORK/kube"
  GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true
  GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION" \
    -o "$OUT/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
  GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION" \
    -o "$OUT/kubectl" k8s.io/kubernetes/cmd/kubectl
)

# etcd: the server module exposes etcdmain; a two-line main builds the etcd binary.
echo ">> building etcd $ETCD_VERSION"
cat >"$WORK/etcd/go.mod" <<GOMOD
module clearhouse.dev/hack/etcd

go 1.26

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
GOMOD
cat >"$WORK/etcd/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
(
  cd "$WORK/etcd"
  GOFLAGS=-mod=mod go mod tidy >/dev/null
  GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" .
)

echo "$WANT" >"$STAMP"
echo "control plane $WANT built in $OUT"
