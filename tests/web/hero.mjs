// The README's screenshots of the web page, taken by scripts/hero-shot.sh (which builds the
// history and starts the daemon). env: LOGIN_URL, LOGIN_URL2 (one-time login URLs), OUT (folder),
// PREFIX ("web": OUT/web.png light in list mode and OUT/web-dark.png dark in card mode;
// anything else: OUT/PREFIX.png, the light page as it opens), CHROMIUM.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';

const env = process.env;
const browser = await chromium.launch({
  executablePath: env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--no-first-run'],
});

// PNGs for a README: at most 300 KB (ImageMagick's palette reduction when bigger)
function small(path) {
  if (statSync(path).size > 300 * 1024) execFileSync('convert', [path, '-colors', '256', `PNG8:${path}`]);
  return statSync(path).size;
}

async function shot(url, scheme, view, path) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: scheme });
  if (view) await ctx.addInitScript((v) => localStorage.setItem('clipseek.view', v), view);
  const page = await ctx.newPage();
  await page.goto(url);
  await page.waitForSelector('#grid li');
  // every visible thumbnail loaded, the status line filled in
  await page.waitForFunction(() => [...document.querySelectorAll('#grid img')].every((i) => i.complete)
    && /entries/.test(document.getElementById('status').textContent));
  if (view === 'list') {
    // the newest screenshot in the preview
    const shots = page.locator('#grid li:has(img)');
    await shots.first().click();
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await page.waitForFunction(() => {
      const i = document.querySelector('#preview img');
      return !i || (i.complete && i.naturalWidth > 0);
    });
  }
  await page.mouse.move(0, 859);
  await page.waitForTimeout(300); // the focus ring settles
  await page.screenshot({ path });
  await ctx.close();
  console.log(`${path}: ${small(path)} bytes`);
}

try {
  if (env.PREFIX === 'web') {
    await shot(env.LOGIN_URL, 'light', 'list', `${env.OUT}/web.png`);
    await shot(env.LOGIN_URL2, 'dark', 'cards', `${env.OUT}/web-dark.png`);
  } else {
    await shot(env.LOGIN_URL, 'light', null, `${env.OUT}/${env.PREFIX}.png`);
  }
} finally {
  await browser.close();
}
