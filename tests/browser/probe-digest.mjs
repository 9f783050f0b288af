// Probe (not part of the test run): which Digest challenges each browser answers, and whether
// its answer is right. A tiny node server sends hand-written challenges and checks the
// responses itself (RFC 7616), so the probe does not depend on the library.
// Run: cd tests/browser && node probe-digest.mjs   (prints one JSON line per case and browser)
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { drivers } from './lib.mjs';

const USER = 'ana';
const PASS = 'olá-ñ';
const REALM = 'probe';
const H = {
  MD5: 'md5',
  'SHA-256': 'sha256',
  'SHA-512-256': 'sha512-256',
};

// path -> the WWW-Authenticate values sent, in order
const CASES = {
  '/md5': ['algorithm=MD5, qop="auth"'],
  '/no-algorithm': ['qop="auth"'],
  '/md5-sess': ['algorithm=MD5-sess, qop="auth"'],
  '/sha256': ['algorithm=SHA-256, qop="auth"'],
  '/sha256-sess': ['algorithm=SHA-256-sess, qop="auth"'],
  '/sha512-256': ['algorithm=SHA-512-256, qop="auth"'],
  '/sha512-256-sess': ['algorithm=SHA-512-256-sess, qop="auth"'],
  '/sha256-then-md5': ['algorithm=SHA-256, qop="auth"', 'algorithm=MD5, qop="auth"'],
  '/md5-then-sha256': ['algorithm=MD5, qop="auth"', 'algorithm=SHA-256, qop="auth"'],
  '/auth-int-only': ['algorithm=MD5, qop="auth-int"'],
  '/auth-or-auth-int': ['algorithm=MD5, qop="auth,auth-int"'],
  '/no-qop': ['algorithm=MD5'],
  '/userhash': ['algorithm=SHA-256, qop="auth", userhash=true'],
  '/charset': ['algorithm=SHA-256, qop="auth", charset=UTF-8'],
};

function params(s) {
  const out = {};
  const re = /([\w*-]+)=("((?:[^"\\]|\\.)*)"|[^,\s]*)/g;
  let m;
  while ((m = re.exec(s))) out[m[1].toLowerCase()] = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[2];
  return out;
}

function verify(p, method, nonce) {
  const algo = (p.algorithm || 'MD5').toUpperCase();
  const sess = algo.endsWith('-SESS');
  const name = H[algo.replace(/-SESS$/, '')];
  if (!name) return `unknown algorithm ${algo}`;
  const h = (s) => createHash(name).update(s, 'utf8').digest('hex');
  let ha1 = h(`${USER}:${REALM}:${PASS}`);
  if (sess) ha1 = h(`${ha1}:${nonce}:${p.cnonce}`);
  const ha2 = h(`${method}:${p.uri}`);
  const expected = p.qop ? h(`${ha1}:${nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`) : h(`${ha1}:${nonce}:${ha2}`);
  return expected === p.response;
}

const nonces = new Map();
const server = http.createServer((req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  const challenges = CASES[path];
  if (!challenges) {
    res.writeHead(404).end();
    return;
  }
  const auth = req.headers.authorization;
  if (auth?.startsWith('Digest ')) {
    const p = params(auth.slice(7));
    const ok = verify(p, req.method, p.nonce) === true && nonces.has(p.nonce);
    const seen = { algorithm: p.algorithm ?? null, qop: p.qop ?? null, userhash: p.userhash ?? null,
      username: p.username, nc: p.nc ?? null, correct: ok };
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(JSON.stringify(seen));
    return;
  }
  const nonce = randomBytes(16).toString('hex');
  nonces.set(nonce, true);
  res.writeHead(401, {
    'www-authenticate': challenges.map((c) => `Digest realm="${REALM}", nonce="${nonce}", opaque="o", ${c}`),
    'content-type': 'text/plain',
  }).end('no credentials');
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

for (const name of ['chromium', 'firefox']) {
  const driver = await drivers[name]();
  for (const path of Object.keys(CASES)) {
    const session = await driver.session({ username: USER, password: PASS });
    let result;
    try {
      const page = await session.goto(base + path);
      result = page.status === 200 ? JSON.parse(page.text) : { status: page.status, text: page.text.slice(0, 80) };
    } catch (err) {
      result = { error: err.message.split('\n')[0] };
    } finally {
      await session.close();
    }
    console.log(JSON.stringify({ browser: driver.version, path, result }));
  }
  await driver.close();
}
server.close();
