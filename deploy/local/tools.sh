#!/usr/bin/env bash
# Builds the pinned tools the local cell and the tests stand on, from the Go module
# proxy, into a cache outside the repository keyed by tool and version:
#   ${CELLPLANE_TOOLS:-~/.cache/cellplane/tools}/<tool>-<version>/bin
# A tool whose cache entry is complete is skipped. Each build logs to
# <cache>/logs/<tool>-<version>.log, kept when the build fails.
#
#   deploy/local/tools.sh [--check] [tool...]   (tools: etcd kubernetes kwok livekit pulumi
#                                                 pulumi-kubernetes helm; default: all)
#   deploy/local/tools.sh --packages            install the Debian packages only
#   deploy/local/tools.sh --path                print the PATH entries of the cached tools
set -euo pipefail

TOOLS_DIR="${CELLPLANE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/cellplane/tools}"
LOG_DIR="$(dirname "$TOOLS_DIR")/logs"
SRC_DIR="$(dirname "$TOOLS_DIR")/src"

# The pinned versions: the one place they are written (the Go side reads them from here
# through `tools.sh --path`).
ETCD_VERSION=v3.7.3
KUBERNETES_VERSION=v1.37.2
KWOK_VERSION=v0.8.0
LIVEKIT_VERSION=v1.13.5
PULUMI_VERSION=v3.274.1
PULUMI_K8S_PROVIDER_MODULE=v4.0.0-20260115033456-f47bc2d6f199
PULUMI_K8S_VERSION=4.32.0
HELM_VERSION=v3.22.0

ALL_TOOLS=(etcd kubernetes kwok livekit pulumi pulumi-kubernetes helm)

export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local

version_of() {
  case "$1" in
    etcd) echo "$ETCD_VERSION" ;;
    kubernetes) echo "$KUBERNETES_VERSION" ;;
    kwok) echo "$KWOK_VERSION" ;;
    livekit) echo "$LIVEKIT_VERSION" ;;
    pulumi) echo "$PULUMI_VERSION" ;;
    pulumi-kubernetes) echo "v$PULUMI_K8S_VERSION" ;;
    helm) echo "$HELM_VERSION" ;;
    *) echo "unknown tool '$1' (known: ${ALL_TOOLS[*]})" >&2; return 1 ;;
  esac
}

tool_dir() { echo "$TOOLS_DIR/$1-$(version_of "$1")"; }
is_built() { [[ -f "$(tool_dir "$1")/.complete" ]]; }

# wrapper <dir> <module-path>: a fresh module that only exists to build an upstream command.
wrapper() {
  rm -rf "$1" && mkdir -p "$1"
  printf 'module %s\n\ngo 1.26\n' "$2" >"$1/go.mod"
}

build_etcd() {
  local w="$SRC_DIR/etcd" out="$1/bin"
  wrapper "$w" cellplane.local/tools/etcd
  (cd "$w" && go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION" &&
    go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3)
}

build_kubernetes() {
  local w="$SRC_DIR/kubernetes" out="$1/bin" modfile v="$KUBERNETES_VERSION"
  wrapper "$w" cellplane.local/tools/kubernetes
  modfile="$(go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  # Every staging module k8s.io/kubernetes replaces with ./staging/... is published as v0.<minor>.<patch>.
  {
    echo "require k8s.io/kubernetes $v"
    echo "replace ("
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 v0.'"${v#v1.}"'#p' "$modfile"
    echo ")"
  } >>"$w/go.mod"
  local ver="-X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1"
  ver+=" -X k8s.io/component-base/version.gitMinor=$(echo "$v" | cut -d. -f2) -X k8s.io/component-base/version.gitTreeState=clean"
  ver+=" -X k8s.io/client-go/pkg/version.gitVersion=$v -X k8s.io/client-go/pkg/version.gitMajor=1"
  ver+=" -X k8s.io/client-go/pkg/version.gitMinor=$(echo "$v" | cut -d. -f2)"
  local cmds=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
  (cd "$w" && for c in "${cmds[@]}"; do go get -tool "k8s.io/kubernetes/cmd/$c"; done &&
    for c in "${cmds[@]}"; do
      echo "building $c"
      go build -trimpath -ldflags "-s -w $ver" -o "$out/$c" "k8s.io/kubernetes/cmd/$c"
    done)
}

