#!/usr/bin/env bash
# Starts a real Kubernetes node beside the KWOK nodes of scripts/k8s-up.sh (which it calls first),
# unless it runs already: a kubelet, kube-proxy (iptables mode) and a containerd of its own, so
# pods really run and Service ClusterIPs answer from this host.
#
#   - kubelet and kube-proxy v1.35.4 are built once from the wrapper module scripts/k8s-build (like
#     the control plane) into $TANDEM_HOME/k8s-<version>/bin;
#   - containerd and runc are Debian's (installed with docker.io); this script starts a second
#     containerd with the CRI plugin on its own socket, root and state (Docker's containerd disables
#     CRI), `restrict_oom_score_adj = true` (without it every sandbox fails here: "runc create failed:
#     can't get final child's PID from pipe"), pulling plain HTTP from the local registry through a
#     hosts.toml under the CRI registry config_path;
#   - CNI from Debian's containernetworking-plugins: bridge + host-local + portmap + loopback on the
#     pod CIDR;
#   - the sandbox (pause) image is made here from a tiny static C program (gcc -static, docker
#     import) and pushed to 127.0.0.1:5000: nothing can be pulled from outside;
#   - the node `tandem-node-0` registers with label tandem.dev/node=real and taint
#     tandem.dev/node=real:NoSchedule, so only pods that tolerate it (and select it) land there:
#     the KWOK-only tests keep running on the fake nodes.
# See docs/kubernetes.md for what worked and the timings.
#
#   TANDEM_HOME          cache and state folder (default ~/.cache/tandem); node state in $TANDEM_HOME/k8s-node
#   K8S_NODE_NAME        node name (default tandem-node-0)
#   K8S_NODE_POD_CIDR    pod addresses of the node (default 10.89.0.0/24)
#
#   bash scripts/k8s-node-up.sh                start or reuse; prints the admin kubeconfig path (last line)
#   bash scripts/k8s-node-up.sh --stop         stops the processes this script started (not the control plane)
#   bash scripts/k8s-node-up.sh --build-only   builds kubelet and kube-proxy and exits
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

K8S_VERSION=v1.35.4
TANDEM_HOME=${TANDEM_HOME:-$HOME/.cache/tandem}
BIN=$TANDEM_HOME/k8s-$K8S_VERSION/bin
CP_STATE=$TANDEM_HOME/k8s
PKI=$CP_STATE/pki
STATE=$TANDEM_HOME/k8s-node
LOGS=$STATE/logs
RUN=/run/tandem-k8s-node
NODE_NAME=${K8S_NODE_NAME:-tandem-node-0}
POD_CIDR=${K8S_NODE_POD_CIDR:-10.89.0.0/24}
API_PORT=${K8S_APISERVER_PORT:-6443}
REGISTRY=127.0.0.1:5000
PAUSE_IMAGE=$REGISTRY/tandem/pause:1
CONTAINERD_SOCK=$RUN/containerd.sock
CNI_BIN=/usr/lib/cni
BRIDGE=tandem-cni0
KUBELET_HEALTHZ_PORT=10248
KUBELET_PORT=10250
PROXY_HEALTHZ_PORT=10256
PROXY_METRICS_PORT=10249
NODE_LABEL=tandem.dev/node

export GOWORK=off
GO=$(command -v go || echo /usr/local/go/bin/go)
LOG_FD=2
source "$ROOT/scripts/lib.sh"

