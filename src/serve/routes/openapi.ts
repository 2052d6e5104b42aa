/** `GET /openapi.json`: the OpenAPI document, generated from the same zod schemas that check requests. */
import { z } from 'zod';
import type { ZodApp } from '../app';

export function registerOpenApiRoute(app: ZodApp): void {
  app.get(
    '/openapi.json',
    {
      config: { permission: 'public' },
      schema: { summary: 'this OpenAPI document', tags: ['service'], security: [], response: { 200: z.record(z.string(), z.unknown()) } },
    },
    async () => app.swagger() as unknown as Record<string, unknown>,
  );
}
