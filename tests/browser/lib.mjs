// Shared helpers for the browser tests: the demo server (started on a free port with
// `--browser-test`), its authentication log, and one small driver interface over Playwright
// (Chromium) and Puppeteer (Firefox over WebDriver BiDi).
import { spawn } from 'node:child_process';
import { mkdirSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const versionOf = (pkg) =>
  JSON.parse(readFileSync(path.join(HERE, 'node_modules', pkg, 'package.json'), 'utf8')).version;

export const ROOT = path.resolve(HERE, '..', '..');
const TARGET = process.env.CARGO_TARGET_DIR
  ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR)
  : path.join(ROOT, 'target');
export const DEMO_BIN = process.env.DEMO_BIN || path.join(TARGET, 'debug', 'examples', 'demo');
export const SCREENSHOT_DIR = path.join(TARGET, 'browser-screenshots');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const FIREFOX = process.env.FIREFOX_BIN || '/usr/bin/firefox-esr';

/** Navigation and launch timeouts (ms): bounded, so a stuck browser fails instead of hanging. */
export const NAV_TIMEOUT = 20_000;
export const LAUNCH_TIMEOUT = 60_000;

/** Starts the demo on a free port; resolves to { base, stop, log, clearLog }. */
export async function startDemo() {
  if (!existsSync(DEMO_BIN)) {
    throw new Error(`demo binary missing: ${DEMO_BIN} (run: cargo build --example demo)`);
  }
  const child = spawn(DEMO_BIN, ['--port', '0', '--browser-test'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('demo did not start within 15 s')), 15_000);
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      buf += chunk;
      const m = buf.match(/^listening on (http:\/\/127\.0\.0\.1:\d+)\n/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`demo exited early with ${code}`));
    });
    child.once('error', reject);
  });
  // If the run is interrupted (the script's timeout, ^C), take the demo down too.
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      child.kill('SIGKILL');
      process.exit(130);
    });
  }
  process.once('exit', () => child.kill('SIGKILL'));
  return {
    base,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
    /** The demo's authentication log (see examples/demo/browser.rs). */
    async log() {
      const res = await fetch(`${base}/__test/auth-log`);
      if (!res.ok) throw new Error(`auth-log: ${res.status}`);
      return res.json();
    },
    async clearLog() {
      const res = await fetch(`${base}/__test/auth-log/clear`, { method: 'POST' });
      if (!res.ok) throw new Error(`auth-log/clear: ${res.status}`);
    },
  };
}

export function screenshotPath(browserName, what) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return path.join(SCREENSHOT_DIR, `${browserName}-${what}.png`);
}

// The flags for Debian's Chromium as root on a closed network: no sandbox (root), no GPU, and
// no background connections to Google's services (refused here, and noise in the log).
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
  '--no-default-browser-check',
];

/**
 * A driver: `launch()`, then `session(credentials)` for a fresh browser context (its own HTTP
 * auth cache) with `goto(path) -> { status, text }`, `evaluate(fn, arg)`, `setCredentials(c)`,
 * `screenshot(file)`,
 * `close()`.
 */
export const drivers = {
  async chromium() {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: LAUNCH_TIMEOUT,
    });
    return {
      name: 'chromium',
      version: `Chromium ${browser.version()}`,
      driverVersion: `playwright-core ${versionOf('playwright-core')}`,
      async session(credentials) {
        const context = await browser.newContext(
          credentials ? { httpCredentials: credentials } : {},
        );
        const page = await context.newPage();
        page.setDefaultTimeout(NAV_TIMEOUT);
        return {
          async goto(url) {
            const res = await page.goto(url, { timeout: NAV_TIMEOUT, waitUntil: 'load' });
            return { status: res.status(), text: await page.innerText('body') };
          },
          evaluate(fn, arg) {
            return page.evaluate(fn, arg);
          },
          async setCredentials(c) {
            // Deprecated in Playwright but kept; only used to prove that the browser did not
            // ask for credentials again (it would get these instead).
            await context.setHTTPCredentials(c);
          },
          async screenshot(file) {
            await page.screenshot({ path: file });
          },
          async close() {
            await context.close();
          },
        };
      },
      async close() {
        await browser.close();
      },
    };
  },

  async firefox() {
    const { default: puppeteer } = await import('puppeteer-core');
    const profile = mkdtempSync(path.join(tmpdir(), 'httpauth-firefox-'));
    const browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: FIREFOX,
      headless: true,
      userDataDir: profile,
      timeout: LAUNCH_TIMEOUT,
      protocolTimeout: LAUNCH_TIMEOUT,
      extraPrefsFirefox: {
        // Show JSON as the raw text the server sent, not in the JSON viewer.
        'devtools.jsonview.enabled': false,
        // A closed network: no update, telemetry or captive-portal checks.
        'app.update.enabled': false,
        'network.captive-portal-service.enabled': false,
        'network.connectivity-service.enabled': false,
        'datareporting.policy.dataSubmissionEnabled': false,
        'toolkit.telemetry.enabled': false,
      },
    });
    return {
      name: 'firefox',
      version: `Firefox ${(await browser.version()).replace(/^firefox\//, '')}`,
      driverVersion: `puppeteer-core ${versionOf('puppeteer-core')} (WebDriver BiDi)`,
      async session(credentials) {
        const context = await browser.createBrowserContext();
        const page = await context.newPage();
        page.setDefaultTimeout(NAV_TIMEOUT);
        if (credentials) await page.authenticate(credentials);
        return {
          async goto(url) {
            const res = await page.goto(url, { timeout: NAV_TIMEOUT, waitUntil: 'load' });
            const text = await page.evaluate(() => document.body.innerText);
            return { status: res.status(), text };
          },
          evaluate(fn, arg) {
            return page.evaluate(fn, arg);
          },
          async setCredentials(c) {
            await page.authenticate(c);
          },
          async screenshot(file) {
            await page.screenshot({ path: file });
          },
          async close() {
            await context.close();
          },
        };
      },
      async close() {
        await browser.close();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  },
};
