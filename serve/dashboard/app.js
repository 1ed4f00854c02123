// segstream dashboard: plain JavaScript and inline SVG, talking only to this server's JSON API
// (DESIGN §6). Each panel polls its own endpoint and fails on its own: a missing endpoint (404)
// or an unserved window (501) shows "not available yet" in that panel and nothing else changes.
'use strict';

(() => {
  const {$, el, svg, moneyFmt, shortDateFmt, fmtInt, fmtDate, fmtNum, fmtTopShare, getJson, setPanel,
         showFailure, poll, fitText} = window.segstreamLib;

  const REFRESH_MS = 2000;       // status and top items
  const SLOW_REFRESH_MS = 10000; // popularity, segments, drift: they move slowly
  const TOP_N = 12;
  const FEED_MAX = 40;
  const QUANTILES = [0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99,
                     0.995, 0.999, 1];

  const state = {
    window: 'all',
    by: 'orders',
    labels: new Map(),  // segment id -> label, from /v1/segments (the feed and drift use it)
    lastStatusOk: 0,
  };

  const segClass = (id) => `c${((Number(id) % 8) + 8) % 8}`;
  function segLabel(id, fallback) {
    if (fallback) return fallback;
    if (id === -1 || id === undefined || id === null) return 'new';
    return state.labels.get(Number(id)) || `segment ${id}`;
  }
  function segPill(id, label) {
    if (id === -1) return el('span', {class: 'pill new', text: label || 'new'});
    return el('span', {class: `pill ${segClass(id)}`, text: segLabel(id, label)});
  }

  // ---------- status strip ----------

  async function refreshStatus() {
    const conn = $('status-conn');
    try {
      const s = await getJson('/v1/status');
      $('status').dataset.state = 'ok';
      $('status-processed').textContent = fmtInt(s.events_processed);
      const dlq = $('status-dlq');
      dlq.textContent = fmtInt(s.dlq_events);
      const reasons = s.dlq_by_reason || {};
      dlq.title = Object.keys(reasons).length
        ? Object.entries(reasons).map(([r, n]) => `${r}: ${n}`).join('\n') : 'no dead letters';
      const lag = $('status-lag');
      lag.textContent = fmtInt(s.lag);
      lag.classList.toggle('bad', s.lag > 10000);
      $('status-watermark').textContent = fmtDate(s.watermark_ms);
      const replay = $('status-replay');
      if (s.replay && s.replay.known !== false && s.replay.events !== undefined) {
        replay.textContent = s.replay.done ? `done · ${fmtInt(s.replay.events)}`
                                           : `running · ${fmtInt(s.replay.events)}`;
        replay.classList.toggle('good', !!s.replay.done);
      } else {
        replay.textContent = 'none';
      }
      state.lastStatusOk = Date.now();
      conn.dataset.state = 'ok';
    } catch (err) {
      $('status').dataset.state = err.status === 503 ? 'waiting' : 'error';
      conn.dataset.state = 'error';
      $('status-updated').textContent =
        err.status === 503 ? 'waiting for data…' : `offline (${err.message})`;
      return;
    }
    tickUpdated();
  }

  function tickUpdated() {
    if (!state.lastStatusOk) return;
    const age = Math.round((Date.now() - state.lastStatusOk) / 1000);
    const conn = $('status-conn');
    if (conn.dataset.state !== 'error') conn.dataset.state = age > 10 ? 'stale' : 'ok';
    if (conn.dataset.state !== 'error') {
      $('status-updated').textContent = age <= 1 ? 'live · updated just now' : `updated ${age} s ago`;
    }
  }

  // ---------- top items ----------

  function metricValue(item) {
    if (state.by === 'revenue') return item.revenue;
    return state.by === 'units' ? item.units : item.orders;
  }
  function fmtMetric(v) {
    return state.by === 'revenue' ? fmtNum(v) : fmtInt(v);
  }

  function drawTopItems(items) {
    const box = $('top-items-chart');
    const width = Math.max(box.clientWidth, 480);
    const rowH = 26;
    const labelW = Math.min(340, Math.round(width * 0.45));
    const valueW = 150;
    const barX = labelW + 8;
    const barW = Math.max(width - barX - valueW, 60);
    const height = items.length * rowH + 4;
    const max = Math.max(...items.map(metricValue), 1);
    const root = svg('svg', {viewBox: `0 0 ${width} ${height}`, width, height, role: 'img',
                             'aria-label': `Top ${items.length} items by ${state.by}`});
    items.forEach((item, i) => {
      const y = i * rowH + 2;
      const v = metricValue(item);
      const w = Math.max((v / max) * barW, 2);
      const desc = (item.description || '').trim();
      const pct = Number.isFinite(item.percentile) ? item.percentile.toFixed(3) : 'n/a';
      const g = svg('g', {class: 'bar', 'data-sku': item.sku, 'data-value': String(v),
                          transform: `translate(0,${y})`},
        svg('title', {text: `${item.sku} ${desc}\norders ${fmtInt(item.orders)} · units ` +
                            `${fmtInt(item.units)} · revenue ${moneyFmt.format(item.revenue)}` +
                            ` · returned ${fmtInt(item.returned_units)}\npercentile ${pct}`}),
        svg('text', {class: 'bar-rank', x: 0, y: 17, text: String(i + 1)}),
        svg('text', {class: 'bar-sku', x: 24, y: 17, text: item.sku}),
        svg('text', {class: 'bar-desc', x: 90, y: 17, text: desc}),
        svg('rect', {class: 'bar-track', x: barX, y: 4, width: barW, height: rowH - 8, rx: 3}),
        svg('rect', {class: 'bar-fill', x: barX, y: 4, width: w.toFixed(1), height: rowH - 8, rx: 3}),
        svg('text', {class: 'bar-value', x: barX + barW + 8, y: 17, text: fmtMetric(v)}),
        svg('text', {class: 'bar-pct', x: barX + barW + 8 + 58, y: 17,
                     text: fmtTopShare(item.percentile)}));
      root.append(g);
    });
    box.replaceChildren(root);
    const unit = state.by === 'revenue' ? 'revenue (currency units, sale lines)'
      : state.by === 'units' ? 'units sold' : 'orders (checkouts with the item)';
    $('top-items-legend').textContent =
      `Bars: ${unit}, window ${state.window}. “top x%”: the item's popularity percentile by ` +
      'orders among all items sold.';
    // Second pass, now that text can be measured: descriptions start after the widest sku and
    // end before the bars.
    const skuW = Math.max(...[...root.querySelectorAll('.bar-sku')].map((t) => t.getComputedTextLength()));
    const descX = Math.ceil(24 + skuW + 10);
    for (const t of root.querySelectorAll('.bar-desc')) {
      t.setAttribute('x', descX);
      fitText(t, labelW - descX);
    }
  }

  async function refreshTopItems() {
    const q = `n=${TOP_N}&window=${encodeURIComponent(state.window)}&by=${state.by}`;
    try {
      const body = await getJson(`/v1/items/top?${q}`);
      const items = body.items || [];
      if (!items.length) {
        $('top-items-chart').replaceChildren();
        setPanel('top-items', 'empty', 'No sales yet: waiting for the first checkouts.');
        return;
      }
      setPanel('top-items', 'ok', '');
      drawTopItems(items);
    } catch (err) {
      showFailure('top-items', err, 'Top items');
      if (err.status === 404 || err.status === 501) {
        $('top-items-chart').replaceChildren();
        $('top-items-legend').textContent = '';
      }
    }
  }

  // ---------- popularity curve ----------

  function drawPopularity(points, threshold) {
    const box = $('popularity-chart');
    const width = Math.max(box.clientWidth, 320);
    const height = 260;
    const m = {l: 46, r: 14, t: 14, b: 34};
    const w = width - m.l - m.r;
    const h = height - m.t - m.b;
    const ys = points.map((p) => p.y).filter((y) => y > 0);
    const yMax = Math.max(...ys, threshold || 1, 1);
    // Orders are heavy-tailed (most items sell a few times, a few sell thousands): log scale.
    const top = Math.pow(10, Math.ceil(Math.log10(yMax)));
    const yOf = (v) => m.t + h - (Math.log10(Math.max(v, 1)) / Math.log10(top)) * h;
    const xOf = (q) => m.l + q * w;
    const root = svg('svg', {viewBox: `0 0 ${width} ${height}`, width, height, role: 'img',
                             'aria-label': 'Orders per item by catalogue quantile'});
    root.append(svg('rect', {class: 'top-zone', x: xOf(0.9), y: m.t, width: xOf(1) - xOf(0.9),
                             height: h}));
    const axis = svg('g', {class: 'axis'});
    for (let v = 1; v <= top; v *= 10) {
      axis.append(svg('line', {x1: m.l, x2: m.l + w, y1: yOf(v), y2: yOf(v)}),
                  svg('text', {x: m.l - 6, y: yOf(v) + 4, 'text-anchor': 'end', text: fmtNum(v)}));
    }
    for (const q of [0, 0.25, 0.5, 0.75, 0.9, 1]) {
      axis.append(svg('text', {x: xOf(q), y: m.t + h + 16, 'text-anchor': 'middle',
                               text: `${Math.round(q * 100)}%`}));
    }
    axis.append(svg('text', {class: 'axis-title', x: m.l + w / 2, y: height - 2,
                             'text-anchor': 'middle', text: 'share of items (quantile)'}),
                svg('text', {class: 'axis-title', x: 12, y: m.t + h / 2, 'text-anchor': 'middle',
                             transform: `rotate(-90 12 ${m.t + h / 2})`, text: 'orders'}));
    root.append(axis);
    const path = points.map((p, i) => `${i ? 'L' : 'M'}${xOf(p.q).toFixed(1)},${yOf(p.y).toFixed(1)}`)
                       .join(' ');
    const area = `${path} L${xOf(points[points.length - 1].q).toFixed(1)},${m.t + h} ` +
                 `L${xOf(points[0].q).toFixed(1)},${m.t + h} Z`;
    root.append(svg('path', {class: 'curve-area', d: area}), svg('path', {class: 'curve', d: path}));
    for (const p of points) {
      root.append(svg('circle', {class: 'curve-dot', cx: xOf(p.q), cy: yOf(p.y), r: 2.6},
                      svg('title', {text: `q=${p.q}: ${fmtNum(p.y)} orders`})));
    }
    if (threshold > 0) {
      const y = yOf(threshold);
      root.append(svg('line', {class: 'threshold', x1: m.l, x2: m.l + w, y1: y, y2: y}),
                  svg('text', {class: 'threshold-label', x: m.l + 6, y: y - 6,
                               text: `top 10% ≥ ${fmtNum(threshold)} orders`}));
    }
    box.replaceChildren(root);
  }

  async function refreshPopularity() {
    const win = encodeURIComponent(state.window);
    $('popularity-meta').textContent = `window: ${state.window}`;
    let quant;
    try {
      quant = await getJson(`/v1/popularity/quantiles?q=${QUANTILES.join(',')}&window=${win}`);
    } catch (err) {
      showFailure('popularity', err, 'The popularity curve is');
      $('popularity-chart').replaceChildren();
      $('popularity-threshold').textContent = '';
      return;
    }
    const points = QUANTILES.map((q) => ({q, y: Number((quant.quantiles || {})[String(q)])}))
                            .filter((p) => Number.isFinite(p.y));
    if (!points.length) {
      setPanel('popularity', 'empty', 'No items with orders in this window yet.');
      $('popularity-chart').replaceChildren();
      return;
    }
    let top = null;
    try {
      top = await getJson(`/v1/popularity/top-percent?p=10&window=${win}`);
    } catch (err) {
      top = null;  // the curve alone is still worth showing
    }
    setPanel('popularity', 'ok', '');
    drawPopularity(points, top ? Number(top.threshold) : 0);
    const legend = $('popularity-threshold');
    legend.replaceChildren();
    const total = Number(quant.items);
    if (top) {
      const n = (top.items || []).length;
      legend.append('Top 10% threshold: ', el('strong', {text: `${fmtNum(Number(top.threshold))} orders`}),
                    ` · ${fmtInt(n)} item${n === 1 ? '' : 's'} at or above it`,
                    Number.isFinite(total) ? ` out of ${fmtInt(total)} sold.` : '.');
    } else {
      legend.append(Number.isFinite(total) ? `${fmtInt(total)} items sold. ` : '',
                    'Top-10% list not available yet.');
    }
  }

  // ---------- segments ----------

  // Short column titles for DESIGN §3's customer features; unknown names are shown as sent.
  const FEATURE_NAMES = {
    recency_days: 'Recency', recency: 'Recency', frequency: 'Orders', monetary: 'Spend',
    mean_basket_value: 'Basket', basket_value: 'Basket',
    mean_distinct_items: 'Items', distinct_items: 'Items', return_rate: 'Returns',
  };
  const FEATURE_HELP = {
    recency_days: 'days since the last purchase', frequency: 'distinct checkouts with a sale',
    monetary: 'net revenue', mean_basket_value: 'mean basket value',
    mean_distinct_items: 'mean distinct items per basket', return_rate: 'share of units returned',
  };
  function featureTitle(name) {
    if (FEATURE_NAMES[name]) return FEATURE_NAMES[name];
    const s = String(name).replace(/_/g, ' ');
    return s.charAt(0).toUpperCase() + s.slice(1);
  }
  function fmtFeature(name, v) {
    if (!Number.isFinite(v)) return '–';
    const n = String(name).toLowerCase();
    if (n.includes('recency') || n.endsWith('_days')) return `${fmtNum(v, 0)} d`;
    if (n.includes('rate') || n.includes('share')) return `${(v * 100).toFixed(1)}%`;
    if (n.includes('monetary') || n.includes('value') || n.includes('revenue') || n.includes('spend')) {
      return Math.abs(v) >= 1000 ? fmtNum(v, 0) : fmtNum(v, 2);
    }
    return v.toLocaleString('en-GB', {minimumFractionDigits: 1, maximumFractionDigits: 1});
  }

  // One stacked bar of the segment shares: the customer mix at a glance.
  function mixBar(segs, total) {
    const bar = el('div', {class: 'mix', id: 'segments-mix', role: 'img',
                           'aria-label': 'Customer mix by segment'});
    for (const s of segs) {
      const share = (Number(s.size) || 0) / total;
      const part = el('div', {class: `mix-part ${segClass(s.id)}`,
                              title: `${s.label}: ${fmtInt(Number(s.size))} customers`});
      part.style.flexGrow = String(share);  // CSSOM: allowed by the page's CSP
      if (share >= 0.08) part.textContent = `${s.label} ${(share * 100).toFixed(0)}%`;
      bar.append(part);
    }
    return bar;
  }

  async function refreshSegments() {
    let body;
    try {
      body = await getJson('/v1/segments');
    } catch (err) {
      showFailure('segments', err, 'Segments are');
      return;
    }
    const segs = (body.segments || []).slice().sort((a, b) => a.id - b.id);
    for (const s of segs) state.labels.set(Number(s.id), s.label);
    const meta = [];
    if (body.k !== undefined) meta.push(`k = ${body.k}`);
    if (body.model_version === 0) {
      meta.push('warming up');
    } else {
      if (body.model_version !== undefined) meta.push(`model v${body.model_version}`);
      if (Number.isFinite(body.inertia)) meta.push(`inertia ${fmtNum(body.inertia)}`);
    }
    if (body.scored === false && segs.length) meta.push('re-scoring');
    $('segments-meta').textContent = meta.join(' · ');
    if (!segs.length) {
      $('segments-body').replaceChildren();
      setPanel('segments', 'empty', body.model_version === 0
        ? 'Warming up: no segment model yet.' : 'No customers segmented yet.');
      return;
    }
    const features = Array.isArray(body.features) ? body.features : [];
    const total = segs.reduce((acc, s) => acc + (Number(s.size) || 0), 0) || 1;
    const head = el('tr', {}, el('th', {text: 'Segment'}), el('th', {text: 'Customers'}),
                    el('th', {text: 'Share'}),
                    ...features.map((f) => el('th', {text: featureTitle(f),
                                                     title: `${f}: ${FEATURE_HELP[f] || ''}`})));
    const rows = segs.map((s) => {
      const share = (Number(s.size) || 0) / total;
      const fill = el('div', {class: `share-fill ${segClass(s.id)}`});
      fill.style.width = `${(share * 100).toFixed(1)}%`;  // CSSOM: allowed by the page's CSP
      // Centroids in original units: an object keyed by feature name (DESIGN §6), or a list
      // ordered as `features`.
      const c = s.centroid || {};
      const centroid = Array.isArray(c) ? c : features.map((f) => c[f]);
      return el('tr', {'data-segment': String(s.id)},
        el('td', {}, el('div', {class: 'seg-name'}, el('span', {class: `swatch ${segClass(s.id)}`}),
                        el('span', {class: 'seg-label', text: s.label || `segment ${s.id}`}),
                        el('span', {class: 'seg-id', text: `#${s.id}`}))),
        el('td', {text: fmtInt(Number(s.size))}),
        el('td', {}, el('div', {class: 'share'}, el('div', {class: 'share-track'}, fill),
                        el('span', {text: `${(share * 100).toFixed(1)}%`}))),
        ...features.map((f, i) => el('td', {text: fmtFeature(f, Number(centroid[i]))})));
    });
    const table = el('table', {id: 'segments-table'}, el('thead', {}, head), el('tbody', {}, ...rows));
    const transform = typeof body.transform === 'string' ? body.transform
      : body.transform ? (body.transform.description || body.transform.name || '') : '';
    const children = [mixBar(segs, total), el('div', {class: 'scroll-x'}, table)];
    if (transform) {
      children.push(el('p', {class: 'legend',
                             text: `Centroids in original units; the model sees ${transform}.`}));
    }
    $('segments-body').replaceChildren(...children);
    setPanel('segments', 'ok', '');
  }

  // ---------- drift ----------

  function driftClass(stateText) {
    const s = String(stateText || '').toLowerCase();
    if (s.includes('alert')) return 'alert';
    if (s.includes('warn')) return 'warn';
    if (s.includes('warm') || s.includes('idle') || s.includes('unknown')) return 'idle';
    return 'ok';
  }

  async function refreshDrift() {
    let body;
    try {
      body = await getJson('/v1/drift');
    } catch (err) {
      showFailure('drift', err, 'Drift monitoring is');
      return;
    }
    const segs = (body.segments || []).slice().sort((a, b) => a.id - b.id);
    const alerts = (body.alerts || []).slice()
      .sort((a, b) => (b.event_time_ms || 0) - (a.event_time_ms || 0));
    // null = not judged (too few purchases in a window): a dash, not 0.
    const num = (v, over) => {
      const td = el('td', {text: typeof v === 'number' && Number.isFinite(v) ? v.toFixed(2) : '–'});
      if (over) td.classList.add('over');
      return td;
    };
    const rows = segs.map((s) => el('tr', {'data-segment': String(s.id)},
      el('td', {}, segPill(Number(s.id), s.label)),
      num(s.centroid_shift), num(s.cost_ratio),
      num(s.psi, typeof s.psi === 'number' && s.psi >= 0.25),
      el('td', {}, el('span', {class: `badge ${driftClass(s.state)}`, text: s.state || 'ok'}))));
    const table = el('table', {id: 'drift-table'},
      el('thead', {}, el('tr', {}, el('th', {text: 'Segment'}), el('th', {text: 'Centroid shift'}),
                         el('th', {text: 'Cost ratio'}), el('th', {text: 'PSI'}),
                         el('th', {text: 'State'}))),
      el('tbody', {}, ...rows));
    const list = el('ul', {class: 'alerts', id: 'drift-alerts'});
    for (const a of alerts.slice(0, 5)) {
      list.append(el('li', {}, el('strong', {text: String(a.kind || 'ALERT').replace(/_/g, ' ')}),
                     ` on ${segLabel(a.segment, a.label)}: ${fmtNum(Number(a.value))} ` +
                     `(threshold ${fmtNum(Number(a.threshold))}) · ${fmtDate(a.event_time_ms)}`));
    }
    const nAlert = segs.filter((s) => driftClass(s.state) === 'alert').length;
    $('drift-meta').textContent = segs.length
      ? (nAlert ? `${nAlert} segment${nAlert > 1 ? 's' : ''} drifting` : 'all segments stable') : '';
    $('drift-body').replaceChildren(...(segs.length ? [table] : []),
                                    ...(alerts.length ? [list] : []));
    if (!segs.length && !alerts.length) setPanel('drift', 'empty', 'No drift statistics yet.');
    else setPanel('drift', 'ok', '');
  }

  // ---------- bought together (the top item's partners, in the selected window) ----------

  const TOGETHER_N = 8;

  async function refreshTogether() {
    let rows;
    let top;
    try {
      const w = encodeURIComponent(state.window);
      const body = await getJson(`/v1/items/top?n=1&window=${w}&by=orders`);
      top = (body.items || [])[0];
      if (!top) {
        setPanel('together', 'empty', 'No items yet.');
        return;
      }
      rows = await getJson(
        `/v1/items/${encodeURIComponent(top.sku)}/together?n=${TOGETHER_N}&window=${w}`);
    } catch (err) {
      showFailure('together', err, 'Bought together is');
      return;
    }
    $('together-meta').textContent =
      `${top.sku} · ${top.description || ''} · ${fmtInt(top.orders)} orders · ${state.window}`;
    const pct = (v) => `${(100 * Number(v)).toFixed(1)}%`;
    const table = el('table', {id: 'together-table'},
      el('thead', {}, el('tr', {}, el('th', {text: 'Item'}), el('th', {text: 'Checkouts'}),
                         el('th', {text: 'Confidence'}), el('th', {text: 'Lift'}))),
      el('tbody', {}, ...rows.map((r) => el('tr', {'data-sku': r.sku},
        el('td', {title: r.description || '', text: `${r.sku} ${r.description || ''}`}),
        el('td', {text: fmtInt(r.count)}),
        el('td', {text: pct(r.confidence)}),
        el('td', {text: fmtNum(Number(r.lift))})))));
    $('together-body').replaceChildren(...(rows.length ? [table] : []));
    if (!rows.length) setPanel('together', 'empty', 'No partners yet.');
    else setPanel('together', 'ok', '');
  }

  let refreshTogetherNow = () => {};

  // ---------- live feed (Server-Sent Events) ----------

  const feed = {pending: [], total: 0, source: null, opened: false};

  function feedItem(ev) {
    if (ev.type === 'drift') {
      const a = ev.data;
      return el('li', {class: 'feed-item alert'},
        el('time', {text: a.event_time_ms ? shortDateFmt.format(new Date(a.event_time_ms)) : ''}),
        el('span', {class: 'feed-move'}, el('span', {class: 'badge alert', text: 'drift'}),
           segPill(Number(a.segment), a.label),
           el('span', {text: `${String(a.kind || '').replace(/_/g, ' ').toLowerCase()} ` +
                             `${fmtNum(Number(a.value))}`})),
        el('span', {class: 'feed-reason', text: `≥ ${fmtNum(Number(a.threshold))}`}));
    }
    if (ev.type === 'summary') {  // the server's rate limit held back part of a burst
      const d = ev.data;
      return el('li', {class: 'feed-item summary'},
        el('time', {text: d.max_event_time_ms ? shortDateFmt.format(new Date(d.max_event_time_ms)) : ''}),
        el('span', {class: 'feed-move', text: `+${fmtInt(Number(d.dropped))} more segment changes`}),
        el('span', {class: 'feed-reason', text: 'not listed one by one'}));
    }
    const c = ev.data;
    const from = Number(c.from_segment);
    return el('li', {class: 'feed-item', 'data-customer': String(c.customer_id)},
      el('time', {text: c.event_time_ms ? shortDateFmt.format(new Date(c.event_time_ms)) : ''}),
      el('span', {class: 'feed-move'}, el('span', {class: 'feed-cust', text: String(c.customer_id)}),
         segPill(from, from === -1 ? 'new' : c.from_label), el('span', {class: 'arrow', text: '→'}),
         segPill(Number(c.to_segment), c.to_label)),
      el('span', {class: 'feed-reason', text: String(c.reason || '').replace(/_/g, ' ')}));
  }

  // Segment changes can arrive by the thousand during a fast replay: batch them into one DOM
  // update per flush and keep only the newest FEED_MAX.
  function flushFeed() {
    if (!feed.pending.length) return;
    const list = $('feed-list');
    const fresh = feed.pending.splice(0).slice(-FEED_MAX).reverse().map(feedItem);
    list.prepend(...fresh);
    while (list.children.length > FEED_MAX) list.lastElementChild.remove();
    $('feed-meta').textContent = `${fmtInt(feed.total)} events since this page opened`;
    setPanel('feed', 'ok', '');
  }

  function onEvent(kind, raw) {
    let data;
    try { data = JSON.parse(raw); } catch (e) { return; }
    if (kind === 'message') {  // unnamed event: tell by its fields
      if (data && data.to_segment !== undefined) kind = 'change';
      else if (data && data.kind !== undefined) kind = 'drift';
      else return;
    }
    if (kind === 'top') { refreshTopNow(); return; }
    // A restatement re-sends a customer's current segment after a worker crash (from = to): for
    // consumers that keep the last event per customer, not a move worth showing.
    if (kind === 'change' && data && data.reason === 'RESTATE') return;
    feed.total += kind === 'summary' ? (Number(data.dropped) || 0) : 1;
    feed.pending.push({type: kind, data});
    if (kind === 'drift') refreshDriftNow();
  }

  function connectEvents() {
    if (typeof EventSource === 'undefined') {
      setPanel('feed', 'unavailable', 'Live events need a browser with EventSource.');
      return;
    }
    const src = new EventSource('/v1/events');
    feed.source = src;
    const on = (names, kind) => names.forEach((n) => src.addEventListener(n, (e) => onEvent(kind, e.data)));
    on(['segment-change', 'segment-changes', 'segment_change'], 'change');
    on(['segment-changes-summary'], 'summary');
    on(['drift-alert', 'segment-drift', 'drift'], 'drift');
    on(['top-items', 'top_items'], 'top');
    src.onmessage = (e) => onEvent('message', e.data);
    src.onopen = () => {
      feed.opened = true;
      if (!feed.total) setPanel('feed', 'empty', 'Connected: no segment change yet.');
    };
    src.onerror = () => {
      if (src.readyState === EventSource.CLOSED) {
        // A non-stream answer (404 before /v1/events exists) closes the source for good; try again
        // later in case the server is upgraded or comes back.
        setPanel('feed', feed.opened ? 'error' : 'unavailable',
                 feed.opened ? 'Live events disconnected; reconnecting…'
                             : 'Live segment changes not available yet: this server has no event stream.');
        src.close();
        setTimeout(connectEvents, 30000);
      } else if (!feed.total) {
        setPanel('feed', 'waiting', 'Connecting to live events…');
      }
    };
  }

  // ---------- wiring ----------

  let refreshTopNow = () => {};
  let refreshPopularityNow = () => {};
  let refreshDriftNow = () => {};

  function bindButtons(groupId, attr, apply) {
    const group = $(groupId);
    group.addEventListener('click', (e) => {
      const b = e.target.closest('button');
      if (!b || !group.contains(b)) return;
      for (const other of group.querySelectorAll('button')) other.classList.toggle('active', other === b);
      apply(b.dataset[attr]);
    });
  }

  function start() {
    bindButtons('top-items-window', 'window', (w) => {
      state.window = w;
      refreshTopNow();
      refreshPopularityNow();
      refreshTogetherNow();
    });
    bindButtons('top-items-metric', 'by', (by) => {
      state.by = by;
      refreshTopNow();
    });
    poll(refreshStatus, REFRESH_MS);
    refreshTopNow = poll(refreshTopItems, REFRESH_MS);
    refreshPopularityNow = poll(refreshPopularity, SLOW_REFRESH_MS);
    poll(refreshSegments, SLOW_REFRESH_MS);
    refreshDriftNow = poll(refreshDrift, SLOW_REFRESH_MS);
    refreshTogetherNow = poll(refreshTogether, SLOW_REFRESH_MS);
    connectEvents();
    setInterval(flushFeed, 500);
    setInterval(tickUpdated, 1000);
    let resizeTimer = null;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => { refreshTopNow(); refreshPopularityNow(); }, 200);
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
