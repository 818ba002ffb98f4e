/**
 * Turns an error at start-up into one clear line on stderr and an exit code, never a stack trace:
 * operators read these lines, and a stack trace hides the sentence that matters.
 */
export function describeStartupError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (err.name === 'ConfigError' || err.name === 'StartupError') return err.message;
    return code ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}

export class StartupError extends Error {
  override name = 'StartupError';
}

export function exitOnStartupError(component: string, err: unknown): never {
  const code = err instanceof Error && err.name === 'ConfigError' ? 78 : 1;
  process.stderr.write(
    `drydock${component ? ` ${component}` : ''}: ${describeStartupError(err).split('\n')[0]}\n`,
  );
  process.exit(code);
}
