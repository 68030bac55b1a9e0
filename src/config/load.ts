// runway.toml → RunwayConfig: parse, validate (schema.ts), import fly.toml, layer variables, merge
// deploy settings and sim options per environment, and check what only makes sense across keys.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ProcessGroup } from '../domain/types.js';
import { DEFAULT_SIM_OPTIONS } from '../providers/sim/options.js';
import type { CheckConfig, EnvironmentConfig, ReleaseCommandConfig, RunwayConfig, VarLayer } from './types.js';
export { getEnvironment } from './environment.js';
import { toCheckConfig } from './checks.js';
import { ConfigError } from './errors.js';
import { importFlyToml, type FlyImport } from './fly-toml.js';
import { validate } from './issues.js';
import { formatKey, keyLines, lineOf, type KeyPath } from './key-lines.js';
import {
  checkStrategyVars,
  isStrategyVar,
  layerVars,
  resolveStrategy,
  STRATEGY_VAR,
  type VarEntry,
  type VarLayerInput,
} from './layers.js';
import { runwaySchema, type EnvironmentTable, type RunwayTable } from './schema.js';
import { recordDeployOrigins, resolveStrategySettings } from './settings.js';
import { mergeSimOptions } from './sim-options.js';
import { createReleaseStep } from '../release/steps/index.js';
import { tomlDocument } from './toml.js';
import { buildIntegrations } from './integrations.js';
import { buildAnalysis } from './analysis.js';
import { deployTable, flyDeploy, type DeploySettings } from './deploy-table.js';

export const DEFAULT_STORE_URL = '.runway/runway.db';
export const DEFAULT_RELEASE_COMMAND_TIMEOUT_MS = 5 * 60_000;
/** Fly's name for the single process group of an app without [processes]. */
export const DEFAULT_PROCESS_GROUP: ProcessGroup = { name: 'app', count: 1 };

interface CandidateCheck {
  check: CheckConfig;
  /** An error about one of the check's keys, located where the check was written. */
  fail: (key: string, problem: string) => ConfigError;
}

export interface ParseOptions {
  /** Reads files the config refers to (fly_toml); defaults to the file system. */
  readFile?: (file: string) => string;
}

export function loadConfig(file: string, options: ParseOptions = {}): RunwayConfig {
  return parseConfig(readConfigFile(file, options.readFile), file, options);
}

/** `file` names the source in errors and anchors relative paths (fly_toml, store url). */
export function parseConfig(source: string, file: string, options: ParseOptions = {}): RunwayConfig {
  const lines = keyLines(source);
  const raw = validate(runwaySchema, tomlDocument(source, file), file, lines);
  return new Assembler(raw, file, lines, options).build();
}

