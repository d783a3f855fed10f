/**
 * Redis Cluster's key → slot mapping (CRC16/XMODEM of the key's hash tag, modulo 16384), as in the
 * cluster specification. The engine uses it to pick hash tags that land where it wants them.
 */
export const CLUSTER_SLOTS = 16_384;

export function hashSlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key)) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % CLUSTER_SLOTS;
}

/**
 * A hash tag (without braces) starting with `base` whose slot is in the `part`-th of `parts` equal
 * slices of the slots. `redis-cli --cluster create` gives each master one contiguous, equal slice, so
 * with as many parts as masters each part lands on its own master (with more parts, evenly on them).
 */
export function tagInSlice(base: string, part: number, parts: number): string {
  const from = Math.floor((part * CLUSTER_SLOTS) / parts);
  const to = Math.floor(((part + 1) * CLUSTER_SLOTS) / parts);
  for (let n = 0; ; n++) {
    const tag = n === 0 ? base : `${base}~${n}`;
    const slot = hashSlot(tag);
    if (slot >= from && slot < to) return tag;
  }
}
