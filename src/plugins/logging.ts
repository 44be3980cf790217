import type { Plugin } from '@hapi/hapi';
import hapiPino from 'hapi-pino';

// Patient-identifiable data must never reach a log line. Bodies are never logged, query strings are
// dropped (GET /referrals?nhsNumber=… would otherwise log the number), and the redact list is a
// second net for any object that is logged by mistake.
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.nhsNumber',
  '*.name',
  '*.birthDate',
  '*.address',
  '*.phone',
  '*.email',
  '*.patient',
  'payload',
];

export function loggingPlugin(level: string): { plugin: Plugin<hapiPino.Options>; options: hapiPino.Options } {
  return {
    plugin: hapiPino as unknown as Plugin<hapiPino.Options>,
    options: {
      level,
      redact: { paths: redactPaths, censor: '[redacted]' },
      logPayload: false,
      logQueryParams: false,
      logPathParams: false,
      ignorePaths: ['/health/live', '/health/ready'],
      serializers: {
        req: (req: { id?: string; method?: string; url?: string }) => ({ id: req.id, method: req.method, path: (req.url ?? '').split('?')[0] }),
      },
    },
  };
}
