import type { Plugin } from '@hapi/hapi';
import type { Store } from '../store/db.js';

/** Liveness: the process answers. Readiness: the store answers and every migration is applied. */
export const healthPlugin: Plugin<{ store: Store }> = {
  name: 'health',
  register(server, { store }) {
    server.route({ method: 'GET', path: '/health/live', options: { auth: false }, handler: () => ({ status: 'ok' }) });
    server.route({
      method: 'GET',
      path: '/health/ready',
      options: { auth: false },
      handler: async (_request, h) => {
        const ready = await store.isReady();
        return h.response({ status: ready ? 'ok' : 'unavailable', store: store.dialect }).code(ready ? 200 : 503);
      },
    });
  },
};
