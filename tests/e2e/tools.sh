#!/usr/bin/env bash
# Builds, pinned, the tools the real-engine test needs into a version-keyed cache outside the repository, and
# reuses them when present: the Pulumi CLI, the Kubernetes provider plugin, kube-apiserver; etcd from Debian.
# Only the Go module proxy and Debian's packages are needed. Prints the environment the e2e test reads:
#   eval "$(bash tests/e2e/tools.sh)"
# Cold: about 30-40 minutes on 2 cores (see README); warm: seconds.
set -euo pipefail

PULUMI_VERSION=$(cat "$(dirname "$0")/../../.pulumi.version")
# The provider module the proxy serves (only this pseudo-version is), built as the version the Go SDK asks for.
K8S_PROVIDER_MODULE_VERSION=v4.0.0-20260115033456-f47bc2d6f199
K8S_PROVIDER_BUILD_VERSION=4.24.0
K8S_PROVIDER_SDK_VERSION=$(sed -n 's/.*"version": "\(.*\)".*/\1/p' \
  "$(go env GOMODCACHE)/github.com/pulumi/pulumi-kubernetes/sdk/v4@v4.32.0/go/kubernetes/pulumi-plugin.json" 2>/dev/null || echo 4.32.0)
KUBERNETES_VERSION=1.37.2

CACHE=${E2E_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/progressive-delivery-e2e}
BIN=$CACHE/bin/pulumi-$PULUMI_VERSION.k8s-$K8S_PROVIDER_BUILD_VERSION.kube-$KUBERNETES_VERSION
SRC=$CACHE/src
mkdir -p "$BIN" "$SRC"
log() { echo "tools.sh: $*" >&2; }
export GOFLAGS=-mod=mod

build_pulumi() {
  [ -x "$BIN/pulumi" ] && return
  log "building pulumi CLI v$PULUMI_VERSION"
  local dir=$SRC/pulumi-$PULUMI_VERSION
  mkdir -p "$dir" && cd "$dir"
  # pkg/v3 carries replace directives, so `go install` refuses it: build from a wrapper module.
  cat > go.mod <<MOD
module e2e/pulumi

go 1.26.6

require (
	github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
MOD
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' > tools.go
  go mod tidy >&2
  go build -o "$BIN/pulumi" -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

build_k8s_provider() {
  [ -x "$BIN/pulumi-resource-kubernetes" ] && return
  log "building pulumi-resource-kubernetes $K8S_PROVIDER_BUILD_VERSION"
  local dir=$SRC/pulumi-kubernetes-$K8S_PROVIDER_MODULE_VERSION
  mkdir -p "$dir" && cd "$dir"
  cat > go.mod <<MOD
module e2e/kubernetesprovider

go 1.26.6

require (
	github.com/pulumi/pulumi-kubernetes/provider/v4 $K8S_PROVIDER_MODULE_VERSION
	github.com/pulumi/pulumi-kubernetes/sdk/v4 v$K8S_PROVIDER_BUILD_VERSION
)
MOD
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"\n' > tools.go
  go mod download github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_MODULE_VERSION >&2
  # The cmd embeds two generated files the module zip lacks: copy the cmd and generate them.
  local cmd=$(go env GOMODCACHE)/github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_MODULE_VERSION/cmd/pulumi-resource-kubernetes
  rm -rf cmd && mkdir -p cmd && cp -r "$cmd" cmd/ && chmod -R u+w cmd
  go mod tidy >&2
  (cd cmd/pulumi-resource-kubernetes && VERSION=$K8S_PROVIDER_BUILD_VERSION go run ./generate.go >&2)
  go build -o "$BIN/pulumi-resource-kubernetes" \
    -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$K8S_PROVIDER_BUILD_VERSION" \
    ./cmd/pulumi-resource-kubernetes
}

build_kube_apiserver() {
  [ -x "$BIN/kube-apiserver" ] && return
  log "building kube-apiserver v$KUBERNETES_VERSION"
  local dir=$SRC/kubernetes-$KUBERNETES_VERSION
  mkdir -p "$dir" && cd "$dir"
  go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" >/dev/null
  local gomod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v$KUBERNETES_VERSION.mod
  {
    printf 'module e2e/kubeapiserver\n\ngo 1.26.6\n\nrequire k8s.io/kubernetes v%s\n\n' "$KUBERNETES_VERSION"
    # k8s.io/kubernetes points its staging modules at local paths; pin them to the matching v0.x releases.
    sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*#replace \1 => \1 v0.'"${KUBERNETES_VERSION#1.}"'#p' "$gomod"
  } > go.mod
  printf '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n' > tools.go
  go mod tidy >&2
  go build -o "$BIN/kube-apiserver" -ldflags "-s -w" k8s.io/kubernetes/cmd/kube-apiserver
}

install_etcd() {
  if command -v etcd >/dev/null 2>&1; then ln -sf "$(command -v etcd)" "$BIN/etcd"; return; fi
  [ -x /usr/bin/etcd ] && { ln -sf /usr/bin/etcd "$BIN/etcd"; return; }
  log "installing etcd-server from Debian"
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server) >&2
  else
    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server) >&2
  fi
  ln -sf /usr/bin/etcd "$BIN/etcd"
}

start=$(date +%s)
( build_pulumi )
( build_k8s_provider )
( build_kube_apiserver )
install_etcd
log "tools ready in $(( $(date +%s) - start ))s: $BIN"
echo "export E2E_TOOLS_BIN='$BIN'"
echo "export E2E_K8S_PROVIDER_VERSION='$K8S_PROVIDER_SDK_VERSION'"
