/** Entry point of `tandem`: the one place where errors become exit codes (0 ok, 1 failed release, 2 bad input or refused). */
import { CommanderError } from 'commander';
import { BadInputError, RefusedError, ReleaseFailedError, isBadInputFailure } from '../client';
import { ConfigError } from '../config/load';
import { buildProgram } from './program';

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof BadInputError || err instanceof RefusedError || err instanceof ConfigError) {
      process.stderr.write(`tandem: ${err.message}\n`);
      return 2;
    }
    if (err instanceof ReleaseFailedError) {
      process.stderr.write(`tandem: release ended: ${err.message}\n`);
      return isBadInputFailure(err.failureType) ? 2 : 1;
    }
    process.stderr.write(`tandem: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
