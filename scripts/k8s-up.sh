#!/usr/bin/env bash
# Starts a real Kubernetes control plane on loopback for tests and development, unless it runs
# already: etcd, kube-apiserver (RBAC, TLS, service-account tokens), kube-controller-manager,
# kube-scheduler, and KWOK, which plays the kubelet for fake nodes (pods are scheduled and become
# Ready, or fail on request, without containers). Also installs the Gateway API CRDs.
#
# Binaries are built once from their Go modules (scripts/k8s-build: k8s.io/kubernetes and etcd;
# KWOK with go install) into $TANDEM_HOME/k8s-<version>/bin; rebuilding needs the Go module
# proxy only. See docs/kubernetes.md for what worked and why.
#
#   TANDEM_HOME          cache and state folder (default ~/.cache/tandem)
#   K8S_APISERVER_PORT   secure port of the API server on 127.0.0.1 (default 6443)
#   K8S_ETCD_PORT        etcd client port on 127.0.0.1 (default 2379; the peer port is +1)
#
#   bash scripts/k8s-up.sh                 start or reuse; prints the admin kubeconfig path
#   bash scripts/k8s-up.sh --stop          stops the processes this script started
#   bash scripts/k8s-up.sh --build-only    builds the binaries and exits
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

K8S_VERSION=v1.35.4
KWOK_VERSION=v0.7.0
GATEWAY_API_VERSION=v1.6.3
TANDEM_HOME=${TANDEM_HOME:-$HOME/.cache/tandem}
BIN=$TANDEM_HOME/k8s-$K8S_VERSION/bin
STATE=$TANDEM_HOME/k8s
PKI=$STATE/pki
LOGS=$STATE/logs
API_PORT=${K8S_APISERVER_PORT:-6443}
ETCD_PORT=${K8S_ETCD_PORT:-2379}
ETCD_PEER_PORT=$((ETCD_PORT + 1))
KCM_PORT=10257
SCHED_PORT=10259
KWOK_PORT=10247
KUBECONFIG_ADMIN=$STATE/admin.kubeconfig
NODES=(kwok-node-0 kwok-node-1)
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

export GOWORK=off
GO=$(command -v go || echo /usr/local/go/bin/go)
LOG_FD=2
source "$ROOT/scripts/lib.sh"

# ------------------------------------------------------------------------------------ stop
stop_all() {
  for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
    local pidfile=$STATE/$name.pid
    [ -f "$pidfile" ] || continue
    local pid
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
      log "stopped $name (pid $pid)"
    fi
    rm -f "$pidfile"
  done
}
if [ "${1:-}" = "--stop" ]; then stop_all; exit 0; fi

