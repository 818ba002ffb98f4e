import { ConfigError, loadEnv } from '../../infra/config/env';

describe('loadEnv', () => {
  it('gives working defaults for a bare environment', () => {
    const env = loadEnv({});
    expect(env).toMatchObject({
      DRYDOCK_ENV: 'development',
      API_PORT: 3000,
      TEMPORAL_PORT: 7233,
      TEMPORAL_UI_PORT: 8233,
      TEMPORAL_NAMESPACE: 'default',
    });
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it('treats empty strings as unset', () => {
    expect(loadEnv({ DATABASE_URL: '', API_PORT: '' }).API_PORT).toBe(3000);
  });

  it.each([
    ['DATABASE_URL', 'postgres://host-without-db'],
    ['DATABASE_APP_URL', 'http://example.com/db'],
    ['API_PORT', '70000'],
    ['TEMPORAL_ADDRESS', 'temporal-host'],
    ['TEMPORAL_NAMESPACE', 'has spaces'],
    ['LOG_LEVEL', 'loud'],
  ])('names %s when it is malformed, without echoing its value', (name, value) => {
    let error: unknown;
    try {
      loadEnv({ [name]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(new RegExp(`^invalid ${name}: `));
    expect((error as Error).message).not.toContain(value);
  });
});
