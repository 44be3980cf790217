import { describe, expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/index.js';

describe('configuration from the environment', () => {
  test('defaults: port 8080, embedded SQLite under ./data', () => {
    expect(loadConfig({})).toMatchObject({ port: 8080, host: '0.0.0.0', databaseUrl: 'sqlite:./data/adapter.db', logLevel: 'info', maxBodyBytes: 1048576 });
  });

  test('PostgreSQL by DATABASE_URL', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://u@h:5432/db' }).databaseUrl).toBe('postgres://u@h:5432/db');
  });

  test.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['HOST', 'not a host!'],
    ['DATABASE_URL', 'mysql://h/db'],
    ['LOG_LEVEL', 'verbose'],
    ['MAX_BODY_BYTES', '12'],
  ])('a bad %s (%s) is refused naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`${name}:`));
  });

  test('every bad variable is named at once', () => {
    expect(() => loadConfig({ PORT: 'x', LOG_LEVEL: 'y' })).toThrow(/PORT:[\s\S]*LOG_LEVEL:/);
  });
});
