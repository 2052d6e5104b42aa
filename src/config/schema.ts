/**
 * The schema of tandem.config.yaml: which environments exist (target, registry, traffic router)
 * and which models are released where. Temporal connection settings are not here: they follow
 * Temporal's own conventions (@temporalio/envconfig: profiles, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS).
 */
import { z } from 'zod';
import { GatewayDefaults } from '../naming/gateway';
import { MODEL_NAME, MODEL_NAME_RULE } from '../naming/model';
import { isLabelKey, isLabelValue } from '../naming/kubernetes';
import { DEFAULT_WEB_UI_URL, NOTIFICATION_EVENTS } from '../naming/notifications';
import { serveSchema } from './serve-schema';
import { policySchema } from './policy-schema';
import { deployWindowsSchema } from './deploy-windows-schema';
import { tagPatternsSchema } from './tag-patterns';
import { pathSchema } from './path-schema';

const registrySchema = z
  .object({
    url: z.string().min(1).describe('Registry host[:port], e.g. 127.0.0.1:5000 or ghcr.io/acme.'),
    username: z.string().optional(),
    passwordEnv: z
      .string()
      .optional()
      .describe('Name of the environment variable that holds the password; the password itself is never in the file.'),
    insecure: z.boolean().default(false).describe('Talk plain HTTP to the registry (local registries).'),
  })
  .strict();

const dockerTargetSchema = z
  .object({
    kind: z.literal('docker'),
    host: z.string().optional().describe('Docker engine address; defaults to DOCKER_HOST or the local socket.'),
    network: z.string().default('tandem').describe('Docker network the version containers join.'),
  })
  .strict();

const LABEL_KEY_RULE = 'a label key: an optional DNS subdomain prefix and "/", then up to 63 letters, digits, "-", "_", "." starting and ending with a letter or digit';
const LABEL_VALUE_RULE = 'a label value: up to 63 letters, digits, "-", "_", "." starting and ending with a letter or digit, or empty';
const labelKeySchema = z.string().refine(isLabelKey, { error: (issue) => `"${String(issue.input)}" is not ${LABEL_KEY_RULE}` });
const labelValueSchema = z.string().refine(isLabelValue, { error: (issue) => `"${String(issue.input)}" is not ${LABEL_VALUE_RULE}` });
/** Label key → value; a bad key is reported under its own path, naming it. */
const labelMapSchema = z.record(z.string(), labelValueSchema).superRefine((labels, ctx) => {
  for (const key of Object.keys(labels)) {
    if (!isLabelKey(key)) ctx.addIssue({ code: 'custom', path: [key], message: `"${key}" is not ${LABEL_KEY_RULE}` });
  }
});

/** A pod toleration, checked as the API server would (so a bad one fails at start-up, not at deploy). */
const tolerationSchema = z
  .object({
    key: labelKeySchema.optional().describe('Taint key; omit it with operator Exists to tolerate every taint.'),
    operator: z.enum(['Equal', 'Exists']).default('Equal'),
    value: labelValueSchema.optional().describe('Taint value (operator Equal).'),
    effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional().describe('Taint effect; omit it to match every effect.'),
    tolerationSeconds: z.number().int().min(0).optional().describe('How long a pod stays bound after a NoExecute taint appears.'),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.operator === 'Exists' && t.value) ctx.addIssue({ code: 'custom', path: ['value'], message: 'must be empty when operator is Exists' });
    if (!t.key && t.operator !== 'Exists') ctx.addIssue({ code: 'custom', path: ['key'], message: 'is required unless operator is Exists (which tolerates every taint)' });
    if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') {
      ctx.addIssue({ code: 'custom', path: ['tolerationSeconds'], message: 'is only allowed with effect NoExecute' });
    }
  });

const kubernetesTargetSchema = z
  .object({
    kind: z.literal('kubernetes'),
    kubeconfig: z.string().optional().describe('Path to a kubeconfig; defaults to KUBECONFIG or in-cluster config.'),
    context: z.string().optional(),
    namespace: z.string().default('default'),
    isolation: z
      .enum(['shared', 'namespace'])
      .default('shared')
      .describe(
        'shared: every version in `namespace`. namespace: each version in a namespace of its own (`<namespace>-<model>-<version>-<hash>`) with a ResourceQuota and LimitRange from its spec, reached by the HTTPRoute through a ReferenceGrant, deleted when the version is retired; needs traffic.router gateway-api and deploy/rbac-namespace-isolation.yaml.',
      ),
    nodeSelector: labelMapSchema
      .optional()
      .describe('Node labels every version pod requires (pod spec nodeSelector), e.g. { tandem.dev/node: real }.'),
    tolerations: z.array(tolerationSchema).optional().describe('Taints the version pods tolerate (pod spec tolerations), e.g. a dedicated model-serving pool.'),
  })
  .strict();

