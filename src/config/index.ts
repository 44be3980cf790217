import Joi from 'joi';

/** Everything the process reads from its environment, checked once at start-up. */
export interface AppConfig {
  port: number;
  host: string;
  databaseUrl: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** largest request body accepted, in bytes (the native spec's default is 1 MiB) */
  maxBodyBytes: number;
  profilesDir: string;
  mappingsDir: string;
  /** HTTP worker processes (node:cluster); 1 runs everything in this process */
  workers: number;
  /** ODS code of the Pain Platform: the recipient of an inbound FHIR referral that names no performer */
  platformOdsCode: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const envSchema = Joi.object({
  PORT: Joi.number().integer().min(0).max(65535).default(8080),
  HOST: Joi.string().hostname().default('0.0.0.0'),
  DATABASE_URL: Joi.string()
    .pattern(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/)
    .default('sqlite:./data/adapter.db')
    .messages({ 'string.pattern.base': 'must be sqlite:<file path> or postgres://user@host:port/database' }),
  LOG_LEVEL: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent').default('info'),
  MAX_BODY_BYTES: Joi.number().integer().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  PROFILES_DIR: Joi.string().default('profiles'),
  MAPPINGS_DIR: Joi.string().default('mappings'),
  WORKERS: Joi.number().integer().min(1).max(64).default(1),
  PLATFORM_ODS_CODE: Joi.string()
    .pattern(/^[A-Z0-9]{3,10}$/)
    .default('NQ9X1')
    .messages({ 'string.pattern.base': 'must be an ODS code: 3 to 10 capital letters and digits' }),
}).unknown(true);

/** Reads and checks the environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const { value, error } = envSchema.validate(env, { abortEarly: false, convert: true });
  if (error) {
    const lines = error.details.map((d) => `${d.path.join('.')}: ${d.message.replace(/^"[^"]*" /, '')}`);
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  return {
    port: value.PORT,
    host: value.HOST,
    databaseUrl: value.DATABASE_URL,
    logLevel: value.LOG_LEVEL,
    maxBodyBytes: value.MAX_BODY_BYTES,
    profilesDir: value.PROFILES_DIR,
    mappingsDir: value.MAPPINGS_DIR,
    workers: value.WORKERS,
    platformOdsCode: value.PLATFORM_ODS_CODE,
  };
}
