import { MAX_LOG_LINE_CHARS, MAX_LOG_LINES, MAX_UPDATES_BYTES } from './types.ts';

/**
 * QuickJS's Function constructor wraps a body as "(async function anonymous(record,prior,ctx\n) {\n" + body + …, so
 * line N of the script is line N + 2 of the function's source ("<input>" in stack traces).
 */
export const BODY_LINE_OFFSET = 2;
/** Deeper than this (or circular) is not accepted as an update value. */
const MAX_JSON_DEPTH = 100;
const MAX_ERROR_CHARS = 2000;

/**
 * Code evaluated inside each fresh QuickJS context before the script. It evaluates to `{ start, finish }`:
 *   start(code, recordJson, priorJson) compiles the script (strict mode, async function of record, prior, ctx) and
 *     calls it with deep-frozen JSON.parse copies of the record and prior; it returns the script's promise.
 *   finish(failed, error) returns one JSON text: { updates, logs, bad, error } — the updates asked for (each value
 *     validated and snapshotted as JSON when ctx.update was called), the log lines, the first invalid update (the
 *     BAD_RESULT message, or null) and, when failed, a description of what the script threw.
 * Everything lives in this closure: the script can reach ctx.update and ctx.log only. Intrinsics are captured before
 * the script runs, so a script that replaces JSON or Object still gets working ctx functions; a script that tampers
 * with them anyway only garbles its own result, which the engine parses and checks again on the host side.
 * No host function is exposed at all.
 */
export const PRELUDE = `(function () {
'use strict';
const parse = JSON.parse, stringify = JSON.stringify;
const freeze = Object.freeze, keys = Object.keys, getPrototypeOf = Object.getPrototypeOf, create = Object.create;
const isArray = Array.isArray, ObjectPrototype = Object.prototype, ErrorPrototype = Error.prototype;
const toText = String, TypeErrorCtor = TypeError, apply = Reflect.apply, slice = String.prototype.slice;
const AsyncFunction = getPrototypeOf(async function () {}).constructor;
const cut = (s, n) => (s.length > n ? apply(slice, s, [0, n]) : s);

const updates = create(null);
const logs = create(null);
let logCount = 0;
let bad = null;

function deepFreeze(v) {
  if (typeof v === 'object' && v !== null) {
    const ks = keys(v);
    for (let i = 0; i < ks.length; i++) deepFreeze(v[ks[i]]);
    freeze(v);
  }
  return v;
}
function isError(v) {
  for (let p = getPrototypeOf(v); p !== null; p = getPrototypeOf(p)) if (p === ErrorPrototype) return true;
  return false;
}
function show(v) {
  if (typeof v === 'string') return v;
  try {
    if (typeof v === 'object' && v !== null && isError(v)) return toText(v);
    const s = stringify(v);
    if (typeof s === 'string') return s;
  } catch (_) {}
  try { return toText(v); } catch (_) { return '[' + typeof v + ']'; }
}
/** null when v is a JSON value, else what is wrong with it. */
function jsonProblem(v, depth) {
  if (v === null) return null;
  switch (typeof v) {
    case 'string': case 'boolean': return null;
    case 'number': return v === v && v !== Infinity && v !== -Infinity ? null : toText(v) + ' is not a JSON number';
    case 'object': {
      if (depth >= ${MAX_JSON_DEPTH}) return 'it nests deeper than ${MAX_JSON_DEPTH} levels (or is circular)';
      if (isArray(v)) {
        for (let i = 0; i < v.length; i++) { const p = jsonProblem(v[i], depth + 1); if (p !== null) return p; }
        return null;
      }
      const proto = getPrototypeOf(v);
      if (proto !== ObjectPrototype && proto !== null) return 'an object that is not a plain object (Date, Map, class instance…) is not a JSON value';
      const ks = keys(v);
      for (let i = 0; i < ks.length; i++) { const p = jsonProblem(v[ks[i]], depth + 1); if (p !== null) return p; }
      return null;
    }
    default: return (typeof v === 'undefined' ? 'undefined' : 'a ' + typeof v) + ' is not a JSON value';
  }
}
function fail(message) {
  if (bad === null) bad = message;
  throw new TypeErrorCtor(message);
}
function set(field, value) {
  if (field === '') fail('ctx.update: the field name is empty');
  if (field === '__proto__') fail('ctx.update: "__proto__" is not a field name');
  const problem = jsonProblem(value, 0);
  if (problem !== null) fail('ctx.update(' + stringify(cut(field, 100)) + '): ' + problem);
  updates[field] = stringify(value);
}
function update(field, value) {
  if (typeof field === 'string') {
    if (arguments.length < 2) fail('ctx.update(' + stringify(cut(field, 100)) + ') needs a value');
    set(field, value);
    return;
  }
  if (typeof field === 'object' && field !== null && !isArray(field)) {
    const proto = getPrototypeOf(field);
    if (proto === ObjectPrototype || proto === null) {
      const ks = keys(field);
      for (let i = 0; i < ks.length; i++) set(ks[i], field[ks[i]]);
      return;
    }
  }
  fail('ctx.update expects (field, value) or ({ field: value })');
}
function log() {
  if (logCount >= ${MAX_LOG_LINES}) return;
  let line = '';
  for (let i = 0; i < arguments.length && line.length <= ${MAX_LOG_LINE_CHARS}; i++) line += (i === 0 ? '' : ' ') + show(arguments[i]);
  logs[logCount++] = cut(line, ${MAX_LOG_LINE_CHARS});
}
const ctx = freeze({ update: update, log: log });

function describe(e) {
  try {
    if (typeof e === 'object' && e !== null && isError(e)) {
      const name = e.name, message = e.message, stack = e.stack;
      return {
        name: typeof name === 'string' ? cut(name, 100) : 'Error',
        message: typeof message === 'string' ? cut(message, ${MAX_ERROR_CHARS}) : '',
        stack: typeof stack === 'string' ? cut(stack, ${MAX_ERROR_CHARS}) : '',
      };
    }
    return { name: '', message: 'the script threw ' + cut(show(e), ${MAX_ERROR_CHARS}), stack: '' };
  } catch (_) {
    return { name: '', message: 'the script threw a value that cannot be described', stack: '' };
  }
}
function start(code, recordJson, priorJson) {
  const record = deepFreeze(parse(recordJson));
  const prior = priorJson === null ? null : deepFreeze(parse(priorJson));
  const fn = new AsyncFunction('record', 'prior', 'ctx', '"use strict";' + code);
  return fn(record, prior, ctx);
}
function finish(failed, error) {
  const ks = keys(updates);
  let text = '{';
  for (let i = 0; i < ks.length && text.length <= ${MAX_UPDATES_BYTES}; i++) text += (i === 0 ? '' : ',') + stringify(ks[i]) + ':' + updates[ks[i]];
  text += '}';
  if (text.length > ${MAX_UPDATES_BYTES}) {
    if (bad === null) bad = 'the updates are over ${MAX_UPDATES_BYTES / 1024} KiB of JSON';
    text = '{}';
  }
  let logText = '[';
  for (let i = 0; i < logCount; i++) logText += (i === 0 ? '' : ',') + stringify(logs[i]);
  logText += ']';
  return '{"updates":' + text + ',"logs":' + logText + ',"bad":' + stringify(bad) + ',"error":' + (failed ? stringify(describe(error)) : 'null') + '}';
}
return { start: start, finish: finish };
})()`;