/** How a client of the tandem gateway's admin API (the gateway router, the gateway analyzer) finds its token. */
const gatewayTokenFields = {
  tokenEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
    .default(GatewayDefaults.tokenEnv)
    .describe('Name of the environment variable holding the gateway\'s admin token (its --admin-token-env).'),
  tokenFile: z
    .string()
    .min(1)
    .optional()
    .describe(
      'File holding the admin token, read when the variable is unset; default: admin-token in the gateway\'s default state directory ($TANDEM_HOME/gateway, TANDEM_HOME defaulting to ~/.cache/tandem), where `tandem gateway` writes the token it generates.',
    ),
};

const gatewayRouterSchema = z
  .object({
    router: z.literal('gateway'),
    url: z
      .string()
      .url()
      .default(`http://${GatewayDefaults.adminHost}:${GatewayDefaults.adminPort}`)
      .describe('Admin API address of `tandem gateway` (its --admin-host and --admin-port).'),
    ...gatewayTokenFields,
  })
  .strict();
const gatewayApiRouterSchema = z
  .object({
    router: z.literal('gateway-api'),
    gateway: z.string().describe('Name of the Gateway the HTTPRoutes attach to.'),
    gatewayNamespace: z.string().optional(),
  })
  .strict();
const replicaRatioRouterSchema = z.object({ router: z.literal('replica-ratio') }).strict();

/**
 * Placeholders of the Prometheus query templates (`{{version}}`, spaces inside the braces allowed),
 * and the default templates: they fit a model server that exports the example's metrics
 * (requests_total, errors_total counting 5xx answers, request_duration_seconds), labelled `version`.
 */
export const PROMETHEUS_PLACEHOLDERS = ['model', 'version', 'namespace', 'window'] as const;
export const PROMETHEUS_PLACEHOLDER_PATTERN = /\{\{\s*([^}]*?)\s*\}\}/g;
export const PROMETHEUS_DEFAULT_QUERIES = {
  requests: 'sum(increase(requests_total{version="{{version}}"}[{{window}}]))',
  errorRate: 'sum(increase(errors_total{version="{{version}}"}[{{window}}])) / sum(increase(requests_total{version="{{version}}"}[{{window}}]))',
  latencyP95: 'histogram_quantile(0.95, sum by (le) (rate(request_duration_seconds_bucket{version="{{version}}"}[{{window}}]))) * 1000',
} as const;

const queryTemplate = (what: string, fallback: string) =>
  z
    .string()
    .min(1)
    .refine((template) => [...template.matchAll(PROMETHEUS_PLACEHOLDER_PATTERN)].every((m) => (PROMETHEUS_PLACEHOLDERS as readonly string[]).includes(m[1]!)), {
      message: `uses an unknown placeholder; known: ${PROMETHEUS_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')}`,
    })
    .optional()
    .describe(
      `PromQL template for ${what}, evaluated once at the end of the window; {{model}}, {{version}}, {{namespace}} ` +
        '(the Kubernetes namespace, empty for Docker) and {{window}} (the window as a Prometheus duration, e.g. 30s) are replaced. ' +
        `Default: ${fallback}`,
    );

const prometheusAnalysisSchema = z
  .object({
    url: z.string().url().describe('Base URL of the Prometheus server (its HTTP API is at <url>/api/v1/query), e.g. http://prometheus.monitoring:9090.'),
    errorRateQuery: queryTemplate('the error rate, 0..1', PROMETHEUS_DEFAULT_QUERIES.errorRate),
    requestsQuery: queryTemplate('the number of requests in the window, compared with the rule\'s minRequests', PROMETHEUS_DEFAULT_QUERIES.requests),
    latencyP95Query: queryTemplate('the p95 latency in milliseconds', PROMETHEUS_DEFAULT_QUERIES.latencyP95),
  })
  .strict();

const gatewayAnalysisSchema = z
  .object({
    url: z
      .string()
      .url()
      .describe(
        'Admin API address of the tandem gateway that serves this environment\'s traffic (its --admin-host and --admin-port), e.g. the `tandem gateway --kubernetes` of the Gateway that traffic.gateway names; analysis reads its per-version counters (/_tandem/metrics.json).',
      ),
    ...gatewayTokenFields,
  })
  .strict();

