/**
 * A small reader of the Prometheus text exposition format (version 0.0.4), enough for the
 * gateway's counters and histograms: `name{label="value",...} number [timestamp]`, with
 * `# HELP` / `# TYPE` lines skipped. The npm parsers looked at were unmaintained or untyped, and
 * the one producer we read is our own gateway (prom-client). Pure.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample in the text. Throws on a line that is not a sample, naming its number. */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nameMatch) throw new Error(`metrics line ${index + 1} is not a sample: ${line.slice(0, 80)}`);
    const name = nameMatch[0];
    let rest = line.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      let i = 1;
      for (;;) {
        while (rest[i] === ' ' || rest[i] === ',') i++;
        if (rest[i] === '}') {
          i++;
          break;
        }
        const key = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(rest.slice(i));
        if (!key || rest[i + key[0].length] !== '=' || rest[i + key[0].length + 1] !== '"') {
          throw new Error(`metrics line ${index + 1} has a malformed label: ${line.slice(0, 80)}`);
        }
        i += key[0].length + 2;
        let value = '';
        while (i < rest.length && rest[i] !== '"') {
          if (rest[i] === '\\') {
            const next = rest[i + 1];
            value += next === 'n' ? '\n' : (next ?? '');
            i += 2;
          } else {
            value += rest[i];
            i++;
          }
        }
        if (i >= rest.length) throw new Error(`metrics line ${index + 1} has an unterminated label value`);
        i++;
        labels[key[0]] = value;
      }
      rest = rest.slice(i);
    }
    const [valueText] = rest.trim().split(/\s+/);
    const value = parseValue(valueText ?? '');
    if (value === undefined) throw new Error(`metrics line ${index + 1} has no number: ${line.slice(0, 80)}`);
    samples.push({ name, labels, value });
  });
  return samples;
}

function parseValue(text: string): number | undefined {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (text === '') return undefined;
  const value = Number(text);
  return Number.isNaN(value) ? undefined : value;
}
