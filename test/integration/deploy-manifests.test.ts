/**
 * The Kubernetes manifests of deploy/ (deploy/kubernetes/*.yaml and deploy/rbac.yaml) against the
 * real control plane of scripts/k8s-up.sh. Each object is server-side applied as written, with
 * strict field validation (an unknown or misspelt field is an error, not silently dropped), into
 * two fresh namespaces that stand in for `tandem` and `models`: the workload objects as a dry run
 * (no kubelet runs pods here), the namespaces and the RBAC objects for real, so that the worker's
 * ServiceAccount can be asked what it may do. The worker's own settings in the manifests (the
 * TEMPORAL_* variables, tandem.config.yaml, the in-cluster identity) are loaded by the code the
 * worker runs at start-up.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { parse, parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load';
import { buildEnvironments } from '../../src/environments';
import { startControlPlane } from '../helpers/kubernetes';

const ROOT = path.resolve(__dirname, '../..');
const DIR = path.join(ROOT, 'deploy', 'kubernetes');
const RUN = Date.now().toString(36);
const FIELD_MANAGER = 'tandem-deploy-test';
/** The namespaces the manifests name, and the fresh ones this run uses instead. */
const WORKER_NS = 'tandem';
const MODELS_NS = 'models';
const RELOCATE: Record<string, string> = { [WORKER_NS]: `tandem-deploy-${RUN}`, [MODELS_NS]: `tandem-deploy-models-${RUN}` };

type Obj = k8s.KubernetesObject & Record<string, unknown>;
interface Manifest {
  file: string;
  object: Obj;
}

/**
 * Every document of a file, parsed as kubectl does (YAML 1.1: `0440` is octal, `yes` a boolean);
 * a duplicate key or any other YAML error fails the test.
 */
function readManifests(file: string): Manifest[] {
  const docs = parseAllDocuments(readFileSync(path.join(ROOT, file), 'utf8'), { version: '1.1' });
  const list = Array.isArray(docs) ? docs : [docs];
  return list
    .filter((doc) => doc.contents !== null)
    .map((doc) => {
      assert.deepEqual([...doc.errors, ...doc.warnings].map(String), [], file);
      return { file, object: doc.toJSON() as Obj };
    });
}

const kustomization = parse(readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[]; namespace?: string };
const manifests = [...kustomization.resources.map((r) => readManifests(`deploy/kubernetes/${r}`)).flat(), ...readManifests('deploy/rbac.yaml')];

function find<T>(kind: string, file?: string): T & Obj {
  const found = manifests.filter((m) => m.object.kind === kind && (file === undefined || m.file === file));
  assert.equal(found.length, 1, `exactly one ${kind}${file ? ` in ${file}` : ''}`);
  return found[0]!.object as T & Obj;
}

const deployment = find<k8s.V1Deployment>('Deployment', 'deploy/kubernetes/deployment.yaml');
const pod = deployment.spec!.template.spec!;
const container = pod.containers[0]!;
const configMap = find<k8s.V1ConfigMap>('ConfigMap');
const role = find<k8s.V1Role>('Role', 'deploy/rbac.yaml');
const roleBinding = find<k8s.V1RoleBinding>('RoleBinding', 'deploy/rbac.yaml');
const workerAccount = find<k8s.V1ServiceAccount>('ServiceAccount', 'deploy/kubernetes/serviceaccount.yaml');

/** A copy of a manifest in this run's namespaces (deploy/rbac.yaml names none: it goes to the models'). */
function relocated(m: Manifest): Obj {
  const object = structuredClone(m.object);
  const ns = (name: string) => RELOCATE[name] ?? assert.fail(`${m.file}: unexpected namespace ${name}`);
  if (object.kind === 'Namespace') object.metadata!.name = ns(object.metadata!.name!);
  else object.metadata!.namespace = ns(object.metadata!.namespace ?? (m.file === 'deploy/rbac.yaml' ? MODELS_NS : assert.fail(`${m.file}: ${object.kind} names no namespace`)));
  for (const subject of (object as unknown as k8s.V1RoleBinding).subjects ?? []) if (subject.namespace) subject.namespace = ns(subject.namespace);
  return object;
}

