// scorerecon's web page, served by `scorerecon serve` at GET / (docs/service.md, "Web page"). Plain DOM, fetch()
// and <canvas>: no framework, no build step, nothing from elsewhere. Views, chosen by the URL's hash:
//   #/           the job list (polled every 2 s, running jobs followed by their event streams) and a form that
//                submits one of the embedded example jobs;
//   #/jobs/ID    one job: status and progress (live), ground truth, observation, posterior mean and std drawn
//                side by side, metrics and statistics.
// Every /v1 call carries the bearer token kept in sessionStorage; a 401 asks for it (once for all calls waiting).
'use strict';

const $ = (sel) => document.querySelector(sel);
const TOKEN_KEY = 'scorerecon.token';
const TERMINAL = ['succeeded', 'failed', 'cancelled'];

// h('tag', {attr: value, onclick: fn}, ...children): an element; strings become text, never HTML.
function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined && k !== false) e.append(k);
  return e;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
const pct = (f) => (100 * (f || 0)).toFixed(0) + '%';

// ------------------------------------------------------------------------------------------------ errors, token

let errorFrom = null;
function showError(msg, from) {
  const e = $('#error');
  const dismiss = h('button', {type: 'button', onclick: () => showError('')}, 'Dismiss');
  e.replaceChildren(...(msg ? [h('span', {}, msg), dismiss] : []));
  e.hidden = !msg;
  errorFrom = msg ? from || null : null;
}
function clearError(from) {
  if (errorFrom === from) showError('');
}

// A problem+json answer (RFC 9457) as one line: "Unprocessable Content (422): prior.std must be > 0 [prior.std]".
async function problemText(r) {
  let p = null;
  try {
    p = await r.json();
  } catch (e) { /* not JSON */ }
  if (!p || !p.detail) return `HTTP ${r.status} ${r.statusText}`;
  return `${p.title || 'Error'} (${p.status || r.status}): ${p.detail}${p.field ? ` [${p.field}]` : ''}`;
}

let tokenPrompt = null; // the token form's promise, shared by every call that got a 401 meanwhile
function askToken(refused) {
  if (!tokenPrompt) {
    tokenPrompt = new Promise((resolve) => {
      const form = $('#token-form');
      $('#token-why').textContent = refused
        ? 'The server refused that token (401). Enter the right one.'
        : 'This server needs a bearer token for its API (it runs with --token-file).';
      form.hidden = false;
      $('#token-input').focus();
      form.onsubmit = (ev) => {
        ev.preventDefault();
        sessionStorage.setItem(TOKEN_KEY, $('#token-input').value.trim());
        $('#token-input').value = '';
        form.hidden = true;
        tokenPrompt = null;
        resolve();
      };
    });
  }
  return tokenPrompt;
}

// fetch() of a /v1 path with the token; a 401 asks for the token, then the call is made again.
async function api(path, opts = {}) {
  for (;;) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const headers = Object.assign({}, opts.headers, token ? {Authorization: 'Bearer ' + token} : {});
    const r = await fetch(path, Object.assign({}, opts, {headers}));
    if (r.status !== 401) return r;
    await askToken(token !== null);
  }
}

async function apiJSON(path, opts) {
  const r = await api(path, opts);
  if (!r.ok) throw new Error(await problemText(r));
  return r.json();
}

// ------------------------------------------------------------------------------------------------ event streams

// The events of a text/event-stream body, {event, data, id}, parsed as the HTML standard says (EventSource
// itself cannot send an Authorization header).
async function* sse(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '', ev = {event: 'message', data: [], id: null};
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buf += value;
    for (let nl; (nl = buf.search(/\r\n|\r|\n/)) >= 0;) {
      if (buf[nl] === '\r' && nl === buf.length - 1) break; // a \r\n may be split between chunks
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (ev.data.length) yield {event: ev.event, data: ev.data.join('\n'), id: ev.id};
        ev = {event: 'message', data: [], id: ev.id};
      } else if (!line.startsWith(':')) {
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        const val = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
        if (field === 'event') ev.event = val;
        else if (field === 'data') ev.data.push(val);
        else if (field === 'id') ev.id = val;
      }
    }
  }
}

