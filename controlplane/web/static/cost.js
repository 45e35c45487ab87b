// cellplane /cost: keeps the numbers, the tables and the chart in step with the inputs
// by asking GET /v1/cost-model. The page works without this script (the form submits).
// The chart geometry mirrors controlplane/web/chart.go: keep the two in step.
(function () {
  'use strict';
  var W = 640, H = 300, LEFT = 72, RIGHT = W - 20, TOP = 16, BASE = H - 44;
  var SVGNS = 'http://www.w3.org/2000/svg';
  var form = document.getElementById('cost-form');
  if (!form || !window.fetch || !window.URLSearchParams) { return; }
  var regions = JSON.parse(form.getAttribute('data-regions') || '{}');
  var statusEl = document.getElementById('status');
  var timer = null;
  var seq = 0;

  function $(id) { return document.getElementById(id); }
  function setText(id, s) { var el = $(id); if (el) { el.textContent = s; } }

  function money(v) {
    var s = '$' + Math.abs(v).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    return v < 0 && s !== '$0.00' ? '-' + s : s;
  }
  function dollars(v) { return money(v).replace(/\.00$/, ''); }
  function num(v) { var s = String(Number(v.toFixed(2))); return s === '-0' ? '0' : s; }
  function pct(v) { return num(v * 100) + '%'; }

  function niceStep(span, n) {
    if (span <= 0) { return 1; }
    var raw = span / n;
    var mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var norm = raw / mag;
    if (norm <= 1) { return mag; }
    if (norm <= 2) { return 2 * mag; }
    if (norm <= 5) { return 5 * mag; }
    return 10 * mag;
  }

  function el(name, attrs, text) {
    var e = document.createElementNS(SVGNS, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function tierB(e, n) { return e.baseline.total / n + e.variable.total; }

  function drawChart(e) {
    var svg = $('chart');
    if (!svg) { return; }
    var pts = e.curve;
    var maxN = Math.max(pts[pts.length - 1].tenants, 2);
    var top = 0;
    pts.forEach(function (p) { top = Math.max(top, p.tier_a, p.tier_b); });
    if (top <= 0) { top = 1; }
    var step = niceStep(top * 1.08, 5);
    var yMax = Math.ceil(top * 1.08 / step) * step;
    function x(n) { return LEFT + (n - 1) / (maxN - 1) * (RIGHT - LEFT); }
    function y(v) { return BASE - v / yMax * (BASE - TOP); }
    function f1(v) { return v.toFixed(1); }

    var yt = $('y-ticks');
    yt.textContent = '';
    for (var v = 0; v <= yMax + step / 2; v += step) {
      yt.appendChild(el('line', { 'class': 'grid', x1: LEFT, x2: RIGHT, y1: y(v), y2: y(v) }));
      yt.appendChild(el('text', { x: LEFT, dx: -8, y: y(v), dy: 4, 'text-anchor': 'end' }, dollars(v)));
    }
    var xt = $('x-ticks');
    xt.textContent = '';
    var xs = Math.max(1, niceStep(maxN - 1, 6));
    xt.appendChild(el('text', { x: x(1), y: BASE, dy: 18, 'text-anchor': 'middle' }, '1'));
    for (var n = xs; n <= maxN; n += xs) {
      if (n > 1) { xt.appendChild(el('text', { x: x(n), y: BASE, dy: 18, 'text-anchor': 'middle' }, String(n))); }
    }
    var a = [], b = [];
    pts.forEach(function (p, i) {
      var cmd = i === 0 ? 'M' : 'L';
      a.push(cmd + f1(x(p.tenants)) + ' ' + f1(y(p.tier_a)));
      b.push(cmd + f1(x(p.tenants)) + ' ' + f1(y(p.tier_b)));
    });
    $('line-a').setAttribute('d', a.join(' '));
    $('line-b').setAttribute('d', b.join(' '));
    var m = $('marker-n');
    m.setAttribute('cx', x(Math.min(e.inputs.tenants, maxN)));
    m.setAttribute('cy', y(e.tier_b.per_org));
    var g = $('breakeven');
    var be = e.break_even.tenants;
    if (be !== null && be <= maxN) {
      var line = g.querySelector('line');
      line.setAttribute('x1', x(be));
      line.setAttribute('x2', x(be));
      var label = $('breakeven-label');
      label.setAttribute('x', x(be));
      label.textContent = 'break-even N = ' + be;
      g.setAttribute('visibility', 'visible');
    } else {
      g.setAttribute('visibility', 'hidden');
    }
    svg.setAttribute('data-max-n', String(maxN));
    var last = pts[pts.length - 1];
    var desc = 'Tier A stays at ' + money(e.tier_a.per_org) + ' per org for any N. Tier B falls from ' +
      money(pts[0].tier_b) + ' at N = 1 to ' + money(last.tier_b) + ' at N = ' + last.tenants + '.';
    if (be !== null) { desc += ' Tier B is ' + pct(e.break_even.margin) + ' cheaper from N = ' + be + '.'; }
    setText('chart-desc', desc);
  }

  function sourceOf(f) {
    try {
      var u = new URL(f.source);
      if ((u.protocol === 'https:' || u.protocol === 'http:') && u.host) {
        return { url: f.source, label: (u.host + u.pathname).replace(/\/$/, ''), date: f.date };
      }
    } catch (err) { /* not an address: a note */ }
    return { url: '', label: f.source, date: f.date };
  }

  function sourceNodes(s) {
    var frag = document.createDocumentFragment();
    var link;
    if (s.url) {
      link = document.createElement('a');
      link.href = s.url;
      link.rel = 'noopener noreferrer';
      link.textContent = s.label;
    } else {
      link = document.createTextNode(s.label);
    }
    frag.appendChild(link);
    frag.appendChild(document.createTextNode(' '));
    var d = document.createElement('span');
    d.className = 'date';
    d.textContent = s.date;
    frag.appendChild(d);
    return frag;
  }

  function cell(tag, text, cls) {
    var c = document.createElement(tag);
    if (cls) { c.className = cls; }
    if (text !== undefined) { c.textContent = text; }
    return c;
  }

  function fillItems(id, part) {
    var table = $(id);
    if (!table) { return; }
    var body = table.tBodies[0];
    body.textContent = '';
    part.items.forEach(function (li) {
      var tr = document.createElement('tr');
      var th = cell('th', li.name);
      th.scope = 'row';
      tr.appendChild(th);
      tr.appendChild(cell('td', li.item || ''));
      tr.appendChild(cell('td', li.formula.split(' = ')[0], 'formula'));
      tr.appendChild(cell('td', money(li.monthly), 'num'));
      var td = cell('td');
      var ul = cell('ul', undefined, 'sources');
      var seen = {};
      li.figures.forEach(function (f) {
        var s = sourceOf(f);
        var key = s.url + '\u0000' + s.label + '\u0000' + s.date;
        if (seen[key]) { return; }
        seen[key] = true;
        var item = document.createElement('li');
        item.appendChild(sourceNodes(s));
        ul.appendChild(item);
      });
      td.appendChild(ul);
      tr.appendChild(td);
      body.appendChild(tr);
    });
    var foot = table.tFoot && table.tFoot.querySelector('td.num');
    if (foot) { foot.textContent = money(part.total); }
  }

  function fillAssumptions(figs) {
    var table = $('assumptions');
    if (!table) { return; }
    var body = table.tBodies[0];
    body.textContent = '';
    figs.forEach(function (f) {
      var tr = document.createElement('tr');
      var th = cell('th');
      th.scope = 'row';
      th.appendChild(cell('code', f.figure));
      tr.appendChild(th);
      tr.appendChild(cell('td', num(f.value), 'num'));
      tr.appendChild(cell('td', f.unit));
      var td = cell('td');
      td.appendChild(sourceNodes(sourceOf(f)));
      tr.appendChild(td);
      body.appendChild(tr);
    });
  }

  function render(e) {
    var i = e.inputs;
    setText('tier-a-per-org', money(e.tier_a.per_org));
    setText('tier-a-formula', e.tier_a.formula);
    setText('tier-b-tenants', String(e.tier_b.tenants));
    setText('tier-b-per-org', money(e.tier_b.per_org));
    setText('tier-b-formula', e.tier_b.formula);
    setText('savings', money(e.savings_per_org));
    setText('savings-pct', pct(e.savings_fraction));
    setText('break-even', e.break_even.tenants !== null ? 'N = ' + e.break_even.tenants : 'never');
    setText('break-even-reason', e.break_even.reason);
    setText('usage', num(i.sessions_per_month) + ' sessions a month × ' + num(i.session_hours) + ' h = ' +
      num(e.session_hours_per_month) + ' session-hours (' + num(e.average_concurrent_sessions) +
      ' concurrent on average) · ' + i.cloud + ' ' + i.region + ' · ' + i.sizing);
    setText('baseline-total', money(e.baseline.total));
    setText('variable-total', money(e.variable.total));
    setText('price-table', e.price_table);
    $('sessions').setAttribute('placeholder', num(i.sessions_per_month));
    fillItems('baseline-items', e.baseline);
    fillItems('variable-items', e.variable);
    fillAssumptions(e.assumptions);
    drawChart(e);
  }

  var fields = ['cloud', 'region', 'sizing', 'sessions', 'tenants', 'margin_pct'];

  function clearErrors() {
    fields.forEach(function (f) {
      var input = $(f);
      var msg = $(f + '-error');
      if (input) { input.removeAttribute('aria-invalid'); }
      if (msg) { msg.textContent = ''; msg.hidden = true; }
    });
  }

  function showErrors(problem) {
    (problem.errors || []).forEach(function (fe) {
      var name = fe.field === 'margin' ? 'margin_pct' : fe.field;
      var input = $(name);
      var msg = $(name + '-error');
      if (input) { input.setAttribute('aria-invalid', 'true'); }
      if (msg) { msg.textContent = fe.message; msg.hidden = false; }
    });
    statusEl.textContent = problem.detail || 'The inputs are not valid.';
    statusEl.className = 'status bad';
  }

  function pageParams() {
    var p = new URLSearchParams();
    fields.forEach(function (f) {
      var v = form.elements[f].value.trim();
      if (v !== '') { p.set(f, v); }
    });
    return p;
  }

  function apiParams(page) {
    var p = new URLSearchParams();
    ['cloud', 'region', 'sizing', 'sessions', 'tenants'].forEach(function (f) {
      if (page.has(f)) { p.set(f, page.get(f)); }
    });
    if (page.has('margin_pct')) {
      var m = Number(page.get('margin_pct'));
      p.set('margin', isNaN(m) ? page.get('margin_pct') : String(m / 100));
    }
    return p;
  }

  function update() {
    var page = pageParams();
    var mine = ++seq;
    statusEl.textContent = 'Updating…';
    statusEl.className = 'status';
    fetch('/v1/cost-model?' + apiParams(page).toString(), { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (res) {
        return res.json().then(function (body) { return { ok: res.ok, body: body }; });
      })
      .then(function (r) {
        if (mine !== seq) { return; } // a newer request is on its way
        clearErrors();
        if (!r.ok) { showErrors(r.body); return; }
        history.replaceState(null, '', '/cost?' + page.toString());
        if (!$('results')) { window.location.assign('/cost?' + page.toString()); return; }
        render(r.body);
        statusEl.textContent = 'Updated: tier A ' + money(r.body.tier_a.per_org) + ', tier B ' +
          money(r.body.tier_b.per_org) + ' per org per month.';
      })
      .catch(function () {
        if (mine !== seq) { return; }
        statusEl.textContent = 'The cost model could not be reached.';
        statusEl.className = 'status bad';
      });
  }

  function schedule() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(update, 200);
  }

  form.elements.cloud.addEventListener('change', function () {
    var sel = form.elements.region;
    sel.textContent = '';
    (regions[form.elements.cloud.value] || []).forEach(function (r) {
      var o = document.createElement('option');
      o.value = r;
      o.textContent = r;
      sel.appendChild(o);
    });
  });
  form.addEventListener('input', schedule);
  form.addEventListener('change', schedule);
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (timer) { clearTimeout(timer); }
    update();
  });
}());
