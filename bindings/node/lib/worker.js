'use strict';
// A worker thread of a Detector: runs one blocking library call at a time off the main thread, with the
// read of the thread-local last error on the same thread, and posts back plain data.

const { parentPort } = require('node:worker_threads');
const native = require('./native');

parentPort.on('message', ({ id, op, args }) => {
  try {
    let value;
    if (op === 'open') value = native.open(...args);
    else if (op === 'detect') value = native.detect(...args);
    else if (op === 'reload') value = native.reload(...args);
    else throw new Error(`unknown operation ${op}`);
    parentPort.postMessage({ id, value });
  } catch (error) {
    const internal = native.STATUS_NAMES.indexOf('INTERNAL_ERROR');
    const info =
      error instanceof native.NativeError ? error.info : { status: internal, name: 'INTERNAL_ERROR', message: String(error) };
    parentPort.postMessage({ id, error: info });
  }
});
