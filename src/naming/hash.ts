/**
 * The short hash names use to keep apart values that had to be cut or changed to fit a naming
 * rule. Pure (no Node built-ins), so workflows may import it.
 */

/**
 * The first `length` (at most 16) hex digits of a 64-bit FNV-1a hash over the parts, separated
 * so ("a","bc") ≠ ("ab","c"). Not cryptographic: it only keeps names of different values apart.
 */
export function hashHex(parts: readonly string[], length: number): string {
  const text = parts.join('\0');
  const prime = 0x100000001b3n;
  const mask = (1n << 64n) - 1n;
  let hash = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    hash ^= BigInt(text.charCodeAt(i));
    hash = (hash * prime) & mask;
  }
  return hash.toString(16).padStart(16, '0').slice(0, length);
}