# ----------------------------------------------------------------------------------- build
build() {
  mkdir -p "$BIN"
  if [ ! -x "$BIN/kube-apiserver" ] || [ ! -x "$BIN/kube-controller-manager" ] || [ ! -x "$BIN/kube-scheduler" ] || [ ! -x "$BIN/etcd" ]; then
    log "building kube-apiserver, kube-controller-manager, kube-scheduler $K8S_VERSION and etcd from their Go modules (once; takes minutes)"
    local start=$SECONDS minor=${K8S_VERSION#v1.}
    minor=${minor%%.*}
    local ldflags="-s -w"
    for kv in "gitVersion=$K8S_VERSION" "gitMajor=1" "gitMinor=$minor" "gitTreeState=clean"; do
      ldflags="$ldflags -X k8s.io/component-base/version.$kv -X k8s.io/client-go/pkg/version.$kv"
    done
    (cd scripts/k8s-build && CGO_ENABLED=0 "$GO" build -trimpath -ldflags "$ldflags" -o "$BIN/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler ./cmd/etcd)
    log "built in $((SECONDS - start))s"
  fi
  if [ ! -x "$BIN/kwok" ]; then
    log "building kwok $KWOK_VERSION (once)"
    local start=$SECONDS
    (cd /tmp && CGO_ENABLED=0 GOBIN=$BIN "$GO" install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION")
    log "built in $((SECONDS - start))s"
  fi
}

# The directory of a Go module in the module cache (downloads it once).
module_dir() {
  (cd /tmp && "$GO" mod download -json "$1" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
}

# ------------------------------------------------------------------------------------- PKI
issue() { # name CN O "SANs" usage
  local name=$1 cn=$2 org=$3 sans=$4 usage=$5
  [ -f "$PKI/$name.crt" ] && return
  local ext
  ext=$(mktemp)
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [ -n "$sans" ] && echo "subjectAltName=$sans"
  } >"$ext"
  local subj="/CN=$cn"
  [ -n "$org" ] && subj="/O=$org$subj"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 3650 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
}

pki() {
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  if [ ! -f "$PKI/ca.crt" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -subj "/CN=tandem-dev-kubernetes-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
  fi
  if [ ! -f "$PKI/sa.key" ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
    openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  fi
  issue apiserver kube-apiserver "" \
    "IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" serverAuth
  issue admin tandem-admin system:masters "" clientAuth
  issue controller-manager system:kube-controller-manager "" "" clientAuth
  issue scheduler system:kube-scheduler "" "" clientAuth
  issue kwok kwok-controller system:masters "" clientAuth
  issue front-proxy-client front-proxy-client "" "" clientAuth
  issue kcm-serving kube-controller-manager "" "IP:127.0.0.1,DNS:localhost" serverAuth
  issue scheduler-serving kube-scheduler "" "IP:127.0.0.1,DNS:localhost" serverAuth
}

kubeconfig() { # file user
  local file=$1 user=$2
  [ -f "$file" ] && grep -q "127.0.0.1:$API_PORT" "$file" && return
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: tandem-dev
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$user.crt")
    client-key-data: $(base64 -w0 "$PKI/$user.key")
contexts:
- name: tandem-dev
  context:
    cluster: tandem-dev
    user: $user
current-context: tandem-dev
EOF
  chmod 600 "$file"
}

# -------------------------------------------------------------------------------- health
api() { # METHOD PATH [curl args...]
  local method=$1 path=$2
  shift 2
  curl -sS --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    -X "$method" "https://127.0.0.1:$API_PORT$path" "$@"
}
healthy() {
  case $1 in
    etcd) curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"' ;;
    kube-apiserver) [ -f "$PKI/admin.crt" ] && [ "$(api GET /readyz 2>/dev/null)" = ok ] ;;
    kube-controller-manager) [ "$(curl -ksS --max-time 2 "https://127.0.0.1:$KCM_PORT/healthz" 2>/dev/null)" = ok ] ;;
    kube-scheduler) [ "$(curl -ksS --max-time 2 "https://127.0.0.1:$SCHED_PORT/healthz" 2>/dev/null)" = ok ] ;;
    kwok) [ "$(curl -sS --max-time 2 "http://127.0.0.1:$KWOK_PORT/healthz" 2>/dev/null)" = ok ] ;;
  esac
}
wait_healthy() { # name seconds
  local name=$1 limit=$2
  for _ in $(seq 1 $((limit * 10))); do
    healthy "$name" && return 0
    if ! kill -0 "$(cat "$STATE/$name.pid" 2>/dev/null || echo 0)" 2>/dev/null; then
      log "$name exited; last lines of $LOGS/$name.log:"
      tail -20 "$LOGS/$name.log" >&2
      return 1
    fi
    sleep 0.1
  done
  log "$name did not become healthy in ${limit}s; see $LOGS/$name.log"
  tail -20 "$LOGS/$name.log" >&2
  return 1
}
start() { # name args...
  local name=$1
  shift
  if healthy "$name"; then return; fi
  # A process of ours that is still starting (or hung): replace it.
  local pidfile=$STATE/$name.pid
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    sleep 0.5
  fi
  nohup setsid "$BIN/$name" "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

# ------------------------------------------------------------------------------------ main
all_up() {
  for c in "${COMPONENTS[@]}"; do healthy "$c" || return 1; done
  [ -f "$STATE/crds-$GATEWAY_API_VERSION" ] && [ -f "$KUBECONFIG_ADMIN" ]
}

if [ "${1:-}" != "--build-only" ] && [ -d "$STATE" ] && all_up; then
  log "control plane $K8S_VERSION already running on https://127.0.0.1:$API_PORT"
  echo "$KUBECONFIG_ADMIN"
  exit 0
fi

build
if [ "${1:-}" = "--build-only" ]; then exit 0; fi

T0=$SECONDS
mkdir -p "$STATE" "$LOGS"
pki
kubeconfig "$KUBECONFIG_ADMIN" admin
kubeconfig "$STATE/controller-manager.kubeconfig" controller-manager
kubeconfig "$STATE/scheduler.kubeconfig" scheduler
kubeconfig "$STATE/kwok.kubeconfig" kwok

start etcd --name tandem-dev --data-dir "$STATE/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "tandem-dev=http://127.0.0.1:$ETCD_PEER_PORT" \
  --unsafe-no-fsync --quota-backend-bytes=2147483648 --log-level=warn
wait_healthy etcd 30

start kube-apiserver \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
  --endpoint-reconciler-type=none \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --requestheader-client-ca-file="$PKI/ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --api-audiences=https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range=10.96.0.0/16 \
  --authorization-mode=RBAC \
  --allow-privileged=true \
  --profiling=false \
  --v=1
wait_healthy kube-apiserver 60

start kube-controller-manager \
  --kubeconfig="$STATE/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$STATE/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$STATE/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  --tls-cert-file="$PKI/kcm-serving.crt" --tls-private-key-file="$PKI/kcm-serving.key" \
  --leader-elect=false \
  --use-service-account-credentials=true \
  --service-account-private-key-file="$PKI/sa.key" \
  --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --controllers='*' \
  --node-monitor-grace-period=60s \
  --profiling=false \
  --v=1
start kube-scheduler \
  --kubeconfig="$STATE/scheduler.kubeconfig" \
  --authentication-kubeconfig="$STATE/scheduler.kubeconfig" \
  --authorization-kubeconfig="$STATE/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" \
  --tls-cert-file="$PKI/scheduler-serving.crt" --tls-private-key-file="$PKI/scheduler-serving.key" \
  --leader-elect=false \
  --profiling=false \
  --v=1

# KWOK's stages: its default pod stages (ready, complete, delete) read from the module, and
# tandem's test stage (scripts/kwok-stages.yaml) that makes chosen pods crash-loop.
KWOK_DIR=$(module_dir "sigs.k8s.io/kwok@$KWOK_VERSION")
STAGES=$STATE/kwok-stages.yaml
{
  for f in pod-ready pod-complete pod-delete; do cat "$KWOK_DIR/kustomize/stage/pod/fast/$f.yaml"; echo '---'; done
  cat "$KWOK_DIR/kustomize/stage/pod/chaos/pod-container-running-failed.yaml"
  echo '---'
  cat "$ROOT/scripts/kwok-stages.yaml"
} >"$STAGES"
start kwok \
  --kubeconfig="$STATE/kwok.kubeconfig" \
  --config="$STAGES" \
  --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --node-lease-duration-seconds=40 \
  --cidr=10.244.0.1/16 \
  --node-ip=127.0.0.1 \
  --server-address="127.0.0.1:$KWOK_PORT"

wait_healthy kube-controller-manager 60
wait_healthy kube-scheduler 60
wait_healthy kwok 60

# Fake nodes, the Gateway API CRDs, and a wait until the nodes are Ready (scripts/k8s-setup.ts).
GW_DIR=$(module_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")
KUBECONFIG=$KUBECONFIG_ADMIN node --import tsx scripts/k8s-setup.ts --nodes "${NODES[*]}" "$GW_DIR"/config/crd/standard/*.yaml
touch "$STATE/crds-$GATEWAY_API_VERSION"
log "control plane $K8S_VERSION up on https://127.0.0.1:$API_PORT in $((SECONDS - T0))s; admin kubeconfig:"
echo "$KUBECONFIG_ADMIN"
