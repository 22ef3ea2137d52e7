// Browser test of the web page: playwright-core drives Debian's chromium, headless, against a
// daemon on loopback with a temporary data directory (tests/web_test.sh sets it up).
// env: LOGIN_URL, LOGIN_URL2 (two one-time login URLs: `clipseek web`), WORD_ID (entry holding the word "pelican7781"), HOSTILE_ID, HOSTILE_TEXT,
//      DELETE_ID, SECRET_ID (a secret-looking text), CHROMIUM (default /usr/bin/chromium), ARTIFACTS (screenshot folder).
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

let passed = 0, failed = 0;
function check(name, ok, detail = '') {
  if (ok) { passed++; console.log(`[PASS] ${name}`); } else { failed++; console.log(`[FAIL] ${name} ${detail}`); }
}
const env = process.env;
const wordId = Number(env.WORD_ID), hostileId = Number(env.HOSTILE_ID), deleteId = Number(env.DELETE_ID);
const browser = await chromium.launch({
  executablePath: env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--no-first-run'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
  const page = await context.newPage();
  const dialogs = [], errors = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  page.on('pageerror', (e) => errors.push(String(e)));
  // failed loads are judged by their responses (the test itself asks for a deleted entry once)
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(m.text()); });
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().endsWith(`/api/entries/${deleteId}`)) errors.push(`${r.status()} ${r.url()}`);
  });

  // the login URL trades a one-time code for a session cookie and lands on /
  await page.goto(env.LOGIN_URL);
  check('login lands on the page without the code in the address', new URL(page.url()).search === '' && new URL(page.url()).pathname === '/', page.url());
  await page.waitForSelector('#grid li.card');
  const cards = await page.locator('#grid li.card').count();
  check('the page loads with a grid of entries', cards >= 5, `${cards} cards`);
  const cookies = await context.cookies();
  const ck = cookies.find((c) => c.name === 'clipseek_session');
  check('the session cookie is HttpOnly, SameSite=Strict and expires', ck && ck.httpOnly && ck.sameSite === 'Strict' && ck.expires > Date.now() / 1000,
    JSON.stringify(ck));
  check('the page script cannot read the session', (await page.evaluate(() => document.cookie)) === '');
  // the same link in another browser profile: the code is spent
  const other = await browser.newContext();
  const op = await other.newPage();
  const again = await op.goto(env.LOGIN_URL);
  check('a login link works once', again.status() === 401 && (await other.cookies()).length === 0, String(again.status()));
  await other.close();
  await page.waitForFunction(() => /entries/.test(document.getElementById('status').textContent));
  check('status shows entries and the model', /toyworld/.test(await page.textContent('#status')), await page.textContent('#status'));
  await page.waitForSelector('#grid img');
  const thumbOk = await page.locator('#grid img').first().evaluate((img) => img.complete && img.naturalWidth > 0
    || new Promise((r) => { img.onload = () => r(img.naturalWidth > 0); img.onerror = () => r(false); }));
  check('thumbnails load', thumbOk);

  // "/" focuses the search box; results as you type
  await page.locator('body').click({ position: { x: 5, y: 300 } });
  await page.keyboard.press('/');
  check('/ focuses the search box', await page.evaluate(() => document.activeElement.id === 'q'));
  await page.keyboard.type('pelican7781');
  await page.waitForFunction((id) => {
    const c = document.querySelector('#grid li.card');
    return c && Number(c.dataset.id) === id;
  }, wordId, { timeout: 10000 }).catch(() => {});
  const first = await page.locator('#grid li.card').first().getAttribute('data-id');
  check('a search shows the right entry first', Number(first) === wordId, `first ${first}, want ${wordId}`);
  check('the hit says why it is listed', /words/.test(await page.locator('#grid li.card .sig').first().textContent()));
  check('the matched word is highlighted', (await page.locator('#grid li.card').first().locator('mark').first().textContent()).toLowerCase() === 'pelican7781');

  // nonsense: an empty state that says so, not a grid of noise
  await page.fill('#q', 'zzqxvkwj');
  await page.waitForFunction(() => !document.getElementById('empty').hidden, null, { timeout: 10000 }).catch(() => {});
  check('nonsense shows "no matches"', await page.locator('#grid li.card').count() === 0
    && /No matches/.test(await page.locator('#empty').textContent()) && /no matches/.test(await page.locator('#count').textContent()));

  // meaning: a toyworld query finds an image (the kind filter leaves out queries.json, which
  // holds the words)
  await page.selectOption('#f-kind', 'image');
  await page.fill('#q', 'a red star');
  await page.waitForFunction(() => {
    const c = document.querySelector('#grid li.card');
    return c && c.querySelector('img') && /looks like/.test(c.textContent);
  }, null, { timeout: 10000 }).catch(() => {});
  check('a meaning search shows an image first', await page.locator('#grid li.card').first().locator('img').count() === 1);
  const alt = await page.locator('#grid li.card img').first().getAttribute('alt');
  check('with the kind filter applied', await page.locator('#grid li.card pre').count() === 0, alt);
  await page.selectOption('#f-kind', '');

  // copy with the keyboard: arrow to the entry, Enter puts it on the X clipboard
  await page.fill('#q', 'pelican7781');
  await page.waitForFunction((id) => Number(document.querySelector('#grid li.card')?.dataset.id) === id, wordId);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#toast:not([hidden])');
  check('Enter copies (toast)', /Copied/.test(await page.textContent('#toast')), await page.textContent('#toast'));
  let clip = '';
  for (let i = 0; i < 20 && !clip.includes('pelican7781'); i++) {
    try { clip = execFileSync('xclip', ['-o', '-selection', 'clipboard'], { timeout: 3000 }).toString(); } catch (e) { clip = ''; }
    if (!clip.includes('pelican7781')) await page.waitForTimeout(150);
  }
  check('the entry is on the clipboard', clip.includes('pelican7781'), JSON.stringify(clip.slice(0, 60)));

  // a hostile entry renders as text and runs nothing
  await page.fill('#q', '');
  await page.waitForFunction((id) => !!document.querySelector(`#grid li.card[data-id="${id}"]`), hostileId);
  const card = page.locator(`#grid li.card[data-id="${hostileId}"]`);
  const shown = await card.locator('pre').textContent();
  check('hostile text shows its characters in the grid', shown.includes('<script>') && shown.includes('onerror'), shown);
  check('no element made from it', await card.locator('script, img').count() === 0);
  await card.click();
  await page.waitForSelector('#view[open] pre.full');
  check('entry view shows the text exactly', (await page.textContent('#v-body pre.full')) === env.HOSTILE_TEXT);
  check('entry view made no element from it', await page.locator('#v-body script, #v-body img, #v-body iframe').count() === 0);
  await page.waitForTimeout(300);
  check('nothing executed', dialogs.length === 0 && (await page.evaluate(() => window.__pwned)) === undefined,
    JSON.stringify(dialogs));
  await page.keyboard.press('Escape');

  // a secret-looking entry is masked until revealed
  const sec = page.locator(`#grid li.card[data-id="${env.SECRET_ID}"]`);
  check('a secret is masked in the grid', !(await sec.textContent()).includes('ghp_'), await sec.textContent());
  await sec.click();
  await page.waitForSelector('#view[open] pre.full');
  check('and in the entry view', !(await page.textContent('#v-body pre.full')).includes('ghp_'));
  await page.click('#v-body button');
  check('until revealed', (await page.textContent('#v-body pre.full')).startsWith('ghp_'));
  await page.keyboard.press('Escape');

  // delete with the keyboard
  await page.waitForFunction((id) => !!document.querySelector(`#grid li.card[data-id="${id}"]`), deleteId);
  const idx = await page.evaluate((id) => [...document.querySelectorAll('#grid li.card')].findIndex((c) => Number(c.dataset.id) === id), deleteId);
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  // from wherever the selection is now (none selects the first card on the first press)
  let cur = await page.evaluate(() => [...document.querySelectorAll('#grid li.card')].findIndex((c) => c.classList.contains('sel')));
  if (cur < 0) { await page.keyboard.press('ArrowRight'); cur = 0; }
  for (; cur < idx; cur++) await page.keyboard.press('ArrowRight');
  for (; cur > idx; cur--) await page.keyboard.press('ArrowLeft');
  const sel = await page.evaluate(() => Number(document.querySelector('#grid li.card.sel')?.dataset.id));
  check('arrows select entries', sel === deleteId, `selected ${sel}, want ${deleteId} (index ${idx})`);
  await page.keyboard.press('Delete');
  await page.waitForFunction((id) => !document.querySelector(`#grid li.card[data-id="${id}"]`), deleteId, { timeout: 5000 }).catch(() => {});
  check('Delete removes it from the page', await page.locator(`#grid li.card[data-id="${deleteId}"]`).count() === 0);
  const r = await page.evaluate(async (id) => (await fetch(`/api/entries/${id}`)).status, deleteId);
  check('and from the store', r === 404, r);

  // pin from the entry view
  await page.locator(`#grid li.card[data-id="${wordId}"]`).click();
  await page.waitForSelector('#view[open]');
  await page.click('#v-pin');
  await page.waitForFunction(() => document.getElementById('v-pin').textContent === 'Unpin');
  check('pin from the entry view', true);
  // tag, then remove the tag with its chip
  await page.fill('#v-tag', 'birds');
  await page.click('#v-tagform button[type=submit]');
  await page.waitForSelector('#v-body .chip');
  const tagged = await page.evaluate(async (id) => (await (await fetch(`/api/entries/${id}`)).json()).tags, wordId);
  check('tag from the entry view', JSON.stringify(tagged) === '["birds"]', JSON.stringify(tagged));
  await page.click('#v-body .chip');
  await page.waitForFunction(() => !document.querySelector('#v-body .chip'));
  const untagged = await page.evaluate(async (id) => (await (await fetch(`/api/entries/${id}`)).json()).tags, wordId);
  check('and remove it', JSON.stringify(untagged) === '[]', JSON.stringify(untagged));
  await page.keyboard.press('Escape');

  check('no script errors', errors.length === 0, JSON.stringify(errors));
  await page.fill('#q', '');
  await page.waitForTimeout(2700); // the last toast fades
  mkdirSync(env.ARTIFACTS || 'tests/web/artifacts', { recursive: true });
  const shot = `${env.ARTIFACTS || 'tests/web/artifacts'}/clipseek-web.png`;
  await page.screenshot({ path: shot });
  const dark = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'dark' });
  const dp = await dark.newPage();
  await dp.goto(env.LOGIN_URL2);
  await dp.waitForSelector('#grid li.card');
  const bg = await dp.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check('dark by the system setting', bg === 'rgb(21, 21, 24)', bg);
  await dp.waitForTimeout(400);
  await dp.screenshot({ path: `${env.ARTIFACTS || 'tests/web/artifacts'}/clipseek-web-dark.png` });
  console.log(`# screenshots: ${shot}`);
} catch (e) {
  check('browser test ran to the end', false, String(e && e.stack || e));
} finally {
  await browser.close();
}
console.log(`web-browser: ${passed} passed, ${failed} failed, 0 skipped`);
process.exit(failed ? 1 : 0);
