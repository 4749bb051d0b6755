// Free loopback ports for servers started by tests.
//
// There is an unavoidable race between closing our probe socket and the server
// binding the port; callers that start external servers retry on "address in
// use" (see startPostgres / startPgbouncer) instead of trusting the port.

import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('freePort: listener has no TCP address'));
        return;
      }
      const { port } = addr;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
