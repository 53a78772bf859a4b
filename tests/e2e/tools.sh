#!/usr/bin/env bash
# Builds, pinned, the tools the real-engine tests need into a cache outside the repository, and reuses them when
# they are present *and valid*: the Pulumi CLI and its Go language host, the Kubernetes provider plugin,
# kube-apiserver, kube-controller-manager and kube-scheduler (version-stamped), kwok with its stage configs, the data
# plane (podinfo, podcli, Prometheus, hey), Flagger and its load tester, the Gateway API CRDs; etcd and curl from Debian. Only the Go module proxy, Debian's packages and ../shared are needed.
# Prints the environment the tests read:
#   eval "$(bash tests/e2e/tools.sh)"
# Cold: 17 minutes measured alone on 2 cores, 32 beside .ci/run's vet and tests (CONTRIBUTING); warm: seconds.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PULUMI_VERSION=$(cat "$REPO/.pulumi.version")
# The provider module the proxy serves (only this pseudo-version is), built as the version the Go SDK asks for.
K8S_PROVIDER_MODULE_VERSION=v4.0.0-20260115033456-f47bc2d6f199
K8S_PROVIDER_BUILD_VERSION=4.24.0
K8S_PROVIDER_SDK_VERSION=$(sed -n 's/.*"version": "\(.*\)".*/\1/p' \
  "$(go env GOMODCACHE)/github.com/pulumi/pulumi-kubernetes/sdk/v4@v4.32.0/go/kubernetes/pulumi-plugin.json" 2>/dev/null || echo 4.32.0)
KUBERNETES_VERSION=1.37.2
FLAGGER_VERSION=1.36.1
KWOK_VERSION=0.8.0
# The language host is not served by the module proxy; its source is kept in ../shared (read-only in CI).
LANGUAGE_GO_SRC=${LANGUAGE_GO_SRC:-$REPO/../shared/tools/pulumi-language-go}

CACHE=${E2E_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/progressive-delivery-e2e}
BIN=$CACHE/bin
SRC=$CACHE/src
mkdir -p "$BIN" "$SRC"
log() { echo "tools.sh: $*" >&2; }
# -trimpath and no DWARF, as in .ci/run (and the Go language host under it): the standard library and any package at
# the same version as the project's compile once for both.
export GOFLAGS="-mod=mod -trimpath -gcflags=all=-dwarf=false"

# valid NAME EXPECTED CMD...: true when the cached binary runs and prints EXPECTED. A binary that exists but is
# wrong (an unstamped kube-apiserver prints v0.0.0-master, and Flagger then refuses the cluster) is rebuilt.
valid() {
  local name=$1 want=$2; shift 2
  [ -x "$BIN/$name" ] || return 1
  local got
  got=$("$@" 2>&1 | head -3) || true
  if [[ "$got" == *"$want"* ]]; then return 0; fi
  log "$name in the cache is not valid (want '$want', got '${got//$'\n'/ }'): rebuilding"
  rm -f "$BIN/$name"
  return 1
}

build_pulumi() {
  valid pulumi "v$PULUMI_VERSION" "$BIN/pulumi" version && return
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
  go build -o "$BIN/pulumi" -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

build_language_go() {
  if [ ! -d "$LANGUAGE_GO_SRC" ]; then
    # Outside this workplace (a GitHub runner) there is no ../shared: a Pulumi CLI install ships the host.
    local installed
    installed=$(command -v pulumi-language-go || true)
    [ -n "$installed" ] || { log "no $LANGUAGE_GO_SRC and no pulumi-language-go on PATH (a Pulumi CLI install has it)"; exit 1; }
    ln -sf "$installed" "$BIN/pulumi-language-go"
    return
  fi
  # Keyed by the source's content: a changed ../shared copy rebuilds.
  local key
  key=$(cd "$LANGUAGE_GO_SRC" && find . -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) -print0 | sort -z |
    xargs -0 sha256sum | sha256sum | cut -c1-16)
  [ -x "$BIN/pulumi-language-go" ] && [ "$(cat "$BIN/pulumi-language-go.key" 2>/dev/null)" = "$key" ] && return
  log "building pulumi-language-go from $LANGUAGE_GO_SRC ($key)"
  local dir=$SRC/pulumi-language-go
  rm -rf "$dir" && cp -r "$LANGUAGE_GO_SRC" "$dir" && chmod -R u+w "$dir" && cd "$dir"
  go build -o "$BIN/pulumi-language-go" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" .
  echo "$key" > "$BIN/pulumi-language-go.key"
}