const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name, e.g. TANDEM_SLACK_URL');

/** Where the worker finds one header's value: an environment variable or a file, never the value. */
const headerSecretSchema = z
  .object({
    env: envVarName.optional().describe('Environment variable of the worker that holds the header\'s whole value, e.g. `Bearer <token>`.'),
    file: z.string().min(1).optional().describe('File that holds the header\'s value (e.g. a mounted secret), read at each request.'),
  })
  .strict()
  .superRefine((secret, ctx) => {
    if (!secret.env === !secret.file) {
      ctx.addIssue({ code: 'custom', path: ['env'], message: secret.env ? 'give env or file, not both' : 'is required: name the environment variable (env) or file (file) that holds the header\'s value' });
    }
  });

/** The worker's side of the web metrics a spec names: the headers their requests carry (secrets stay here, not in the spec). */
const webAnalysisSchema = z
  .object({
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP header name, e.g. Authorization'), headerSecretSchema)
      .default({})
      .describe('Headers sent with every web metric request of this environment, e.g. { Authorization: { env: QUALITY_TOKEN } }.'),
  })
  .strict();

/**
 * One receiver of release notifications. Its address and token are secrets: the file names where
 * the worker finds them (an environment variable or a file), never the values.
 */
export const notificationSinkSchema = z
  .object({
    kind: z
      .enum(['webhook', 'slack'])
      .describe('webhook: POST of tandem\'s JSON notification; slack: a Slack incoming-webhook message (text and blocks).'),
    urlEnv: envVarName.optional().describe('Environment variable of the worker that holds the receiver\'s URL.'),
    urlFile: z.string().min(1).optional().describe('File that holds the receiver\'s URL (e.g. a mounted secret), read at each send.'),
    tokenEnv: envVarName.optional().describe('Environment variable holding a token sent as `Authorization: Bearer <token>`.'),
    tokenFile: z.string().min(1).optional().describe('File holding that token, read at each send.'),
    events: z
      .array(z.enum(NOTIFICATION_EVENTS))
      .min(1, `lists no event; leave events out to get all of ${NOTIFICATION_EVENTS.join(', ')}`)
      .default([...NOTIFICATION_EVENTS])
      .describe(`Which moments of a release are sent: ${NOTIFICATION_EVENTS.join(', ')} (default: all).`),
  })
  .strict()
  .superRefine((sink, ctx) => {
    if (!sink.urlEnv === !sink.urlFile) {
      ctx.addIssue({ code: 'custom', path: ['urlEnv'], message: sink.urlEnv ? 'give urlEnv or urlFile, not both' : 'is required: name the environment variable (urlEnv) or file (urlFile) that holds the receiver\'s URL' });
    }
    if (sink.tokenEnv && sink.tokenFile) ctx.addIssue({ code: 'custom', path: ['tokenEnv'], message: 'give tokenEnv or tokenFile, not both' });
  });

const notificationsSchema = z.array(notificationSinkSchema);

export const environmentSchema = z
  .object({
    target: z.discriminatedUnion('kind', [dockerTargetSchema, kubernetesTargetSchema]),
    registry: registrySchema,
    traffic: z
      .discriminatedUnion('router', [gatewayRouterSchema, gatewayApiRouterSchema, replicaRatioRouterSchema])
      .prefault({ router: 'gateway' }),
    build: z
      .object({
        buildArgs: z.record(z.string(), z.string()).default({}).describe('Build arguments given to every build, e.g. BASE_IMAGE.'),
      })
      .strict()
      .default({ buildArgs: {} }),
    analysis: z
      .object({
        prometheus: prometheusAnalysisSchema
          .optional()
          .describe(
            'Judge canary analysis steps with these Prometheus queries instead of the tandem gateway\'s counters (Docker) or not at all (Kubernetes).',
          ),
        gateway: gatewayAnalysisSchema
          .optional()
          .describe(
            'Judge canary analysis steps with the counters of this tandem gateway (the data plane of `tandem gateway --kubernetes`); a Docker environment routed by the gateway reads them without this.',
          ),
        web: webAnalysisSchema
          .optional()
          .describe('Headers (from secrets of the worker) for the web metrics that analysis steps name in tandem.yaml (README, "Web metrics").'),
      })
      .strict()
      .superRefine((analysis, ctx) => {
        const given = [analysis.prometheus && 'prometheus', analysis.gateway && 'gateway'].filter(Boolean);
        if (given.length > 1 || (given.length === 0 && !analysis.web)) {
          ctx.addIssue({ code: 'custom', message: given.length ? 'give one of prometheus or gateway, not both' : 'needs prometheus or gateway (where the metrics are read), or web' });
        }
      })
      .optional()
      .describe('Where analysis steps read a version\'s metrics.'),
    notifications: notificationsSchema
      .optional()
      .describe('Receivers of this environment\'s release notifications; replaces the top-level notifications ([] sends none).'),
    production: z.boolean().default(false).describe('A production environment: its approval policy has four-eyes on unless it says fourEyes: false.'),
    policy: policySchema.optional().describe('Approval policy of releases here (README, "Approval policy"); models may override it per environment.'),
    deployWindows: deployWindowsSchema.optional(),
  })
  .strict()
  .superRefine((env, ctx) => {
    if (env.target.kind === 'kubernetes' && env.target.isolation === 'namespace' && env.traffic.router === 'replica-ratio') {
      ctx.addIssue({
        code: 'custom',
        path: ['traffic', 'router'],
        message:
          '"replica-ratio" cannot serve target.isolation "namespace": its model Service selects pods in its own namespace only, and each version runs in a namespace of its own. ' +
          'Use traffic: { router: gateway-api, gateway: <name> }, or target.isolation: shared',
      });
    }
  });

