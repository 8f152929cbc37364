// tests/browser/e2e.js - drives Debian's chromium (headless, via
// playwright-core) through the page of a running `clipsearch serve`.
//
// usage: node e2e.js BASE_URL UPLOAD_IMAGE SCREENSHOT.png
// BASE_URL is the server (http://127.0.0.1:PORT); UPLOAD_IMAGE an indexed
// image, used as an image query: it must come back as the best result.
// Exits 0 when every step passed, 1 otherwise (the failed step is named).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const [base, uploadPath, shotPath] = process.argv.slice(2);
if (!base || !uploadPath || !shotPath) {
  console.error('usage: node e2e.js BASE_URL UPLOAD_IMAGE SCREENSHOT.png');
  process.exit(2);
}
const origin = new URL(base).origin;

function check(cond, what) {
  if (!cond) throw new Error(`FAILED: ${what}`);
  console.log(`ok: ${what}`);
}

async function cards(page) {
  return page.$$eval('#grid .card', (els) => els.map((li) => ({
    name: li.querySelector('.name').textContent,
    score: Number(li.querySelector('.score').textContent),
    loaded: li.querySelector('img').complete && li.querySelector('img').naturalWidth > 0,
  })));
}

// Waits for a search to finish: the status line says how it went.
async function settled(page) {
  await page.waitForFunction(() => {
    const s = document.getElementById('status').textContent;
    return s && !s.endsWith('…');
  });
  return page.textContent('#status');
}

