// segstream dashboard helpers: DOM and SVG builders, number and date formats, the JSON fetch
// with a timeout, per-panel messages and a non-overlapping poller. Exposed as `segstreamLib`
// for app.js (plain scripts, no bundler, no module loader).
'use strict';

window.segstreamLib = (() => {
  const FETCH_TIMEOUT_MS = 5000;
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }

  function svg(tag, attrs = {}, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null) continue;
      if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }

  const intFmt = new Intl.NumberFormat('en-GB', {maximumFractionDigits: 0});
  const moneyFmt = new Intl.NumberFormat('en-GB', {minimumFractionDigits: 2, maximumFractionDigits: 2});
  const compactFmt = new Intl.NumberFormat('en-GB', {notation: 'compact', maximumFractionDigits: 1});
  const dateFmt = new Intl.DateTimeFormat('en-GB', {
    day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit',
    timeZone: 'UTC'});
  const shortDateFmt = new Intl.DateTimeFormat('en-GB', {
    day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', timeZone: 'UTC'});

  const fmtInt = (v) => (Number.isFinite(v) ? intFmt.format(v) : '–');
  const fmtDate = (ms) => (ms > 0 ? dateFmt.format(new Date(ms)) + ' UTC' : '–');
  function fmtNum(v, digits = 2) {
    if (!Number.isFinite(v)) return '–';
    if (Math.abs(v) >= 10000) return compactFmt.format(v);
    return v.toLocaleString('en-GB', {maximumFractionDigits: digits});
  }
  // "top 0.013%" for a percentile of 99.987: how small a share of the catalogue beats it.
  function fmtTopShare(percentile) {
    if (percentile === null || percentile === undefined || !Number.isFinite(percentile)) return '';
    const top = Math.max(100 - percentile, 0);
    const text = top >= 10 ? top.toFixed(0) : top >= 1 ? top.toFixed(1) : top.toPrecision(2);
    return `top ${text}%`;
  }

  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function getJson(path) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
    try {
      const r = await fetch(path, {signal: ctl.signal, cache: 'no-store',
                                   headers: {Accept: 'application/json'}});
      let body = null;
      try { body = await r.json(); } catch (e) { /* not JSON: keep null */ }
      if (!r.ok) {
        const msg = body && body.error && body.error.message ? body.error.message : r.statusText;
        throw new HttpError(r.status, msg);
      }
      return body;
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw new HttpError(0, e.name === 'AbortError' ? 'request timed out' : 'server unreachable');
    } finally {
      clearTimeout(timer);
    }
  }

  // Shows a message in place of a panel's data. `kind`: ok | empty | unavailable | waiting | error.
  function setPanel(panelId, kind, message) {
    const panel = $(panelId);
    panel.dataset.state = kind;
    const note = $(panelId + '-note');
    if (!note) return;
    note.textContent = message || '';
    note.hidden = !message;
  }

  // Maps an API failure to what the panel says. 404: the endpoint is not in this build yet;
  // 501: the parameter (a window) is not served yet; 503: no data yet.
  function showFailure(panelId, err, what) {
    if (err.status === 404) {
      setPanel(panelId, 'unavailable', `${what} not available yet: this server does not serve it.`);
    } else if (err.status === 501) {
      setPanel(panelId, 'unavailable', `Not available yet: ${err.message}.`);
    } else if (err.status === 503) {
      setPanel(panelId, 'waiting', `Waiting for data (${err.message}).`);
    } else if (err.status === 0) {
      setPanel(panelId, 'error', `Cannot reach the server (${err.message}); retrying.`);
    } else {
      setPanel(panelId, 'error', `${what}: error ${err.status}: ${err.message}`);
    }
  }

  // Runs `fn` now and then every `ms`, never overlapping itself; returns a "refresh now" trigger.
  function poll(fn, ms) {
    let timer = null;
    let running = false;
    let again = false;
    const run = async () => {
      if (running) { again = true; return; }
      running = true;
      clearTimeout(timer);
      try { await fn(); } catch (e) { console.error(e); }
      running = false;
      if (again) { again = false; run(); return; }
      timer = setTimeout(run, ms);
    };
    run();
    return run;
  }

  // Shortens an SVG text node with an ellipsis until it fits `maxWidth` (measured, not guessed:
  // upper-case descriptions are much wider than an average character).
  function fitText(node, maxWidth) {
    const full = node.textContent;
    if (maxWidth <= 0) { node.textContent = ''; return; }
    if (node.getComputedTextLength() <= maxWidth) return;
    let lo = 0;
    let hi = full.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      node.textContent = full.slice(0, mid) + '…';
      if (node.getComputedTextLength() <= maxWidth) lo = mid; else hi = mid - 1;
    }
    node.textContent = full.slice(0, lo).trimEnd() + '…';
  }

  return {$, el, svg, moneyFmt, shortDateFmt, fmtInt, fmtDate, fmtNum, fmtTopShare, HttpError,
          getJson, setPanel, showFailure, poll, fitText};
})();