# ------------------------------------------------------------------------------------ stop
# Stops a process by its pid file, only if that pid still runs the binary we started.
stop_one() { # name binary-path
  local name=$1 binary=$2 pidfile=$STATE/$1.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "^$binary "; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    log "stopped $name (pid $pid)"
  fi
  rm -f "$pidfile"
}
stop_all() {
  stop_one kube-proxy "$BIN/kube-proxy"
  stop_one kubelet "$BIN/kubelet"
  # The pods' containers outlive the kubelet and containerd (each has a shim): kill and delete
  # them through our containerd while it runs, then stop it, then any shim of ours still there
  # (found by our containerd's socket in its command line).
  if [ -S "$CONTAINERD_SOCK" ] && ctr_ok; then
    local task
    for task in $(ctr --address "$CONTAINERD_SOCK" -n k8s.io task ls -q 2>/dev/null); do
      ctr --address "$CONTAINERD_SOCK" -n k8s.io task kill -s SIGKILL "$task" >/dev/null 2>&1 || true
    done
    sleep 1
    for task in $(ctr --address "$CONTAINERD_SOCK" -n k8s.io task ls -q 2>/dev/null); do
      ctr --address "$CONTAINERD_SOCK" -n k8s.io task delete -f "$task" >/dev/null 2>&1 || true
    done
  fi
  stop_one containerd /usr/bin/containerd
  local pid
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK" || true); do
    kill "$pid" 2>/dev/null && log "stopped a leftover shim (pid $pid)"
  done
  # The kubelet bind-mounts its root dir onto itself (and pod volumes below it).
  if mountpoint -q "$STATE/kubelet" 2>/dev/null; then umount -R "$STATE/kubelet" && log "unmounted $STATE/kubelet"; fi
  # kube-proxy's iptables chains (KUBE-*) would keep sending ClusterIPs to pods that are gone.
  [ -x "$BIN/kube-proxy" ] && "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
}
ctr_ok() { ctr --address "$CONTAINERD_SOCK" --timeout 2s version >/dev/null 2>&1; }
if [ "${1:-}" = "--stop" ]; then stop_all; exit 0; fi

# ----------------------------------------------------------------------------------- build
build() {
  mkdir -p "$BIN"
  [ -x "$BIN/kubelet" ] && [ -x "$BIN/kube-proxy" ] && return
  log "building kubelet and kube-proxy $K8S_VERSION from k8s.io/kubernetes (once; ≈ 6 min with the module cache warm)"
  local start=$SECONDS minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  local ldflags="-s -w"
  for kv in "gitVersion=$K8S_VERSION" "gitMajor=1" "gitMinor=$minor" "gitTreeState=clean"; do
    ldflags="$ldflags -X k8s.io/component-base/version.$kv -X k8s.io/client-go/pkg/version.$kv"
  done
  (cd scripts/k8s-build && CGO_ENABLED=0 "$GO" build -trimpath -ldflags "$ldflags" -o "$BIN/" \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy)
  log "built in $((SECONDS - start))s"
}

packages() {
  local missing=()
  [ -x "$CNI_BIN/bridge" ] || missing+=(containernetworking-plugins)
  command -v containerd >/dev/null 2>&1 || missing+=(containerd)
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  command -v conntrack >/dev/null 2>&1 || missing+=(conntrack)
  command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

# ------------------------------------------------------------------------- pause image
# The sandbox image: a static program that sleeps until SIGINT/SIGTERM and reaps children.
pause_image() {
  if curl -fsS --max-time 5 -o /dev/null -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY/v2/tandem/pause/manifests/1" 2>/dev/null; then return; fi
  log "making the pause image $PAUSE_IMAGE (gcc -static, docker import)"
  local dir
  dir=$(mktemp -d)
  cat >"$dir/pause.c" <<'EOF'
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
  signal(SIGINT, quit); signal(SIGTERM, quit); signal(SIGCHLD, reap);
  for (;;) pause();
}
EOF
  mkdir -p "$dir/root"
  gcc -static -Os -s -o "$dir/root/pause" "$dir/pause.c"
  tar -C "$dir/root" --numeric-owner --owner=0 --group=0 -cf - . |
    docker import --change 'ENTRYPOINT ["/pause"]' --change 'USER 65535:65535' - "$PAUSE_IMAGE" >/dev/null
  docker push -q "$PAUSE_IMAGE" >/dev/null
  rm -rf "$dir"
}

# ------------------------------------------------------------------------------ configs
issue_client() { # name CN O
  local name=$1 cn=$2 org=$3
  [ -f "$STATE/pki/$name.crt" ] && openssl verify -CAfile "$PKI/ca.crt" "$STATE/pki/$name.crt" >/dev/null 2>&1 && return
  local ext
  ext=$(mktemp)
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >"$ext"
  local subj="/CN=$cn"
  [ -n "$org" ] && subj="/O=$org$subj"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$STATE/pki/$name.key" -subj "$subj" -out "$STATE/pki/$name.csr" 2>/dev/null
  openssl x509 -req -in "$STATE/pki/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 3650 -extfile "$ext" -out "$STATE/pki/$name.crt" 2>/dev/null
  rm -f "$STATE/pki/$name.csr" "$ext"
}

