/**
 * Set-up shared by the tests that run against the real Kubernetes control plane started by
 * scripts/k8s-up.sh (kube-apiserver, controller-manager, scheduler, etcd, KWOK nodes).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { SSA } from '../../src/activities/kubernetes/client';

const ROOT = join(__dirname, '..', '..');
const GATEWAY_CLASS = 'tandem-test';

/** Starts the control plane (fast when it runs) and loads the kubeconfig, the last line its script prints. */
export function startControlPlane(): { kc: k8s.KubeConfig; kubeconfig: string } {
  const out = execFileSync('bash', [join(ROOT, 'scripts', 'k8s-up.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 1_800_000 });
  const kubeconfig = out.trim().split('\n').pop()!;
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { kc, kubeconfig };
}

/** Polls `fn` every 200 ms until it returns a value other than undefined; fails after `timeoutMs`. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** Creates namespace `name` labelled tandem.dev/test-run=`runLabel` and waits for its default ServiceAccount. */
export async function createTestNamespace(kc: k8s.KubeConfig, name: string, runLabel: string): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name, labels: { 'tandem.dev/test-run': runLabel } } } });
  // Pods can only be created once the namespace's default ServiceAccount exists.
  await eventually(`ServiceAccount default in ${name}`, () =>
    core.readNamespacedServiceAccount({ name: 'default', namespace: name }).then(
      () => true,
      () => undefined,
    ),
  );
}

/** Server-side-applies the cluster-wide `tandem-test` GatewayClass that test Gateways use. */
export async function applyTestGatewayClass(kc: k8s.KubeConfig): Promise<void> {
  await kc.makeApiClient(k8s.CustomObjectsApi).patchClusterCustomObject(
    {
      group: 'gateway.networking.k8s.io',
      version: 'v1',
      plural: 'gatewayclasses',
      name: GATEWAY_CLASS,
      body: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: GATEWAY_CLASS }, spec: { controllerName: 'tandem.dev/test' } },
      fieldManager: 'tandem-test',
    },
    SSA,
  );
}

/** Creates Gateway `gatewayName` of the `tandem-test` class, one HTTP listener on port 80, in `namespace`. */
export async function createTestGateway(kc: k8s.KubeConfig, namespace: string, gatewayName: string): Promise<void> {
  await kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    namespace,
    plural: 'gateways',
    body: {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: gatewayName },
      spec: { gatewayClassName: GATEWAY_CLASS, listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
    },
  });
}

/** What startRealNode found: a cluster with the real node, or why this machine cannot run one. */
export type RealNode = { kc: k8s.KubeConfig; kubeconfig: string; nodeName: string; skip?: undefined } | { skip: string };

/**
 * Starts (or reuses) the real node of scripts/k8s-node-up.sh (kubelet, containerd, kube-proxy,
 * labelled and tainted tandem.dev/node=real) beside the control plane. Returns `skip` with the
 * script's reason only when it exits 3, its code for "this machine cannot run a node" (not root,
 * no memory cgroup, no bridge support); any other failure throws, so the test fails.
 */
export function startRealNode(): RealNode {
  const result = spawnSync('bash', [join(ROOT, 'scripts', 'k8s-node-up.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 1_800_000 });
  process.stderr.write(result.stderr ?? '');
  if (result.status === 3) return { skip: result.stderr.trim().split('\n').pop()! };
  if (result.status !== 0) throw new Error(`scripts/k8s-node-up.sh failed (exit ${result.status ?? result.signal}): ${result.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  const kubeconfig = result.stdout.trim().split('\n').pop()!;
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { kc, kubeconfig, nodeName: process.env.K8S_NODE_NAME ?? 'tandem-node-0' };
}
