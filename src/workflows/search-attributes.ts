/** Search attributes tandem keeps current on every release, so the Web UI can filter by them. */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const modelKey = defineSearchAttributeKey('TandemModel', SearchAttributeType.KEYWORD);
export const versionKey = defineSearchAttributeKey('TandemVersion', SearchAttributeType.KEYWORD);
export const environmentKey = defineSearchAttributeKey('TandemEnvironment', SearchAttributeType.KEYWORD);
export const stageKey = defineSearchAttributeKey('TandemStage', SearchAttributeType.KEYWORD);