kubeconfig() { # file name
  local file=$1 name=$2
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: tandem-dev
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $(base64 -w0 "$STATE/pki/$name.crt")
    client-key-data: $(base64 -w0 "$STATE/pki/$name.key")
contexts:
- name: tandem-dev
  context:
    cluster: tandem-dev
    user: $name
current-context: tandem-dev
EOF
  chmod 600 "$file"
}

api() { # METHOD PATH [curl args...]
  local method=$1 path=$2
  shift 2
  curl -fsS --max-time 10 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    -X "$method" "https://127.0.0.1:$API_PORT$path" "$@"
}

# The API server authorizes with RBAC only (no Node authorizer): bind the built-in system:node
# role to this node's user. kube-proxy's user system:kube-proxy is bound by the default
# system:node-proxier binding.
rbac() {
  api PATCH "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/tandem-node?fieldManager=tandem-node-up&force=true" \
    -H 'Content-Type: application/apply-patch+yaml' --data-binary @- >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: tandem-node }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:node }
subjects:
- { apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:node:$NODE_NAME" }
EOF
}

configs() {
  mkdir -p "$STATE/pki" "$LOGS" "$STATE/cni/net.d" "$STATE/containerd/certs.d/$REGISTRY" "$STATE/kubelet" "$STATE/pod-logs" "$RUN"
  chmod 700 "$STATE/pki"
  issue_client kubelet "system:node:$NODE_NAME" system:nodes
  issue_client kube-proxy system:kube-proxy ""
  kubeconfig "$STATE/kubelet.kubeconfig" kubelet
  kubeconfig "$STATE/kube-proxy.kubeconfig" kube-proxy

  cat >"$STATE/containerd/certs.d/$REGISTRY/hosts.toml" <<EOF
server = "http://$REGISTRY"

[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
EOF

  cat >"$STATE/containerd/config.toml" <<EOF
version = 2
root = "$STATE/containerd/root"
state = "$RUN/containerd-state"
oom_score = 0

[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$RUN/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$STATE/containerd/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "$PAUSE_IMAGE"
    restrict_oom_score_adj = true
    enable_selinux = false
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "$CNI_BIN"
      conf_dir = "$STATE/cni/net.d"
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "$STATE/containerd/certs.d"
EOF

  cat >"$STATE/cni/net.d/10-tandem.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "tandem-pods",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$POD_CIDR" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "$STATE/cni/ipam"
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } },
    { "type": "loopback" }
  ]
}
EOF

  cat >"$STATE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
imageServiceEndpoint: unix://$CONTAINERD_SOCK
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: false }
  x509: { clientCAFile: $PKI/ca.crt }
authorization: { mode: AlwaysAllow }
podCIDR: $POD_CIDR
podLogsDir: $STATE/pod-logs
failSwapOn: false
maxPods: 40
serializeImagePulls: false
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
evictionHard: { memory.available: 100Mi, nodefs.available: 2%, imagefs.available: 2% }
imageGCHighThresholdPercent: 98
imageGCLowThresholdPercent: 95
registerWithTaints:
- { key: $NODE_LABEL, value: real, effect: NoSchedule }
nodeStatusUpdateFrequency: 10s
EOF

  cat >"$STATE/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: { kubeconfig: $STATE/kube-proxy.kubeconfig }
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:$PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$PROXY_METRICS_PORT
conntrack: { maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
EOF
}

# -------------------------------------------------------------------------------- health
healthy() {
  case $1 in
    containerd) [ -S "$CONTAINERD_SOCK" ] && kill -0 "$(cat "$STATE/containerd.pid" 2>/dev/null || echo 0)" 2>/dev/null &&
      ctr_ok ;;
    kubelet) [ "$(curl -sS --max-time 2 "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz" 2>/dev/null)" = ok ] ;;
    kube-proxy) curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$PROXY_HEALTHZ_PORT/healthz" 2>/dev/null ;;
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
start() { # name binary args...
  local name=$1 binary=$2
  shift 2
  if healthy "$name"; then return; fi
  stop_one "$name" "$binary"
  nohup setsid "$binary" "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/$name.pid"
}

