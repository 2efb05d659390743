/**
 * A real Orthanc, started from the repository's deploy/orthanc/orthanc.json (and lvseg-webhook.lua when a webhook is
 * given), with only ports, folders and paths rendered, on loopback. Used by the benchmarks and, through
 * test/support/pacs/orthanc.ts (which adds the skip / CI=true rule), by the tests; it lives beside the benchmarks
 * because they run from dist/ and the build leaves test/** out.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, stripJsonComments } from '@lvseg/common';
import { freePort } from './free-port';
import { waitUntil } from './wait-until';

export const ORTHANC_CONFIG = join(repoRoot(), 'deploy', 'orthanc', 'orthanc.json');
export const ORTHANC_LUA = join(repoRoot(), 'deploy', 'orthanc', 'lvseg-webhook.lua');
const ORTHANC_BINARIES = ['/usr/sbin/Orthanc', '/usr/bin/Orthanc', '/usr/local/bin/Orthanc'];
const DICOMWEB_PLUGINS = ['/usr/share/orthanc/plugins/libOrthancDicomWeb.so', '/usr/lib/orthanc/libOrthancDicomWeb.so', '/usr/local/share/orthanc/plugins/libOrthancDicomWeb.so'];

/** The Orthanc executable, or undefined when it is not installed. */
export function orthancBinary(): string | undefined {
  const found = ORTHANC_BINARIES.find((p) => existsSync(p));
  if (found) return found;
  const which = spawnSync('sh', ['-c', 'command -v Orthanc'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() : undefined;
}

/** The Orthanc DICOMweb plugin, or undefined when it is not installed. */
export function dicomWebPlugin(): string | undefined {
  const direct = DICOMWEB_PLUGINS.find((p) => existsSync(p));
  if (direct) return direct;
  // Debian installs a versioned file (libOrthancDicomWeb.so.1.7) and the symlink above; accept the versioned one.
  const dir = '/usr/lib/orthanc';
  if (existsSync(dir)) {
    const f = readdirSync(dir).find((n) => n.startsWith('libOrthancDicomWeb.so'));
    if (f) return join(dir, f);
  }
  return undefined;
}

export interface OrthancOptions {
  /** Where lvseg's webhook listens (the Lua script POSTs there); without it, no Lua script is loaded (no webhook). */
  webhookUrl?: string;
  webhookSecret?: string;
  /** Seconds without a new instance before a series is stable (the repo's config says 10). */
  stableAgeSeconds?: number;
  /** Allow POST /tools/execute-script (off in the repo's config; on for the Lua self-test). */
  executeLua?: boolean;
}

export interface RunningOrthanc {
  url: string;
  dicomWebUrl: string;
  httpPort: number;
  dicomPort: number;
  /** Orthanc's process id (for its CPU time). */
  pid: number;
  /** Orthanc's AE title and the one the example scanner (storescu) must use, from the repo's config. */
  calledAet: string;
  callingAet: string;
  username: string;
  password: string;
  /** The Authorization header value for `username` and `password` (HTTP Basic). */
  authorization: string;
  /** The rendered configuration (for checks). */
  config: Record<string, unknown>;
  /** GET/POST on the REST API with the credentials above. */
  rest<T = unknown>(path: string, init?: { method?: string; body?: string | Buffer; headers?: Record<string, string> }): Promise<T>;
  restBytes(path: string): Promise<Buffer>;
  /** Orthanc's log so far. */
  logText(): string;
  stop(): Promise<void>;
}

/** Starts Orthanc on free loopback ports with a fresh storage folder; resolves once its REST API answers (within 30 s). */
export async function startOrthanc(opts: OrthancOptions = {}): Promise<RunningOrthanc> {
  const binary = orthancBinary();
  const plugin = dicomWebPlugin();
  if (!binary || !plugin) throw new Error(`${binary ? 'the Orthanc DICOMweb plugin' : 'Orthanc'} is not installed (apt-get install -y orthanc orthanc-dicomweb)`);
  const dir = mkdtempSync(join(tmpdir(), 'lvseg-orthanc-'));
  const storage = join(dir, 'storage');
  const logs = join(dir, 'logs');
  mkdirSync(storage);
  mkdirSync(logs);
  const [httpPort, dicomPort] = [await freePort(), await freePort()];
  const config = JSON.parse(stripJsonComments(readFileSync(ORTHANC_CONFIG, 'utf8'))) as Record<string, unknown> & {
    DicomModalities: Record<string, { AET: string }>;
    RegisteredUsers: Record<string, string>;
  };
  // Only what a test machine differs in: ports, folders, paths, and stability age.
  Object.assign(config, {
    HttpPort: httpPort,
    DicomPort: dicomPort,
    StorageDirectory: storage,
    IndexDirectory: storage,
    LuaScripts: opts.webhookUrl !== undefined ? [ORTHANC_LUA] : [],
    Plugins: [plugin],
    ...(opts.stableAgeSeconds !== undefined ? { StableAge: opts.stableAgeSeconds } : {}),
    ...(opts.executeLua ? { ExecuteLuaEnabled: true } : {}),
  });
  const configPath = join(dir, 'orthanc.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const username = Object.keys(config.RegisteredUsers)[0];
  const password = 'test-password-' + Math.random().toString(36).slice(2);
  const callingAet = Object.values(config.DicomModalities)[0].AET;

  const chunks: string[] = [];
  const webhookEnv = opts.webhookUrl !== undefined ? { LVSEG_WEBHOOK_URL: opts.webhookUrl, LVSEG_WEBHOOK_SECRET: opts.webhookSecret ?? '' } : {};
  const child: ChildProcess = spawn(binary, [`--logdir=${logs}`, configPath], {
    cwd: dir,
    env: { ...process.env, ...webhookEnv, LVSEG_ORTHANC_PASSWORD: password },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d) => chunks.push(String(d)));
  child.stderr?.on('data', (d) => chunks.push(String(d)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${httpPort}`;
  const authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  const logText = () => {
    const files = existsSync(logs) ? readdirSync(logs).filter((f) => f.startsWith('Orthanc.log.')) : [];
    return chunks.join('') + files.map((f) => readFileSync(join(logs, f), 'utf8')).join('');
  };

  const request = async (path: string, init: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<Response> => {
    const res = await fetch(url + path, { method: init.method ?? 'GET', body: init.body, headers: { Authorization: authorization, ...(init.headers ?? {}) } });
    if (!res.ok) throw new Error(`Orthanc ${init.method ?? 'GET'} ${path}: HTTP ${res.status} ${await res.text()}`);
    return res;
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  let lastError = '';
  const answers = async (): Promise<boolean> => {
    try {
      await request('/system');
      return true;
    } catch (e) {
      lastError = (e as Error).message;
      return false;
    }
  };
  try {
    await waitUntil('Orthanc to answer', answers, 30_000, {
      pollMs: 200,
      failed: () => (child.exitCode !== null ? `Orthanc exited at start (code ${child.exitCode}): ${logText().slice(-2000)}` : undefined),
      detail: () => lastError,
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url,
    dicomWebUrl: `${url}/dicom-web`,
    httpPort,
    dicomPort,
    pid: child.pid!,
    calledAet: String(config.DicomAet),
    callingAet,
    username,
    password,
    authorization,
    config,
    rest: async <T>(path: string, init?: { method?: string; body?: string | Buffer; headers?: Record<string, string> }) => (await (await request(path, init)).json()) as T,
    restBytes: async (path: string) => Buffer.from(await (await request(path)).arrayBuffer()),
    logText,
    stop,
  };
}
