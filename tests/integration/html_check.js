// Checks a gpuslim HTML page in a real browser (Debian's chromium, headless, driven by
// puppeteer-core from tests/node):
//   node tests/integration/html_check.js PAGE [--screenshot PNG] [--expect-total BYTES]
//        [--expect-text TEXT]... [--zoom]
// Prints one "ok - ..." or "not ok - ..." line per check and exits 1 when one failed:
//   - the page loads with no console error, no page error, no dialog and no request but
//     its own file (the page is self-contained);
//   - the treemap's leaf rectangles add up to its total: their data-bytes exactly, their
//     areas to the drawing's within 0.1% (and the total to --expect-total within 0.1%);
//   - --zoom: clicking a rectangle of the first top-level entry (a layer) zooms into it,
//     and the leaves then add up to that entry's bytes;
//   - each --expect-text is in the page's text (hostile names shown as text, not markup).
'use strict';
const path = require('path');
const puppeteer = require(path.join(__dirname, '../node/node_modules/puppeteer-core'));

const args = process.argv.slice(2);
const page_path = path.resolve(args[0]);
let screenshot = null, total = null, zoom = false;
const texts = [];
for (let i = 1; i < args.length; i++) {
  if (args[i] === '--screenshot') screenshot = args[++i];
  else if (args[i] === '--expect-total') total = Number(args[++i]);
  else if (args[i] === '--expect-text') texts.push(args[++i]);
  else if (args[i] === '--zoom') zoom = true;
  else { console.log('not ok - html_check: unknown argument ' + args[i]); process.exit(2); }
}
const name = path.basename(page_path);
let failed = 0;
function ok(what) { console.log('ok - html ' + name + ': ' + what); }
function notok(what, detail) {
  failed++;
  console.log('not ok - html ' + name + ': ' + what);
  if (detail) String(detail).split('\n').slice(0, 20).forEach((l) => console.log('#   ' + l));
}
function near(a, b, rel) { return Math.abs(a - b) <= Math.abs(b) * rel + 1e-9; }

(async () => {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
           '--allow-file-access-from-files'],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({width: 1280, height: 900});
    const errors = [], requests = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
    page.on('pageerror', (e) => errors.push('page error: ' + e.message));
    page.on('dialog', async (d) => { errors.push('dialog: ' + d.message()); await d.dismiss(); });
    page.on('request', (r) => { if (r.url() !== 'file://' + page_path) requests.push(r.url()); });
    const url = 'file://' + page_path;
    const t0 = Date.now();
    await page.goto(url, {waitUntil: 'load'});
    await page.waitForSelector('body[data-ready="1"]', {timeout: 20000}).catch(() => {});
    const ready = await page.evaluate(() => document.body.getAttribute('data-ready') === '1');
    if (ready && !errors.length && !requests.length)
      ok('loads with no console error and no request (' + (Date.now() - t0) + ' ms)');
    else
      notok('loads with no console error and no request', [ready ? '' : 'the script never finished']
        .concat(errors, requests.map((u) => 'request: ' + u)).join('\n'));

    const sum = await page.evaluate(() => window.gpuslimTreemap ? window.gpuslimTreemap.leaves() : null);
    if (!sum) {
      notok('has a treemap', 'window.gpuslimTreemap is not set');
    } else {
      if (sum.bytes === sum.total && near(sum.area, sum.fullArea, 0.001) && sum.count > 0 &&
          (total === null || near(sum.total, total, 0.001)))
        ok('treemap leaves add up: ' + sum.count + ' rectangles, ' + sum.bytes + ' bytes of ' +
           sum.total + (total === null ? '' : ' (expected ' + total + ')') + ', area ' +
           (100 * sum.area / sum.fullArea).toFixed(4) + '%');
      else
        notok('treemap leaves add up', JSON.stringify(sum) + ' expected total ' + total);
    }
    if (zoom && sum) {
      // a leaf of the first top-level entry: click it, the view is that entry
      const first = await page.evaluate(() => {
        const t = window.gpuslimTreemap, kids = t.root.kids.filter((k) => k.v > 0);
        kids.sort((a, b) => b.v - a.v);
        return kids.length ? {name: kids[0].name, v: kids[0].v} : null;
      });
      const rects = await page.$$('svg#treemap rect.leaf');
      let clicked = null;
      for (const r of rects) {
        // the leaves are drawn biggest entry first: the first one big enough to click
        const big = await page.evaluate((el) => {
          const b = el.getBoundingClientRect();
          return b.width > 4 && b.height > 4;
        }, r);
        if (!big) continue;
        await r.click();
        clicked = await page.evaluate(() => window.gpuslimTreemap.path());
        break;
      }
      const after = await page.evaluate(() => window.gpuslimTreemap.leaves());
      const cur = await page.evaluate(() => { const c = window.gpuslimTreemap.current(); return {name: c.name, v: c.v}; });
      const crumbs = await page.evaluate(() => document.getElementById('crumbs').textContent);
      if (clicked && clicked.length === 2 && after.bytes === cur.v && after.total === cur.v &&
          near(after.area, after.fullArea, 0.001) && crumbs.indexOf(cur.name) >= 0)
        ok('clicking zooms into "' + cur.name + '" (' + cur.v + ' bytes, ' + after.count + ' rectangles)' +
           (first && first.name === cur.name ? ', the biggest entry' : ''));
      else
        notok('clicking zooms into the entry', JSON.stringify({clicked, cur, after, crumbs}));
      // back to the top for the screenshot
      await page.evaluate(() => { const a = document.querySelector('#crumbs a'); if (a) a.click(); });
    }
    const text = await page.evaluate(() => document.body.innerText);
    for (const t of texts) {
      if (text.indexOf(t) >= 0) ok('shows ' + JSON.stringify(t) + ' as text');
      else notok('shows ' + JSON.stringify(t) + ' as text');
    }
    const injected = await page.evaluate(() => document.querySelectorAll('#main script, #main img, #main iframe').length);
    if (injected === 0) ok('no element made of the image\'s names');
    else notok('no element made of the image\'s names', injected + ' script/img/iframe elements in #main');
    if (screenshot) {
      const sec = await page.$('#sizemap');
      if (sec) await sec.screenshot({path: screenshot});
      else await page.screenshot({path: screenshot});
      ok('screenshot ' + screenshot);
    }
    if (errors.length) notok('no console error after the checks', errors.join('\n'));
  } catch (e) {
    notok('browser run', e.stack || e);
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
})();
