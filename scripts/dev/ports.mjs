// Port configuration and the "already in use" check for `npm run dev`.
import net from 'node:net';

export const PORTS = [
  { key: 'stub', env: 'DEV_STUB_PORT', fallback: 8000, what: 'the model stub' },
  { key: 'api', env: 'DEV_API_PORT', fallback: 8001, what: 'the inference API' },
  { key: 'worker', env: 'DEV_WORKER_PORT', fallback: 8787, what: 'the edge Worker' },
  { key: 'web', env: 'DEV_WEB_PORT', fallback: 5173, what: 'the web client' },
  { key: 'fallback', env: 'DEV_FALLBACK_PORT', fallback: 8010, what: 'the OpenAI stand-in stub (DEV_FALLBACK=stub)' },
];

export class DevError extends Error {}

/** Reads DEV_*_PORT; a bad value is a DevError naming the variable. */
export function readPorts(env) {
  const ports = {};
  for (const p of PORTS) {
    const raw = env[p.env];
    if (raw === undefined || raw === '') {
      ports[p.key] = p.fallback;
      continue;
    }
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new DevError(`${p.env} must be a port number between 1 and 65535 (got "${raw}")`);
    ports[p.key] = n;
  }
  const seen = new Map();
  for (const p of PORTS) {
    const other = seen.get(ports[p.key]);
    if (other) throw new DevError(`${p.env} and ${other} both ask for port ${ports[p.key]}; give each service its own port`);
    seen.set(ports[p.key], p.env);
  }
  return ports;
}

function tryListen(port, host) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err) => resolve(err.code === 'EADDRINUSE' || err.code === 'EACCES' ? err.code : 'ok'));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve('ok')));
  });
}

/** Throws a DevError that says which service, which port and what to do, if a port is taken. */
export async function assertPortFree(spec, port) {
  for (const host of ['127.0.0.1', '0.0.0.0']) {
    const result = await tryListen(port, host);
    if (result === 'EADDRINUSE') {
      throw new DevError(
        `port ${port} for ${spec.what} is already in use (${spec.env}).\n` +
          `  Stop whatever listens there (see: ss -ltnp 'sport = :${port}'), or pick another port, e.g.\n` +
          `  ${spec.env}=${port + 10000 <= 65535 ? port + 10000 : port - 1000} npm run dev`,
      );
    }
    if (result === 'EACCES') throw new DevError(`port ${port} for ${spec.what} needs privileges (${spec.env}); choose a port above 1024`);
  }
}