function readConfigFile(file: string, readFile?: (file: string) => string): string {
  try {
    return (readFile ?? ((f) => readFileSync(f, 'utf8')))(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError({
      file,
      key: '',
      problem: code === 'ENOENT' ? 'file not found' : `cannot read: ${(e as Error).message}`,
    });
  }
}

class Assembler {
  private readonly errors: ConfigError[] = [];
  private readonly dir: string;
  private fly: FlyImport | undefined;

  constructor(
    private readonly raw: RunwayTable,
    private readonly file: string,
    private readonly lines: Map<string, number>,
    private readonly options: ParseOptions,
  ) {
    this.dir = path.dirname(path.resolve(file));
  }

  build(): RunwayConfig {
    const { raw } = this;
    this.fly = this.importFly();
    const processes = this.processes();
    const app: RunwayConfig['app'] = {
      name: raw.app.name ?? this.fly?.app ?? '',
      processes,
      checks: this.checks(processes),
    };
    if (!app.name)
      this.problem(
        ['app', 'name'],
        `missing (required${raw.app.fly_toml ? ', and the imported fly.toml has no `app`' : ''})`,
      );
    const releaseCommand = this.releaseCommand();
    if (releaseCommand) app.releaseCommand = releaseCommand;

    const orgLayer = this.layer('org', ['org', 'vars'], raw.org?.vars);
    const appLayer = this.appLayer();
    const envTables = Object.entries(raw.environments ?? {});
    const envLayers = envTables.map(([name, t]) => this.layer('environment', ['environments', name, 'vars'], t.vars));
    this.errors.push(...checkStrategyVars([orgLayer, appLayer, ...envLayers]));
    ConfigError.throwAll(this.errors); // environments are built on valid strategies

    const source = { file: this.file, lines: this.lines };
    const appDeploy = deployTable(source, ['app', 'deploy'], raw.app.deploy, flyDeploy(this.fly));
    const environments: Record<string, EnvironmentConfig> = {};
    envTables.forEach(([name, t], i) => {
      environments[name] = this.environment(name, t, [orgLayer, appLayer, envLayers[i]!], appDeploy, processes);
    });

    const integrations = buildIntegrations(raw, this.dir, (key, problem) => this.problem(key, problem));
    ConfigError.throwAll(this.errors);
    return {
      file: path.resolve(this.file),
      dir: this.dir,
      org: raw.org?.name ? { name: raw.org.name } : {},
      app,
      environments,
      store: { url: this.storeUrl() },
      ...(integrations.github ? { github: integrations.github } : {}),
      ...(integrations.publicUrl ? { publicUrl: integrations.publicUrl } : {}),
      ...(integrations.notifications.length ? { notifications: integrations.notifications } : {}),
      ...(raw.secrets?.key_file ? { secrets: { keyFile: path.resolve(this.dir, raw.secrets.key_file) } } : {}),
    };
  }

  private problem(keyPath: KeyPath, problem: string): void {
    this.errors.push(
      new ConfigError({ file: this.file, key: formatKey(keyPath), line: lineOf(this.lines, keyPath), problem }),
    );
  }

  private importFly(): FlyImport | undefined {
    const rel = this.raw.app.fly_toml;
    if (!rel) return undefined;
    // Shown in errors relative to how the user named runway.toml; read from the absolute path.
    const shown = path.join(path.dirname(this.file), rel);
    let text: string;
    try {
      text = (this.options.readFile ?? ((f) => readFileSync(f, 'utf8')))(path.resolve(this.dir, rel));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new ConfigError({
        file: this.file,
        key: 'app.fly_toml',
        line: lineOf(this.lines, ['app', 'fly_toml']),
        problem: code === 'ENOENT' ? `${shown} not found` : `cannot read ${shown}: ${(e as Error).message}`,
      });
    }
    return importFlyToml(text, shown);
  }

  /** runway.toml's groups first; fly.toml's groups added with count 1 (fly.toml has no counts). */
  private processes(): ProcessGroup[] {
    const out: ProcessGroup[] = [];
    const written = this.raw.app.processes ?? {};
    const flyCommands = new Map((this.fly?.processes ?? []).map((p) => [p.name, p.command]));
    for (const [name, p] of Object.entries(written)) {
      const command = p.command ?? flyCommands.get(name);
      out.push(command ? { name, count: p.count, command } : { name, count: p.count });
    }
    for (const [name, command] of flyCommands) if (!Object.hasOwn(written, name)) out.push({ name, count: 1, command });
    return out.length ? out : [{ ...DEFAULT_PROCESS_GROUP }];
  }

  /** runway.toml's checks when it has any (the key wins as a whole), else fly.toml's. */
  private checks(processes: ProcessGroup[]): CheckConfig[] {
    const groups = new Set(processes.map((p) => p.name));
    const seen = new Set<string>();
    const out: CheckConfig[] = [];
    for (const { check, fail } of this.raw.app.checks ? this.writtenChecks() : this.importedChecks()) {
      if (check.group !== undefined && !groups.has(check.group)) {
        this.errors.push(
          fail('group', `process group "${check.group}" is not defined; groups: ${[...groups].join(', ')}`),
        );
        continue;
      }
      const id = `${check.name}\0${check.group ?? ''}`;
      if (seen.has(id)) {
        this.errors.push(
          fail('name', `duplicate check name "${check.name}"${check.group ? ` for group "${check.group}"` : ''}`),
        );
        continue;
      }
      seen.add(id);
      out.push(check);
    }
    return out;
  }

  private writtenChecks(): CandidateCheck[] {
    const written = this.raw.app.checks ?? [];
    const entries = Array.isArray(written)
      ? written.map((c, i) => ({ at: ['app', 'checks', i] as KeyPath, c }))
      : Object.entries(written).map(([name, c]) => ({ at: ['app', 'checks', name] as KeyPath, c: { ...c, name } }));
    const out: CandidateCheck[] = [];
    for (const { at, c } of entries) {
      if (c.type === 'tcp' && c.path !== undefined) {
        this.problem([...at, 'path'], 'only http checks have a path');
        continue;
      }
      const check = toCheckConfig({
        name: c.name,
        type: c.type,
        group: c.group,
        path: c.path,
        port: c.port,
        intervalMs: c.interval,
        timeoutMs: c.timeout,
        gracePeriodMs: c.grace_period,
      });
      const fail = (sub: string, problem: string) =>
        new ConfigError({
          file: this.file,
          key: formatKey([...at, sub]),
          line: lineOf(this.lines, [...at, sub]),
          problem,
        });
      out.push({ check, fail });
    }
    return out;
  }

  private importedChecks(): CandidateCheck[] {
    const file = this.fly?.file ?? this.file;
    return (this.fly?.checks ?? []).map(({ check, key, line }) => ({
      check,
      fail: (_sub: string, problem: string) => new ConfigError({ file, key, line, problem }),
    }));
  }

  /** The environment's release steps: its list (else the app's, else the release command), validated. */
  private releaseSteps(env: string, t: EnvironmentTable): EnvironmentConfig['releaseSteps'] {
    const app = this.raw.app;
    const hasCommand = Boolean(app.release_command ?? this.fly?.releaseCommand?.command);
    const listKey = t.release_steps ? ['environments', env, 'release_steps'] : ['app', 'release_steps'];
    const names = t.release_steps ?? app.release_steps ?? (hasCommand ? ['release-command'] : []);
    return names.map((name) => {
      const settings = { ...app.release_step?.[name], ...t.release_step?.[name] };
      if (name === 'release-command') {
        if (!hasCommand) this.problem(listKey, 'lists "release-command" but [app] has no release_command');
        return { name, settings };
      }
      const step = createReleaseStep(name, settings);
      if ('problems' in step) {
        for (const p of step.problems) {
          const where = p.key
            ? t.release_step?.[name] && p.key in t.release_step[name]!
              ? ['environments', env, 'release_step', name, p.key]
              : ['app', 'release_step', name, p.key]
            : listKey;
          this.problem(where, p.message);
        }
      }
      return { name, settings };
    });
  }

  private releaseCommand(): ReleaseCommandConfig | undefined {
    const { raw, fly } = this;
    const command = raw.app.release_command ?? fly?.releaseCommand?.command;
    if (!command) {
      if (raw.app.release_command_timeout !== undefined)
        this.problem(['app', 'release_command_timeout'], 'set without a release_command');
      return undefined;
    }
    return {
      command,
      timeoutMs:
        raw.app.release_command_timeout ?? fly?.releaseCommand?.timeoutMs ?? DEFAULT_RELEASE_COMMAND_TIMEOUT_MS,
    };
  }

  private layer(layer: VarLayer, prefix: KeyPath, vars: Record<string, string> | undefined): VarLayerInput {
    const entries: VarEntry[] = Object.entries(vars ?? {}).map(([name, value]) => ({
      name,
      value,
      file: this.file,
      key: formatKey([...prefix, name]),
      line: lineOf(this.lines, [...prefix, name]),
    }));
    return { layer, entries };
  }

  /** app.vars plus fly.toml's [deploy] strategy, unless app.vars names a strategy itself. */
  private appLayer(): VarLayerInput {
    const layer = this.layer('app', ['app', 'vars'], this.raw.app.vars);
    const s = this.fly?.strategy;
    if (s && !layer.entries.some((e) => isStrategyVar(e.name))) {
      layer.entries.push({
        name: STRATEGY_VAR,
        value: s.value,
        file: this.fly!.file,
        key: s.key,
        line: s.line,
        origin: `imported from ${path.basename(this.fly!.file)} [deploy] strategy`,
      });
    }
    return layer;
  }

  /** The environment's analysis list replaces the app's as a whole; its [prometheus] replaces the top-level one. */
  private analysis(name: string, t: EnvironmentTable, processes: ProcessGroup[]): EnvironmentConfig['analysis'] {
    const own = t.analysis !== undefined;
    const list = (own ? t.analysis : this.raw.app.analysis) ?? [];
    const at = (i: number): KeyPath => (own ? ['environments', name, 'analysis', i] : ['app', 'analysis', i]);
    const prometheus = t.prometheus
      ? { at: ['environments', name, 'prometheus'] as KeyPath, table: t.prometheus }
      : this.raw.prometheus
        ? { at: ['prometheus'] as KeyPath, table: this.raw.prometheus }
        : undefined;
    return buildAnalysis({
      entries: list.map((table, i) => ({ at: at(i), table })),
      ...(prometheus ? { prometheus } : {}),
      provider: t.provider,
      processes,
      dir: this.dir,
      // An app-level entry is checked once per environment: say each problem once.
      problem: (key, message) => {
        const before = this.errors.length;
        this.problem(key, own ? message : `${message} (in environment ${name})`);
        const added = this.errors[before]!;
        if (this.errors.slice(0, before).some((e) => e.message === added.message)) this.errors.pop();
      },
    });
  }

  private environment(
    name: string,
    t: EnvironmentTable,
    layers: VarLayerInput[],
    appDeploy: DeploySettings,
    processes: ProcessGroup[],
  ): EnvironmentConfig {
    const prefix = ['environments', name];
    const trigger = t.trigger ?? null;
    const pushed = trigger?.startsWith('push:') ?? false;
    const initiation = t.initiation ?? (pushed ? 'automatic' : 'manual');
    if (pushed && initiation === 'manual') {
      this.problem(
        [...prefix, 'initiation'],
        `trigger "${trigger}" starts deploys with no human to hold responsible; use initiation = "automatic"`,
      );
    }
    if (t.allow_cli && initiation === 'automatic') {
      this.problem(
        [...prefix, 'allow_cli'],
        'applies to manual environments only; in an automatic environment a human deploys only with --emergency --reason',
      );
    }
    const { strategy, source } = resolveStrategy(layers);
    const deploy = deployTable({ file: this.file, lines: this.lines }, [...prefix, 'deploy'], t.deploy, appDeploy);
    const env: EnvironmentConfig = {
      name,
      provider: t.provider,
      trigger,
      initiation,
      allowCli: t.allow_cli ?? false,
      ...(t.url ? { url: t.url } : {}),
      vars: layerVars(layers),
      strategy,
      strategySource: source,
      deploy: deploy.input,
      sim: mergeSimOptions(DEFAULT_SIM_OPTIONS, this.raw.sim, t.sim),
      local: t.local ?? {},
      fly: t.fly ?? {},
      releaseSteps: this.releaseSteps(name, t),
      analysis: this.analysis(name, t, processes),
    };
    recordDeployOrigins(env, this.file, deploy.origins);
    try {
      resolveStrategySettings(env, processes);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      // The same app-level mistake would otherwise be reported once per environment.
      if (!this.errors.some((x) => x.message === e.message)) this.errors.push(e);
    }
    return env;
  }

  private storeUrl(): string {
    const url = this.raw.store?.url ?? DEFAULT_STORE_URL;
    if (/^postgres(ql)?:\/\//.test(url) || url === ':memory:') return url;
    return path.resolve(this.dir, url);
  }
}