export const configSchema = z
  .object({
    taskQueue: z.string().default('tandem'),
    notifications: notificationsSchema.default([]).describe('Receivers of release notifications for every environment that lists none of its own.'),
    links: z
      .object({
        webUi: z.string().url().default(DEFAULT_WEB_UI_URL).describe('Address of the Temporal Web UI; notifications link to the release there.'),
        console: z.string().url().optional().describe('Public address of tandem\'s console; notifications link to the release there too.'),
      })
      .strict()
      .prefault({})
      .describe('Addresses that notifications link to.'),
    environments: z.record(z.string().regex(/^[a-z0-9-]+$/, 'environment names are lowercase letters, digits and "-"'), environmentSchema),
    models: z
      .record(
        z.string().regex(MODEL_NAME, `model names are ${MODEL_NAME_RULE}`),
        z
          .object({
            repo: z.string().min(1).describe('Git URL or local path of the model repository.'),
            environment: z.string().describe('Default environment for releases of this model.'),
            tags: tagPatternsSchema
              .optional()
              .describe('Tags whose push starts a release through the webhooks (serve.webhooks), e.g. "v*": `*` matches any characters; a list matches any of its patterns. Default: every tag.'),
            policy: z
              .record(z.string(), policySchema)
              .optional()
              .describe('Per environment name: policy keys that override the environment\'s policy for this model.'),
            path: pathSchema
              .optional()
              .describe('The environments versions move through in order, e.g. [staging, { environment: prod, soak: 1h, requireAnalysis: true, auto: true }] (README, "Environments in sequence").'),
          })
          .strict(),
      )
      .default({}),
    serve: serveSchema.optional().describe('`tandem serve`: bearer tokens and which groups may read, start and operate.'),
  })
  .strict()
  .superRefine((config, ctx) => {
    for (const [name, model] of Object.entries(config.models)) {
      if (!(model.environment in config.environments)) {
        ctx.addIssue({
          code: 'custom',
          path: ['models', name, 'environment'],
          message: `names environment "${model.environment}", which is not under "environments" (known: ${Object.keys(config.environments).join(', ') || 'none'})`,
        });
      }
      (model.path ?? []).forEach((entry, i) => {
        const env = typeof entry === 'string' ? entry : entry.environment;
        if (!(env in config.environments)) {
          ctx.addIssue({ code: 'custom', path: ['models', name, 'path', i], message: `names environment "${env}", which is not under "environments" (known: ${Object.keys(config.environments).join(', ') || 'none'})` });
        }
      });
      for (const env of Object.keys(model.policy ?? {})) {
        if (!(env in config.environments)) {
          ctx.addIssue({
            code: 'custom',
            path: ['models', name, 'policy', env],
            message: `overrides the policy of environment "${env}", which is not under "environments" (known: ${Object.keys(config.environments).join(', ') || 'none'})`,
          });
        }
      }
    }
  });

export type Config = z.output<typeof configSchema>;
export type EnvironmentConfig = z.output<typeof environmentSchema>;
export type NotificationSinkConfig = z.output<typeof notificationSinkSchema>;
