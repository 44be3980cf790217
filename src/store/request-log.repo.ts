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
}