// Follows GET /v1/jobs/{id}/events until its `end` event or the signal aborts, reconnecting with Last-Event-ID
// after a dropped stream; on(event, data) for each event.
async function follow(id, signal, on) {
  let last = null;
  for (let wait = 1000; !signal.aborted; wait = Math.min(2 * wait, 8000)) {
    try {
      const headers = last ? {Accept: 'text/event-stream', 'Last-Event-ID': last} : {Accept: 'text/event-stream'};
      const r = await api(`/v1/jobs/${id}/events`, {signal, headers});
      if (!r.ok) throw new Error(await problemText(r));
      for await (const ev of sse(r.body)) {
        last = ev.id || last;
        on(ev.event, JSON.parse(ev.data));
        if (ev.event === 'end') return;
      }
    } catch (e) {
      if (signal.aborted) return;
      if (!/fetch|network/i.test(e.message)) showError(`Events of job ${id}: ${e.message}`);
    }
    await sleep(wait);
  }
}

// ------------------------------------------------------------------------------------------------ arrays

// A job document's array: {"dtype": "float32"|"complex64", "shape", "data": base64} or nested lists (a complex
// value is an [re, im] pair: one level deeper than the image's rank). -> {shape, data: Float32Array, complex}
function decodeArray(a, rank) {
  if (a && !Array.isArray(a)) {
    const bin = atob(a.data), complex = a.dtype === 'complex64';
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return {shape: a.shape, complex, data: floats(new DataView(bytes.buffer), 0, bytes.length / 4)};
  }
  const dims = [];
  for (let x = a; Array.isArray(x); x = x[0]) dims.push(x.length);
  const complex = dims.length === rank + 1 && dims[dims.length - 1] === 2;
  return {shape: complex ? dims.slice(0, -1) : dims, complex, data: Float32Array.from(a.flat(Infinity))};
}

function floats(view, offset, n) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(offset + 4 * i, true);
  return out;
}

// A NumPy .npy file (format 1.0 to 3.0) of little-endian float32 in C order -> {shape, data: Float32Array}; a
// complex64 one ('<c8', a complex image's mean) -> its magnitudes.
function parseNpy(buf) {
  const b = new Uint8Array(buf), view = new DataView(buf);
  if (b[0] !== 0x93 || String.fromCharCode(...b.subarray(1, 6)) !== 'NUMPY') throw new Error('not a .npy file');
  const start = b[6] === 1 ? 10 : 12;
  const hlen = b[6] === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const header = String.fromCharCode(...b.subarray(start, start + hlen));
  const descr = /'descr':\s*'([^']*)'/.exec(header), shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !['<f4', '<c8'].includes(descr[1]) || !/'fortran_order':\s*False/.test(header) || !shape)
    throw new Error('unsupported .npy header ' + header.trim());
  const dims = shape[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const n = dims.reduce((p, d) => p * d, 1);
  if (descr[1] === '<f4') return {shape: dims, data: floats(view, start + hlen, n)};
  return {shape: dims, data: magnitude(floats(view, start + hlen, 2 * n))};
}

