// Docker deployment without a Docker engine: docker-compose.yml, the Dockerfile and deploy/secrets checked against what the code reads.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ENV_VARS, SETTINGS, loadConfig, type Config } from '../src/config.js';
import { settingsFromEnv, type SimulatorSettings } from '../src/simulator/env.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
const SECRETS_DIR = '/run/secrets';
const REDIS_PORT = 6379;

type Env = Record<string, string>;
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function obj(v: unknown, what: string): Obj {
  assert.ok(isObj(v), `${what} must be a mapping`);
  return v;
}

// Read on first use, so that a broken file fails the tests that need it rather than the whole run.
let composeDoc: Obj | undefined;
const compose = (): Obj => (composeDoc ??= obj(parse(readFileSync(COMPOSE_FILE, 'utf8')), 'docker-compose.yml'));
const services = (): Obj => obj(compose().services, 'services');
const service = (name: string): Obj => obj(services()[name], `services.${name}`);

/** A service's `environment`, in map or list form; a variable left to the host's environment is a failure. */
function envOf(name: string): Env {
  const raw = service(name).environment ?? {};
  const env: Env = {};
  if (Array.isArray(raw)) {
    for (const item of raw) {
      assert.equal(typeof item, 'string', `services.${name}.environment: list items must be strings`);
      const text = item as string;
      const eq = text.indexOf('=');
      assert.ok(eq > 0, `services.${name}.environment: ${text} has no value (it would come from the host)`);
      env[text.slice(0, eq)] = text.slice(eq + 1);
    }
  } else {
    for (const [key, value] of Object.entries(obj(raw, `services.${name}.environment`))) {
      assert.ok(value !== null && value !== undefined, `services.${name}.environment.${key} has no value (it would come from the host)`);
      assert.ok(['string', 'number', 'boolean'].includes(typeof value), `services.${name}.environment.${key} must be a scalar`);
      env[key] = String(value);
    }
  }
  return env;
}

/** Where each secret a service mounts appears inside its container, and the local file behind it. */
function secretMounts(name: string): Map<string, string> {
  const defined = obj(compose().secrets ?? {}, 'secrets');
  const mounts = new Map<string, string>();
  const list = service(name).secrets ?? [];
  assert.ok(Array.isArray(list), `services.${name}.secrets must be a list`);
  for (const entry of list as unknown[]) {
    const source = typeof entry === 'string' ? entry : String(obj(entry, `services.${name}.secrets[]`).source);
    const targetRaw = isObj(entry) && typeof entry.target === 'string' ? entry.target : source;
    const target = targetRaw.startsWith('/') ? targetRaw : `${SECRETS_DIR}/${targetRaw}`;
    const def = obj(defined[source], `secrets.${source} (used by ${name})`);
    assert.equal(typeof def.file, 'string', `secrets.${source} must name a file`);
    mounts.set(target, path.resolve(path.dirname(COMPOSE_FILE), def.file as string));
  }
  return mounts;
}

/** The service's environment as the process inside the container would use it, with secret paths mapped to local files. */
function localEnvOf(name: string): Env {
  const mounts = secretMounts(name);
  const env = envOf(name);
  for (const [key, value] of Object.entries(env)) {
    if (value.startsWith(`${SECRETS_DIR}/`)) {
      const local = mounts.get(value);
      assert.ok(local, `services.${name}.environment.${key}: ${value} is not a secret mounted into ${name}`);
      env[key] = local;
    }
  }
  return env;
}

/** Container ports a service publishes, with the host port each is published on. */
function publishedPorts(name: string): Array<{ host: number; container: number }> {
  const list = service(name).ports ?? [];
  assert.ok(Array.isArray(list), `services.${name}.ports must be a list`);
  return (list as unknown[]).map((p) => {
    if (isObj(p)) return { host: Number(p.published), container: Number(p.target) };
    const parts = String(p).replace(/\/(tcp|udp)$/, '').split(':');
    const container = Number(parts.at(-1));
    const host = parts.length >= 2 ? Number(parts.at(-2)) : NaN;
    return { host, container };
  });
}

