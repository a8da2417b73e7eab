// An event-stream parser in JavaScript (Node), written from the HTML Standard (§9.2.5 "Parsing
// an event stream", §9.2.6 "Interpreting an event stream") to the JSON-lines contract of
// `wirelab check sse-parser`: the stream on standard input, one JSON object per line out,
// {"type","data","id"} per dispatched event and {"retry"} per reconnection time set.
// It shares no code with WireLab: it is the "other implementation" the kit is tried on.
//
//   wirelab check sse-parser -- node conformance/peers/sse_parser.js
//
// With --ignore-cr it treats a lone CR as an ordinary character, a classic bug: the kit's
// tests use that to show that cases fail.

'use strict';

const ignoreCr = process.argv.includes('--ignore-cr');
// The UTF-8 decode of the Encoding Standard: one leading BOM stripped, bad bytes to U+FFFD,
// sequences cut between chunks kept for the next chunk.
const decoder = new TextDecoder('utf-8');

let pending = '';      // text after the last line end
let lastWasCr = false; // a CR ended the last line: an LF right after it belongs to it
let data = '';
let eventType = '';
let lastEventId = '';
const out = [];

function dispatch() {
  if (data === '') {
    eventType = '';
    return;
  }
  if (data.endsWith('\n')) data = data.slice(0, -1);
  out.push(JSON.stringify({ type: eventType || 'message', data, id: lastEventId }));
  data = '';
  eventType = '';
}

function field(name, value) {
  switch (name) {
    case 'event': eventType = value; break;
    case 'data': data += value + '\n'; break;
    case 'id': if (!value.includes('\0')) lastEventId = value; break;
    case 'retry':
      if (/^[0-9]+$/.test(value)) {
        // Beyond 64 bits, saturated (the contract allows either).
        const max = 18446744073709551615n;
        const n = BigInt(value);
        out.push(`{"retry":${n > max ? max : n}}`);
      }
      break;
    default: break;
  }
}

function line(text) {
  if (text === '') return dispatch();
  if (text.startsWith(':')) return;
  const colon = text.indexOf(':');
  if (colon < 0) return field(text, '');
  let value = text.slice(colon + 1);
  if (value.startsWith(' ')) value = value.slice(1);
  field(text.slice(0, colon), value);
}

function feed(text) {
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n' && lastWasCr && i === start && pending === '') {
      // The LF of a CRLF whose CR ended the previous line.
      start = i + 1;
      lastWasCr = false;
      continue;
    }
    lastWasCr = false;
    if (c === '\n' || (c === '\r' && !ignoreCr)) {
      line(pending + text.slice(start, i));
      pending = '';
      start = i + 1;
      lastWasCr = c === '\r';
    }
  }
  pending += text.slice(start);
  if (out.length) {
    process.stdout.write(out.join('\n') + '\n');
    out.length = 0;
  }
}

process.stdin.on('data', (chunk) => feed(decoder.decode(chunk, { stream: true })));
process.stdin.on('end', () => {
  feed(decoder.decode());
  // An unterminated line, and an event without its blank line, are discarded.
});