// |z| of interleaved (re, im) pairs
function magnitude(d) {
  const out = new Float32Array(d.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Math.hypot(d[2 * i], d[2 * i + 1]);
  return out;
}

function range(...arrays) {
  let lo = Infinity, hi = -Infinity;
  for (const a of arrays) for (const v of a) if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
  return lo <= hi ? [lo, hi] : [0, 1];
}

// k-space: log10 of the magnitude; exact zeros (unsampled lines) take the smallest sampled value.
function logMagnitude(d) {
  const out = new Float32Array(d.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Math.log10(Math.hypot(d[2 * i], d[2 * i + 1]));
  const [lo] = range(out);
  return out.map((v) => (Number.isFinite(v) ? v : lo));
}

// ------------------------------------------------------------------------------------------------ drawing

// viridis (matplotlib's, CC0), 17 stops at indices 0, 16, ..., 240, 255 of its 256 -> a 256-entry table
const VIRIDIS = (() => {
  const stops = ('440154 48186a 472d7b 424086 3b528b 33638d 2c728e 26828e 21918c 1fa088 28ae80 3fbc73 5ec962 84d44b ' +
    'addc30 d8e219 fde725').split(' ').map((s) => [0, 2, 4].map((i) => parseInt(s.slice(i, i + 2), 16)));
  const lut = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const k = Math.min(15, i >> 4), p0 = 16 * k, p1 = k === 15 ? 255 : p0 + 16, t = (i - p0) / (p1 - p0);
    for (let c = 0; c < 3; c++) lut[3 * i + c] = stops[k][c] + t * (stops[k + 1][c] - stops[k][c]);
  }
  return lut;
})();

// values (h x w, row-major) on [lo, hi] in viridis, each pixel a k x k block (nearest neighbour) so that small
// images are about 240 px wide
function paint(canvas, values, hh, ww, lo, hi) {
  const k = Math.max(1, Math.min(16, Math.floor(240 / Math.max(hh, ww))));
  canvas.width = ww * k;
  canvas.height = hh * k;
  const ctx = canvas.getContext('2d'), img = ctx.createImageData(ww * k, hh * k), span = hi > lo ? hi - lo : 1;
  for (let y = 0; y < hh * k; y++) {
    for (let x = 0; x < ww * k; x++) {
      const v = values[Math.floor(y / k) * ww + Math.floor(x / k)];
      const i = 3 * Math.max(0, Math.min(255, Math.round((255 * (v - lo)) / span))), o = 4 * (y * ww * k + x);
      img.data[o] = VIRIDIS[i];
      img.data[o + 1] = VIRIDIS[i + 1];
      img.data[o + 2] = VIRIDIS[i + 2];
      img.data[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

const num = (v) => (Number.isInteger(v) ? String(v)
  : Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3 ? v.toExponential(2) : String(+v.toPrecision(4)));

// a 240 x 14 ramp (a panel's width; its aspect ratio sizes it in a row) with its ends and what it is
function colourBar(lo, hi, what) {
  const ramp = new Float32Array(240 * 14).map((_, i) => i % 240);
  const label = `colour bar: ${what}, ${num(lo)} (dark) to ${num(hi)} (bright)`;
  return h('figure', {class: 'bar'}, paint(h('canvas', {role: 'img', 'aria-label': label}), ramp, 14, 240, 0, 239),
    h('figcaption', {}, h('span', {}, num(lo)), h('span', {}, what), h('span', {}, num(hi))));
}

// one panel: a title, and the image (a signal [N] as a 1 x N image) or why there is none
function panel(key, title, img, lo, hi, note) {
  let body = h('div', {class: 'empty'}, note);
  if (img) {
    const [hh, ww] = img.shape.length === 2 ? img.shape : [1, img.data.length];
    const label = `${title}: ${hh} × ${ww} image, values ${num(lo)} to ${num(hi)}${note ? ', ' + note : ''}`;
    body = paint(h('canvas', {role: 'img', 'aria-label': label}), img.data, hh, ww, lo, hi);
  }
  return h('figure', {class: 'panel', 'data-panel': key}, h('figcaption', {}, title), body,
    img && note ? h('p', {class: 'note'}, note) : '');
}

// ground truth, observation and mean on one colour scale with one colour bar; a complex observation (k-space) and
// the std each on a scale of their own
function drawPanels(box, s) {
  const kspace = s.obs && s.obs.complex ? {shape: s.obs.shape, data: logMagnitude(s.obs.data)} : null;
  const common = [s.truth, kspace ? null : s.obs, s.mean].filter(Boolean);
  const [lo, hi] = range(...common.map((a) => a.data));
  const observation = kspace
    ? h('div', {class: 'own'},
      panel('observation', 'Observation (k-space)', kspace, ...range(kspace.data),
        'log₁₀ |y|, centred k-space, own scale'),
      colourBar(...range(kspace.data), 'log₁₀ |y|'))
    : panel('observation', 'Observation', s.obs, lo, hi, s.obs ? '' : 'none (operator "none")');
  const [slo, shi] = s.std ? range(s.std.data) : [0, 1];
  box.replaceChildren(
    h('div', {class: 'group'},
      h('div', {class: 'row'}, panel('truth', 'Ground truth', s.truth, lo, hi, s.truth ? '' : 'none in the job'),
        observation, panel('mean', 'Posterior mean', s.mean, lo, hi, s.mean ? '' : s.why)),
      common.length ? colourBar(lo, hi, `common scale: truth, ${kspace ? '' : 'observation, '}mean`) : ''),
    h('div', {class: 'group'},
      h('div', {class: 'row'}, panel('std', 'Posterior std', s.std, slo, shi, s.std ? '' : s.why)),
      s.std ? colourBar(slo, shi, 'std, own scale') : ''));
}

// ------------------------------------------------------------------------------------------------ small parts

const badge = (status) => h('span', {class: 'badge ' + status}, status);
const labelChips = (labels) =>
  h('span', {class: 'labels'}, Object.entries(labels || {}).map(([k, v]) => h('span', {class: 'chip'}, `${k}=${v}`)));
const progressOf = (p, label) => h('progress', {max: 1, value: (p && p.fraction) || 0, 'aria-label': label});

const METRIC_NAMES = {psnr: 'PSNR (dB)', ssim: 'SSIM', nrmse: 'NRMSE', coverage95: '95% interval coverage'};

// {a: 1, b: {c: 2}} -> rows [["a", "1"], ["b.c", "2"]]; a list shows its length
function flatRows(obj, prefix = '') {
  return Object.entries(obj || {}).flatMap(([k, v]) => {
    const key = prefix + k;
    if (v && typeof v === 'object' && !Array.isArray(v)) return flatRows(v, key + '.');
    const text = Array.isArray(v) ? `[${v.length} values]` : typeof v === 'number' ? num(v) : String(v);
    return [[METRIC_NAMES[key] || key, text]];
  });
}

function table(id, caption, rows) {
  return h('table', {id, class: 'kv'}, h('caption', {}, caption),
    h('tbody', {}, rows.map(([k, v]) => h('tr', {}, h('th', {scope: 'row'}, k), h('td', {}, v)))));
}

// ------------------------------------------------------------------------------------------------ the list

const EXAMPLES = {
  denoise: 'denoise: Gaussian noise, Gaussian prior, MALA (under a second)',
  deblur: 'deblur: Gaussian blur, TV prior, MALA (seconds)',
  inpaint: 'inpaint: half the pixels missing, TV prior, MALA (seconds)',
  mri: 'mri: k-space, 16 of 48 rows, TV prior, MALA (seconds)',
};

// "key=value, key2=value2" -> {key: "value", ...}
function parseLabels(text) {
  const labels = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^=:]+)[=:](.*)$/.exec(part);
    if (!m) throw new Error(`Labels: "${part}" is not key=value`);
    labels[m[1].trim()] = m[2].trim();
  }
  return labels;
}

// the form: an embedded example (GET /ui/examples/NAME.json, no token), its labels, POST /v1/jobs, the job's page
function submitForm() {
  const form = h('form', {id: 'submit-form', class: 'card'},
    h('h2', {}, 'Submit an example job'),
    h('label', {for: 'example'}, 'Example'),
    h('select', {id: 'example', name: 'example'}, Object.entries(EXAMPLES).map(([v, t]) => h('option', {value: v}, t))),
    h('label', {for: 'labels'}, 'Labels (optional: key=value, separated by commas)'),
    h('input', {id: 'labels', name: 'labels', placeholder: 'project=demo, run=1', autocomplete: 'off'}),
    h('button', {type: 'submit'}, 'Submit'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const labels = parseLabels(form.labels.value);
      const r0 = await fetch(`/ui/examples/${form.example.value}.json`);
      if (!r0.ok) throw new Error(await problemText(r0));
      const doc = await r0.json();
      if (Object.keys(labels).length) doc.labels = Object.assign({}, doc.labels, labels);
      const r = await api('/v1/jobs', {method: 'POST', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify(doc)});
      if (r.status !== 202) throw new Error(await problemText(r));
      location.hash = '#/jobs/' + (await r.json()).id;
    } catch (e) {
      showError('Submit: ' + e.message);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

const eta = (p) => (p.eta_seconds != null ? `, about ${Math.ceil(p.eta_seconds)} s left` : '');

// the newest 50 jobs, polled every 2 s; the progress of up to 3 running ones from their event streams in between
function listView(main) {
  const ac = new AbortController(), streams = new Map(); // job id -> the AbortController of its stream
  const tbody = h('tbody', {}), status = h('p', {class: 'hint'}, 'Loading…');
  const heads = ['Created', 'Job', 'Status', 'Progress', 'Labels'].map((t) => h('th', {scope: 'col'}, t));
  main.replaceChildren(submitForm(),
    h('section', {class: 'card', 'aria-labelledby': 'jobs-h'}, h('h2', {id: 'jobs-h'}, 'Jobs'), status,
      h('table', {id: 'jobs', class: 'jobs'}, h('caption', {class: 'sr-only'}, 'Jobs, newest first'),
        h('thead', {}, h('tr', {}, heads)), tbody)));
  let timer = null;

  function row(j) {
    const bar = progressOf(j.progress, `progress of job ${j.id}`);
    const text = h('span', {class: 'pct'}, pct(j.progress.fraction));
    const tr = h('tr', {'data-id': j.id},
      h('td', {}, when(j.created)),
      h('td', {}, h('a', {href: '#/jobs/' + j.id, title: j.id}, h('code', {}, j.id.slice(0, 8)))),
      h('td', {}, badge(j.status)),
      h('td', {class: 'progress'}, bar, text),
      h('td', {}, labelChips(j.labels)));
    tr.update = (p) => {
      bar.value = p.fraction || 0;
      text.textContent = pct(p.fraction) + eta(p);
    };
    return tr;
  }

  async function poll() {
    try {
      const page = await apiJSON('/v1/jobs?limit=50', {signal: ac.signal});
      tbody.replaceChildren(...page.jobs.map(row));
      const n = page.jobs.length;
      status.textContent = n ? `${n}${page.next_cursor ? ' newest' : ''} jobs, newest first; live.`
        : 'No jobs yet: submit an example above.';
      const running = new Set(page.jobs.filter((j) => j.status === 'running').slice(0, 3).map((j) => j.id));
      for (const [id, c] of streams) if (!running.has(id)) c.abort();
      for (const id of running) {
        if (streams.has(id)) continue;
        const c = new AbortController();
        streams.set(id, c);
        ac.signal.addEventListener('abort', () => c.abort());
        follow(id, c.signal, (event, data) => {
          const tr = tbody.querySelector(`tr[data-id="${id}"]`);
          if (tr && event === 'progress') tr.update(data);
        }).finally(() => streams.delete(id));
      }
      clearError('list');
    } catch (e) {
      if (!ac.signal.aborted) showError('Jobs: ' + e.message, 'list');
    }
    if (!ac.signal.aborted) timer = setTimeout(poll, 2000);
  }
  poll();
  return () => {
    ac.abort();
    clearTimeout(timer);
  };
}

// ------------------------------------------------------------------------------------------------ one job

function jobView(main, id) {
  const ac = new AbortController(), signal = ac.signal;
  const head = h('div', {}), figures = h('div', {class: 'figures'}), numbers = h('div', {class: 'numbers'});
  const announce = h('p', {class: 'sr-only', 'aria-live': 'polite'});
  const section = h('section', {id: 'job', class: 'card', 'data-status': ''},
    h('p', {}, h('a', {href: '#/'}, '← All jobs')), h('h2', {}, 'Job ', h('code', {}, id)), head, announce,
    h('h3', {}, 'Images'), figures, numbers);
  main.replaceChildren(section);
  const images = {truth: null, obs: null, mean: null, std: null, why: 'waiting for the result…'};
  let job = null, bar = null, barText = null, resultAsked = false;

  const steps = (p) => (p.total ? `${pct(p.fraction)} (step ${p.step} of ${p.total})` : 'not started');

  function showJob(j) {
    if (job && job.status !== j.status) announce.textContent = `Job ${id.slice(0, 8)} is ${j.status}.`;
    job = j;
    section.dataset.status = j.status;
    bar = progressOf(j.progress, 'progress');
    barText = h('span', {class: 'pct'}, steps(j.progress));
    const final = TERMINAL.includes(j.status);
    const error = j.error ? j.error.detail + (j.error.field ? ` [${j.error.field}]` : '') : '';
    head.replaceChildren(h('dl', {class: 'facts'},
      h('dt', {}, 'Status'), h('dd', {}, badge(j.status), ' ',
        h('button', {type: 'button', onclick: () => remove(final)}, final ? 'Delete job' : 'Cancel job')),
      h('dt', {}, 'Progress'), h('dd', {class: 'progress'}, bar, barText),
      h('dt', {}, 'Created'), h('dd', {}, when(j.created)),
      h('dt', {}, 'Started'), h('dd', {}, when(j.started)),
      h('dt', {}, 'Finished'), h('dd', {}, when(j.finished)),
      h('dt', {}, 'Attempts'), h('dd', {}, String(j.attempts)),
      h('dt', {}, 'Labels'), h('dd', {}, Object.keys(j.labels || {}).length ? labelChips(j.labels) : '—'),
      error ? [h('dt', {}, 'Error'), h('dd', {class: 'error-text'}, error)] : ''));
    if (j.status === 'succeeded' && !resultAsked) {
      loadResult();
    } else if (final && j.status !== 'succeeded') {
      images.why = `no result: the job ${j.status}`;
      drawPanels(figures, images);
    }
  }

  // DELETE: cancels a queued or running job; purges a finished one (then back to the list)
  async function remove(purge) {
    if (purge && !confirm(`Delete job ${id} and its result files?`)) return;
    try {
      const r = await api(`/v1/jobs/${id}`, {method: 'DELETE'});
      if (!r.ok) throw new Error(await problemText(r));
      if (purge) location.hash = '#/';
      else showJob(await r.json());
    } catch (e) {
      showError((purge ? 'Delete: ' : 'Cancel: ') + e.message);
    }
  }

  async function npy(name) {
    const r = await api(`/v1/jobs/${id}/result/${name}`, {signal});
    if (r.status === 404) return null; // not among the job's outputs
    if (!r.ok) throw new Error(await problemText(r));
    return parseNpy(await r.arrayBuffer());
  }

  async function loadResult() {
    resultAsked = true;
    try {
      const [result, mean, std] =
        await Promise.all([apiJSON(`/v1/jobs/${id}/result`, {signal}), npy('mean.npy'), npy('std.npy')]);
      Object.assign(images, {mean, std, why: 'not among the job\'s outputs'});
      drawPanels(figures, images);
      const metrics = flatRows(result.metrics), warnings = result.warnings || [];
      numbers.replaceChildren(h('h3', {}, 'Metrics and statistics'),
        metrics.length ? table('metrics', 'Metrics of the posterior mean against the ground truth', metrics)
          : h('p', {id: 'metrics', class: 'hint'}, 'No metrics: the job has no ground truth.'),
        table('stats', 'Sampler statistics', flatRows(result.stats)),
        warnings.length ? h('ul', {class: 'warnings'}, warnings.map((w) => h('li', {}, w))) : '',
        h('details', {}, h('summary', {}, 'Sampler settings (defaults filled in)'),
          h('pre', {}, JSON.stringify(result.sampler, null, 1))));
    } catch (e) {
      if (!signal.aborted) showError('Result: ' + e.message);
    }
  }

  (async () => {
    try {
      showJob(await apiJSON(`/v1/jobs/${id}`, {signal}));
      const doc = await apiJSON(`/v1/jobs/${id}/job`, {signal}), rank = (doc.shape || []).length;
      if (doc.ground_truth) images.truth = decodeArray(doc.ground_truth, rank);
      if (images.truth && images.truth.complex) /* a complex image (image_dtype complex64): shown as |x|, as its mean */
        images.truth = {shape: images.truth.shape, data: magnitude(images.truth.data)};
      if (doc.observation) images.obs = decodeArray(doc.observation, rank);
      drawPanels(figures, images);
      if (TERMINAL.includes(job.status)) return;
      await follow(id, signal, (event, data) => {
        if (event !== 'progress') return showJob(data); // status, end: the job
        bar.value = data.fraction || 0;
        barText.textContent = steps(data) + eta(data);
      });
    } catch (e) {
      if (!signal.aborted) showError(`Job ${id}: ${e.message}`);
    }
  })();
  return () => ac.abort();
}

// ------------------------------------------------------------------------------------------------ routing

let stopView = null;
function route() {
  if (stopView) stopView();
  showError('');
  const m = /^#\/jobs\/([0-9a-f]{32})$/.exec(location.hash);
  stopView = m ? jobView($('#main'), m[1]) : listView($('#main'));
  document.title = m ? `Job ${m[1].slice(0, 8)} · scorerecon` : 'scorerecon';
}
window.addEventListener('hashchange', route);
route();