function healthcheckText(name: string): string {
  const hc = obj(service(name).healthcheck, `services.${name}.healthcheck`);
  assert.notEqual(hc.disable, true, `services.${name}.healthcheck is disabled`);
  const test = hc.test;
  assert.ok(test !== undefined, `services.${name}.healthcheck.test is missing`);
  if (Array.isArray(test)) {
    assert.ok(['CMD', 'CMD-SHELL'].includes(String(test[0])), `services.${name}.healthcheck.test must start with CMD or CMD-SHELL`);
    return test.slice(1).map(String).join(' ');
  }
  return String(test);
}

/** The first http(s) URL in a healthcheck command. */
function healthcheckUrl(name: string): URL {
  const m = /https?:\/\/[^\s'"`)]+/.exec(healthcheckText(name));
  assert.ok(m, `services.${name}.healthcheck must call a URL`);
  return new URL(m[0]);
}

/** Every environment variable the simulator's code reads: names in src/simulator/env.ts, plus process.env reads elsewhere in it. */
function simulatorEnvVars(): Set<string> {
  const names = new Set<string>();
  const envTs = readFileSync(path.join(ROOT, 'src/simulator/env.ts'), 'utf8');
  for (const m of envTs.matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g)) names.add(m[1]!);
  for (const m of envTs.matchAll(/\benv\[\s*'([A-Z][A-Z0-9_]*)'\s*\]/g)) names.add(m[1]!);
  // Names handed to the helpers (int('SIMULATOR_PORT', …), file('SIMULATOR_TLS_CERT_FILE')): whole upper-case literals.
  for (const m of envTs.matchAll(/'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)'/g)) names.add(m[1]!);
  const dir = path.join(ROOT, 'src/simulator');
  for (const file of ['main.ts', 'log.ts', 'server.ts']) {
    const full = path.join(dir, file);
    if (!existsSync(full)) continue;
    for (const m of readFileSync(full, 'utf8').matchAll(/process\.env\.([A-Z][A-Z0-9_]*)/g)) names.add(m[1]!);
  }
  return names;
}

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions, continuation lines joined and comments dropped. */
function dockerfile(): Instruction[] {
  const lines = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').split(/\r?\n/);
  const out: Instruction[] = [];
  let pending = '';
  for (const line of lines) {
    const trimmed = line.trim();
    if (pending === '' && (trimmed === '' || trimmed.startsWith('#'))) continue;
    if (pending !== '' && trimmed.startsWith('#')) continue;
    if (trimmed.endsWith('\\')) {
      pending += `${trimmed.slice(0, -1)} `;
      continue;
    }
    const full = `${pending}${trimmed}`;
    pending = '';
    const m = /^(\S+)\s*(.*)$/.exec(full);
    if (m) out.push({ keyword: m[1]!.toUpperCase(), args: m[2]! });
  }
  return out;
}

/** The JSON array of an exec-form instruction (CMD ["node", …]), or the shell form split on spaces. */
function execForm(args: string): string[] {
  const trimmed = args.trim();
  if (trimmed.startsWith('[')) return JSON.parse(trimmed) as string[];
  return trimmed.split(/\s+/);
}

interface Stage {
  name: string;
  /** The image or earlier stage it starts from. */
  from: string;
  instructions: Instruction[];
}

/** The Dockerfile's stages in order; an unnamed stage is named by its index. */
function dockerStages(): Stage[] {
  const stages: Stage[] = [];
  for (const i of dockerfile()) {
    if (i.keyword === 'FROM') {
      const words = i.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const name = words[1]?.toUpperCase() === 'AS' && words[2] ? words[2].toLowerCase() : String(stages.length);
      stages.push({ name, from: (words[0] ?? '').toLowerCase(), instructions: [] });
    } else stages.at(-1)?.instructions.push(i);
  }
  return stages;
}

/** A stage's instructions, those of the stages it derives from first. */
function stageWithBases(name: string): Instruction[] {
  const stages = dockerStages();
  const stage = stages.find((s) => s.name === name);
  assert.ok(stage, `Dockerfile stage ${name}`);
  return stages.some((s) => s.name === stage.from) ? [...stageWithBases(stage.from), ...stage.instructions] : stage.instructions;
}

