/** What the API needs of the typed client (src/client): the same calls the CLI makes. */
import type { TandemClient } from '../client';

export type ServeClient = Pick<TandemClient, 'releases' | 'status' | 'statusOf' | 'start' | 'startOnce' | 'act' | 'history' | 'versions' | 'rollback' | 'taskQueue' | 'temporal'>;
