/** A member and its score. */
export interface Scored {
  member: string;
  score: number;
}

/** One end of a score range. */
export interface ScoreBound {
  value: number;
  exclusive: boolean;
}

// Redis orders members by score, then by member byte-wise; JS string order is the same for the ASCII
// ids and keys a run store uses.
const before = (a: Scored, b: Scored) => a.score < b.score || (a.score === b.score && a.member < b.member);

/** A sorted set: members by score, kept in order so ranges are a binary search and a slice. */
export class SortedSet {
  private readonly scores = new Map<string, number>();
  private readonly ordered: Scored[] = [];

  get size(): number {
    return this.ordered.length;
  }

  score(member: string): number | undefined {
    return this.scores.get(member);
  }

  /** Adds the member or moves it to its new score. */
  set(member: string, score: number): void {
    if (this.scores.has(member)) this.remove(member);
    this.scores.set(member, score);
    const entry = { member, score };
    this.ordered.splice(this.indexOf(entry), 0, entry);
  }

  remove(member: string): boolean {
    const score = this.scores.get(member);
    if (score === undefined) return false;
    this.scores.delete(member);
    this.ordered.splice(this.indexOf({ member, score }), 1);
    return true;
  }

  /** Members from rank `start` to `stop` inclusive (already clamped), lowest first or highest first. */
  byRank(start: number, stop: number, reverse: boolean): Scored[] {
    if (!reverse) return this.ordered.slice(start, stop + 1);
    const length = this.ordered.length;
    return this.ordered.slice(length - 1 - stop, length - start).reverse();
  }

  /** Members whose score lies between `min` and `max`, lowest first or highest first. */
  byScore(min: ScoreBound, max: ScoreBound, reverse: boolean): Scored[] {
    const above = (entry: Scored) => (min.exclusive ? entry.score > min.value : entry.score >= min.value);
    const below = (entry: Scored) => (max.exclusive ? entry.score < max.value : entry.score <= max.value);
    const inRange = this.ordered.filter((entry) => above(entry) && below(entry));
    return reverse ? inRange.reverse() : inRange;
  }

  /** Where `entry` is, or would be inserted, in the order. */
  private indexOf(entry: Scored): number {
    let low = 0;
    let high = this.ordered.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (before(this.ordered[middle] as Scored, entry)) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
