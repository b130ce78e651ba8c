/** Remembers message ids for a window, as Service Bus duplicate detection does; window 0 = off. */
export type DuplicateDetector = { isDuplicate(messageId: string): boolean };

export function createDuplicateDetector(windowMs: number): DuplicateDetector {
  const seen = new Map<string, number>();
  return {
    isDuplicate(messageId) {
      if (windowMs <= 0) return false;
      const now = Date.now();
      // Map keeps insertion order, so the oldest entries come first: prune from the front.
      for (const [id, at] of seen) {
        if (now - at < windowMs) break;
        seen.delete(id);
      }
      if (seen.has(messageId)) return true;
      seen.set(messageId, now);
      return false;
    },
  };
}
