// A real OpenID provider for bucketgate's SSO tests: npm `oidc-provider` (a certified
// implementation), configured with one confidential test client and three accounts, on
// http://127.0.0.1:PORT. tests/common/oidc.rs starts it; run it by hand to poke at it:
//
//   node tests/oidc/provider.mjs --port 9090 --client-id bucketgate --client-secret s3cret \
//     --redirect-uri http://127.0.0.1:8080/_bucketgate/oidc/callback \
//     [--redirect-uri URL ...] [--post-logout-redirect-uri URL ...] [--token-ttl SECONDS]
//
// It prints `READY <issuer>` on stdout once it listens, and exits when its stdin closes (so a
// test process that dies takes it along) or on SIGTERM/SIGINT.
//
// What it offers:
// - discovery, JWKS (a fresh RS256 key per run), authorization code flow with PKCE required
//   (S256), client_secret_basic at the token endpoint, userinfo, refresh tokens (issued on
//   every code exchange, no `offline_access` needed), RP-initiated logout (end_session with
//   registered post_logout_redirect_uris);
// - the development login form (`devInteractions`): any password; the login name is the
//   account id. Accounts: alice (alice@example.com, groups [staff]), bob (bob@other.example,
//   groups []), carol (carol@example.com, groups [staff]), dana (dana@example.com, groups
//   [staff, admins]), erin (erin@example.com, email_verified false) and frank
//   (frank@example.com, no email_verified claim). An unknown login name never gets in.
// - the ID token carries the scope claims too (email, email_verified, name,
//   preferred_username, groups), as Keycloak and Azure AD do; `groups` comes with `profile`
//   (and with a `groups` scope, for configs that ask for it).
// - TEST-ONLY: `POST /__test/revoke?sub=<account>` (loopback peers only): from then on the
//   account does not exist (userinfo and refresh fail, login does not work) and every grant and
//   provider session it had is destroyed. Answers 204.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as querystring from 'node:querystring';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    'post-logout-redirect-uri': { type: 'string', multiple: true },
    'token-ttl': { type: 'string', default: '120' },
  },
  strict: true,
});

function die(msg) {
  process.stderr.write(`provider.mjs: ${msg}\n`);
  process.exit(2);
}

const port = Number(args.port);
if (!Number.isInteger(port) || port <= 0 || port > 65535) die('--port PORT is required');
if (!args['client-id']) die('--client-id is required');
if (!args['client-secret']) die('--client-secret is required');
if (!args['redirect-uri']?.length) die('at least one --redirect-uri is required');
const tokenTtl = Number(args['token-ttl']);
if (!Number.isInteger(tokenTtl) || tokenTtl < 60) die('--token-ttl must be an integer >= 60');

// email_verified is true unless an account says otherwise (`undefined`: the claim is left out).
const ACCOUNTS = {
  alice: { email: 'alice@example.com', name: 'Alice Example', groups: ['staff'] },
  bob: { email: 'bob@other.example', name: 'Bob Other', groups: [] },
  carol: { email: 'carol@example.com', name: 'Carol Example', groups: ['staff'] },
  dana: { email: 'dana@example.com', name: 'Dana Admin', groups: ['staff', 'admins'] },
  erin: { email: 'erin@example.com', name: 'Erin Unverified', groups: ['staff'], email_verified: false },
  frank: { email: 'frank@example.com', name: 'Frank Unknown', groups: ['staff'], email_verified: undefined },
};
const revoked = new Set();
// account id -> grant ids and session ids, to destroy them on revocation.
const grantsOf = new Map();
const sessionsOf = new Map();
function remember(map, accountId, id) {
  if (!accountId) return;
  if (!map.has(accountId)) map.set(accountId, new Set());
  map.get(accountId).add(id);
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: `test-${randomBytes(6).toString('hex')}`,
  alg: 'RS256',
  use: 'sig',
};