build_k8s_provider() {
  [ -x "$BIN/pulumi-resource-kubernetes" ] && [ "$(cat "$BIN/pulumi-resource-kubernetes.key" 2>/dev/null)" = "$K8S_PROVIDER_MODULE_VERSION/$K8S_PROVIDER_BUILD_VERSION" ] && return
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
    -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$K8S_PROVIDER_BUILD_VERSION" \
    ./cmd/pulumi-resource-kubernetes
  echo "$K8S_PROVIDER_MODULE_VERSION/$K8S_PROVIDER_BUILD_VERSION" > "$BIN/pulumi-resource-kubernetes.key"
}

# Pods share this host's network namespace, each at its own 127.x address, so every listener must bind the pod's
# address: podinfo's metrics and gRPC listeners and the load tester's bind all addresses, and this one change
# (the address from SIMCLUSTER_POD_IP) is made to copies of their sources. Nothing else is changed.
bind_pod_ip() { # FILE PATTERN: make the listen address PATTERN (":" + port) start with the pod's address
  local file=$1
  chmod u+w "$file"
  sed -i "$2" "$file"
  grep -q 'SIMCLUSTER_POD_IP' "$file" || { log "patching $file failed"; exit 1; }
  grep -q '^\s*"os"$' "$file" || sed -i '0,/^import (/s//import (\n\t"os"/' "$file"
}

