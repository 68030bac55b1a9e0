// An answer of `runway sim serve` other than 2xx: the status and the text of Fly's error body.

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}
