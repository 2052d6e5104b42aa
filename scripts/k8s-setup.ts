/**
 * Second half of scripts/k8s-up.sh, run against the admin kubeconfig (KUBECONFIG): creates the
 * fake nodes KWOK manages, server-side applies YAML files (the Gateway API CRDs), and waits until
 * the CRDs are established and the nodes Ready. Idempotent: applying the same files again
 * changes nothing, existing nodes are kept.
 *
 *   KUBECONFIG=... tsx scripts/k8s-setup.ts [--nodes "n1 n2"] FILE.yaml...
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { isNotFound } from '../src/activities/kubernetes/errors';

async function main(argv: string[]): Promise<void> {
  let nodes: string[] = [];
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--nodes') nodes = (argv[++i] ?? '').split(/\s+/).filter(Boolean);
    else files.push(argv[i]!);
  }
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);

  for (const name of nodes) {
    try {
      await core.readNode({ name });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await core.createNode({
        body: {
          metadata: {
            name,
            annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
            labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok' },
          },
        },
      });
      console.error(`k8s-setup: created fake node ${name}`);
    }
  }

  const crds: string[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
      const object = doc.toJSON() as k8s.KubernetesObject | null;
      if (!object?.kind) continue;
      await objects.patch(object, undefined, undefined, 'tandem-dev-setup', true, k8s.PatchStrategy.ServerSideApply);
      if (object.kind === 'CustomResourceDefinition') crds.push(object.metadata!.name!);
    }
  }
  if (crds.length) console.error(`k8s-setup: applied ${crds.length} CRDs`);

  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const pendingCrds: string[] = [];
    for (const name of crds) {
      const crd = await ext.readCustomResourceDefinition({ name });
      if (!crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) pendingCrds.push(name);
    }
    const list = await core.listNode();
    const notReady = nodes.filter((name) => {
      const node = list.items.find((n) => n.metadata?.name === name);
      return !node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    });
    if (pendingCrds.length === 0 && notReady.length === 0) return;
    if (Date.now() > deadline) throw new Error(`not ready after 60s: ${[...pendingCrds, ...notReady].join(', ')}`);
    await sleep(200);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`k8s-setup: ${(error as Error).message ?? String(error)}`);
  process.exit(1);
});