const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: args['client-id'],
      client_secret: args['client-secret'],
      redirect_uris: args['redirect-uri'],
      post_logout_redirect_uris: args['post-logout-redirect-uri'] ?? [],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account || revoked.has(id)) return undefined;
    return {
      accountId: id,
      async claims() {
        const verified = 'email_verified' in account ? account.email_verified : true;
        return {
          sub: id,
          email: account.email,
          ...(verified === undefined ? {} : { email_verified: verified }),
          name: account.name,
          preferred_username: id,
          groups: account.groups,
        };
      },
    };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'groups'],
    groups: ['groups'],
  },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
  },
  // Confidential clients too must use PKCE (S256): the plugin is meant to, and this proves it.
  pkce: { methods: ['S256'], required: () => true },
  // A refresh token on every code exchange, without asking for offline_access.
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  cookies: {
    keys: [randomBytes(32).toString('hex')],
    long: { signed: true },
    short: { signed: true },
  },
  jwks: { keys: [signingKey] },
  ttl: {
    AccessToken: tokenTtl,
    IdToken: tokenTtl,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
    RefreshToken: 3600,
  },
  // Plain errors, without the default page's remote stylesheet.
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><html><head><title>oidc-provider error</title></head><body><pre>${
      Object.entries(out).map(([k, v]) => `${k}: ${String(v).replace(/[<>&"]/g, '?')}`).join('\n')
    }</pre></body></html>`;
  },
});

provider.on('grant.saved', (grant) => remember(grantsOf, grant.accountId, grant.jti));
provider.on('session.saved', (session) => remember(sessionsOf, session.accountId, session.jti));
provider.on('server_error', (ctx, err) => {
  process.stderr.write(`provider.mjs: server_error ${err?.stack ?? err}\n`);
});

function isLoopback(ip) {
  return ip === '127.0.0.1' || ip === '::1' || ip === '::ffff:127.0.0.1';
}

// TEST-ONLY admin endpoint: never part of a real provider.
provider.use(async (ctx, next) => {
  if (ctx.path !== '/__test/revoke') return next();
  if (ctx.method !== 'POST') {
    ctx.status = 405;
    return undefined;
  }
  if (!isLoopback(ctx.req.socket.remoteAddress)) {
    ctx.status = 403;
    return undefined;
  }
  const sub = ctx.query.sub;
  if (typeof sub !== 'string' || !sub) {
    ctx.status = 400;
    ctx.body = 'sub=<account> is required\n';
    return undefined;
  }
  revoked.add(sub);
  for (const jti of grantsOf.get(sub) ?? []) {
    const grant = await provider.Grant.find(jti);
    if (grant) await grant.destroy();
  }
  grantsOf.delete(sub);
  // Its sessions too: the provider would otherwise fail (500) on a session whose account is
  // gone, where a real one shows its login form again.
  for (const jti of sessionsOf.get(sub) ?? []) {
    const session = await provider.Session.find(jti);
    if (session) await session.destroy();
  }
  sessionsOf.delete(sub);
  process.stdout.write(`REVOKED ${sub}\n`);
  ctx.status = 204;
  return undefined;
});

// The whole body as text, or undefined when over 56 KiB.
async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 56 * 1024) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

// The development login form takes any login name as an account id, and the provider then
// fails with a 500 for one that does not exist. Refuse unknown (and revoked) accounts at the
// form instead, as a real login page does: 401 "Invalid login".
provider.use(async (ctx, next) => {
  if (ctx.method !== 'POST' || !/^\/interaction\/[^/]+$/.test(ctx.path)
    || !ctx.is('application/x-www-form-urlencoded')) {
    return next();
  }
  const raw = await readBody(ctx.req);
  if (raw === undefined) {
    ctx.status = 413;
    return undefined;
  }
  const form = querystring.parse(raw);
  if (form.prompt === 'login' && (!ACCOUNTS[form.login] || revoked.has(form.login))) {
    ctx.status = 401;
    ctx.type = 'html';
    ctx.body = '<!DOCTYPE html><html><head><title>Sign-in failed</title></head><body><p>Invalid login</p></body></html>';
    return undefined;
  }
  // The provider reads an already-read body from here.
  ctx.request.body = raw;
  return next();
});

const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`READY ${issuer}\n`);
});
server.on('error', (err) => die(`listening on 127.0.0.1:${port}: ${err.message}`));

function stop() {
  server.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
