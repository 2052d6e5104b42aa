/** The published JSON Schema of tandem.yaml, generated from the same schema the code validates with. */
import { z } from 'zod';
import { specSchema } from './schema';

export function specJsonSchema(): object {
  return {
    ...z.toJSONSchema(specSchema, { io: 'input', target: 'draft-2020-12' }),
    $id: 'https://tandem.dev/schema/tandem.schema.json',
    title: 'tandem.yaml',
    description: 'The release spec a model repository keeps at each tagged commit.',
  };
}
