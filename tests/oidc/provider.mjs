// A real OpenID Connect provider for Gate's sign-in tests: panva's certified oidc-provider on loopback.
//
//   node provider.mjs PORT CLIENTS_JSON
//
// CLIENTS_JSON: [{"client_id", "client_secret", "redirect_uris"}]. The people who can sign in are in PEOPLE
// (any password). The provider answers as a real one does; what a test needs besides goes through /_test/:
//   POST /_test/tamper {"mode": ...}  the next ID tokens the token endpoint gives are signed again, as a
//                                     broken or hostile provider would: "audience" (for another client;
//                                     "audience-azp" naming Gate as the authorized party beside it),
//                                     "expired" (an hour ago), "stranger" (a key the JWKS does not hold),
//                                     "none" (as issued); or the token endpoint answers
//                                     without an ID token ("no-id-token"), or userinfo speaks of
//                                     another person ("userinfo-subject")
//   POST /_test/rotate                a new signing key, the old one gone from the JWKS (key rotation)
//   POST /_test/claims {"in_id_token": bool}  claims in the ID token, or only at userinfo (the default)
//   GET  /_test/stats                 how often the JWKS and userinfo were fetched
import http from 'node:http';
import crypto from 'node:crypto';

import Provider from 'oidc-provider';
import * as jose from 'jose';

const [port, clientsJson] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(clientsJson);

const PEOPLE = {
  'alice@example.com': { name: 'Alice QA', groups: ['gate-qa'] },
  'carol@example.com': { name: 'Carol Lead', groups: ['gate-qa', 'gate-release', 'staff'] },
  'dave@example.com': { name: 'Dave Nobody', groups: ['staff'] },
  'erin': { name: 'Erin Admin', groups: ['gate-admins'], noEmail: true },
  'mallory': { name: 'Mallory', groups: ['gate-admins'], email: 'mallory@example.com\nINFO gate.audit forged line' },
};

const stats = { jwks: 0, userinfo: 0 };
let tamper = 'none';
const RESIGN = new Set(['audience', 'audience-azp', 'expired', 'stranger']);
let claimsInIdToken = false;
let signing = await newKey();

async function newKey() {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  return { jwk: { ...jwk, kid: crypto.randomUUID(), alg: 'RS256', use: 'sig' }, privateKey };
}

async function resign(idToken) {
  const claims = jose.decodeJwt(idToken);
  const header = jose.decodeProtectedHeader(idToken);
  let key = signing.privateKey;
  let kid = header.kid;
  const now = Math.floor(Date.now() / 1000);
  if (tamper === 'audience') Object.assign(claims, { aud: 'another-client', azp: undefined });
  if (tamper === 'audience-azp') Object.assign(claims, { aud: 'another-client', azp: claims.aud });
  if (tamper === 'expired') Object.assign(claims, { iat: now - 7200, exp: now - 3600 });
  if (tamper === 'stranger') ({ privateKey: key, jwk: { kid } } = await newKey());
  return new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(key);
}

function configuration() {
  return {
    clients: clients.map((c) => ({ ...c, grant_types: ['authorization_code'], response_types: ['code'] })),
    jwks: { keys: [signing.jwk] },
    pkce: { required: () => true }, // Gate must send an S256 challenge, or nobody signs in
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username', 'groups'] },
    conformIdTokenClaims: !claimsInIdToken,
    features: { devInteractions: { enabled: true } },
    ttl: { IdToken: 3600, AccessToken: 3600, AuthorizationCode: 60, Session: 3600, Interaction: 600, Grant: 3600 },
    async findAccount(ctx, sub) {
      const person = PEOPLE[sub];
      if (!person) return undefined;
      return {
        accountId: sub,
        async claims() {
          const claims = { sub, name: person.name, preferred_username: sub, groups: person.groups };
          if (!person.noEmail) Object.assign(claims, { email: person.email ?? sub, email_verified: true });
          return claims;
        },
      };
    },
    async renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
}

function build() {
  const provider = new Provider(issuer, configuration());
  provider.use(async (ctx, next) => {
    if (ctx.path === '/jwks') stats.jwks += 1;
    if (ctx.path === '/me') stats.userinfo += 1;
    await next();
    if (ctx.path === '/token' && ctx.status === 200 && tamper === 'no-id-token') {
      const { id_token: _, ...rest } = ctx.body;
      ctx.body = rest;
    } else if (ctx.path === '/token' && ctx.status === 200 && RESIGN.has(tamper) && ctx.body?.id_token) {
      ctx.body = { ...ctx.body, id_token: await resign(ctx.body.id_token) };
    }
    if (ctx.path === '/me' && ctx.status === 200 && tamper === 'userinfo-subject') {
      ctx.body = { ...ctx.body, sub: 'someone-else' };
    }
  });
  return provider.callback();
}

let handler = build();

function readJson(req) {
  return new Promise((resolve) => {
    let text = '';
    req.on('data', (chunk) => { text += chunk; });
    req.on('end', () => resolve(text ? JSON.parse(text) : {}));
  });
}

async function control(req, res) {
  const answer = (body) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
  if (req.url === '/_test/stats') return answer(stats);
  const body = await readJson(req);
  if (req.url === '/_test/tamper') tamper = body.mode;
  if (req.url === '/_test/claims') { claimsInIdToken = Boolean(body.in_id_token); handler = build(); }
  if (req.url === '/_test/rotate') { signing = await newKey(); handler = build(); }
  return answer({ tamper, kid: signing.jwk.kid });
}

const server = http.createServer((req, res) => (req.url.startsWith('/_test/') ? control(req, res) : handler(req, res)));
server.listen(Number(port), '127.0.0.1', () => console.log(`oidc-provider listening at ${issuer}`));
