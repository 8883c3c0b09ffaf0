/**
 * The control for bench:tiles' warm run: a bare node:http server answering the same paths with
 * the same gzipped bytes from a Map, nothing else. What autocannon reaches against it is the most
 * any server could show on this machine with this client (autocannon decodes every body as text).
 *
 *   node bench/bare-tile-server.ts FILE PORT   (FILE: JSON {path: base64 bytes})
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';

const [file, port] = process.argv.slice(2);
const tiles = new Map(Object.entries(JSON.parse(readFileSync(file!, 'utf8')) as Record<string, string>).map(([p, b]) => [p, Buffer.from(b, 'base64')]));
http.createServer((req, res) => {
  const body = tiles.get(req.url!);
  if (!body) { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'content-type': 'application/vnd.mapbox-vector-tile', 'content-encoding': 'gzip', 'content-length': body.length });
  res.end(body);
}).listen(Number(port), '127.0.0.1', () => console.log('serving'));
