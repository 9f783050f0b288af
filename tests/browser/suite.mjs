// The browser cases of issue 9, run once per browser (chromium.test.mjs, firefox.test.mjs).
// What the browser sent is asserted from the server's side: the demo's `--browser-test`
// authentication log (examples/demo/browser.rs), never from the browser's word.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import { startDemo, drivers, screenshotPath, SCREENSHOT_DIR } from './lib.mjs';

const JOHN = { username: 'john', password: 'hello' };
const SUSAN = { username: 'susan', password: 'bye' };
const ANA = { username: 'ana', password: 'olá-ñ' };
const WRONG = { username: 'john', password: 'wrong' };

const DIGEST_ROUTES = { '/digest': 'MD5', '/digest-sha256': 'SHA-256', '/digest-ha1': 'MD5' };

const ncValue = (nc) => parseInt(nc, 16);

export function browserSuite(name) {
  describe(name, { timeout: 240_000 }, () => {
    let demo;
    let driver;
    // Measured facts, written to target/browser-screenshots/facts-<browser>.json for the docs.
    const facts = { browser: null, driver: null, algorithms: {}, nc: {}, stale: null, basicUtf8: null };

    before(async () => {
      demo = await startDemo();
      try {
        driver = await drivers[name]();
      } catch (err) {
        throw new Error(
          `cannot launch ${name} (see scripts/browser-tests.sh for the Debian packages): ${err.message}`,
        );
      }
      facts.browser = driver.version;
      facts.driver = driver.driverVersion;
      console.log(`${driver.version}, ${driver.driverVersion}, demo at ${demo.base}`);
    });

    after(async () => {
      if (facts.browser) {
        writeFileSync(`${SCREENSHOT_DIR}/facts-${name}.json`, JSON.stringify(facts, null, 2) + '\n');
      }
      await driver?.close();
      await demo?.stop();
    });

    /** One navigation in a fresh browser context; the log holds only this visit's requests. */
    async function visit(credentials, path, { screenshot } = {}) {
      await demo.clearLog();
      const session = await driver.session(credentials);
      try {
        const page = await session.goto(demo.base + path);
        if (screenshot) await session.screenshot(screenshotPath(name, screenshot));
        return { ...page, log: await demo.log() };
      } finally {
        await session.close();
      }
    }

    const authorized = (log, path) => log.filter((e) => e.path === path && e.authorization);

    for (const path of ['/basic', ...Object.keys(DIGEST_ROUTES)]) {
      const digest = path in DIGEST_ROUTES;

      test(`${path}: john logs in`, async () => {
        const res = await visit(JOHN, path, path === '/basic' ? { screenshot: 'success' } : {});
        assert.equal(res.status, 200);
        assert.equal(res.text.trim(), 'Hello, john!');
        // The browser first asked without credentials, got the challenge, then answered it.
        assert.equal(res.log[0].path, path);
        assert.equal(res.log[0].status, 401);
        assert.equal(res.log[0].authorization, null);
        const sent = authorized(res.log, path);
        assert.ok(sent.length >= 1, 'the browser sent credentials');
        assert.equal(sent.at(-1).status, 200);
        if (digest) {
          const a = sent.at(-1).authorization;
          assert.equal(a.scheme, 'Digest');
          assert.equal(a.username, 'john');
          assert.equal(a.qop, 'auth');
          assert.equal(a.uri, path);
          assert.equal((a.algorithm ?? 'MD5').toUpperCase(), DIGEST_ROUTES[path]);
          facts.algorithms[path] = a.algorithm ?? '(absent: MD5)';
        } else {
          assert.equal(sent.at(-1).authorization.scheme, 'Basic');
        }
      });

      test(`${path}: a wrong password gets the 401 page`, async () => {
        const res = await visit(WRONG, path);
        assert.equal(res.status, 401);
        assert.doesNotMatch(res.text, /Hello/);
        assert.ok(authorized(res.log, path).length >= 1, 'the browser tried the credentials');
        assert.ok(res.log.every((e) => e.status === 401 || e.path !== path), JSON.stringify(res.log));
      });

      test(`${path}: ana's UTF-8 password olá-ñ`, async () => {
        const res = await visit(ANA, path);
        assert.equal(res.status, 200);
        assert.equal(res.text.trim(), 'Hello, ana!');
        const a = authorized(res.log, path).at(-1).authorization;
        if (!digest) {
          // The server falls back to Latin-1, so success alone would not tell: the log does.
          assert.equal(a.credentials_utf8, true);
          assert.equal(a.credentials_ascii, false);
          facts.basicUtf8 = true;
        }
        // Digest: the demo's HA1 is over the UTF-8 bytes; any other encoding fails.
      });
    }

    test('/admin: john is forbidden (403)', async () => {
      const res = await visit(JOHN, '/admin', { screenshot: 'forbidden' });
      assert.equal(res.status, 403);
      assert.doesNotMatch(res.text, /Hello/);
      assert.equal(authorized(res.log, '/admin').at(-1).status, 403);
    });

    test('/admin: susan is allowed', async () => {
      const res = await visit(SUSAN, '/admin');
      assert.equal(res.status, 200);
      assert.equal(res.text.trim(), 'Hello, susan!');
    });

    test('/json-errors: a wrong password gets the JSON body', async () => {
      const res = await visit(WRONG, '/json-errors', { screenshot: 'json-401' });
      assert.equal(res.status, 401);
      const body = JSON.parse(res.text);
      assert.equal(body.status, 401);
      assert.equal(typeof body.error, 'string');
      // The very JSON the demo sends to any client for these credentials.
      const direct = await fetch(`${demo.base}/json-errors`, {
        headers: { authorization: `Basic ${Buffer.from('john:wrong').toString('base64')}` },
      });
      assert.equal(direct.headers.get('content-type'), 'application/json');
      assert.deepEqual(body, await direct.json());
    });

    test('/optional: anonymous', async () => {
      const res = await visit(null, '/optional');
      assert.equal(res.status, 200);
      assert.equal(res.text.trim(), 'Hello, anonymous!');
      const first = res.log[0];
      assert.deepEqual([first.path, first.status, first.authorization], ['/optional', 200, null]);
    });

    test('/multi: Basic chosen from a Basic + Bearer challenge', async () => {
      const res = await visit(JOHN, '/multi');
      assert.equal(res.status, 200);
      assert.equal(res.text.trim(), 'Hello, john!');
      assert.deepEqual(
        res.log[0].challenges.map((c) => c.scheme),
        ['Basic', 'Bearer'],
      );
      assert.equal(authorized(res.log, '/multi').at(-1).authorization.scheme, 'Basic');
    });

    test('/basic-custom: a custom scheme name gets no login from the browser', async () => {
      // The browser does not know `CustomBasic`, so it neither prompts nor uses the
      // credentials it has: the page gets the 401 (a script can then log in itself).
      await demo.clearLog();
      const session = await driver.session(JOHN);
      try {
        const res = await session.goto(`${demo.base}/basic-custom`);
        assert.equal(res.status, 401);
        const log = await demo.log();
        assert.equal(authorized(log, '/basic-custom').length, 0);
        assert.equal(log[0].challenges[0].scheme, 'CustomBasic');
        // The page's own script logs in with the custom scheme (what a login form would do).
        const answer = await session.evaluate(async (token) => {
          const r = await fetch('/basic-custom', { headers: { Authorization: `CustomBasic ${token}` } });
          return { status: r.status, text: await r.text() };
        }, Buffer.from('john:hello').toString('base64'));
        assert.deepEqual(answer, { status: 200, text: 'Hello, john!' });
      } finally {
        await session.close();
      }
    });

    for (const path of ['/digest', '/digest-sha256']) {
      test(`${path}: three navigations in one context reuse one nonce, nc increasing`, async () => {
        await demo.clearLog();
        const session = await driver.session(JOHN);
        try {
          for (let i = 0; i < 3; i++) {
            const res = await session.goto(`${demo.base}${path}`);
            assert.equal(res.status, 200);
            assert.equal(res.text.trim(), 'Hello, john!');
          }
        } finally {
          await session.close();
        }
        const log = await demo.log();
        const sent = authorized(log, path);
        assert.equal(sent.length, 3, `one authorized request per navigation: ${JSON.stringify(log)}`);
        assert.ok(sent.every((e) => e.status === 200));
        const nonces = new Set(sent.map((e) => e.authorization.nonce));
        assert.equal(nonces.size, 1, 'one nonce for the three navigations');
        // Only one challenge: the first request, without credentials.
        assert.equal(log.filter((e) => e.path === path && e.status === 401).length, 1);
        const ncs = sent.map((e) => ncValue(e.authorization.nc));
        for (let i = 1; i < ncs.length; i++) assert.ok(ncs[i] > ncs[i - 1], `nc increasing: ${ncs}`);
        // Every Digest answer with this nonce (other paths too, e.g. /favicon.ico).
        const all = log
          .filter((e) => e.authorization?.nonce === [...nonces][0])
          .map((e) => `${e.path}:${e.authorization.nc}`);
        facts.nc[path] = { navigations: sent.map((e) => e.authorization.nc), allRequests: all };
        console.log(`${name} ${path} nc per navigation: ${ncs.join(', ')}; all: ${all.join(' ')}`);
      });
    }

    test('/digest-short: silent recovery from stale=true after the nonce lifetime', async () => {
      await demo.clearLog();
      const session = await driver.session(JOHN);
      try {
        const first = await session.goto(`${demo.base}/digest-short`);
        assert.equal(first.status, 200);
        // From now on the driver would answer a login request with a wrong password: the
        // second visit succeeds only if the browser recovers from stale=true by itself.
        await session.setCredentials(WRONG);
        await sleep(2_600); // past the route's 2-second nonce lifetime
        const second = await session.goto(`${demo.base}/digest-short`);
        assert.equal(second.status, 200);
        assert.equal(second.text.trim(), 'Hello, john!');
      } finally {
        await session.close();
      }
      const log = (await demo.log()).filter((e) => e.path === '/digest-short');
      const sent = log.filter((e) => e.authorization);
      const oldNonce = sent[0].authorization.nonce;
      assert.equal(sent[0].status, 200);
      const staleIdx = log.findIndex(
        (e) => e.status === 401 && e.authorization?.nonce === oldNonce,
      );
      assert.ok(staleIdx > 0, `the expired nonce was sent again: ${JSON.stringify(log)}`);
      const stale = log[staleIdx];
      assert.equal(stale.challenges[0].stale, 'true', 'the 401 said stale=true');
      const retry = log.slice(staleIdx + 1).find((e) => e.authorization);
      assert.ok(retry, 'the browser retried');
      assert.notEqual(retry.authorization.nonce, oldNonce);
      assert.equal(retry.authorization.nonce, stale.challenges[0].nonce, 'with the new nonce');
      assert.equal(retry.status, 200);
      facts.stale = log.map((e) => ({
        status: e.status,
        nonce: e.authorization?.nonce === oldNonce ? 'old' : e.authorization ? 'new' : null,
        nc: e.authorization?.nc ?? null,
        stale: e.challenges[0]?.stale ?? null,
      }));
      console.log(`${name} stale sequence: ${JSON.stringify(facts.stale)}`);
    });
  });
}
