/**
 * A replay guard: QStash signs every attempt afresh (a new `jti`), so a signature id seen twice is a
 * captured delivery sent again. The route consults the guard after verifying, before any job code runs.
 */
export interface ReplayGuard {
  /**
   * Records a signature id until it expires (`expiresAt`, unix seconds). Resolves to false when the id
   * was recorded already: the delivery is a replay. With a shared store, use an atomic "set if absent":
   * e.g. Redis `SET qjobs:jti:<id> 1 NX EXAT <expiresAt>`.
   */
  claim(id: string, expiresAt: number): boolean | Promise<boolean>;
}

/**
 * A replay guard in this process's memory, pruned as signatures expire. It sees only the deliveries this
 * instance served: on serverless platforms with many instances, give the route a guard on a shared store.
 */
export function memoryReplayGuard(options: { now?: () => number } = {}): ReplayGuard {
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const seen = new Map<string, number>();
  let nextPrune = 0;
  return {
    claim(id, expiresAt) {
      const current = now();
      if (current >= nextPrune) {
        for (const [seenId, expiry] of seen) if (expiry < current) seen.delete(seenId);
        nextPrune = current + 60;
      }
      const expiry = seen.get(id);
      if (expiry !== undefined && expiry >= current) return false;
      seen.set(id, expiresAt);
      return true;
    },
  };
}