/** A service's build section in long form (`build: .` = context `.`, default Dockerfile, default target). */
function buildOf(name: string): { context: string; dockerfile: string; target?: string } {
  const b = service(name).build;
  assert.ok(b !== undefined, `services.${name} is built from the Dockerfile`);
  if (typeof b === 'string') return { context: b, dockerfile: 'Dockerfile' };
  const o = obj(b, `services.${name}.build`);
  return {
    context: String(o.context ?? '.'),
    dockerfile: String(o.dockerfile ?? 'Dockerfile'),
    ...(typeof o.target === 'string' && { target: o.target }),
  };
}

describe('docker-compose', () => {
  describe('services', () => {
    it('defines gateway, redis and simulator', () => {
      for (const name of ['gateway', 'redis', 'simulator']) assert.ok(isObj(services()[name]), `service ${name} is missing`);
    });

    it('runs redis:7-alpine, and the simulator from the same Dockerfile (its own target) with its compiled entry point', () => {
      assert.equal(service('redis').image, 'redis:7-alpine');
      const gw = service('gateway');
      const sim = service('simulator');
      const gwBuild = buildOf('gateway');
      const simBuild = buildOf('simulator');
      assert.ok(typeof gw.image === 'string' && gw.image !== '', 'the gateway names its image');
      assert.ok(typeof sim.image === 'string' && sim.image !== '' && sim.image !== gw.image, 'the simulator has its own image name');
      assert.equal(simBuild.context, gwBuild.context, 'built from the same context');
      assert.equal(simBuild.dockerfile, gwBuild.dockerfile, 'built from the same Dockerfile');
      const names = dockerStages().map((s) => s.name);
      assert.equal(gwBuild.target ?? names.at(-1), names.at(-1), 'the gateway is the default (last) stage');
      assert.ok(simBuild.target && names.includes(simBuild.target) && simBuild.target !== names.at(-1), 'the simulator builds its own stage');
      const command = Array.isArray(sim.command) ? sim.command.map(String) : String(sim.command).split(/\s+/);
      assert.deepEqual(command, ['node', 'dist/simulator/main.js']);
      // dist/ is src/ compiled (tsconfig.build.json: rootDir src), so this is where the simulator's entry lands.
      assert.ok(existsSync(path.join(ROOT, 'src/simulator/main.ts')), 'src/simulator/main.ts exists');
    });
  });

  describe('gateway environment', () => {
    let env: Env;
    const known = new Set<string>(ENV_VARS);
    before(() => {
      env = envOf('gateway');
    });

    it('sets only variables the gateway reads (ENV_VARS in src/config.ts)', () => {
      const unknown = Object.keys(env).filter((k) => !known.has(k));
      assert.deepEqual(unknown, [], `variables the gateway never reads: ${unknown.join(', ')}`);
    });

    it('sets every required variable', () => {
      assert.ok(env.PLATFORM_URL, 'PLATFORM_URL');
      assert.ok(env.PLATFORM_APPS ?? env.PLATFORM_APPS_FILE, 'PLATFORM_APPS or PLATFORM_APPS_FILE');
      assert.ok(env.GATEWAY_CLIENTS ?? env.GATEWAY_CLIENTS_FILE, 'GATEWAY_CLIENTS or GATEWAY_CLIENTS_FILE');
      assert.ok(env.REDIS_URL, 'REDIS_URL');
      assert.notEqual(env.REDIS_URL, 'memory', 'production wiring shares state through Redis');
    });

    it('gives the app and client lists as Docker secrets, not inline', () => {
      assert.equal(env.PLATFORM_APPS, undefined, 'PLATFORM_APPS inline would put secrets in the compose file');
      assert.equal(env.GATEWAY_CLIENTS, undefined, 'GATEWAY_CLIENTS inline would put keys in the compose file');
      const mounts = secretMounts('gateway');
      for (const name of ['PLATFORM_APPS_FILE', 'GATEWAY_CLIENTS_FILE']) {
        assert.ok(mounts.has(env[name] ?? ''), `${name}=${env[name]} must be a secret mounted into the gateway`);
      }
    });

    it('publishes the port the gateway listens on', () => {
      const port = Number(env.PORT ?? SETTINGS.port.default);
      const published = publishedPorts('gateway');
      assert.ok(
        published.some((p) => p.container === port && Number.isInteger(p.host)),
        `ports must publish container port ${port}: ${JSON.stringify(published)}`,
      );
      assert.ok(published.some((p) => p.host === 8080), 'published on 8080 as the README says');
    });

    it('points PLATFORM_URL at the simulator service and the port it listens on', () => {
      const url = new URL(env.PLATFORM_URL ?? '');
      const sim = settingsFromEnv(localEnvOf('simulator'));
      assert.ok(sim.ok, 'simulator settings are valid');
      assert.equal(url.hostname, 'simulator');
      assert.equal(Number(url.port || (url.protocol === 'https:' ? 443 : 80)), sim.settings.port);
      assert.equal(url.protocol, sim.settings.options.tls ? 'https:' : 'http:', 'scheme matches the simulator TLS setting');
    });

    it('points REDIS_URL at the redis service', () => {
      const url = new URL(env.REDIS_URL ?? '');
      assert.equal(url.protocol, 'redis:');
      assert.equal(url.hostname, 'redis');
      assert.equal(Number(url.port || REDIS_PORT), REDIS_PORT);
    });

    it('starts only once redis and the simulator are healthy', () => {
      const deps = obj(service('gateway').depends_on, 'services.gateway.depends_on (long form, with conditions)');
      for (const name of ['redis', 'simulator']) {
        assert.equal(obj(deps[name], `depends_on.${name}`).condition, 'service_healthy', `depends_on.${name}.condition`);
      }
    });
  });

  describe('simulator environment', () => {
    it('sets only variables the simulator reads (src/simulator/env.ts)', () => {
      const read = simulatorEnvVars();
      for (const name of ['SIMULATOR_PORT', 'PLATFORM_APPS', 'PLATFORM_APPS_FILE']) {
        assert.ok(read.has(name), `the scan of src/simulator/env.ts finds ${name} (scan is broken otherwise)`);
      }
      const unknown = Object.keys(envOf('simulator')).filter((k) => !read.has(k));
      assert.deepEqual(unknown, [], `variables the simulator never reads: ${unknown.join(', ')}`);
    });

    it('listens on 8743 and is given the apps explicitly (not its built-in demo apps)', () => {
      const result = settingsFromEnv(localEnvOf('simulator'));
      assert.ok(result.ok, `simulator settings: ${result.ok ? '' : result.errors.join('; ')}`);
      assert.equal(result.settings.port, 8743);
      assert.ok(result.settings.options.apps && result.settings.options.apps.length > 0, 'PLATFORM_APPS(_FILE) given');
    });
  });

  describe('healthchecks', () => {
    it('redis: redis-cli ping', () => {
      assert.match(healthcheckText('redis'), /redis-cli\s+ping/);
    });

    it('simulator: /healthz on its own port, with node (no curl in slim images)', () => {
      const result = settingsFromEnv(localEnvOf('simulator'));
      assert.ok(result.ok);
      const url = healthcheckUrl('simulator');
      assert.equal(url.pathname, '/healthz');
      assert.equal(Number(url.port), result.settings.port);
      assert.match(healthcheckText('simulator'), /^node\b/);
    });

    it('gateway: /readyz on its port, with node', () => {
      const url = healthcheckUrl('gateway');
      assert.equal(url.pathname, '/readyz');
      assert.equal(Number(url.port), Number(envOf('gateway').PORT ?? SETTINGS.port.default));
      assert.match(healthcheckText('gateway'), /^node\b/);
    });
  });

  describe('secrets', () => {
    it('every secret file exists and holds JSON', () => {
      const defined = obj(compose().secrets, 'secrets');
      assert.ok(Object.keys(defined).length >= 2);
      for (const [name, def] of Object.entries(defined)) {
        const file = path.resolve(ROOT, String(obj(def, `secrets.${name}`).file));
        assert.ok(file.startsWith(path.join(ROOT, 'deploy', 'secrets') + path.sep), `${name} lives under deploy/secrets/`);
        assert.ok(existsSync(file), `${file} exists`);
        assert.doesNotThrow(() => JSON.parse(readFileSync(file, 'utf8')), `${file} is JSON`);
      }
    });

    it('hold a platform app list and a client list of the documented shapes', () => {
      const env = localEnvOf('gateway');
      const apps = JSON.parse(readFileSync(env.PLATFORM_APPS_FILE!, 'utf8')) as unknown;
      assert.ok(Array.isArray(apps) && apps.length > 0, 'platform apps: a non-empty array');
      for (const a of apps as unknown[]) {
        const app = obj(a, 'platform app');
        assert.equal(typeof app.appId, 'string');
        assert.equal(typeof app.secret, 'string');
        if ('ratePerMinute' in app) assert.ok(Number.isInteger(app.ratePerMinute));
      }
      const clients = JSON.parse(readFileSync(env.GATEWAY_CLIENTS_FILE!, 'utf8')) as unknown;
      assert.ok(Array.isArray(clients) && clients.length > 0, 'clients: a non-empty array');
      for (const c of clients as unknown[]) {
        const client = obj(c, 'client');
        assert.equal(typeof client.name, 'string');
        assert.ok(typeof client.key === 'string' || typeof client.keySha256 === 'string', 'key or keySha256');
        assert.ok(Array.isArray(client.apps) && client.apps.length > 0, 'apps: a non-empty array');
      }
    });

    describe('the gateway configuration built from the compose file', () => {
      let config: Config;
      before(() => {
        config = loadConfig(localEnvOf('gateway'), ROOT);
      });

      it('loads without a problem', () => {
        assert.ok(config.apps.size > 0);
        assert.ok(config.clients.length > 0);
        assert.equal(config.platformUrl, envOf('gateway').PLATFORM_URL?.replace(/\/+$/, ''));
        assert.equal(config.redisUrl, envOf('gateway').REDIS_URL);
        assert.ok(publishedPorts('gateway').some((p) => p.container === config.port));
      });

      it('sizes GATEWAY_REPLICAS to the replicas deployed', () => {
        const deploy = service('gateway').deploy;
        const replicas = isObj(deploy) && deploy.replicas !== undefined ? Number(deploy.replicas) : 1;
        assert.equal(config.replicas, replicas);
      });

      it('gives the simulator exactly the gateway apps', () => {
        const result = settingsFromEnv(localEnvOf('simulator'));
        assert.ok(result.ok);
        const simApps = (result.settings as SimulatorSettings).options.apps ?? [];
        const norm = (list: Array<{ appId: string; secret: string }>) =>
          list.map(({ appId, secret }) => ({ appId, secret })).sort((a, b) => a.appId.localeCompare(b.appId));
        assert.deepEqual(norm(simApps), norm([...config.apps.values()]));
      });
    });
  });

  // `docker compose --profile ha up` (issue 14): a Sentinel set and a gateway on it, off by default.
  describe('the optional ha profile (Sentinel)', () => {
    const inProfile = (name: string): boolean => {
      const p = service(name).profiles;
      return Array.isArray(p) && p.includes('ha');
    };
    const haNames = () => Object.keys(services()).filter(inProfile);
    const commandOf = (name: string): string => {
      const c = service(name).command;
      return Array.isArray(c) ? c.map(String).join(' ') : String(c ?? '');
    };
    /** `sentinel monitor <name> <host> <port> <quorum>` from a sentinel's generated configuration. */
    const monitorOf = (name: string) => {
      const m = /sentinel monitor (\S+) (\S+) (\d+) (\d+)/.exec(commandOf(name));
      assert.ok(m, `${name} monitors a primary`);
      return { master: m[1]!, host: m[2]!, port: Number(m[3]), quorum: Number(m[4]) };
    };
    const sentinels = () => haNames().filter((n) => /--sentinel\b/.test(commandOf(n)));
    const dataNodes = () => haNames().filter((n) => String(service(n).image ?? '').startsWith('redis:') && !sentinels().includes(n));

    it('keeps the default services out of it, and its own services in it only', () => {
      for (const name of ['gateway', 'redis', 'simulator']) assert.ok(!inProfile(name) && service(name).profiles === undefined, name);
      assert.ok(haNames().length >= 6, `ha services: ${haNames().join(', ')}`);
    });

    it('has a primary, a replica of it, and three sentinels monitoring it with quorum 2', () => {
      const nodes = dataNodes();
      assert.equal(nodes.length, 2, `data nodes: ${nodes.join(', ')}`);
      const replica = nodes.find((n) => /--replicaof\s/.test(commandOf(n)));
      const primary = nodes.find((n) => n !== replica);
      assert.ok(replica && primary, 'a primary and a replica');
      assert.match(commandOf(replica), new RegExp(`--replicaof ${primary} ${REDIS_PORT}\\b`));
      assert.equal(sentinels().length, 3);
      for (const s of sentinels()) {
        assert.deepEqual(monitorOf(s), { master: monitorOf(sentinels()[0]!).master, host: primary, port: REDIS_PORT, quorum: 2 });
        // The primary is named by its service name: sentinels must resolve it.
        assert.match(commandOf(s), /sentinel resolve-hostnames yes/);
        assert.match(healthcheckText(s), /sentinel ckquorum/);
      }
    });

    it('runs a gateway on the sentinels: every one of them, the monitored name, no REDIS_URL, only variables it reads', () => {
      const gw = haNames().find((n) => service(n).build !== undefined && buildOf(n).target === buildOf('gateway').target);
      assert.ok(gw, 'a gateway service in the profile');
      const env = envOf(gw);
      const known = new Set<string>(ENV_VARS);
      assert.deepEqual(Object.keys(env).filter((k) => !known.has(k)), []);
      assert.equal(env.REDIS_URL, undefined, 'REDIS_URL would only lend credentials; none are needed here');
      assert.equal(env.REDIS_SENTINEL_NAME, monitorOf(sentinels()[0]!).master);
      assert.deepEqual((env.REDIS_SENTINELS ?? '').split(',').sort(), sentinels().map((s) => `${s}:26379`).sort());
      for (const s of sentinels()) assert.match(commandOf(s), /^.*port 26379/m);
      const config = loadConfig(localEnvOf(gw), ROOT);
      assert.equal(config.redisTopology?.kind, 'sentinel');
      const deps = obj(service(gw).depends_on, `services.${gw}.depends_on`);
      for (const s of [...sentinels(), 'simulator']) assert.equal(obj(deps[s], `depends_on.${s}`).condition, 'service_healthy');
      assert.equal(healthcheckUrl(gw).pathname, '/readyz');
      // Not on the default gateway's ports (8080, and 8081 when it is scaled to two replicas).
      const hostPorts = publishedPorts(gw).map((p) => p.host);
      assert.ok(hostPorts.length > 0 && hostPorts.every((p) => p !== 8080 && p !== 8081), JSON.stringify(hostPorts));
    });
  });

  describe('Dockerfile', () => {
    let instructions: Instruction[];
    let froms: Instruction[];
    /** The gateway's image: the last stage with everything it derives from. */
    let finalStage: Instruction[];
    before(() => {
      instructions = dockerfile();
      froms = instructions.filter((i) => i.keyword === 'FROM');
      assert.ok(froms.length > 0, 'the Dockerfile has a FROM');
      finalStage = stageWithBases(dockerStages().at(-1)!.name);
    });

    it('is multi-stage on an LTS Node image (even major ≥ 20)', () => {
      assert.ok(froms.length >= 2, `at least two FROM, found ${froms.length}`);
      const stages = new Set<string>();
      for (const from of froms) {
        const words = from.args.split(/\s+/).filter((w) => !w.startsWith('--'));
        const image = words[0] ?? '';
        if (!stages.has(image.toLowerCase())) {
          const m = /^(?:docker\.io\/)?(?:library\/)?node:(\d+)(?:[.-][\w.-]*)?$/.exec(image);
          assert.ok(m, `${image}: a node:<major>… image`);
          const major = Number(m[1]);
          assert.ok(major >= 20 && major % 2 === 0, `${image}: an LTS line (even major ≥ 20)`);
        }
        if (words[1]?.toUpperCase() === 'AS' && words[2]) stages.add(words[2].toLowerCase());
      }
    });

    it('installs with npm ci, production dependencies only in the images that run', () => {
      const runs = instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
      assert.ok(runs.some((r) => /\bnpm ci\b/.test(r) && !/--omit=dev/.test(r)), 'a build stage runs npm ci');
      assert.ok(runs.some((r) => /\bnpm run build\b/.test(r)), 'a build stage runs npm run build');
      for (const image of [dockerStages().at(-1)!.name, buildOf('simulator').target!]) {
        const npmCis = stageWithBases(image).filter((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
        assert.ok(npmCis.length > 0 && npmCis.every((i) => /--omit=dev/.test(i.args)), `${image}: npm ci --omit=dev, and only that`);
      }
    });

    it('keeps tsx, esbuild and TypeScript out of the production dependencies (they run nothing in the image)', () => {
      const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
      for (const name of ['tsx', 'esbuild', 'typescript', 'ts-node']) assert.equal(pkg.dependencies?.[name], undefined, `${name} in dependencies`);
    });

    it('runs as a non-root user', () => {
      for (const image of [dockerStages().at(-1)!.name, buildOf('simulator').target!]) {
        const users = stageWithBases(image).filter((i) => i.keyword === 'USER');
        assert.ok(users.length > 0, `${image}: sets USER`);
        const user = users.at(-1)!.args.trim().split(':')[0];
        assert.ok(user && !['root', '0'].includes(user), `${image}: USER ${user} is not root`);
      }
    });

    it('exposes the default port, checks /healthz with node and starts dist/main.js', () => {
      const exposed = finalStage.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/));
      assert.deepEqual(exposed.map((p) => Number(p.split('/')[0])), [SETTINGS.port.default], `EXPOSE ${SETTINGS.port.default} only`);
      const hcs = finalStage.filter((i) => i.keyword === 'HEALTHCHECK');
      assert.equal(hcs.length, 1, 'one HEALTHCHECK');
      assert.match(hcs[0]!.args, /\bCMD\b.*\bnode\b.*\/healthz/);
      assert.match(hcs[0]!.args, /process\.env\.PORT \|\| 8080/);
      assert.doesNotMatch(hcs[0]!.args, /\b(curl|wget)\b/, 'no curl or wget in slim images');
      const cmd = finalStage.filter((i) => i.keyword === 'CMD').at(-1);
      assert.ok(cmd, 'CMD present');
      // The command of `npm start`, Node flags included (the bench runs the gateway with the same flags).
      const start = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(/\s+/);
      assert.deepEqual(execForm(cmd.args), start);
      assert.equal(start.at(-1), 'dist/main.js');
      assert.ok(existsSync(path.join(ROOT, 'src/main.ts')), 'dist/main.js is compiled from src/main.ts');
    });

    it("the simulator's target: its own port and /healthz, nothing of the gateway's :8080, dist/simulator/main.js", () => {
      const sim = stageWithBases(buildOf('simulator').target!);
      const port = (settingsFromEnv({}) as { ok: true; settings: SimulatorSettings }).settings.port;
      const exposed = sim.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/));
      assert.deepEqual(exposed.map((p) => Number(p.split('/')[0])), [port], `EXPOSE ${port} only`);
      const hcs = sim.filter((i) => i.keyword === 'HEALTHCHECK');
      assert.equal(hcs.length, 1, 'one HEALTHCHECK');
      assert.match(hcs[0]!.args, /\bnode\b.*\/healthz/);
      assert.match(hcs[0]!.args, new RegExp(`process\\.env\\.SIMULATOR_PORT \\|\\| ${port}\\b`));
      assert.deepEqual(execForm(sim.filter((i) => i.keyword === 'CMD').at(-1)!.args), ['node', 'dist/simulator/main.js']);
    });

    it('has a .dockerignore keeping local installs and build output out of the context', () => {
      const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
        .split(/\r?\n/)
        .map((l) => l.trim().replace(/^\/+|\/+$/g, ''))
        .filter((l) => l !== '' && !l.startsWith('#'));
      for (const entry of ['node_modules', 'dist', '.git']) assert.ok(ignored.includes(entry), `.dockerignore lists ${entry}`);
    });
  });
});
