// gpuslim's HTML page (core/report_html.c embeds this file): everything is
// drawn from the JSON in <script id="gpuslim-data">; text from the image
// only ever goes through textContent and setAttribute, never markup.
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('gpuslim-data').textContent);
  var SVG = 'http://www.w3.org/2000/svg';
  var main = document.getElementById('main');

  function el(tag, attrs, text, parent) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (parent) parent.appendChild(e);
    return e;
  }
  function human(b) {
    if (b === null || b === undefined) return '?';
    var neg = b < 0, u = ['B', 'kB', 'MB', 'GB', 'TB'], i = 0;
    b = Math.abs(b);
    while (b >= 1000 && i < u.length - 1) { b /= 1000; i++; }
    return (neg ? '-' : '') + (i ? b.toFixed(1) : String(b)) + ' ' + u[i];
  }
  function signed(b) { return (b > 0 ? '+' : '') + human(b); }
  function section(title) {
    var s = el('section', {}, null, main);
    el('h2', {}, title, s);
    return s;
  }

  // A table sortable by any column (click its header; again: reversed).
  function table(parent, cols, rows, cls) {
    var t = el('table', {'class': 'sortable' + (cls ? ' ' + cls : '')}, null, parent);
    var tr = el('tr', {}, null, el('thead', {}, null, t));
    var body = el('tbody', {}, null, t);
    var key = -1, dir = 1;
    function fill() {
      body.textContent = '';
      rows.forEach(function (r) {
        var row = el('tr', {}, null, body);
        cols.forEach(function (c, i) {
          var v = r[i];
          var td = el('td', {'class': c.t === 'size' || c.t === 'num' || c.t === 'delta' ? 'n' : ''},
                      c.t === 'size' ? human(v) : c.t === 'delta' ? signed(v) : v, row);
          if (c.t === 'size' || c.t === 'delta') td.setAttribute('title', v + ' bytes');
          if (c.cls) td.className += ' ' + c.cls(v);
        });
      });
    }
    cols.forEach(function (c, i) {
      var th = el('th', {}, c.h, tr);
      th.addEventListener('click', function () {
        dir = key === i ? -dir : (c.t === 'str' ? 1 : -1);
        key = i;
        rows.sort(function (a, b) {
          var x = a[i], y = b[i];
          if (c.t !== 'str') { x = Math.abs(x || 0); y = Math.abs(y || 0); }
          else { x = String(x === null ? '' : x); y = String(y === null ? '' : y); }
          return x < y ? -dir : x > y ? dir : 0;
        });
        fill();
      });
    });
    fill();
    if (!rows.length) el('p', {'class': 'none'}, 'none', parent);
    return t;
  }

  // ---- the treemap ------------------------------------------------------
  // node: {name, v, kids (or null), color, tip, parent}; zoom by clicking.
  function squarify(kids, x, y, w, h) {
    var total = 0, out = [], i = 0;
    kids.forEach(function (k) { total += k.v; });
    var scale = total > 0 ? (w * h) / total : 0;
    function worst(sum, mn, mx, side) {
      var s2 = side * side;
      return Math.max((s2 * mx) / (sum * sum), (sum * sum) / (s2 * mn));
    }
    while (i < kids.length) {
      var side = Math.min(w, h), row = [], sum = 0, mn = Infinity, mx = 0, cur = Infinity;
      while (i < kids.length) {
        var a = kids[i].v * scale;
        var nsum = sum + a, nmn = Math.min(mn, a), nmx = Math.max(mx, a);
        var nw = worst(nsum, nmn, nmx, side);
        if (row.length && nw > cur) break;
        row.push(a); sum = nsum; mn = nmn; mx = nmx; cur = nw; i++;
      }
      if (i >= kids.length) {
        // the last row takes what is left, so the areas add up exactly
        sum = w * h;
      }
      var off = 0, j, t;
      if (w >= h) {
        t = sum / h;
        for (j = 0; j < row.length; j++) {
          var rh = i >= kids.length && j === row.length - 1 ? h - off : row[j] / t;
          out.push([x, y + off, t, rh]);
          off += rh;
        }
        x += t; w -= t;
      } else {
        t = sum / w;
        for (j = 0; j < row.length; j++) {
          var rw = i >= kids.length && j === row.length - 1 ? w - off : row[j] / t;
          out.push([x + off, y, rw, t]);
          off += rw;
        }
        y += t; h -= t;
      }
    }
    return out;
  }

  function Treemap(parent, root, legend) {
    var W = 1200, H = 640, MAXD = 4, MINA = 400;
    var crumbs = el('div', {'class': 'crumbs', id: 'crumbs'}, null, parent);
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('class', 'treemap');
    svg.setAttribute('id', 'treemap');
    parent.appendChild(svg);
    var tip = el('div', {'class': 'tip', id: 'tip'}, '', parent);
    if (legend) {
      var lg = el('div', {'class': 'legend'}, null, parent);
      legend.forEach(function (l) {
        var it = el('span', {}, null, lg);
        el('i', {style: 'background:' + l[1]}, null, it);
        it.appendChild(document.createTextNode(l[0]));
      });
    }
    var cur = root, api = {};
    function link(n) {
      (n.kids || []).forEach(function (k) { k.parent = n; link(k); });
    }
    link(root);
    function pathOf(n) {
      var p = [];
      for (; n; n = n.parent) p.unshift(n);
      return p;
    }
    function rect(n, x, y, w, h, leaf, depth) {
      var r = document.createElementNS(SVG, 'rect');
      r.setAttribute('x', x); r.setAttribute('y', y);
      r.setAttribute('width', Math.max(w, 0)); r.setAttribute('height', Math.max(h, 0));
      if (leaf) {
        r.setAttribute('class', 'leaf');
        r.setAttribute('fill', n.color);
        r.setAttribute('data-bytes', n.v);
        r.addEventListener('click', function () { api.zoomTo(n); });
        r.addEventListener('mousemove', function (ev) {
          tip.textContent = pathOf(n).slice(1).map(function (p) { return p.name; }).join(' / ') +
            '\n' + n.tip;
          tip.style.display = 'block';
          tip.style.left = (ev.pageX + 12) + 'px';
          tip.style.top = (ev.pageY + 12) + 'px';
        });
        r.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
      } else {
        r.setAttribute('class', 'frame d' + depth);
      }
      svg.appendChild(r);
      // Labels: every leaf big enough, and the entries of the view (depth 1) on a
      // backing strip; a leaf at the top edge of its entry is labelled under the strip.
      var under = leaf && depth > 1 && Math.abs(y - frameTop) < 0.5;
      var ly = y + (under ? 26 : 12);
      if (w > 60 && h > (under ? 32 : 16) && (leaf || depth === 1)) {
        var s = n.name + ' ' + human(n.v);
        var max = Math.floor(w / 6.5);
        s = s.length > max ? s.slice(0, Math.max(max - 1, 1)) + '\u2026' : s;
        if (!leaf) {
          var bg = document.createElementNS(SVG, 'rect');
          bg.setAttribute('x', x + 1); bg.setAttribute('y', y + 1);
          bg.setAttribute('width', Math.min(w - 2, s.length * 6.6 + 6)); bg.setAttribute('height', 14);
          bg.setAttribute('class', 'lblbg');
          svg.appendChild(bg);
        }
        var t = document.createElementNS(SVG, 'text');
        t.setAttribute('x', x + 3); t.setAttribute('y', ly);
        t.setAttribute('class', leaf ? 'lbl' : 'lbl frame-lbl');
        t.textContent = s;
        svg.appendChild(t);
      }
    }
    var frameTop = 0;
    function layout(n, x, y, w, h, depth) {
      var kids = (n.kids || []).filter(function (k) { return k.v > 0; });
      // Divided only when its entries get MINA square pixels each on average: a view
      // draws at most W * H / MINA rectangles however many files a directory holds.
      if (n !== cur && (!kids.length || depth >= MAXD || w * h < MINA * kids.length)) {
        rect(n, x, y, w, h, true, depth);
        return;
      }
      if (!kids.length) { rect(n, x, y, w, h, true, depth); return; }
      kids.sort(function (a, b) { return b.v - a.v; });
      var rs = squarify(kids, x, y, w, h);
      kids.forEach(function (k, i) {
        var r = rs[i];
        if (depth === 0) frameTop = r[1];
        layout(k, r[0], r[1], r[2], r[3], depth + 1);
      });
      if (n !== cur) rect(n, x, y, w, h, false, depth);
    }
    function draw() {
      while (svg.firstChild) svg.removeChild(svg.firstChild);
      crumbs.textContent = '';
      pathOf(cur).forEach(function (p, i) {
        if (i) crumbs.appendChild(document.createTextNode(' / '));
        var a = el('a', {href: '#', 'class': 'crumb'}, p.name, crumbs);
        a.addEventListener('click', function (ev) { ev.preventDefault(); cur = p; draw(); });
      });
      crumbs.appendChild(document.createTextNode(' \u2014 ' + human(cur.v)));
      layout(cur, 0, 0, W, H, 0);
    }
    // Zoom one level toward `n`: into the entry of the current view that holds it.
    api.zoomTo = function (n) {
      var p = pathOf(n), i = p.indexOf(cur);
      if (i < 0 || i + 1 >= p.length) return;
      if (p[i + 1].kids && p[i + 1].kids.length) { cur = p[i + 1]; draw(); }
    };
    api.root = root;
    api.current = function () { return cur; };
    api.path = function () { return pathOf(cur).map(function (p) { return p.name; }); };
    api.leaves = function () {
      var s = 0, a = 0, nr = 0;
      svg.querySelectorAll('rect.leaf').forEach(function (r) {
        s += Number(r.getAttribute('data-bytes'));
        a += Number(r.getAttribute('width')) * Number(r.getAttribute('height'));
        nr++;
      });
      return {bytes: s, area: a, count: nr, total: cur.v, fullArea: W * H};
    };
    draw();
    return api;
  }

  // ---- colours -----------------------------------------------------------
  var KIND = {
    base: [210, 12, 62], app: [212, 62, 50], wasted: [0, 75, 55], dpkg: [38, 85, 55],
    pip: [285, 45, 58], cuda: [84, 70, 42]
  };
  function hash(s) {
    var h = 0;
    for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
    return Math.abs(h);
  }
  function ownerColor(o) {
    var k = KIND[o[0]] || KIND.app;
    var l = k[2] + (o[1] ? (hash(o[1]) % 17) - 8 : 0);
    return 'hsl(' + k[0] + ',' + k[1] + '%,' + l + '%)';
  }

  // ---- a report page ---------------------------------------------------------
  // the worst first, as the text summary (Array.prototype.sort is stable)
  var RANK = {fail: 0, warn: 1, skip: 2, pass: 3};
  function reportPage(it) {
    var r = it.report, s = r ? r.summary : null;
    var hd = el('header', {}, null, main);
    el('h1', {}, it.name, hd);
    if (it.verdict) el('span', {'class': 'verdict ' + it.verdict}, it.verdict, hd);
    if (it.error) el('p', {'class': 'error'}, it.error, main);
    if (s) {
      var dl = el('dl', {'class': 'summary'}, null, main);
      [['size', human(s.size)], ['compressed', human(s.compressed_size)], ['layers', s.layers],
       ['files', s.files], ['base', (s.base && s.base.name ? s.base.name : 'unknown') + ' \u2014 ' + human(s.base_bytes)],
       ['own', human(s.own_bytes)], ['wasted', human(s.wasted_bytes)],
       ['unowned', human(s.unowned_bytes)]].forEach(function (p) {
        el('dt', {}, p[0], dl); el('dd', {}, p[1], dl);
      });
    }
    if (it.gates && it.gates.length) {
      var g = section('Gates');
      var bars = it.gates.filter(function (x) { return x.limit !== null && x.value !== null && (x.kind === 'budget' || x.kind === 'growth'); });
      if (bars.length) {
        var bd = el('div', {'class': 'budgets'}, null, g);
        bars.forEach(function (b) {
          var row = el('div', {'class': 'budget ' + b.status}, null, bd);
          el('span', {'class': 'bname'}, b.name, row);
          var track = el('span', {'class': 'track'}, null, row);
          var frac = b.limit > 0 ? b.value / b.limit : (b.value > 0 ? 2 : 0);
          el('span', {'class': 'fill', style: 'width:' + Math.min(frac * 100 / 1.5, 100).toFixed(1) + '%'}, null, track);
          el('span', {'class': 'limit', style: 'left:' + (100 / 1.5).toFixed(1) + '%'}, null, track);
          el('span', {'class': 'bval'}, (b.name.indexOf('layers') === 0 ? b.value + ' / ' + b.limit : human(b.value) + ' / ' + human(b.limit)) + ' (' + Math.round(frac * 100) + '%)', row);
        });
      }
      table(g, [{h: 'status', t: 'str', cls: function (v) { return 's-' + v; }}, {h: 'kind', t: 'str'}, {h: 'gate', t: 'str'}, {h: 'message', t: 'str'}],
            it.gates.map(function (x) { return [x.status, x.kind, x.name, x.message]; })
              .sort(function (a, b) { return RANK[a[0]] - RANK[b[0]]; }), 'gates');
    }
    if (!r) return;
    var f = section('Findings');
    table(f, [{h: 'severity', t: 'str', cls: function (v) { return 's-' + v; }}, {h: 'rule', t: 'str'}, {h: 'message', t: 'str'}, {h: 'path', t: 'str'}, {h: 'bytes', t: 'size'}],
          (r.findings || []).map(function (x) { return [x.severity, x.rule, x.message, x.path, x.bytes]; }));

    var tm = section('Where the bytes are');
    tm.id = 'sizemap';
    if (r.sizemap) {
      var sm = r.sizemap, owners = sm.owners;
      var conv = function (arr) {
        return arr.map(function (n) {
          var o = owners[n[2]] || ['app', null];
          var rest = typeof n[3] === 'number';
          return {
            name: rest ? n[3] + ' smaller files' : n[0], v: n[1],
            kids: Array.isArray(n[3]) ? conv(n[3]) : null, color: ownerColor(o),
            tip: human(n[1]) + ' (' + n[1] + ' bytes), ' + (Array.isArray(n[3]) ? 'mostly ' : '') + o[0] + (o[1] ? ' ' + o[1] : '')
          };
        });
      };
      var root = {name: it.name, v: 0, kids: [], color: '#888', tip: ''};
      (r.layers || []).forEach(function (l, i) {
        var cb = (l.created_by || '').replace(/^\/bin\/sh -c (#\(nop\) )?/, '');
        root.kids.push({name: 'layer ' + l.index + (l.base ? ' (base)' : '') + (cb ? ': ' + cb.slice(0, 60) : ''),
                        v: l.size, kids: conv(sm.layers[i] || []), color: '#888', tip: human(l.size) + ' layer'});
        root.v += l.size;
      });
      var legend = [['base', ownerColor(['base', null])], ['app', ownerColor(['app', null])],
                    ['dpkg package', ownerColor(['dpkg', null])], ['pip package', ownerColor(['pip', null])],
                    ['CUDA component', ownerColor(['cuda', null])], ['wasted', ownerColor(['wasted', null])]];
      el('p', {'class': 'hint'}, 'Layers \u2192 directories \u2192 files; click to zoom in, the path above to zoom out. Entries under ' + human(sm.min_bytes) + ' are folded into "smaller files".', tm);
      window.gpuslimTreemap = Treemap(tm, root, legend);
    } else {
      el('p', {'class': 'none'}, 'no sizemap in this report (gpuslim inspect --sizemap)', tm);
    }
    var ly = section('Layers');
    table(ly, [{h: '#', t: 'num'}, {h: 'size', t: 'size'}, {h: 'files', t: 'num'}, {h: 'wasted', t: 'size'}, {h: 'base', t: 'str'}, {h: 'created by', t: 'str'}],
          (r.layers || []).map(function (l) { return [l.index, l.size, l.files, l.wasted_bytes, l.base ? 'base' : '', l.created_by]; }));
    var pk = section('Biggest packages');
    table(pk, [{h: 'manager', t: 'str'}, {h: 'package', t: 'str'}, {h: 'version', t: 'str'}, {h: 'bytes', t: 'size'}, {h: 'files', t: 'num'}],
          (r.packages || []).map(function (p) { return [p.manager, p.name, p.version, p.bytes, p.files]; }));
    var cu = section('CUDA components');
    table(cu, [{h: 'component', t: 'str'}, {h: 'bytes', t: 'size'}, {h: 'files', t: 'num'}],
          ((r.cuda || {}).components || []).map(function (c) { return [c.name, c.bytes, c.files]; }));
    var du = section('Duplicates');
    table(du, [{h: 'soname', t: 'str'}, {h: 'version', t: 'str'}, {h: 'copies', t: 'str'}, {h: 'extra bytes', t: 'size'}],
          ((r.cuda || {}).duplicates || []).map(function (d) { return [d.soname, d.version, (d.paths || []).join('  '), d.bytes]; }));
    var wa = section('Waste');
    table(wa, [{h: 'path', t: 'str'}, {h: 'bytes', t: 'size'}, {h: 'layer', t: 'num'}, {h: 'by layer', t: 'num'}, {h: 'reason', t: 'str'}],
          (r.wasted || []).map(function (w) { return [w.path, w.bytes, w.layer, w.by_layer, w.reason]; }));
  }

  // ---- a diff page -------------------------------------------------------------
  var CHANGE = {added: 'hsl(130,50%,45%)', removed: 'hsl(0,70%,55%)', grew: 'hsl(30,85%,55%)', shrank: 'hsl(205,60%,55%)'};
  function diffPage(d) {
    var hd = el('header', {}, null, main);
    el('h1', {}, d.a.name + ' \u2192 ' + d.b.name, hd);
    var s = d.summary, dl = el('dl', {'class': 'summary'}, null, main);
    Object.keys(s).forEach(function (k) {
      var v = s[k];
      el('dt', {}, k, dl);
      var bytes = k !== 'files' && k !== 'layers';
      el('dd', {}, v.delta === null ? '?' : (bytes ? human(v.a) + ' \u2192 ' + human(v.b) + ' (' + signed(v.delta) + ')'
                                                : v.a + ' \u2192 ' + v.b + ' (' + (v.delta > 0 ? '+' : '') + v.delta + ')'), dl);
    });
    var chg = function (v) { return 'c-' + v; };
    var tm = section('What changed, by path');
    tm.id = 'sizemap';
    if (d.tree) {
      var conv = function (n) {
        var kids = Array.isArray(n[3]) ? n[3].map(conv) : null;
        var v = kids ? kids.reduce(function (a, k) { return a + k.v; }, 0) : Math.abs(n[2] - n[1]);
        var ch = n[1] === 0 ? 'added' : n[2] === 0 ? 'removed' : n[2] > n[1] ? 'grew' : 'shrank';
        return {name: n[0], v: v, kids: kids, color: CHANGE[ch],
                tip: ch + ': ' + human(n[1]) + ' \u2192 ' + human(n[2]) + ' (' + signed(n[2] - n[1]) + ')'};
      };
      var root = conv(d.tree);
      root.name = 'changes';
      el('p', {'class': 'hint'}, 'Area: bytes added or removed under each path (every layer\'s copy); click to zoom in.', tm);
      window.gpuslimTreemap = Treemap(tm, root, [['added', CHANGE.added], ['removed', CHANGE.removed], ['grew', CHANGE.grew], ['shrank', CHANGE.shrank]]);
    } else {
      el('p', {'class': 'none'}, 'no path detail: a report without a sizemap', tm);
    }
    var p = section('Paths');
    table(p, [{h: 'change', t: 'str', cls: chg}, {h: 'path', t: 'str'}, {h: 'before', t: 'size'}, {h: 'after', t: 'size'}, {h: 'delta', t: 'delta'}],
          (d.paths || []).map(function (x) { return [x.change, x.path, x.bytes_a, x.bytes_b, x.delta]; }));
    var l = section('Layers');
    table(l, [{h: 'change', t: 'str', cls: chg}, {h: '#', t: 'num'}, {h: 'bytes', t: 'size'}, {h: 'created by', t: 'str'}],
          (d.layers || []).map(function (x) { return [x.change, x.index, x.bytes, x.created_by]; }));
    var pk = section('Packages');
    table(pk, [{h: 'change', t: 'str', cls: chg}, {h: 'manager', t: 'str'}, {h: 'package', t: 'str'}, {h: 'before', t: 'str'}, {h: 'after', t: 'str'}, {h: 'delta', t: 'delta'}],
          (d.packages || []).map(function (x) { return [x.change, x.manager, x.name, (x.version_a || '') + ' ' + human(x.bytes_a), (x.version_b || '') + ' ' + human(x.bytes_b), x.delta]; }));
    var cu = section('CUDA components');
    table(cu, [{h: 'change', t: 'str', cls: chg}, {h: 'component', t: 'str'}, {h: 'before', t: 'size'}, {h: 'after', t: 'size'}, {h: 'delta', t: 'delta'}],
          (d.cuda || []).map(function (x) { return [x.change, x.name, x.bytes_a, x.bytes_b, x.delta]; }));
  }

  if (D.page === 'diff') diffPage(D.diff);
  else reportPage(D.item);
  document.body.setAttribute('data-ready', '1');
})();
