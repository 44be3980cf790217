// The response given to each X-Request-ID, so that a retried request gets the original response
// replayed instead of being processed twice. request_id is the primary key: two concurrent
// requests with one id cannot both be recorded.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';
import { isUniqueViolation } from './db.js';

export interface LoggedResponse {
  requestId: string;
  /** hash of the request body, to refuse the same id with a different body */
  bodyHash: string;
  method: string;
  url: string;
  status: number;
  headers: Record<string, string>;
  body: string;
  contentType: string;
  createdAt: string;
}

/** The request id is already recorded. */
export class DuplicateRequestIdError extends Error {
  constructor(readonly requestId: string) {
    super('request id already recorded');
    this.name = 'DuplicateRequestIdError';
  }
}

export class RequestLog {
  constructor(private readonly db: Kysely<Database>) {}

  async get(requestId: string): Promise<LoggedResponse | undefined> {
    const row = await this.db.selectFrom('request_log').selectAll().where('request_id', '=', requestId).executeTakeFirst();
    if (!row) return undefined;
    return {
      requestId: row.request_id,
      bodyHash: row.body_hash,
      method: row.method,
      url: row.url,
      status: Number(row.status),
      headers: JSON.parse(row.headers_json) as Record<string, string>,
      body: row.body_text,
      contentType: row.content_type,
      createdAt: row.created_at,
    };
  }

  /**
   * Records a response; in `trx` when given, so that it is stored with the writes it answers (or not
   * at all). A recorded id → DuplicateRequestIdError (on PostgreSQL that aborts `trx`).
   */
  async record(entry: LoggedResponse, trx?: Transaction<Database>): Promise<void> {
    try {
      await (trx ?? this.db)
        .insertInto('request_log')
        .values({
          request_id: entry.requestId,
          body_hash: entry.bodyHash,
          method: entry.method,
          url: entry.url,
          status: entry.status,
          headers_json: JSON.stringify(entry.headers),
          body_text: entry.body,
          content_type: entry.contentType,
          created_at: entry.createdAt,
        })
        .execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateRequestIdError(entry.requestId);
      throw err;
    }
  }

  /**
   * Claims a request id before the request is worked on (status 0 = in progress), so that two
   * concurrent requests with one id cannot both be processed. Returns undefined when claimed, or the
   * row already there (in progress, or finished with its answer).
   */
  async claim(entry: { requestId: string; bodyHash: string; method: string; url: string; createdAt: string }): Promise<LoggedResponse | undefined> {
    try {
      await this.record({ ...entry, status: IN_PROGRESS, headers: {}, body: '', contentType: '' });
      return undefined;
    } catch (err) {
      if (!(err instanceof DuplicateRequestIdError)) throw err;
      return this.get(entry.requestId);
    }
  }

  /** Takes over a claim left in progress (by a process that stopped) when it is older than `staleBefore`. */
  async takeOver(requestId: string, bodyHash: string, staleBefore: string, now: string): Promise<boolean> {
    const result = await this.db
      .updateTable('request_log')
      .set({ created_at: now })
      .where('request_id', '=', requestId)
      .where('status', '=', IN_PROGRESS)
      .where('body_hash', '=', bodyHash)
      .where('created_at', '<', staleBefore)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** The answer of a claimed request, for replay. */
  async complete(requestId: string, answer: { status: number; headers: Record<string, string>; body: string; contentType: string }): Promise<void> {
    await this.db
      .updateTable('request_log')
      .set({ status: answer.status, headers_json: JSON.stringify(answer.headers), body_text: answer.body, content_type: answer.contentType })
      .where('request_id', '=', requestId)
      .where('status', '=', IN_PROGRESS)
      .execute();
  }

  /** Gives a claim back (the request was refused or failed and changed nothing), so a retry runs again. */
  async release(requestId: string): Promise<void> {
    await this.db.deleteFrom('request_log').where('request_id', '=', requestId).where('status', '=', IN_PROGRESS).execute();
  }
}

/** `status` of a request id claimed by a request still being worked on. */
export const IN_PROGRESS = 0;
