// Runs CloudFront Functions (runtime cloudfront-js-2.0) for the template runner's distribution
// (crates/vitrine-testkit/src/runner/cloudfront.rs). One request per line on standard input:
//   {"id": 1, "code": "function handler(event) {...}", "event": {...}}
// one answer per line on standard output:
//   {"id": 1, "result": <what the handler returned>}  or  {"id": 1, "error": "..."}
// Each function's code is compiled once, in a vm context of its own holding only what the
// runtime offers (no process, no file system; `require` of 'crypto' and 'querystring', the
// modules cloudfront-js-2.0 provides). The handler may return a value or a promise of one.
'use strict';
const vm = require('vm');
const readline = require('readline');

const handlers = new Map();
const allowedModules = { crypto: require('crypto'), querystring: require('querystring') };

function handlerOf(code) {
  let handler = handlers.get(code);
  if (handler) return handler;
  const context = vm.createContext({
    console: { log: (...a) => process.stderr.write(a.join(' ') + '\n') },
    require: (name) => {
      if (name in allowedModules) return allowedModules[name];
      throw new Error(`module ${name} is not available in cloudfront-js-2.0`);
    },
  });
  vm.runInContext(code, context, { filename: 'cloudfront-function.js', timeout: 1000 });
  handler = vm.runInContext('typeof handler === "function" ? handler : undefined', context);
  if (typeof handler !== 'function') throw new Error('the function code defines no handler(event)');
  handlers.set(code, handler);
  return handler;
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  let id = null;
  try {
    const request = JSON.parse(line);
    id = request.id;
    const result = await handlerOf(request.code)(request.event);
    process.stdout.write(JSON.stringify({ id, result: result === undefined ? null : result }) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({ id, error: String(e && e.stack ? e.stack : e) }) + '\n');
  }
});
lines.on('close', () => process.exit(0));
