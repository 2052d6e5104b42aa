/**
 * tandem.yaml's `resources` (Kubernetes quantities) as the Docker engine takes them. Pure.
 */

/** `"0.5"` or `"500m"` → NanoCpus (0.5 CPU = 500_000_000). Throws on anything else. */
export function nanoCpus(cpu: string): number {
  const match = /^(\d+(?:\.\d+)?)(m?)$/.exec(cpu.trim());
  if (!match) throw new Error(`resources.cpu: "${cpu}" is not cores ("0.5") or millicores ("500m")`);
  const cores = Number(match[1]) / (match[2] === 'm' ? 1000 : 1);
  return Math.round(cores * 1e9);
}

/** `"256Mi"`, `"1Gi"`, `"512Ki"` or plain bytes → bytes. Throws on anything else. */
export function memoryBytes(memory: string): number {
  const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(memory.trim());
  if (!match) throw new Error(`resources.memory: "${memory}" is not bytes or a quantity like 256Mi`);
  const unit = match[2] === 'Ki' ? 1024 : match[2] === 'Mi' ? 1024 ** 2 : match[2] === 'Gi' ? 1024 ** 3 : 1;
  return Number(match[1]) * unit;
}