build_kwok() {
  local w="$SRC_DIR/kwok" out="$1/bin" dir
  wrapper "$w" cellplane.local/tools/kwok
  (cd "$w" && go get -tool "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" &&
    go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" -o "$out/kwok" sigs.k8s.io/kwok/cmd/kwok)
  # kwok needs its stages (node initialize/heartbeat, pod ready/complete/delete) as config.
  dir="$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  mkdir -p "$1/stages"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    cp "$dir/kustomize/stage/$f" "$1/stages/"
  done
  chmod -R u+w "$1/stages"
}

build_livekit() {
  local w="$SRC_DIR/livekit" out="$1/bin"
  wrapper "$w" cellplane.local/tools/livekit
  (cd "$w" && go get -tool "github.com/livekit/livekit-server/cmd/server@$LIVEKIT_VERSION" &&
    go build -trimpath -ldflags "-s -w" -o "$out/livekit-server" github.com/livekit/livekit-server/cmd/server)
}

build_pulumi() {
  local w="$SRC_DIR/pulumi" out="$1/bin"
  wrapper "$w" cellplane.local/tools/pulumi
  cat >>"$w/go.mod" <<MOD
require (
	github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 $PULUMI_VERSION
)
replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
MOD
  (cd "$w" && go get -tool github.com/pulumi/pulumi/pkg/v3/cmd/pulumi &&
    go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
      -o "$out/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
}

build_pulumi-kubernetes() {
  local w="$SRC_DIR/pulumi-kubernetes" out="$1/bin" mod=github.com/pulumi/pulumi-kubernetes/provider/v4 dir
  wrapper "$w" cellplane.local/tools/pulumi-kubernetes
  cat >>"$w/go.mod" <<MOD
require (
	$mod $PULUMI_K8S_PROVIDER_MODULE
	github.com/pulumi/pulumi-kubernetes/sdk/v4 v4.24.0
	github.com/pulumi/pulumi/pkg/v3 v3.215.0
	github.com/pulumi/pulumi/sdk/v3 v3.215.0
)
MOD
  dir="$(go mod download -json "$mod@$PULUMI_K8S_PROVIDER_MODULE" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  cp "$dir/cmd/pulumi-resource-kubernetes/schema.json" "$w/schema.json"
  cp "$dir/cmd/pulumi-resource-kubernetes/terraform-mapping.json" "$w/terraform-mapping.json"
  cat >"$w/main.go" <<'GO'
// The provider's own main embeds a schema generated at release time; this one embeds the
// schema and mapping shipped in the module.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema.json
var schema []byte

//go:embed terraform-mapping.json
var mapping []byte

func main() { provider.Serve("kubernetes", version.Version, schema, mapping) }
GO
  (cd "$w" && go mod tidy &&
    go build -trimpath -ldflags "-s -w -X $mod/pkg/version.Version=$PULUMI_K8S_VERSION" -o "$out/pulumi-resource-kubernetes" .)
}

build_helm() {
  local w="$SRC_DIR/helm" out="$1/bin"
  wrapper "$w" cellplane.local/tools/helm
  (cd "$w" && go get -tool "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" &&
    go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" -o "$out/helm" helm.sh/helm/v3/cmd/helm)
}

# Debian packages: the local cell's Postgres, Redis and openssl.
install_packages() {
  local need=()
  command -v redis-server >/dev/null || need+=(redis-server)
  command -v openssl >/dev/null || need+=(openssl)
  pg_bin >/dev/null 2>&1 || need+=(postgresql)
  [[ ${#need[@]} -eq 0 ]] && return 0
  echo "==> installing Debian packages: ${need[*]}"
  local sudo=()
  [[ $(id -u) -ne 0 ]] && sudo=(sudo -n)
  if ! command -v apt-get >/dev/null; then
    echo "error: missing ${need[*]} and apt-get is not available; install them with your package manager" >&2
    return 1
  fi
  if ! { "${sudo[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"; } >"$LOG_DIR/apt.log" 2>&1; then
    echo "error: apt-get could not install ${need[*]} (log: $LOG_DIR/apt.log); install them by hand (as root: apt-get install ${need[*]})" >&2
    return 1
  fi
  # The server package starts a cluster and a redis service of its own; the local cell runs its own.
}

# pg_bin prints the directory holding initdb/pg_ctl.
pg_bin() {
  if command -v initdb >/dev/null; then dirname "$(command -v initdb)"; return; fi
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$d/initdb" ]] && { echo "$d"; return; }
  done
  return 1
}

print_path() {
  local t p=()
  for t in "${ALL_TOOLS[@]}"; do p+=("$(tool_dir "$t")/bin"); done
  p+=("$(pg_bin 2>/dev/null || true)")
  (IFS=:; echo "${p[*]}")
}

main() {
  local check=0 tools=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --check) check=1 ;;
      --path) print_path; return ;;
      --packages) mkdir -p "$LOG_DIR"; install_packages; return ;;
      -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; return ;;
      -*) echo "unknown flag $1" >&2; return 2 ;;
      *) version_of "$1" >/dev/null; tools+=("$1") ;;
    esac
    shift
  done
  [[ ${#tools[@]} -eq 0 ]] && tools=("${ALL_TOOLS[@]}")
  if [[ $check -eq 1 ]]; then
    local missing=0 t
    for t in "${tools[@]}"; do
      if is_built "$t"; then echo "ok       $t $(version_of "$t")"; else echo "missing  $t $(version_of "$t")"; missing=1; fi
    done
    return $missing
  fi
  mkdir -p "$TOOLS_DIR" "$LOG_DIR" "$SRC_DIR"
  install_packages
  local n=0 total=${#tools[@]} start=$SECONDS t
  for t in "${tools[@]}"; do
    n=$((n + 1))
    local v dir log t0=$SECONDS
    v="$(version_of "$t")" dir="$(tool_dir "$t")" log="$LOG_DIR/$t-$v.log"
    if is_built "$t"; then
      echo "==> [$n/$total] $t $v: cached in $dir"
      continue
    fi
    echo "==> [$n/$total] building $t $v (log: $log)"
    rm -rf "$dir" && mkdir -p "$dir/bin"
    # Print a heartbeat so a long build never looks hung.
    ( while sleep 60; do echo "    ... $t still building, $(((SECONDS - t0) / 60)) min so far (total $(((SECONDS - start) / 60)) min)"; done ) &
    local beat=$!
    if "build_$t" "$dir" >"$log" 2>&1; then
      kill "$beat" 2>/dev/null; wait "$beat" 2>/dev/null || true
      echo "$v" >"$dir/.complete"
      echo "    done $t in $((SECONDS - t0))s"
    else
      kill "$beat" 2>/dev/null; wait "$beat" 2>/dev/null || true
      echo "error: building $t $v failed after $((SECONDS - t0))s; last lines of $log:" >&2
      tail -n 20 "$log" >&2
      return 1
    fi
  done
  echo "==> all tools ready in $((SECONDS - start))s ($TOOLS_DIR)"
}

main "$@"
