import { spawn, type ChildProcess } from 'node:child_process';

/**
 * `npm start` against a benchmark database, in a process of its own as in production, on a free
 * port; resolves once it serves. Tile indexes are not warmed up front (ONEMAP_TILE_WARMUP=false)
 * unless `env` says otherwise.
 */
export function startServerProcess(databaseUrl: string, env: Record<string, string> = {}): Promise<{ base: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--max-semi-space-size=64', '--import', 'tsx', 'server/main.ts'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1', ONEMAP_LOG_LEVEL: 'warn', ONEMAP_LOAD_DEMO: 'false', ONEMAP_TILE_WARMUP: 'false', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /serving at (http:\/\/[^\s]+)/.exec(out);
      if (m) resolve({ base: m[1]!.replace('localhost', '127.0.0.1'), child });
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${code}) before serving: ${out}`)));
  });
}