async function allThumbsLoaded(page) {
  await page.waitForFunction(() => [...document.querySelectorAll('#grid .card img')]
    .every((img) => img.complete && img.naturalWidth > 0));
}

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cs-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-default-apps', '--disable-extensions',
      // no name resolution at all: nothing but 127.0.0.1 is reachable
      '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1'],
  });
  const offsite = [];
  const problems = [];
  try {
    // Every request must go to our server; anything else is refused and counted.
    await context.route('**/*', (route) => {
      const u = route.request().url();
      if (u.startsWith(origin + '/') || u.startsWith('blob:') || u.startsWith('data:')) return route.continue();
      offsite.push(u);
      return route.abort();
    });
    const page = context.pages()[0] || await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(String(e)));

    // 1. the empty page
    await page.goto(base + '/');
    check(await page.isVisible('#empty'), 'the start page shows the welcome and examples');
    check(await page.evaluate(() => document.activeElement.id) === 'q', 'the search box has focus');
    await page.waitForFunction(() => document.getElementById('stats').textContent.includes('images'));

    // 2. type a query and see results
    await page.fill('#q', 'a photo of a cat');
    await page.keyboard.press('Enter');
    let status = await settled(page);
    let got = await cards(page);
    check(got.length > 0 && /results? for/.test(status), `a typed query shows results (${status})`);
    check(new URL(page.url()).searchParams.get('q') === 'a photo of a cat', 'the URL carries the query');
    check(got.every((c, i) => i === 0 || c.score <= got[i - 1].score), 'results are sorted by score');
    check(await page.evaluate(() => [fmtScore(-0.0004), fmtScore(-0.0006), fmtScore(0.25)].join()) ===
      '0.000,-0.001,0.250', 'a score that rounds to zero shows no minus sign');
    await allThumbsLoaded(page);
    check(true, 'every thumbnail loaded');
    await page.screenshot({ path: shotPath });
    check(fs.statSync(shotPath).size > 10000, `screenshot saved to ${shotPath}`);

    // 3. "more results" pages through (k=6 per page)
    await page.goto(base + '/?q=animal&k=6');
    await settled(page);
    check((await cards(page)).length === 6, 'a deep link runs its query on load (6 per page)');
    check(await page.inputValue('#q') === 'animal', 'the deep link fills the search box');
    check(await page.isVisible('#more'), '"More results" is offered');
    await page.click('#more');
    await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 12);
    const names = (await cards(page)).map((c) => c.name);
    check(new Set(names.map((n, i) => n + i)).size === 12, '"More results" appends the next page');

    // 4. keyboard: "/" focuses the box, arrows move, Enter opens, Escape closes
    await page.focus('#q');
    await page.keyboard.press('ArrowDown');
    check(await page.evaluate(() => document.activeElement.dataset.index) === '0', 'ArrowDown goes from the box to the first result');
    await page.keyboard.press('ArrowRight');
    check(await page.evaluate(() => document.activeElement.dataset.index) === '1', 'ArrowRight moves to the next result');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#viewer[open]');
    await page.waitForFunction(() => document.getElementById('v-img').naturalWidth > 0);
    check(true, 'Enter opens the image in the viewer');
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.getElementById('viewer').open &&
      document.activeElement.classList.contains('card'));
    await page.keyboard.press('/');
    check(await page.evaluate(() => document.activeElement.id) === 'q', '"/" focuses the search box');

    // 5. an image as the query: the file picker
    await page.setInputFiles('#file', uploadPath);
    status = await settled(page);
    got = await cards(page);
    const want = path.basename(uploadPath).replace(/\.[^.]+$/, '');
    check(status.includes('your image') && got.length > 0, `an uploaded image runs a search (${status})`);
    check(got[0].name.startsWith(want) && got[0].score > 0.999,
      `the uploaded image finds itself first (${got[0].name}, ${got[0].score})`);
    check(await page.isVisible('#chip'), 'the image query shows as a chip in the box');

    // 6. dropping and pasting an image do the same
    const bytes = fs.readFileSync(uploadPath).toString('base64');
    const mime = uploadPath.endsWith('.png') ? 'image/png' : 'image/jpeg';
    for (const how of ['drop', 'paste']) {
      await page.click('#chip-clear');
      await page.evaluate(async ({ b64, type, how }) => {
        const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([raw], 'query.' + type.split('/')[1], { type }));
        if (how === 'drop') {
          window.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
          window.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
        } else {
          document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
        }
      }, { b64: bytes, type: mime, how });
      await page.waitForFunction(() => document.getElementById('status').textContent.includes('your image'));
      await settled(page);
      got = await cards(page);
      check(got.length > 0 && got[0].name.startsWith(want), `${how === 'drop' ? 'dropping' : 'pasting'} an image runs the same search`);
    }

    // 7. "Similar" on a result
    const firstName = got[0].name;
    await page.click('#grid .card .similar');
    await page.waitForFunction(() => document.getElementById('status').textContent.includes('similar to'));
    status = await settled(page);
    got = await cards(page);
    check(got.length > 0 && /results? for images similar to/.test(status), `"Similar" searches by an image (${status})`);
    check(!got.some((c) => c.name === firstName), 'an image is not listed as similar to itself');
    check(/^\d+$/.test(new URL(page.url()).searchParams.get('similar') || ''), 'the URL carries the similar id');
    // the same link opened afresh knows only the id: the page still names the image
    const fresh = await context.newPage();
    await fresh.goto(page.url());
    const freshStatus = await settled(fresh);
    check(freshStatus.includes(`similar to ${firstName}`), `a ?similar= link names its image (${freshStatus})`);
    await fresh.close();
    await page.goBack();
    await page.waitForFunction(() => document.getElementById('status').textContent.includes('your image'));
    status = await settled(page);
    got = await cards(page);
    check(got.length > 0 && got[0].name.startsWith(want), `Back returns to the image query (${status})`);

    // 8. errors are shown, not thrown
    await page.goto(base + '/?q=' + encodeURIComponent('cat - cat'));
    await settled(page);
    check(await page.$eval('#status', (s) => s.classList.contains('error')), 'a query that cancels out shows an error');

    // 9. the Duplicates view: groups side by side, keeper first and marked, read only
    const dupRequests = [];
    page.on('request', (r) => { if (r.url().includes('/api/duplicates')) dupRequests.push(r.method()); });
    await page.click('#nav-dups');
    await page.waitForFunction(() => /group|No duplicates/.test(document.getElementById('dups-status').textContent));
    check(await page.isVisible('#dups') && !(await page.isVisible('#grid')), 'the Duplicates link opens the view');
    check(await page.inputValue('#dups-threshold') !== '', `the default threshold is shown (${await page.inputValue('#dups-threshold')})`);
    await page.fill('#dups-threshold', '0.999');
    await page.click('#dups-form button[type=submit]');
    await page.waitForFunction(() => /groups? of duplicates at cosine ≥ 0.999/.test(document.getElementById('dups-status').textContent));
    check(new URL(page.url()).searchParams.get('threshold') === '0.999', 'the URL carries the threshold');
    const groups = await page.$$eval('.dup-group', (gs) => gs.map((g) => [...g.querySelectorAll('.dup')].map((d) => ({
      keeper: d.classList.contains('keeper'), badge: d.querySelector('.badge').textContent,
      name: d.querySelector('.name').textContent, info: d.querySelector('.info').textContent,
    }))));
    check(groups.length > 0 && groups.every((g) => g.length >= 2), `groups are shown (${groups.map((g) => g.map((d) => d.name).join('+')).join(', ')})`);
    check(groups.some((g) => g.some((d) => d.name === 'coins.png') && g.some((d) => d.name === 'coins.bmp')),
      'the same picture as PNG and BMP is one group');
    check(groups.every((g) => g[0].keeper && g[0].badge === 'Keep' && g.slice(1).every((d) => !d.keeper)),
      'the keeper comes first and is marked');
    check(groups.every((g) => g.every((d) => /^\d+ × \d+ · [\d.]+ (B|kB|MB) · [01]\.\d{3}$/.test(d.info))),
      'each image shows its pixel size, file size and score');
    await page.waitForFunction(() => [...document.querySelectorAll('.dup img')].every((img) => img.complete && img.naturalWidth > 0));
    check(true, 'every duplicate thumbnail loaded');
    const sideBySide = await page.$eval('.dup-group .dup-row', (row) => {
      const [a, b] = row.querySelectorAll('.dup');
      return Math.abs(a.getBoundingClientRect().top - b.getBoundingClientRect().top) < 2 &&
        b.getBoundingClientRect().left > a.getBoundingClientRect().right;
    });
    check(sideBySide, 'the members of a group sit side by side');
    await page.screenshot({ path: shotPath.replace(/\.png$/, '-duplicates.png') });
    await page.goto(base + '/?view=duplicates&threshold=0.999&strict=1');
    await page.waitForFunction(() => /every pair/.test(document.getElementById('dups-status').textContent));
    check(await page.isChecked('#dups-strict'), 'a deep link opens the view with strict groups');
    check(dupRequests.length > 0 && dupRequests.every((m) => m === 'GET'), 'the view only reads (GET)');
    await page.fill('#q', 'a photo of a cat');
    await page.keyboard.press('Enter');
    await settled(page);
    check(!(await page.isVisible('#dups')) && (await cards(page)).length > 0, 'a search leaves the Duplicates view');

    check(offsite.length === 0, `no request left 127.0.0.1 (${offsite.join(', ') || 'none'})`);
    check(problems.length === 0 || problems.every((p) => p.includes('status of 400')),
      `no script errors or CSP violations (${problems.join(' | ') || 'none'})`);
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().then(() => console.log('e2e: all steps passed'), (e) => {
  console.error(e.message || e);
  process.exit(1);
});
