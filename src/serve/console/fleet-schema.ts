/** The fleet as GET /api/fleet and its event stream answer it: zod schemas, published in /openapi.json. */
import { z } from 'zod';

const series = z
  .object({
    t: z.array(z.number()).describe('epoch seconds of each point'),
    rps: z.array(z.number()).describe('requests per second'),
    errorRate: z.array(z.number().nullable()).describe('share of 5xx answers, 0..1 (null: no requests)'),
    p95Ms: z.array(z.number().nullable()).describe('p95 latency in ms (null: no requests)'),
  })
  .describe('VersionSeries');

export const fleetVersionSchema = z
  .object({
    version: z.string(),
    role: z.enum(['stable', 'canary', 'warm', 'pinned-only']),
    weight: z.number().describe('percent of unpinned traffic'),
    replicas: z.number(),
    readyReplicas: z.number(),
    commit: z.string(),
    image: z.string(),
    digest: z.string(),
    deployedAt: z.string(),
    metrics: series.optional().describe('live series, when serve reads this environment\'s metrics'),
  })
  .describe('FleetVersion');

export const fleetReleaseSchema = z
  .object({
    workflowId: z.string(),
    version: z.string(),
    stage: z.string(),
    status: z.string(),
    startTime: z.string(),
    waitingFor: z.enum(['approval', 'resume', 'deploy-window']).optional(),
    paused: z.boolean().optional(),
    weights: z.record(z.string(), z.number()).optional(),
  })
  .describe('FleetRelease');

export const fleetEntrySchema = z
  .object({
    model: z.string(),
    environment: z.string(),
    target: z.enum(['docker', 'kubernetes']),
    versions: z.array(fleetVersionSchema),
    release: fleetReleaseSchema.optional().describe('the active release, if any'),
    metrics: z.object({ source: z.enum(['gateway', 'prometheus', 'none']), note: z.string().optional() }).describe('where the live series come from'),
    error: z.string().optional().describe('why the running versions could not be read (e.g. no worker)'),
    readAt: z.string().optional().describe('when the running versions were read'),
  })
  .describe('FleetEntry');

export const fleetSchema = z
  .object({
    generatedAt: z.string(),
    temporalUi: z.object({ url: z.string(), namespace: z.string() }).describe('where a release\'s run is shown: <url>/namespaces/<namespace>/workflows/<workflowId>'),
    entries: z.array(fleetEntrySchema),
  })
  .describe('Fleet');

export type Fleet = z.infer<typeof fleetSchema>;
export type FleetEntry = z.infer<typeof fleetEntrySchema>;
export type FleetVersion = z.infer<typeof fleetVersionSchema>;
