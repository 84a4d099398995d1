const UNIT_BYTES: Record<string, number> = { '': 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/**
 * Parses a byte size: a whole number of bytes (`1048576`) or whole binary units (`900KiB`, `16MiB`, `1GiB`,
 * case-insensitive), the form the docs show. Returns undefined when invalid: a fraction of a unit would hide
 * a rounding, and decimal units (MB) are left out so 1MB cannot silently mean 1,000,000 or 1,048,576.
 */
export function parseSize(text: string): number | undefined {
  const match = /^\s*(\d+)\s*(b|kib|mib|gib)?\s*$/i.exec(text);
  if (!match) return undefined;
  const bytes = Number(match[1]) * UNIT_BYTES[(match[2] ?? '').toLowerCase()]!;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