# The node object: Ready, with our label and taint (the kubelet sets both when it registers), and,
# with an argument, a Ready heartbeat from after that epoch second (not a status left from before).
node_ready() { # [since-epoch-seconds]
  local since=${1:-0}
  api GET "/api/v1/nodes/$NODE_NAME" 2>/dev/null | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const n = JSON.parse(s || "{}");
      const ready = (n.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True" && Date.parse(c.lastHeartbeatTime) / 1000 >= '"$since"' - 1);
      const labelled = n.metadata?.labels?.["'"$NODE_LABEL"'"] === "real";
      const tainted = (n.spec?.taints ?? []).some((t) => t.key === "'"$NODE_LABEL"'" && t.effect === "NoSchedule");
      process.exit(ready && labelled && tainted ? 0 : 1);
    });'
}

all_up() {
  for c in containerd kubelet kube-proxy; do healthy "$c" || return 1; done
  node_ready
}

# ------------------------------------------------------------------------------- preflight
# What this machine must offer, outside the repo. Exit code 3 says "this machine cannot run a
# node" (tests skip naming the reason); any other failure is a failure.
unsupported() { echo "$SCRIPT_NAME: this machine cannot run a Kubernetes node: $*" >&2; exit 3; }
preflight() {
  [ "$(id -u)" = 0 ] || unsupported "kubelet, containerd and kube-proxy must run as root (running as uid $(id -u))"
  [ -d /sys/fs/cgroup/memory ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || unsupported "no memory cgroup controller under /sys/fs/cgroup"
  [ -e /proc/sys/net/bridge ] || [ -d /sys/module/bridge ] || modprobe bridge 2>/dev/null || unsupported "the kernel has no bridge support (CNI bridge plugin)"
}

# ------------------------------------------------------------------------------------ main
T0_MS=$(date +%s%3N)
elapsed() { local ms=$(($(date +%s%3N) - $1)); printf '%d.%01ds' $((ms / 1000)) $((ms % 1000 / 100)); }
KUBECONFIG_ADMIN=$(bash scripts/k8s-up.sh $([ "${1:-}" = "--build-only" ] && echo --build-only) | tail -1)
if [ "${1:-}" != "--build-only" ] && [ -d "$STATE" ] && all_up; then
  log "node $NODE_NAME already running (kubelet, kube-proxy, containerd on $CONTAINERD_SOCK); checked in $(elapsed "$T0_MS")"
  echo "$KUBECONFIG_ADMIN"
  exit 0
fi

build
if [ "${1:-}" = "--build-only" ]; then exit 0; fi
preflight
T1_MS=$(date +%s%3N)
SINCE=$(date +%s)
packages
bash scripts/docker-up.sh >&2
pause_image
configs
rbac

start containerd /usr/bin/containerd --config "$STATE/containerd/config.toml" --log-level warn
wait_healthy containerd 30

start kubelet "$BIN/kubelet" --config="$STATE/kubelet.yaml" --kubeconfig="$STATE/kubelet.kubeconfig" \
  --root-dir="$STATE/kubelet" --hostname-override="$NODE_NAME" \
  --node-labels="$NODE_LABEL=real" --v=1
start kube-proxy "$BIN/kube-proxy" --config="$STATE/kube-proxy.yaml" --v=1
wait_healthy kubelet 60
wait_healthy kube-proxy 60

for _ in $(seq 1 600); do node_ready "$SINCE" && break; sleep 0.1; done
node_ready "$SINCE" || die "node $NODE_NAME did not become Ready with label $NODE_LABEL=real and its taint in 60s; see $LOGS/kubelet.log"
log "node $NODE_NAME $K8S_VERSION Ready in $(elapsed "$T1_MS") (with the control plane check and build check: $(elapsed "$T0_MS")); admin kubeconfig:"
echo "$KUBECONFIG_ADMIN"
