import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/**
 * The clients of realtime-linger.test.ts in their own process, as browsers are: LINGER_SOCKETS sockets
 * with LINGER_PER_SOCKET subscriptions each to LINGER_URL (bearer LINGER_TOKEN). Prints `ready` once every
 * subscription received an event; on SIGUSR2 closes every socket and prints `closed`.
 */
const url = process.env['LINGER_URL']!;
const sockets = Number(process.env['LINGER_SOCKETS'] ?? 20);
const perSocket = Number(process.env['LINGER_PER_SOCKET'] ?? 3);
const clients: Client[] = Array.from({ length: sockets }, () =>
  createClient({ url, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${process.env['LINGER_TOKEN']}` }, retryAttempts: 0, lazy: true }));
const received = new Array<number>(sockets * perSocket).fill(0);
let ready = false;
clients.forEach((c, i) => {
  for (let k = 0; k < perSocket; k++) {
    const n = i * perSocket + k;
    c.subscribe({ query: 'subscription { accountChanged { op record { name } } }' }, {
      next: () => {
        received[n]!++;
        if (!ready && received.every((x) => x > 0)) {
          ready = true;
          console.log('ready');
        }
      },
      error: (e) => console.log(`error ${JSON.stringify(e)}`),
      complete: () => {},
    });
  }
});
console.log('subscribing');
process.on('SIGUSR2', () => {
  void Promise.all(clients.map((c) => c.dispose())).then(() => {
    console.log('closed');
    setTimeout(() => process.exit(0), 200);
  });
});