# The cluster's tools, built from one module: kube-apiserver, kube-controller-manager and kube-scheduler
# (version-stamped), kwok, Prometheus, hey, podinfo and podcli. Built apart, each compiled its own copy of client-go,
# the API types, gRPC and OpenTelemetry at its own versions (kwok 0.36.1, Prometheus 0.37.1); in one module the
# Kubernetes release's versions serve all, and each package compiles once. Flagger and its load tester are built
# apart: Flagger 1.36.1 imports autoscaling/v2beta2, which the Kubernetes API types dropped after v0.34.
# Prometheus is built with only the service discovery the Flagger chart's configuration uses (Kubernetes;
# Prometheus's own remove_all_sd/enable_kubernetes_sd build tags): Debian's package leaves the Kubernetes discovery
# out, and the module proxy serves 3.x only. podinfo is built once per image tag the tests release, stamped as its
# image is.
PODINFO_MODULE_VERSION=v1.8.1-0.20250910200901-e86405a8674e
PODINFO_TAGS="6.0.0 6.0.1 6.0.2 6.1.0" # the tags the tests release
HEY_VERSION=0.1.5
PROMETHEUS_MODULE_VERSION=v0.316.0 # Prometheus 3.16.0
build_cluster() {
  local key="kubernetes $KUBERNETES_VERSION kwok $KWOK_VERSION prometheus $PROMETHEUS_MODULE_VERSION hey $HEY_VERSION podinfo $PODINFO_MODULE_VERSION ($PODINFO_TAGS)"
  local want="Kubernetes v$KUBERNETES_VERSION" all=1 c
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    valid "$c" "$want" "$BIN/$c" --version || all=0
  done
  valid kwok "$KWOK_VERSION" "$BIN/kwok" --version || all=0
  [ $all = 1 ] && [ -d "$BIN/kwok-stages" ] && [ "$(cat "$BIN/cluster.key" 2>/dev/null)" = "$key" ] && return
  log "building $key"
  local dir=$SRC/cluster
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
  go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" >/dev/null
  local gomod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v$KUBERNETES_VERSION.mod
  # podinfo's metrics and gRPC listeners bind all addresses: a copy of its source binds the pod's (see bind_pod_ip).
  local mod
  mod=$(go mod download -json "github.com/stefanprodan/podinfo@$PODINFO_MODULE_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  cp -r "$mod" podinfo && chmod -R u+w podinfo
  bind_pod_ip podinfo/pkg/api/grpc/server.go 's/fmt.Sprintf(":%v", s.config.Port)/fmt.Sprintf("%v:%v", os.Getenv("SIMCLUSTER_POD_IP"), s.config.Port)/'
  bind_pod_ip podinfo/pkg/api/http/server.go 's/fmt.Sprintf(":%v", s.config.PortMetrics)/fmt.Sprintf("%v:%v", os.Getenv("SIMCLUSTER_POD_IP"), s.config.PortMetrics)/'
  {
    printf 'module e2e/cluster\n\ngo 1.26.6\n\nrequire (\n'
    printf '\tk8s.io/kubernetes v%s\n\tsigs.k8s.io/kwok v%s\n\tgithub.com/prometheus/prometheus %s\n' \
      "$KUBERNETES_VERSION" "$KWOK_VERSION" "$PROMETHEUS_MODULE_VERSION"
    printf '\tgithub.com/rakyll/hey v%s\n\tgithub.com/stefanprodan/podinfo %s\n)\n\n' "$HEY_VERSION" "$PODINFO_MODULE_VERSION"
    printf 'replace github.com/stefanprodan/podinfo => ./podinfo\n'
    # k8s.io/kubernetes points its staging modules at local paths; pin them to the matching v0.x releases.
    sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*#replace \1 => \1 v0.'"${KUBERNETES_VERSION#1.}"'#p' "$gomod"
  } > go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/rakyll/hey"
	_ "github.com/stefanprodan/podinfo/cmd/podcli"
	_ "github.com/stefanprodan/podinfo/cmd/podinfo"
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-scheduler/app"
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
GO
  # -e: tidy also walks the tests of dependencies, and some import API versions v0.37 no longer has; the builds
  # below need none of them.
  go mod tidy -e >&2
  # Without the stamp the binaries report v0.0.0-master+$Format:%H$ and Flagger refuses to start.
  local minor=${KUBERNETES_VERSION#1.}; minor=${minor%%.*}
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v$KUBERNETES_VERSION
    -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    go build -o "$BIN/$c" -ldflags "$ldflags" "k8s.io/kubernetes/cmd/$c"
  done
  go build -o "$BIN/kwok" -ldflags "-s -w" sigs.k8s.io/kwok/cmd/kwok
  local version=${PROMETHEUS_MODULE_VERSION#v0.}
  go build -o "$BIN/prometheus" -tags remove_all_sd,enable_kubernetes_sd \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=${version:0:1}.${version:1:2}.${version#*.}" \
    github.com/prometheus/prometheus/cmd/prometheus
  go build -o "$BIN/hey" -ldflags "-s -w" github.com/rakyll/hey
  local tag
  for tag in $PODINFO_TAGS; do
    go build -o "$BIN/podinfo-$tag" -ldflags "-s -w -X github.com/stefanprodan/podinfo/pkg/version.VERSION=$tag" \
      github.com/stefanprodan/podinfo/cmd/podinfo
  done
  go build -o "$BIN/podcli" -ldflags "-s -w" github.com/stefanprodan/podinfo/cmd/podcli
  # kwok has no default behaviour: its own stage configs make nodes Ready and pods Running, Ready and deleted.
  mod=$(go env GOMODCACHE)/sigs.k8s.io/kwok@v$KWOK_VERSION
  rm -rf "$BIN/kwok-stages" && mkdir -p "$BIN/kwok-stages"
  local s
  for s in node/fast/node-initialize node/heartbeat/node-heartbeat pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    cp "$mod/kustomize/stage/$s.yaml" "$BIN/kwok-stages/${s##*/}.yaml"
  done
  chmod -R u+w "$BIN/kwok-stages"
  echo "$key" > "$BIN/cluster.key"
}

# Flagger and its load tester, from one copy of Flagger's module (its own dependency versions).
build_flagger() {
  valid flagger "$FLAGGER_VERSION" "$BIN/flagger" -version && [ -f "$BIN/flagger-crds.yaml" ] &&
    [ "$(cat "$BIN/flagger.key" 2>/dev/null)" = "$FLAGGER_VERSION" ] && return
  log "building flagger and flagger-loadtester v$FLAGGER_VERSION"
  local mod dir=$SRC/flagger
  mod=$(go mod download -json "github.com/fluxcd/flagger@v$FLAGGER_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  rm -rf "$dir" && cp -r "$mod" "$dir" && chmod -R u+w "$dir" && cd "$dir"
  bind_pod_ip pkg/loadtester/server.go 's/Addr:    ":" + port,/Addr:    os.Getenv("SIMCLUSTER_POD_IP") + ":" + port,/'
  go build -o "$BIN/flagger" -ldflags "-s -w" ./cmd/flagger
  go build -o "$BIN/flagger-loadtester" -ldflags "-s -w" ./cmd/loadtester
  # Flagger refuses to start without all of its CRDs (MetricTemplate, AlertProvider too): take them from the
  # same module version.
  cp artifacts/flagger/crd.yaml "$BIN/flagger-crds.yaml" && chmod u+w "$BIN/flagger-crds.yaml"
  echo "$FLAGGER_VERSION" > "$BIN/flagger.key"
}

# The Gateway API's standard-channel CRDs, from the sigs.k8s.io/gateway-api module go.mod pins (v1.7.0 needs Go 1.27).
copy_gateway_api_crds() {
  local version
  version=$(cd "$REPO" && go list -m -f '{{.Version}}' sigs.k8s.io/gateway-api)
  [ -f "$BIN/gateway-api-crds/$version" ] && return
  local mod
  mod=$(cd "$REPO" && go mod download -json "sigs.k8s.io/gateway-api@$version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  rm -rf "$BIN/gateway-api-crds" && mkdir -p "$BIN/gateway-api-crds"
  # CustomResourceDefinitions only: the folder also holds a ValidatingAdmissionPolicy.
  cp "$mod"/config/crd/standard/gateway.networking.k8s.io_*.yaml "$BIN/gateway-api-crds/"
  rm -f "$BIN"/gateway-api-crds/*vap*
  chmod -R u+w "$BIN/gateway-api-crds"
  touch "$BIN/gateway-api-crds/$version"
}

# etcd and curl (the load tester's webhooks run it) from Debian.
install_debian() {
  local missing=()
  command -v etcd >/dev/null 2>&1 || [ -x /usr/bin/etcd ] || missing+=(etcd-server)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} from Debian"
    local sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
    ($sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >&2
  fi
  ln -sf "$(command -v etcd || echo /usr/bin/etcd)" "$BIN/etcd"
  ln -sf "$(command -v curl)" "$BIN/curl"
}

# The program as it was before the services key, which tests/upgrade_test.go deploys and then upgrades. Built here, in
# the background of .ci/run, so that the test's first up does not compile it beside the whole suite (it did, cold,
# and took the CLI test past its bounds with it). A clone that lacks the commit (shallow) gets none; the test skips.
BASE_PROGRAM_COMMIT=319eaa1
build_base_program() {
  local out="$BIN/progressive-delivery-$BASE_PROGRAM_COMMIT"
  [ -x "$out" ] && return 0
  if ! git -C "$REPO" cat-file -e "$BASE_PROGRAM_COMMIT^{commit}" 2>/dev/null; then
    log "commit $BASE_PROGRAM_COMMIT is not in this clone (a shallow one?): no base program, the upgrade test skips"
    return 0
  fi
  local dir="$SRC/base-$BASE_PROGRAM_COMMIT"
  rm -rf "$dir" && mkdir -p "$dir"
  git -C "$REPO" archive --format=tar "$BASE_PROGRAM_COMMIT" | tar -x -C "$dir"
  # CI's flags, so that the packages it shares with this commit compile once.
  (cd "$dir" && GOFLAGS="-trimpath -gcflags=all=-dwarf=false" go build -buildvcs=false -o "$out" .)
}

# timed NAME FUNC: runs FUNC in a subshell and logs how long it took, so a slow machine shows where its time goes.
# Each build runs as a process of its own (tools.sh --build FUNC): inside an && or || list bash ignores set -e, even
# in a subshell, and a failed go build would go unnoticed.
timed() {
  local name=$1 t0=$(date +%s) rc=0
  bash "$HERE/tools.sh" --build "$2" || rc=$?
  log "$name: $(( $(date +%s) - t0 ))s$( [ $rc = 0 ] || echo " FAILED (rc $rc)")"
  return $rc
}
# Two lanes side by side: the Pulumi lane (CLI, language host, provider: one dependency family) and the cluster lane
# (Kubernetes with kwok and the data plane, then Flagger: another). Go already compiles on every core within one build; a second
# build beside it fills the single-threaded stretches (module downloads, go mod tidy, the links of 100-400 MB
# binaries). TOOLS_LANES=1 builds one tool after another.
pulumi_lane() {
  timed "pulumi CLI" build_pulumi && timed "pulumi-language-go" build_language_go &&
    timed "pulumi-resource-kubernetes" build_k8s_provider && timed "the program at $BASE_PROGRAM_COMMIT" build_base_program
}
cluster_lane() {
  timed "kube-apiserver, controller-manager, scheduler, kwok, prometheus, hey, podinfo" build_cluster &&
    timed "flagger and its load tester" build_flagger && timed "gateway API CRDs" copy_gateway_api_crds
}
if [ "${1:-}" = --build ]; then "$2"; exit; fi
start=$(date +%s)
install_debian
if [ "${TOOLS_LANES:-2}" = 1 ]; then
  pulumi_lane
  cluster_lane
else
  pulumi_lane & pulumi_pid=$!
  cluster_lane & cluster_pid=$!
  lane_rc=0
  wait $pulumi_pid || lane_rc=1
  wait $cluster_pid || lane_rc=1
  [ $lane_rc = 0 ] || { log "a tool did not build (above)"; exit 1; }
fi
log "tools ready in $(( $(date +%s) - start ))s: $BIN"
echo "export E2E_TOOLS_BIN='$BIN'"
echo "export E2E_K8S_PROVIDER_VERSION='$K8S_PROVIDER_SDK_VERSION'"
