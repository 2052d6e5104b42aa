/**
 * Prediction agreement of a shadowed version, from tandem's gateway: it compares the stable and
 * the mirrored answers of each copied request and counts the results (GET
 * /_tandem/models/<model>/versions/<version>/agreement). Read at the start and at the end of a
 * window and judged on the difference (../agreement.ts). Read-only, so repeating a window is harmless.
 */
import { z } from 'zod';
import { adminAgreementPath } from '../../../naming/gateway';
import type { GatewayToken } from '../../../shared/gateway-token';
import type { AgreementAnalyzer } from '../../target';
import type { ShadowAnalysisInput, ShadowResult } from '../../types';
import { waitWindow } from '../../wait';
import { type AgreementReading, agreementWindow, judgeAgreement } from '../agreement';
import { readGatewayJson } from './admin-read';

const count = z.number().int().min(0);
const answer = z.object({ status: z.number().int(), body: z.unknown().optional() });
const readingSchema = z.object({
  agree: count,
  disagree: count,
  notCompared: count,
  samples: z.array(
    z.object({
      at: z.string(),
      request: z.object({ method: z.string(), path: z.string(), body: z.unknown().optional() }),
      stable: answer,
      candidate: answer,
      differences: z.array(z.string()),
    }),
  ),
});

export class GatewayAgreementAnalyzer implements AgreementAnalyzer {
  constructor(
    private readonly adminUrl: string,
    private readonly credentials: GatewayToken,
    private readonly options: { heartbeatEveryMs?: number; readTimeoutMs?: number } = {},
  ) {}

  /**
   * Reads the version's comparison counts now and after `input.windowMs` (heartbeating meanwhile)
   * and judges the pairs compared in between. Throws a plain (retryable) Error when the gateway
   * cannot be read, and the signal's reason when aborted.
   */
  async analyze(input: ShadowAnalysisInput, heartbeat: (details?: unknown) => void, signal: AbortSignal): Promise<ShadowResult> {
    const startedAt = Date.now();
    const start = await this.read(input.model, input.version, signal);
    await waitWindow(startedAt, input.windowMs, this.options.heartbeatEveryMs ?? 5000, heartbeat, signal);
    const end = await this.read(input.model, input.version, signal);
    return judgeAgreement(agreementWindow(start, end, new Date(startedAt).toISOString()), input.rule, input.stable);
  }

  /** What the gateway has counted for the version so far. */
  async read(model: string, version: string, signal?: AbortSignal): Promise<AgreementReading> {
    const url = `${this.adminUrl.replace(/\/+$/, '')}${adminAgreementPath(model, version)}`;
    const body = await readGatewayJson(url, this.credentials, 'prediction agreement', this.options.readTimeoutMs ?? 10_000, signal);
    const parsed = readingSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new Error(`cannot read prediction agreement at ${url}: ${issue.path.join('.') || '(root)'}: ${issue.message} (is the gateway older than the worker?)`);
    }
    return parsed.data as AgreementReading;
  }
}
