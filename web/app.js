/* livetrade dashboard: candlestick charts with signal markers and
 * indicator lines, the signal table and the components' status, kept
 * live over the sink's WebSocket (livetrade-sink web).
 *
 * Messages (JSON): "status", "symbol" (a symbol's bars, signals and the
 * engine's indicator values per bar: the snapshot, and again when history
 * arrives), "bar", "signal", "ind" (one bar's indicator values), "pong".
 * The indicator lines have a point per bar from the engine's values; only
 * when no engine sends them are they drawn through the values the signals
 * carry (a point per signal).
 * window.ltDashboard.state() reports what the charts hold, for checks. */
(function () {
  'use strict';

  var LWC = window.LightweightCharts;
  var COLORS = ['#f0b429', '#4dabf7', '#e599f7', '#8ce99a', '#ffa8a8',
                '#63e6be', '#ffd43b', '#b197fc'];
  var MAX_ROWS = 200;               // signal table rows
  var PING_MS = 20000;

  var symbols = {};                 // sym -> chart state
  var signals = [];                 // every signal shown, oldest first
  var signalIds = new Set();
  var status = null;                // last status message
  var conn = { open: false, messages: 0, connects: 0, ws: null };
  var token = new URLSearchParams(location.search).get('token');

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function utc(ms) {
    if (!ms || ms <= 0) return '–';
    return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
  }

  function ago(ms) {
    if (ms === null || ms === undefined || !isFinite(ms)) return '–';
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 120) return s + ' s';
    if (s < 7200) return Math.round(s / 60) + ' min';
    if (s < 172800) return Math.round(s / 3600) + ' h';
    return Math.round(s / 86400) + ' d';
  }

  function num(v, d) {
    return (typeof v === 'number' && isFinite(v)) ? v.toFixed(d) : '–';
  }

  /* ---- charts ---- */

  function chartFor(sym) {
    var y = symbols[sym];
    if (y) return y;
    var box = document.getElementById('charts');
    var empty = box.querySelector('.empty');
    if (empty) empty.remove();
    var card = el('div', 'chart-card');
    var title = el('div', 'chart-title');
    title.appendChild(el('b', null, sym));
    var tf = el('span');
    var legend = el('span', 'legend');
    title.appendChild(tf);
    title.appendChild(legend);
    var div = el('div', 'chart');
    card.appendChild(title);
    card.appendChild(div);
    card.dataset.symbol = sym;
    box.appendChild(card);
    var chart = LWC.createChart(div, {
      autoSize: true,
      layout: { background: { color: '#171d24' }, textColor: '#d8dee6' },
      grid: { vertLines: { color: '#222a33' },
              horzLines: { color: '#222a33' } },
      timeScale: { timeVisible: true, secondsVisible: false },
      rightPriceScale: { borderColor: '#2a323c' },
    });
    var candles = chart.addCandlestickSeries({
      upColor: '#26a69a', downColor: '#ef5350', borderVisible: false,
      wickUpColor: '#26a69a', wickDownColor: '#ef5350',
    });
    y = { sym: sym, chart: chart, candles: candles, lines: {}, tfEl: tf,
          legend: legend, lastTime: null, markers: [], tf: 0, bars: 0,
          perBar: false };           // lines from the engine's values
    symbols[sym] = y;
    return y;
  }

  function candle(b) {
    return { time: Math.floor(b[0] / 1000), open: b[1], high: b[2],
             low: b[3], close: b[4] };
  }

  function setTf(y, tf) {
    if (tf && tf !== y.tf) {
      y.tf = tf;
      y.tfEl.textContent = tf % 60 === 0 ? (tf / 60) + ' min bars'
                                         : tf + ' s bars';
    }
  }

  function marker(s) {
    var t = Math.floor(s.bar_ts / 1000);
    if (s.action === 'buy')
      return { time: t, position: 'belowBar', color: '#26a69a',
               shape: 'arrowUp', text: 'BUY', id: s.id };
    if (s.action === 'sell')
      return { time: t, position: 'aboveBar', color: '#ef5350',
               shape: 'arrowDown', text: 'SELL', id: s.id };
    return { time: t, position: 'aboveBar', color: '#f0b429',
             shape: 'circle', text: 'CLOSE', id: s.id };
  }

  function lineFor(y, name) {
    var l = y.lines[name];
    if (l) return l;
    var color = COLORS[Object.keys(y.lines).length % COLORS.length];
    l = { series: y.chart.addLineSeries({ color: color, lineWidth: 2,
            priceLineVisible: false, lastValueVisible: false,
            crosshairMarkerVisible: false, title: name }),
          points: new Map(), last: null };
    y.lines[name] = l;
    var key = el('span');
    var sw = el('i');
    sw.style.background = color;
    key.appendChild(sw);
    key.appendChild(document.createTextNode(name));
    y.legend.appendChild(key);
    return l;
  }

  /* The symbol's markers, and its indicator lines from its signals while
   * no engine sends their values per bar. */
  function redraw(y) {
    var mine = signals.filter(function (s) { return s.symbol === y.sym; });
    y.markers = mine.map(marker).sort(function (a, b) {
      return a.time - b.time;
    });
    y.candles.setMarkers(y.markers);
    if (y.perBar) return;
    mine.forEach(function (s) {
      var ind = s.indicators || {};
      Object.keys(ind).forEach(function (name) {
        var v = ind[name];
        if (typeof v === 'number' && isFinite(v))
          lineFor(y, name).points.set(Math.floor(s.bar_ts / 1000), v);
      });
    });
    Object.keys(y.lines).forEach(function (name) {
      var l = y.lines[name];
      var data = Array.from(l.points.entries()).sort(function (a, b) {
        return a[0] - b[0];
      }).map(function (p) { return { time: p[0], value: p[1] }; });
      l.series.setData(data);
      l.last = data.length ? data[data.length - 1].time : null;
    });
  }

  /* From now on the lines are the engine's, a point per bar. */
  function perBar(y) {
    if (y.perBar) return;
    y.perBar = true;
    Object.keys(y.lines).forEach(function (name) {
      y.lines[name].points.clear();
      y.lines[name].series.setData([]);
      y.lines[name].last = null;
    });
  }

  /* The engine's values at every bar held: {names, points: [[t, v...]]}. */
  function setLines(y, ind) {
    perBar(y);
    var names = ind.names || [];
    Object.keys(y.lines).forEach(function (name) {
      if (names.indexOf(name) < 0) {
        y.lines[name].series.setData([]);
        y.lines[name].last = null;
      }
    });
    names.forEach(function (name, k) {
      var l = lineFor(y, name), data = [];
      (ind.points || []).forEach(function (p) {
        var v = p[k + 1], t = Math.floor(p[0] / 1000);
        if (typeof v === 'number' && isFinite(v) &&
            (!data.length || t > data[data.length - 1].time))
          data.push({ time: t, value: v });
      });
      l.series.setData(data);
      l.last = data.length ? data[data.length - 1].time : null;
    });
  }

  function onInd(m) {
    var y = chartFor(m.sym), t = Math.floor(m.t / 1000);
    perBar(y);
    Object.keys(m.ind || {}).forEach(function (name) {
      var v = m.ind[name];
      if (typeof v !== 'number' || !isFinite(v)) return;
      var l = lineFor(y, name);
      if (l.last !== null && t < l.last) return;
      l.series.update({ time: t, value: v });
      l.last = t;
    });
  }

  function onSymbol(m) {
    var y = chartFor(m.sym);
    setTf(y, m.tf);
    var data = (m.bars || []).map(candle);
    y.candles.setData(data);
    y.bars = data.length;
    y.lastTime = data.length ? data[data.length - 1].time : null;
    (m.signals || []).forEach(addSignal);
    if (m.ind && m.ind.points && m.ind.points.length) setLines(y, m.ind);
    redraw(y);
    renderSignals();
  }

  function onBar(m) {
    var y = chartFor(m.sym);
    setTf(y, m.tf);
    var c = candle(m.bar);
    if (y.lastTime !== null && c.time < y.lastTime) return;
    y.candles.update(c);
    if (y.lastTime === null || c.time > y.lastTime) y.bars++;
    y.lastTime = c.time;
  }

  /* ---- signals ---- */

  function addSignal(s) {
    if (!s || !s.id || signalIds.has(s.id)) return false;
    signalIds.add(s.id);
    signals.push(s);
    return true;
  }

  function onSignal(m) {
    var s = m.signal;
    if (!addSignal(s)) return;
    redraw(chartFor(s.symbol));
    renderSignals();
  }

  function renderSignals() {
    var body = document.querySelector('#signals tbody');
    var rows = signals.slice().sort(function (a, b) {
      return (b.bar_ts - a.bar_ts) || (b.ordinal - a.ordinal) ||
             (b.seq - a.seq);
    }).slice(0, MAX_ROWS);
    body.textContent = '';
    rows.forEach(function (s) {
      var tr = el('tr');
      tr.dataset.id = s.id;
      tr.appendChild(el('td', null, utc(s.bar_ts)));
      tr.appendChild(el('td', null, s.symbol));
      tr.appendChild(el('td', s.action, s.action.toUpperCase()));
      tr.appendChild(el('td', null, num(s.price, 2)));
      tr.appendChild(el('td', null, typeof s.confidence === 'number' ?
                        Math.round(s.confidence * 100) + '%' : '–'));
      var ind = s.indicators || {};
      tr.appendChild(el('td', null, Object.keys(ind).map(function (k) {
        return k + '=' + num(ind[k], 2);
      }).join('  ')));
      tr.appendChild(el('td', null, s.strategy + ' · ' + s.engine));
      tr.appendChild(el('td', 'id', s.id));
      body.appendChild(tr);
    });
  }

  /* ---- status ---- */

  /* The newest bar charted (epoch ms), live or from history. */
  function newestBar() {
    var t = 0;
    for (var k in symbols)
      if (symbols[k].lastTime !== null && symbols[k].lastTime * 1000 > t)
        t = symbols[k].lastTime * 1000;
    return t;
  }

  function tfMs() {
    for (var k in symbols) if (symbols[k].tf) return symbols[k].tf * 1000;
    return 0;
  }

  function row(body, cells, stateCls) {
    var tr = el('tr');
    cells.forEach(function (c, i) {
      var td = el('td', null, c);
      if (i === 2) {
        td.textContent = '';
        td.appendChild(el('span', 'pill ' + stateCls, c));
      }
      tr.appendChild(td);
    });
    body.appendChild(tr);
  }

  function renderStatus() {
    var body = document.querySelector('#status tbody');
    var now = Date.now(), tf = tfMs();
    body.textContent = '';
    if (!status) return;
    var sk = status.sink || {};
    var lagOf = function (t) { return t > 0 ? now - (t + tf) : null; };
    row(body, ['sink (this dashboard)', location.host,
               conn.open ? 'connected' : 'disconnected',
               utc(sk.last_bar_t), ago(lagOf(sk.last_bar_t)),
               sk.bars + ' bars, ' + sk.signals + ' signals, ' +
               sk.clients + ' page(s)' +
               (sk.ws_bad ? ', ' + sk.ws_bad + ' bad messages' : '') +
               (sk.not_charted ? '; charting the first ' + sk.chart_limit +
                ' symbols seen, not the others (' + sk.not_charted +
                ' of their messages)' : '')],
        conn.open ? 'up' : 'down');
    (status.components || []).forEach(function (c) {
      var r = c.reply || {}, name = c.endpoint, last = 0, details = '';
      if (r.prog === 'livetrade-feeder') {
        name = 'feeder (' + r.source + ')';
        last = Math.max(sk.last_bar_t || 0, newestBar());
        details = r.bars_published + ' bars published, ' + r.dropped +
                  ' dropped';
      } else if (r.prog === 'livetrade-engine') {
        name = 'engine ' + r.id + ' (' + r.strategy + ')';
        (r.symbols || []).forEach(function (s) {
          if (s.last_t > last) last = s.last_t;
        });
        var errs = (r.symbols || []).filter(function (s) { return s.error; });
        // "published": this run's signals; "signals": the journal's
        // sequence number, which counts earlier runs too.
        var pub = r.published !== undefined ? r.published : r.signals;
        details = pub + ' signals published' +
                  (r.published !== undefined && r.signals !== r.published ?
                   ' (journal seq ' + r.signals + ')' : '') +
                  ', ' + r.bars_in + ' bars in' +
                  (r.bad ? ', ' + r.bad + ' bad' : '') +
                  (errs.length ? ', errors: ' + errs.map(function (s) {
                    return s.sym + ': ' + s.error; }).join('; ') : '');
      } else if (r.prog) {
        name = r.prog;
      }
      var st = !c.polled ? 'checking…' : c.up ? 'connected'
             : 'down: ' + c.error;
      row(body, [name, c.endpoint, st, utc(last),
                 c.up ? ago(lagOf(last)) : '–', details],
          !c.polled ? 'wait' : c.up ? 'up' : 'down');
    });
  }

  /* ---- connection ---- */

  function setConn(open) {
    conn.open = open;
    var e = document.getElementById('conn');
    e.textContent = open ? 'live' : 'disconnected';
    e.className = 'pill ' + (open ? 'up' : 'down');
    renderStatus();
  }

  function connect(delay) {
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') +
              location.host + '/ws' +
              (token ? '?token=' + encodeURIComponent(token) : '');
    var ws = new WebSocket(url);
    var ping = null;
    conn.ws = ws;
    ws.onopen = function () {
      conn.connects++;
      delay = 1000;
      setConn(true);
      ping = setInterval(function () {
        ws.send(JSON.stringify({ type: 'ping' }));
      }, PING_MS);
    };
    ws.onmessage = function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      conn.messages++;
      if (m.type === 'symbol') onSymbol(m);
      else if (m.type === 'bar') onBar(m);
      else if (m.type === 'signal') onSignal(m);
      else if (m.type === 'ind') onInd(m);
      else if (m.type === 'status') { status = m; renderStatus(); }
    };
    ws.onclose = function () {
      clearInterval(ping);
      setConn(false);
      setTimeout(function () { connect(Math.min(delay * 2, 10000)); },
                 delay);
    };
  }

  function tick() {
    document.getElementById('clock').textContent = utc(Date.now()) + ' UTC';
    renderStatus();
  }
  tick();
  setInterval(tick, 1000);

  window.ltDashboard = {
    /* What the page shows, read back from the charts themselves. */
    state: function () {
      var out = { connected: conn.open, connects: conn.connects,
                  messages: conn.messages, signals: signals.length,
                  components: status ? status.components.length : 0,
                  symbols: {} };
      Object.keys(symbols).forEach(function (k) {
        var y = symbols[k];
        var lines = {}, ranges = {};
        Object.keys(y.lines).forEach(function (n) {
          var d = y.lines[n].series.data();
          lines[n] = d.length;
          ranges[n] = d.length ? [d[0].time, d[d.length - 1].time] : null;
        });
        out.symbols[k] = {
          candles: y.candles.data().length,
          markers: y.candles.markers().length,
          markerIds: y.candles.markers().map(function (m) { return m.id; }),
          lines: lines,
          lineRanges: ranges,
          linesPerBar: y.perBar,
          lastTime: y.lastTime,
        };
      });
      return out;
    },
  };

  connect(1000);
})();
