// Peer for `wirelab check sse-client`: the npm package `eventsource`, an implementation of the
// browser's EventSource for Node that reconnects by itself, sending Last-Event-ID, as a
// browser does. It follows the URL given as the last argument and prints each event as a
// JSON line, {"type","data","id"}.
//
//   npm install --prefix target/peers/node eventsource@4      # scripts/test does this
//   WIRELAB_NODE_MODULES=target/peers/node/node_modules \
//     wirelab check sse-client -- node conformance/peers/sse_client.mjs
//
// EventSource, like the browser's, has no listener for every event type: this listens to
// `message` and to `tick`, the one other type the suite sends.
import { createRequire } from 'node:module';
import path from 'node:path';

// The package is resolved from WIRELAB_NODE_MODULES (where scripts/test installs it).
const modules = process.env.WIRELAB_NODE_MODULES ?? 'target/peers/node/node_modules';
const require = createRequire(path.resolve(modules, '..', 'package.json'));
const { EventSource } = require('eventsource');

const source = new EventSource(process.argv.at(-1));
const print = (event) =>
  console.log(JSON.stringify({ type: event.type, data: event.data, id: event.lastEventId }));
source.addEventListener('message', print);
source.addEventListener('tick', print);
// A failed connection closes the source; the process ends with it.
source.addEventListener('error', () => {
  if (source.readyState === EventSource.CLOSED) process.exit(1);
});
