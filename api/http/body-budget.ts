/**
 * The request body bytes one api process holds at once (MAX_INFLIGHT_BODY_BYTES). Without it,
 * concurrent large bodies grew the api without bound (red-team finding 3: 200 concurrent 1 MiB
 * calls, 108 → 642 MiB). A body takes its declared size (or the body limit when it is sent chunked)
 * before it is read, and gives it back when its response is done, since the parsed body lives as
 * long as the request.
 */
export class BodyBudget {
  private held = 0;

  constructor(readonly capacity: number) {}

  /** Takes `bytes` if they fit; false (and nothing taken) otherwise. */
  tryTake(bytes: number): boolean {
    if (this.held + bytes > this.capacity) return false;
    this.held += bytes;
    return true;
  }

  give(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
  }

  /** Bytes held now. */
  get inUse(): number {
    return this.held;
  }
}