/** Discovery of a kind's resource name and scope (the client's own lookup, made public). */
class Discovery extends k8s.KubernetesObjectApi {
  lookup(apiVersion: string, kind: string): Promise<k8s.V1APIResource | undefined> {
    return this.resource(apiVersion, kind);
  }
}
const discovery = new WeakMap<k8s.KubeConfig, Discovery>();

interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
  /** the API server's Warning headers (PodSecurity, deprecations, ...) */
  warnings: string[];
}

/**
 * Server-side apply of `object` exactly as given: the request body is the object's JSON, sent
 * without the client library's typed serializer (which would drop fields its models do not know
 * before the server could refuse them), with fieldValidation=Strict.
 */
async function apply(kc: k8s.KubeConfig, object: Obj, dryRun: boolean): Promise<ApiAnswer> {
  if (!discovery.has(kc)) discovery.set(kc, kc.makeApiClient(Discovery));
  const resource = await discovery.get(kc)!.lookup(object.apiVersion!, object.kind!);
  assert.ok(resource, `the API server serves ${object.apiVersion} ${object.kind}`);
  const base = object.apiVersion!.includes('/') ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`;
  const scope = resource.namespaced ? `/namespaces/${object.metadata!.namespace}` : '';
  const query = new URLSearchParams({ fieldManager: FIELD_MANAGER, fieldValidation: 'Strict', force: 'true', ...(dryRun ? { dryRun: 'All' } : {}) });
  const server = new URL(kc.getCurrentCluster()!.server);
  const options: https.RequestOptions = {
    method: 'PATCH',
    hostname: server.hostname,
    port: server.port,
    path: `${base}${scope}/${resource.name}/${object.metadata!.name}?${query}`,
    headers: { 'content-type': 'application/apply-patch+yaml', accept: 'application/json' },
  };
  await kc.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const req = https.request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const warning = res.headers.warning;
        resolve({
          status: res.statusCode!,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
          warnings: warning ? warning.split(/,\s*(?=\d{3} )/) : [],
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify(object));
  });
}

/** Fails unless every field of `written` is in `stored` with the same value (the server may add defaults). */
function assertKept(stored: unknown, written: unknown, at: string): void {
  if (Array.isArray(written)) {
    assert.ok(Array.isArray(stored), `${at}: a list was written, the server kept ${JSON.stringify(stored)}`);
    assert.equal(stored.length, written.length, `${at}: length`);
    written.forEach((item, i) => assertKept(stored[i], item, `${at}[${i}]`));
  } else if (written !== null && typeof written === 'object') {
    assert.ok(stored !== null && typeof stored === 'object', `${at}: an object was written, the server kept ${JSON.stringify(stored)}`);
    for (const [key, value] of Object.entries(written)) assertKept((stored as Record<string, unknown>)[key], value, `${at}.${key}`);
  } else {
    assert.deepEqual(stored, written, `${at}: written ${JSON.stringify(written)}, kept ${JSON.stringify(stored)}`);
  }
}

/** (group, resource, verb) triples of RBAC rules; a `*` stays as written. */
function permissions(rules: Array<{ apiGroups?: string[]; resources?: string[]; verbs: string[] }>): Set<string> {
  const out = new Set<string>();
  for (const rule of rules) for (const group of rule.apiGroups ?? []) for (const resource of rule.resources ?? []) for (const verb of rule.verbs) out.add(`${group}/${resource}:${verb}`);
  return out;
}

describe('deploy/ Kubernetes manifests on a real control plane', () => {
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tandem-deploy-'));

  before(async () => {
    ({ kc } = startControlPlane());
    core = kc.makeApiClient(k8s.CoreV1Api);
    // The namespaces, for real, from namespace.yaml (with its Pod Security labels).
    for (const m of manifests.filter((m) => m.object.kind === 'Namespace')) {
      const namespace = relocated(m);
      namespace.metadata!.labels = { ...namespace.metadata!.labels, 'tandem.dev/test-run': RUN };
      const answer = await apply(kc, namespace, false);
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
    }
  });

  after(async () => {
    for (const name of Object.values(RELOCATE)) await core.deleteNamespace({ name }).catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('lists every manifest in kustomization.yaml, names its namespaces, holds no Secret values', () => {
    const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
    assert.deepEqual([...kustomization.resources].sort(), files.sort());
    assert.equal(kustomization.namespace, undefined, 'objects name their namespaces (tandem, models)');
    for (const { file, object } of manifests) {
      assert.notEqual(object.kind, 'Secret', `${file}: Secrets are referenced, never stored in deploy/`);
      if (object.kind !== 'Namespace' && file !== 'deploy/rbac.yaml') assert.equal(object.metadata?.namespace, WORKER_NS, `${file}: ${object.kind} namespace`);
    }
    assert.deepEqual(manifests.filter((m) => m.object.kind === 'Namespace').map((m) => m.object.metadata!.name), [WORKER_NS, MODELS_NS]);
    assert.deepEqual(manifests.filter((m) => m.object.kind === 'Deployment').map((m) => m.object.metadata!.name), ['tandem-worker', 'tandem-gateway', 'tandem-serve']);
    assert.deepEqual(container.args?.slice(0, 1), ['worker']);
  });

  it('runs the gateway as the Gateway API data plane, as its ServiceAccount in deploy/gateway-rbac.yaml, probed on its admin port', () => {
    const gateway = find<k8s.V1Deployment>('Deployment', 'deploy/kubernetes/gateway.yaml');
    const pod = gateway.spec!.template.spec!;
    const [main] = pod.containers;
    assert.deepEqual(main!.args?.slice(0, 5), ['gateway', '--kubernetes', 'in-cluster', '--gateway-class', 'tandem']);
    assert.equal(main!.image, container.image, 'the same image as the worker');
    const account = readManifests('deploy/gateway-rbac.yaml').find((m) => m.object.kind === 'ServiceAccount')!.object;
    assert.equal(pod.serviceAccountName, account.metadata!.name);
    assert.equal(account.metadata!.namespace, gateway.metadata!.namespace);
    for (const probe of [main!.startupProbe, main!.livenessProbe, main!.readinessProbe]) assert.deepEqual(probe?.httpGet, { path: '/_tandem/healthz', port: 'admin' });
    const service = find<k8s.V1Service>('Service', 'deploy/kubernetes/gateway.yaml');
    assert.deepEqual(service.spec!.ports!.map((p) => p.targetPort), ['http'], 'only model traffic is published: the admin port stays in the pod');
    assert.deepEqual(service.spec!.selector, gateway.spec!.selector!.matchLabels);
  });

  it('runs `tandem serve` from the same image and ConfigMap, non-root without a Kubernetes token, probed on /healthz, its Secret optional', () => {
    const serve = find<k8s.V1Deployment>('Deployment', 'deploy/kubernetes/serve.yaml');
    const servePod = serve.spec!.template.spec!;
    const [main] = servePod.containers;
    const arg = (name: string) => main!.args![main!.args!.indexOf(name) + 1];
    assert.equal(main!.args![0], 'serve');
    assert.equal(main!.image, container.image, 'the same image as the worker');
    const configVolume = servePod.volumes!.find((v) => v.configMap?.name === configMap.metadata!.name);
    assert.ok(configVolume, 'mounts the ConfigMap tandem-config');
    assert.equal(arg('--config'), `${main!.volumeMounts!.find((m) => m.name === configVolume.name)!.mountPath}/tandem.config.yaml`);
    assert.equal(arg('--host'), '0.0.0.0', 'listens on the pod IP');
    const port = main!.ports!.find((p) => p.name === 'http')!;
    assert.equal(Number(arg('--port')), port.containerPort);
    for (const probe of [main!.startupProbe, main!.livenessProbe, main!.readinessProbe]) assert.deepEqual(probe?.httpGet, { path: '/healthz', port: 'http' });
    // the worker's Temporal settings, so both reach the same namespace
    const env = (c: k8s.V1Container) => Object.fromEntries(c.env!.filter((e) => e.name.startsWith('TEMPORAL_')).map((e) => [e.name, e]));
    assert.deepEqual(env(main!), env(container));
    assert.deepEqual([servePod.securityContext!.runAsNonRoot, servePod.securityContext!.runAsUser], [true, pod.securityContext!.runAsUser]);
    assert.deepEqual([main!.securityContext!.readOnlyRootFilesystem, main!.securityContext!.allowPrivilegeEscalation], [true, false]);
    // no Kubernetes credentials: it talks only to Temporal
    const account = find<k8s.V1ServiceAccount>('ServiceAccount', 'deploy/kubernetes/serve.yaml');
    assert.equal(servePod.serviceAccountName, account.metadata!.name);
    assert.equal(servePod.automountServiceAccountToken, false);
    // its secrets: Secret tandem-serve, optional (the configuration names files under its mount)
    const secrets = servePod.volumes!.find((v) => v.secret?.secretName === 'tandem-serve');
    assert.ok(secrets?.secret?.optional, 'Secret tandem-serve is optional');
    assert.equal(main!.volumeMounts!.find((m) => m.name === secrets.name)!.readOnly, true);
    const service = find<k8s.V1Service>('Service', 'deploy/kubernetes/serve.yaml');
    assert.deepEqual(service.spec!.selector, serve.spec!.selector!.matchLabels);
    assert.deepEqual(serve.spec!.template.metadata!.labels, serve.spec!.selector!.matchLabels);
    assert.deepEqual(service.spec!.ports!.map((p) => p.targetPort), ['http']);
    // the ConfigMap's serve section is valid (tokens as hashes only)
    const config = parseConfig(configMap.data!['tandem.config.yaml']!, 'configmap.yaml');
    assert.ok(config.serve, 'tandem-config has a serve: section');
  });

  it('wires the worker as tandem runs: config file, health port, probes, drain, cache, identity, secrets', () => {
    const labels = deployment.spec!.template.metadata!.labels!;
    assert.equal(deployment.spec!.replicas, 2);
    assert.deepEqual(deployment.spec!.selector.matchLabels, labels);
    const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(container.image, `ghcr.io/acme/tandem:${version}`, 'the image of the package version');

    // --config names the ConfigMap's key where its volume is mounted.
    const arg = (name: string) => container.args![container.args!.indexOf(name) + 1];
    const configVolume = pod.volumes!.find((v) => v.configMap?.name === configMap.metadata!.name)!;
    const configMount = container.volumeMounts!.find((m) => m.name === configVolume.name)!;
    assert.equal(arg('--config'), `${configMount.mountPath}/tandem.config.yaml`);
    assert.ok(configMap.data!['tandem.config.yaml']);
    assert.equal(arg('--log-format'), 'json');

    // One port serves /healthz, /readyz and /metrics: the probes, the scrape annotations, the Service.
    const port = container.ports!.find((p) => p.name === 'metrics')!;
    assert.equal(Number(arg('--health-port')), port.containerPort);
    assert.deepEqual([container.startupProbe!.httpGet!.path, container.startupProbe!.httpGet!.port], ['/healthz', 'metrics']);
    assert.deepEqual([container.livenessProbe!.httpGet!.path, container.livenessProbe!.httpGet!.port], ['/healthz', 'metrics']);
    assert.deepEqual([container.readinessProbe!.httpGet!.path, container.readinessProbe!.httpGet!.port], ['/readyz', 'metrics']);
    const annotations = deployment.spec!.template.metadata!.annotations!;
    assert.deepEqual([annotations['prometheus.io/scrape'], annotations['prometheus.io/port'], annotations['prometheus.io/path']], ['true', String(port.containerPort), '/metrics']);
    const service = find<k8s.V1Service>('Service', 'deploy/kubernetes/service.yaml');
    assert.deepEqual(service.spec!.selector, labels);
    assert.deepEqual(service.spec!.ports!.map((p) => [p.port, p.targetPort]), [[port.containerPort, 'metrics']]);
    const pdb = find<k8s.V1PodDisruptionBudget>('PodDisruptionBudget');
    assert.equal(pdb.spec!.minAvailable, 1);
    assert.deepEqual(pdb.spec!.selector!.matchLabels, labels);

    // Kubernetes waits longer than the worker's drain grace (src/worker.ts) before SIGKILL.
    const grace = /shutdownGraceTime \?\? '(\d+)s'/.exec(readFileSync(path.join(ROOT, 'src/worker.ts'), 'utf8'));
    assert.ok(grace, 'src/worker.ts states its default shutdownGraceTime in seconds');
    assert.ok(pod.terminationGracePeriodSeconds! >= Number(grace[1]) + 10, `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} vs a ${grace[1]} s drain`);

    // Read-only root: the only writable paths are emptyDirs, and TANDEM_CACHE is one of them.
    assert.deepEqual([pod.securityContext!.runAsNonRoot, container.securityContext!.readOnlyRootFilesystem, container.securityContext!.allowPrivilegeEscalation], [true, true, false]);
    const env = Object.fromEntries(container.env!.map((e) => [e.name, e]));
    const writable = container.volumeMounts!.filter((m) => !m.readOnly);
    for (const mount of writable) assert.ok(pod.volumes!.find((v) => v.name === mount.name)!.emptyDir, `${mount.mountPath} is an emptyDir`);
    assert.ok(writable.some((m) => m.mountPath === env.TANDEM_CACHE!.value), 'TANDEM_CACHE is a writable emptyDir');
    assert.ok(container.resources!.requests!.cpu && container.resources!.requests!.memory && container.resources!.limits!.memory);

    // The pod runs as the ServiceAccount that deploy/rbac.yaml binds to its Role.
    assert.equal(pod.serviceAccountName, workerAccount.metadata!.name);
    assert.deepEqual(roleBinding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata!.name });
    assert.deepEqual(roleBinding.subjects, [{ kind: 'ServiceAccount', name: workerAccount.metadata!.name, namespace: deployment.metadata!.namespace }]);

    // tandem.config.yaml is valid, its Kubernetes environments live in the models' namespace (where
    // deploy/rbac.yaml goes) and route without the tandem gateway; each passwordEnv comes from a Secret.
    const config = parseConfig(configMap.data!['tandem.config.yaml']!, 'configmap.yaml');
    for (const [name, environment] of Object.entries(config.environments)) {
      assert.equal(environment.target.kind, 'kubernetes', name);
      if (environment.target.kind !== 'kubernetes') continue;
      assert.equal(environment.target.namespace, MODELS_NS, `${name}: namespace`);
      assert.equal(environment.target.kubeconfig, undefined, `${name}: in-cluster identity`);
      assert.notEqual(environment.traffic.router, 'gateway', name);
      if (environment.registry.passwordEnv) assert.ok(env[environment.registry.passwordEnv]?.valueFrom?.secretKeyRef, `${environment.registry.passwordEnv} from a Secret`);
    }
    for (const e of container.env!) if (/PASSWORD|API_KEY|TOKEN/.test(e.name)) assert.ok(e.valueFrom?.secretKeyRef, `${e.name} comes from a Secret`);
  });

  it('accepts every object as written (server-side apply, strict fields, dry run), restricted Pod Security without a warning', async () => {
    for (const m of manifests) {
      const object = relocated(m);
      const answer = await apply(kc, object, true);
      assert.ok([200, 201].includes(answer.status), `${m.file} ${object.kind}: ${answer.status} ${JSON.stringify(answer.body)}`);
      assert.deepEqual(answer.warnings, [], `${m.file} ${object.kind}: warnings`);
      assertKept(answer.body, object, `${m.file} ${object.kind}/${object.metadata!.name}`);
      if (object.kind === 'Deployment' && m.file === 'deploy/kubernetes/deployment.yaml') {
        // A few fields of the worker spelled out, beyond the generic comparison above.
        const stored = answer.body as unknown as k8s.V1Deployment;
        const c = stored.spec!.template.spec!.containers[0]!;
        assert.equal(stored.spec!.replicas, 2);
        assert.equal(c.livenessProbe!.httpGet!.path, '/healthz');
        assert.equal(c.readinessProbe!.httpGet!.path, '/readyz');
        assert.equal(c.securityContext!.readOnlyRootFilesystem, true);
        assert.equal(stored.spec!.template.spec!.securityContext!.runAsNonRoot, true);
        assert.equal(stored.spec!.template.spec!.volumes!.find((v) => v.name === 'temporal-tls')!.secret!.defaultMode, 0o440);
      }
      if (object.kind === 'RoleBinding') assert.deepEqual((answer.body as unknown as k8s.V1RoleBinding).roleRef, roleBinding.roleRef);
    }
    // Dry run: no workload object was stored.
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    assert.deepEqual((await apps.listNamespacedDeployment({ namespace: RELOCATE[WORKER_NS]! })).items, []);

    // Negative controls: the same request refuses a misspelt field and reports a privileged pod.
    const source = manifests.find((m) => m.object.kind === 'Deployment' && m.file === 'deploy/kubernetes/deployment.yaml')!;
    const misspelt = relocated(source) as unknown as k8s.V1Deployment;
    (misspelt.spec!.template.spec!.containers[0]!.livenessProbe!.httpGet as unknown as Record<string, unknown>).paht = '/healthz';
    const refused = await apply(kc, misspelt as unknown as Obj, true);
    // (kube-apiserver answers 500 to a server-side apply that fails strict validation)
    assert.ok(refused.status >= 400, JSON.stringify(refused.body));
    assert.match(String(refused.body.message), /\.livenessProbe\.httpGet\.paht: field not declared in schema/);
    const privileged = relocated(source) as unknown as k8s.V1Deployment;
    privileged.spec!.template.spec!.containers[0]!.securityContext = { privileged: true };
    const warned = await apply(kc, privileged as unknown as Obj, true);
    assert.ok([200, 201].includes(warned.status));
    assert.match(warned.warnings.join('\n'), /would violate PodSecurity \W*restricted:latest.*privileged/);
  });

  it("gives the worker's ServiceAccount exactly the Role's permissions in the models' namespace and none in its own", async () => {
    const { worker } = await workerIdentity();
    const rules = async (namespace: string) => {
      const review = await worker.makeApiClient(k8s.AuthorizationV1Api).createSelfSubjectRulesReview({ body: { spec: { namespace } } });
      assert.equal(review.status!.incomplete, false);
      return permissions(review.status!.resourceRules);
    };
    // Its own namespace shows what every authenticated account may do (self reviews): the baseline.
    const baseline = await rules(RELOCATE[WORKER_NS]!);
    for (const p of baseline) assert.match(p, /^(authorization|authentication)\.k8s\.io\//, `nothing in its own namespace beyond self reviews: ${p}`);
    const granted = [...(await rules(RELOCATE[MODELS_NS]!))].filter((p) => !baseline.has(p)).sort();
    assert.deepEqual(granted, [...permissions(role.rules!)].sort());

    // The authorizer, asked by the administrator about the worker's account.
    const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
    const user = `system:serviceaccount:${RELOCATE[WORKER_NS]}:${workerAccount.metadata!.name}`;
    const allowed = async (namespace: string, verb: string, group: string, resource: string) =>
      (await authz.createSubjectAccessReview({ body: { spec: { user, groups: ['system:serviceaccounts', 'system:authenticated'], resourceAttributes: { namespace, verb, group, resource } } } })).status!.allowed;
    assert.equal(await allowed(RELOCATE[MODELS_NS]!, 'patch', 'apps', 'deployments'), true);
    assert.equal(await allowed(RELOCATE[MODELS_NS]!, 'get', '', 'secrets'), false);
    assert.equal(await allowed(RELOCATE[MODELS_NS]!, 'delete', '', 'pods'), false);
    assert.equal(await allowed(RELOCATE[WORKER_NS]!, 'patch', 'apps', 'deployments'), false, 'may not touch its own Deployment');
  });

  it("starts the worker's environments and Temporal connection from the Deployment's settings", async () => {
    const { path: workerKubeconfig } = await workerIdentity();
    // The Deployment's environment, with stand-ins for Secret values and the mounted files.
    const secretFiles = new Map<string, string>();
    for (const volume of pod.volumes!.filter((v) => v.secret)) {
      const mount = container.volumeMounts!.find((m) => m.name === volume.name)!;
      secretFiles.set(mount.mountPath, mkdtempSync(path.join(tmp, `${volume.name}-`)));
    }
    const local = (value: string) => {
      for (const [mountPath, dir] of secretFiles) if (value === mountPath || value.startsWith(`${mountPath}/`)) return dir + value.slice(mountPath.length);
      return value;
    };
    const env: Record<string, string> = {};
    for (const e of container.env!) env[e.name] = e.value !== undefined ? local(e.value) : `secret-${e.valueFrom!.secretKeyRef!.name}-${e.valueFrom!.secretKeyRef!.key}`;
    for (const name of ['TEMPORAL_TLS_CLIENT_CERT_PATH', 'TEMPORAL_TLS_CLIENT_KEY_PATH', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH']) writeFileSync(env[name]!, `${name}\n`);
    // (dockerode splits ca.pem into certificates when it is created)
    for (const file of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(path.join(env.DOCKER_CERT_PATH!, file), `-----BEGIN CERTIFICATE-----\n${file}\n-----END CERTIFICATE-----\n`);

    // @temporalio/envconfig reads these variables: address, namespace, mutual TLS and the API key.
    const temporal = loadClientConnectConfig({ disableFile: true, overrideEnvVars: env });
    const tls = temporal.connectionOptions.tls as { clientCertPair?: { crt: Uint8Array; key: Uint8Array }; serverRootCACertificate?: Uint8Array };
    assert.equal(temporal.connectionOptions.address, env.TEMPORAL_ADDRESS);
    assert.equal(temporal.namespace, env.TEMPORAL_NAMESPACE);
    assert.equal(Buffer.from(tls.clientCertPair!.crt).toString(), 'TEMPORAL_TLS_CLIENT_CERT_PATH\n');
    assert.equal(Buffer.from(tls.clientCertPair!.key).toString(), 'TEMPORAL_TLS_CLIENT_KEY_PATH\n');
    assert.equal(Buffer.from(tls.serverRootCACertificate!).toString(), 'TEMPORAL_TLS_SERVER_CA_CERT_PATH\n');
    assert.equal(temporal.connectionOptions.apiKey, env.TEMPORAL_API_KEY);

    // The worker builds its environments from the ConfigMap (as `tandem worker` does at start) with
    // the pod's environment and its ServiceAccount as the in-cluster identity, then lists the
    // model's versions in the (relocated) models' namespace through them.
    const config = parseConfig(configMap.data!['tandem.config.yaml']!, 'configmap.yaml');
    for (const environment of Object.values(config.environments)) if (environment.target.kind === 'kubernetes') environment.target.namespace = RELOCATE[MODELS_NS]!;
    const saved = { ...process.env };
    Object.assign(process.env, env, { KUBECONFIG: workerKubeconfig });
    try {
      const environments = buildEnvironments(config, path.join(tmp, 'cache'));
      for (const [name, environment] of Object.entries(environments)) {
        for (const model of Object.keys(config.models).filter((m) => config.models[m]!.environment === name)) {
          assert.deepEqual(await environment.target.list(model), [], `${name}: ${model} has no versions yet`);
          assert.deepEqual((await environment.router.getState(model)).weights, {}, `${name}: ${model} has no route yet`);
        }
      }
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });

  /**
   * For real (server-side apply, so each case that needs them can apply them again): the worker's
   * ServiceAccount and deploy/rbac.yaml in the models' namespace; then a kubeconfig as that account.
   */
  async function workerIdentity(): Promise<{ worker: k8s.KubeConfig; path: string }> {
    for (const m of manifests.filter((m) => m.file === 'deploy/rbac.yaml' || m.object === workerAccount)) {
      const answer = await apply(kc, relocated(m), false);
      assert.ok([200, 201].includes(answer.status), `${m.file} ${m.object.kind}: ${JSON.stringify(answer.body)}`);
    }
    return serviceAccountKubeConfig();
  }

  /** A kubeconfig file authenticating as the worker's ServiceAccount with a TokenRequest token. */
  async function serviceAccountKubeConfig(): Promise<{ worker: k8s.KubeConfig; path: string }> {
    const namespace = RELOCATE[WORKER_NS]!;
    const token = await core.createNamespacedServiceAccountToken({ name: workerAccount.metadata!.name!, namespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
    const cluster = kc.getCurrentCluster()!;
    const config = new k8s.KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: 'cluster', server: cluster.server, caData: cluster.caData }],
      users: [{ name: 'tandem-worker', token: token.status!.token }],
      contexts: [{ name: 'worker', cluster: 'cluster', user: 'tandem-worker', namespace }],
      currentContext: 'worker',
    });
    const file = path.join(tmp, 'worker.kubeconfig');
    writeFileSync(file, config.exportConfig(), { mode: 0o600 });
    return { worker: config, path: file };
  }
});
