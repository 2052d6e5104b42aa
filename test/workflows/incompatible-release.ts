/**
 * A deliberately incompatible `release` workflow for the replay test's negative control: it reads
 * the model before resolving the tag, so its first command differs from every stored history.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { ReleaseActivities } from '../../src/activities/types';
import type { ReleaseInput } from '../../src/workflows/messages';

const { describeModel, resolveTag } = proxyActivities<ReleaseActivities>({ startToCloseTimeout: '1m' });

export async function release(input: ReleaseInput): Promise<void> {
  await describeModel({ model: input.model, environment: input.environment });
  await resolveTag({ repoUrl: input.repoUrl, tag: input.tag, model: input.model });
}
