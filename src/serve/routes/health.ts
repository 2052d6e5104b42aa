/** `GET /healthz`: the process serves (for probes and for scripts that wait for it). */
import { z } from 'zod';
import type { ZodApp } from '../app';

export function registerHealthRoutes(app: ZodApp): void {
  app.get(
    '/healthz',
    {
      config: { permission: 'public' },
      schema: { summary: 'the server is up', tags: ['service'], security: [], response: { 200: z.object({ status: z.literal('ok') }) } },
    },
    async () => ({ status: 'ok' as const }),
  );
}
