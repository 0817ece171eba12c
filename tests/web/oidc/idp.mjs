// A real OpenID Connect provider for the tests (npm "oidc-provider", installed into
// .tools/node_modules by scripts/install-system-deps.sh), on 127.0.0.1 only.
// Environment: OIDC_PROVIDER_MODULE (path of the package's entry file), PORT, and
// OIDC_TEST_CONFIG: JSON {clients: [...], accounts: {login: claims}}. Its dev log-in form
// takes any password for a known login; consent is granted without a prompt. Prints
// "ready <issuer>" once it listens. With OIDC_TEST_ACCOUNTS_FILE (JSON {login: claims}) the
// accounts are read from that file at each look-up instead, so a test can change a claim
// (an e-mail address) between two sign-ins.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const { default: Provider } = await import(pathToFileURL(process.env.OIDC_PROVIDER_MODULE).href);
const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const config = JSON.parse(process.env.OIDC_TEST_CONFIG);

const provider = new Provider(issuer, {
  clients: config.clients,
  cookies: { keys: ['sovmap-test-cookie-key'] },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  ttl: {
    // the client "short-lived" gets ID tokens that expire after one second
    IdToken: (ctx, token, client) => (client.clientId === 'short-lived' ? 1 : 3600),
    AccessToken: 600,
    AuthorizationCode: 60,
    Grant: 3600,
    Interaction: 600,
    Session: 3600,
  },
  async findAccount(ctx, id) {
    const file = process.env.OIDC_TEST_ACCOUNTS_FILE;
    const accounts = file ? JSON.parse(readFileSync(file, 'utf8')) : config.accounts;
    const claims = accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  async loadExistingGrant(ctx) {
    const clientId = ctx.oidc.client.clientId;
    const known = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(clientId);
    if (known) return ctx.oidc.provider.Grant.find(known);
    const grant = new ctx.oidc.provider.Grant({ clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile groups');
    await grant.save();
    return grant;
  },
});
for (const event of ['server_error', 'grant.error', 'authorization.error']) {
  provider.on(event, (ctx, err) => console.error(event, err));
}
provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
