/**
 * Lists answer `{data, nextCursor}`. A Page holds one of them and can fetch the next; iterating a
 * Page (`for await`) yields its items and then those of every following page.
 */
export class Page<T> implements AsyncIterable<T> {
  constructor(
    readonly data: T[],
    readonly nextCursor: string | null,
    private readonly fetchPage: (cursor: string) => Promise<Page<T>>,
  ) {}

  get hasMore(): boolean {
    return this.nextCursor !== null;
  }

  /** The following page, or null on the last one. */
  nextPage(): Promise<Page<T> | null> {
    return this.nextCursor === null ? Promise.resolve(null) : this.fetchPage(this.nextCursor);
  }

  /** This page, then each following page, fetched one at a time as you iterate. */
  async *pages(): AsyncGenerator<Page<T>, void, undefined> {
    for (let page: Page<T> | null = this; page; page = await page.nextPage()) yield page;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for await (const page of this.pages()) yield* page.data;
  }
}

/**
 * What `list()` returns: await it for the first Page, or `for await` over it for every item of every
 * page without handling cursors. The request is sent on first use.
 */
export class PagePromise<T> implements Promise<Page<T>>, AsyncIterable<T> {
  readonly [Symbol.toStringTag] = 'PagePromise';
  private promise: Promise<Page<T>> | undefined;

  constructor(private readonly load: () => Promise<Page<T>>) {}

  // biome-ignore lint/suspicious/noThenProperty: a PagePromise is a Promise (`await client.x.list()`), so it must be thenable.
  then<R1 = Page<T>, R2 = never>(
    onfulfilled?: ((page: Page<T>) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    this.promise ??= this.load();
    return this.promise.then(onfulfilled, onrejected);
  }

  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<Page<T> | R> {
    return this.then(undefined, onrejected);
  }

  finally(onfinally?: (() => void) | null): Promise<Page<T>> {
    return this.then().finally(onfinally);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    yield* await this;
  }
}
