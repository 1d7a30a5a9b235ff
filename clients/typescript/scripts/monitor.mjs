// Builds the task monitor page into server/monitor (committed, so serving it needs no Node.js)
// and writes server/monitor/SOURCES.sha256, the digests of what it was built from (the
// Python suite checks them without Node.js). `--check` rebuilds into a temporary folder
// and fails unless the committed build is byte for byte the same.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const sdk = join(dirname(fileURLToPath(import.meta.url)), '..');
const committed = join(sdk, '..', '..', 'server', 'monitor');
const SOURCES = ['monitor', 'src', 'package-lock.json'];

function files(root) {
  return statSync(root).isDirectory()
    ? readdirSync(root).sort().flatMap((name) => files(join(root, name)))
    : [root];
}

function sourceDigests() {
  return SOURCES.flatMap((s) => files(join(sdk, s)))
    .map((path) => `${createHash('sha256').update(readFileSync(path)).digest('hex')}  ${relative(sdk, path)}`)
    .sort()
    .join('\n') + '\n';
}

async function buildInto(outDir) {
  await build({ configFile: join(sdk, 'monitor', 'vite.config.ts'), build: { outDir, emptyOutDir: true } });
  writeFileSync(join(outDir, 'SOURCES.sha256'), sourceDigests());
}

if (process.argv.includes('--check')) {
  const scratch = mkdtempSync(join(tmpdir(), 'agentwire-monitor-'));
  try {
    await buildInto(scratch);
    const fresh = files(scratch).map((p) => relative(scratch, p));
    const old = files(committed).map((p) => relative(committed, p));
    const differ = [...new Set([...fresh, ...old])].filter((name) => {
      try {
        return !readFileSync(join(scratch, name)).equals(readFileSync(join(committed, name)));
      } catch {
        return true;
      }
    });
    if (differ.length) {
      console.error(`server/monitor does not match its sources (${differ.join(', ')}): run \`npm run monitor:build\` and commit it`);
      process.exit(1);
    }
    console.log('server/monitor matches its sources');
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
} else {
  await buildInto(committed);
  console.log(`built ${relative(process.cwd(), committed)}`);
}
