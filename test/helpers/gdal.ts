import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** GDAL's ogrinfo, an independent client of our OGC API and tiles; missing GDAL fails the test with the fix. */
export async function ogrinfo(args: string[]): Promise<string> {
  try {
    const { stdout } = await run('ogrinfo', args, { timeout: 60_000 });
    return stdout;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('GDAL ogrinfo is required for this test: apt-get install gdal-bin (.ci/run installs it)');
    }
    throw err;
  }
}
