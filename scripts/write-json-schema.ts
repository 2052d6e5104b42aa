// Writes schema/tandem.schema.json from src/model-spec/schema.ts (npm run schema); a test keeps them in step.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { specJsonSchema } from '../src/model-spec/json-schema';

const dir = join(__dirname, '..', 'schema');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'tandem.schema.json'), JSON.stringify(specJsonSchema(), null, 2) + '\n');
console.log('wrote schema/tandem.schema.json');
