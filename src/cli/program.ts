/** The `tandem` command line: thin verbs over the typed client (src/client). */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BadInputError, ReleaseFailedError, type TandemClient } from '../client';
import type { OperatorActionName, ReleaseStatus } from '../workflows/messages';
import { loadConfig } from '../config/load';
import { defaultStateDir } from '../gateway/admin-token';
import { DEFAULT_GATEWAY_CLASS, GATEWAY_CONTROLLER_NAME, GatewayDefaults } from '../naming/gateway';
import { durationMs } from '../shared/duration';
import { specJsonSchema } from '../model-spec/json-schema';
import { ServeDefaults } from '../serve/defaults';
import { actor, connect, environmentFor, optionalConfig, type GlobalOptions } from './context';
import { historyTable, newHistoryLines, statusText, versionsTable, weights } from './format';
import { progressTable } from './format-path';
import { eligibility, pathProgress, startPromoted } from '../client/promotion';

type Out = (text: string) => void;

/** A commander parser for a whole number in 1..max; commander names the option and the CLI exits 2. */
function positiveInteger(max: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || n < 1 || n > max) throw new InvalidArgumentError(`Not a whole number from 1 to ${max}.`);
    return n;
  };
}

interface CommandOptions extends GlobalOptions {
  repo?: string;
  wait?: boolean;
  by?: string;
  comment?: string;
  reason?: string;
  to?: string;
  limit?: number;
  overrideReason?: string;
  allEnvs?: boolean;
}

const envOption = () => new Option('-e, --env <name>', 'environment (default: the model\'s environment in tandem.config.yaml)');
const jsonOption = () => new Option('--json', 'print JSON instead of text');
const byOption = () => new Option('--by <name>', 'who is acting (default: $TANDEM_ACTOR, the CI actor or $USER); self-declared: recorded "via temporal (self-declared)", the approval policy applies to the name');

/** A port option's value; commander reports the option by name and the CLI exits 2 otherwise. */
function portArgument(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new InvalidArgumentError('Not a port number (0-65535).');
  return port;
}

function durationArgument(text: string): number {
  let ms = 0;
  try {
    ms = durationMs(text);
  } catch {
    // reported below
  }
  if (ms <= 0) throw new InvalidArgumentError('Not a positive duration (e.g. 500ms, 30s, 2m).');
  return ms;
}

export function buildProgram(out: Out = (t) => process.stdout.write(t + '\n')): Command {
  const program = new Command('tandem')
    .description('Release machine-learning model versions side by side, as durable Temporal workflows.')
    .option('-c, --config <file>', 'tandem.config.yaml to use (default: $TANDEM_CONFIG or ./tandem.config.yaml)')
    .exitOverride()
    .showHelpAfterError();

  const withClient = async <T>(options: CommandOptions, model: string | undefined, fn: (client: TandemClient, env: string) => Promise<T>) => {
    const config = optionalConfig(program.opts().config);
    const env = model ? environmentFor(model, options, config) : (options.env ?? '');
    const client = await connect(config);
    try {
      return await fn(client, env);
    } finally {
      await client.close();
    }
  };

  /** A command that reads one thing about a model and prints it as text or, with --json, as JSON. */
  const readCommand = <T>(parent: Command, usage: string, description: string, read: (client: TandemClient, model: string, env: string) => Promise<T>, text: (value: T) => string) =>
    parent
      .command(usage)
      .description(description)
      .addOption(envOption())
      .addOption(jsonOption())
      .action(async (model: string, options: CommandOptions) => {
        await withClient(options, model, async (client, env) => {
          const value = await read(client, model, env);
          out(options.json ? JSON.stringify(value) : text(value));
        });
      });

  const follow = async (client: TandemClient, model: string, env: string, json: boolean | undefined) => {
    let printed = 0;
    const handle = await client.releaseHandle(model, env);
    const onChange = (s: ReleaseStatus) => {
      if (json) return;
      for (const line of newHistoryLines(s, printed)) out(line);
      printed = s.history.length;
    };
    try {
      const final = await client.wait(handle, onChange);
      out(json ? JSON.stringify(final) : `\n${statusText(final)}`);
    } catch (err) {
      if (err instanceof ReleaseFailedError && err.status) out(json ? JSON.stringify(err.status) : `\n${statusText(err.status as ReleaseStatus)}`);
      throw err;
    }
  };

  const release = program.command('release').description('start, steer and follow releases');

  release
    .command('start <model> <tag>')
    .description('release a Git tag of a model; with --wait, follow it and exit with its outcome (for CI)')
    .addOption(envOption())
    .option('--repo <url>', 'Git URL or path of the model repository (default: models.<model>.repo in the configuration)')
    .option('--wait', 'stream progress and exit 0 when promoted, 1 when rolled back or failed')
    .option('--override-reason <text>', 'start a version that is not eligible on the model\'s path (recorded with who; the environment\'s promote rule decides who may)')
    .addOption(byOption())
    .addOption(jsonOption())
    .action(async (model: string, tag: string, options: CommandOptions) => {
      const config = optionalConfig(program.opts().config);
      const repoUrl = options.repo ?? config?.models[model]?.repo;
      if (!repoUrl) throw new BadInputError(`no repository for ${model}: pass --repo URL or add models.${model}.repo to tandem.config.yaml`);
      await withClient(options, model, async (client, env) => {
        const input = { model, tag, environment: env, repoUrl, requestedBy: actor(options.by) };
        // An environment the model's path leads to takes only versions eligible there (README, "Environments in sequence").
        const checked = await eligibility(client, model, tag, env, config?.models[model]?.path);
        if (!checked.onPath && options.overrideReason !== undefined) throw new BadInputError(`--override-reason overrides the conditions of a model's path, and models.${model}.path does not lead to ${env}`);
        const handle = checked.onPath ? await startPromoted(client, input, checked, options.overrideReason ? { reason: options.overrideReason } : undefined) : await client.start(input);
        if (!(await client.hasWorker())) {
          process.stderr.write(`tandem: warning: no worker is polling task queue "${client.taskQueue}"; the release waits until one runs (tandem worker)\n`);
        }
        if (!options.json || !options.wait) {
          out(options.json ? JSON.stringify({ workflowId: handle.workflowId, model, tag, environment: env }) : `started ${model} ${tag} → ${env} (workflow ${handle.workflowId})`);
        }
        if (options.wait) await follow(client, model, env, options.json);
      });
    });

  const actions: { name: OperatorActionName; text?: 'comment' | 'reason'; help: string }[] = [
    { name: 'approve', text: 'comment', help: 'pass the approval gate the release is waiting at' },
    { name: 'abort', text: 'reason', help: 'stop the release and roll back to the previous stable version' },
    { name: 'pause', help: 'hold the rollout before its next step' },
    { name: 'resume', help: 'continue a paused release, or end a pause step' },
    { name: 'promote', text: 'comment', help: 'skip the remaining rollout steps and promote now' },
    { name: 'override-window', text: 'reason', help: 'let a release waiting for a deploy window move traffic now (needs --reason)' },
  ];
  for (const action of actions) {
    const cmd = release.command(`${action.name} <model>`).description(action.help).addOption(envOption()).addOption(byOption()).addOption(jsonOption());
    if (action.text) cmd.option(`--${action.text} <text>`, action.text === 'reason' ? 'why (recorded in the release)' : 'recorded with the action');
    cmd.action(async (model: string, options: CommandOptions) => {
      await withClient(options, model, async (client, env) => {
        const text = action.text === 'reason' ? options.reason : options.comment;
        const accepted = await client.act(model, env, action.name, { who: actor(options.by), text });
        out(options.json ? JSON.stringify(accepted) : `${action.name} accepted for ${model} in ${env} (by ${accepted.who})`);
      });
    });
  }

  readCommand(release, 'status <model>', 'stage, traffic, steps, checks and operator actions of the latest release', (client, model, env) => client.status(model, env), statusText);

  release
    .command('watch <model>')
    .description('follow the latest release until it ends; exit code as for start --wait')
    .addOption(envOption())
    .addOption(jsonOption())
    .action(async (model: string, options: CommandOptions) => {
      await withClient(options, model, (client, env) => follow(client, model, env, options.json));
    });

  program
    .command('versions <model>')
    .description('running versions with traffic share, role, commit, image digest and the release that deployed them; with --all-envs, each version along the model\'s path')
    .addOption(envOption())
    .option('--all-envs', 'each version\'s progress along models.<model>.path and what blocks it')
    .addOption(jsonOption())
    .action(async (model: string, options: CommandOptions) => {
      if (options.allEnvs) {
        const config = optionalConfig(program.opts().config);
        const path = config?.models[model]?.path;
        if (!path) throw new BadInputError(`--all-envs shows a model's path, and ${model} has none: add models.${model}.path (e.g. [staging, prod]) to ${config?.path ?? 'tandem.config.yaml'}`);
        const client = await connect(config);
        try {
          const progress = await pathProgress(client, model, path);
          out(options.json ? JSON.stringify(progress) : progressTable(progress));
        } finally {
          await client.close();
        }
        return;
      }
      await withClient(options, model, async (client, env) => {
        const value = await client.versions(model, env);
        out(options.json ? JSON.stringify(value) : versionsTable(value));
      });
    });

  program
    .command('rollback <model>')
    .description('switch all traffic to a version that is still running (instant: no redeploy)')
    .addOption(envOption())
    .option('--to <version>', 'running version to switch to (default: the most recent warm version)')
    .option('--reason <text>', 'why (recorded)')
    .addOption(byOption())
    .addOption(jsonOption())
    .action(async (model: string, options: CommandOptions) => {
      await withClient(options, model, async (client, env) => {
        const result = await client.rollback({ model, environment: env, to: options.to, requestedBy: actor(options.by), reason: options.reason });
        out(options.json ? JSON.stringify(result) : `${model} in ${env}: ${result.from ?? 'nothing'} → ${result.to} (${weights(result.weights)})`);
      });
    });

  program
    .command('history <model>')
    .description('past releases of a model and their outcomes, newest first')
    .addOption(envOption())
    .option('--limit <n>', 'how many (1-1000)', positiveInteger(1000), 20)
    .addOption(jsonOption())
    .action(async (model: string, options: CommandOptions) => {
      await withClient(options, model, async (client, env) => {
        const entries = await client.history(model, env, options.limit);
        out(options.json ? JSON.stringify(entries) : historyTable(entries));
      });
    });

  program
    .command('worker')
    .description('run a worker for the environments in the configuration; serves /healthz, /readyz and /metrics')
    .option('--health-host <host>', 'address of the health and metrics endpoint', '0.0.0.0')
    .option('--health-port <port>', 'port of the health and metrics endpoint (0: any free port)', portArgument, 9464)
    .addOption(new Option('--log-format <format>', 'log lines as text or JSON objects').choices(['text', 'json']).default('text'))
    .addOption(new Option('--identity <name>', "the worker's identity in Temporal's pollers and activity attempts (default <pid>@<hostname>)").env('TANDEM_WORKER_IDENTITY'))
    .action(async (options: { healthHost: string; healthPort: number; logFormat: 'text' | 'json'; identity?: string }) => {
      // Loaded on demand: the worker and gateway pull in the Temporal worker, Docker and
      // Kubernetes clients, which other commands do not need (CLI start-up stays quick).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runWorker } = require('../worker') as typeof import('../worker');
      await runWorker(loadConfig(program.opts().config), options);
    });

  program
    .command('gateway')
    .description('run the traffic gateway until SIGINT or SIGTERM: for Docker environments, or with --kubernetes as the Gateway API data plane of a cluster')
    .option('--port <port>', 'port for model traffic', portArgument, GatewayDefaults.port)
    .option('--host <address>', 'address for model traffic', GatewayDefaults.host)
    .option('--admin-port <port>', 'port for the admin API (/_tandem/...) and /metrics', portArgument, GatewayDefaults.adminPort)
    .option('--admin-host <address>', 'address for the admin API and /metrics (keep it private: /metrics needs no token)', GatewayDefaults.adminHost)
    .option(
      '--admin-token-env <name>',
      'environment variable holding the admin API\'s bearer token; when unset, a token is generated into <state-dir>/admin-token (mode 0600)',
      GatewayDefaults.tokenEnv,
    )
    .option('--state-dir <dir>', 'where routes and the generated admin token are kept', defaultStateDir())
    .addOption(
      new Option('--upstream-timeout <duration>', 'answer 504 when a version sends nothing for this long (500ms, 30s, 2m)')
        .argParser(durationArgument)
        .default(durationMs(GatewayDefaults.upstreamTimeout), GatewayDefaults.upstreamTimeout),
    )
    .option(
      '--kubernetes [kubeconfig]',
      'serve the HTTPRoutes of a Kubernetes cluster instead of Docker hosts: a kubeconfig file, "in-cluster", or none for $KUBECONFIG / ~/.kube/config / in-cluster',
    )
    .option('--gateway-class <name>', `with --kubernetes: serve the Gateways of this GatewayClass (its controllerName must be ${GATEWAY_CONTROLLER_NAME})`)
    .action(
      async (options: {
        port: number;
        host: string;
        adminPort: number;
        adminHost: string;
        adminTokenEnv: string;
        stateDir: string;
        upstreamTimeout: number;
        kubernetes?: string | true;
        gatewayClass?: string;
      }) => {
        if (options.gatewayClass !== undefined && !options.kubernetes) throw new BadInputError('--gateway-class needs --kubernetes');
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { runGateway } = require('../gateway/main') as typeof import('../gateway/main');
        await runGateway({ ...options, gatewayClass: options.gatewayClass ?? DEFAULT_GATEWAY_CLASS, upstreamTimeoutMs: options.upstreamTimeout });
      },
    );

  const serve = program
    .command('serve')
    .description('run the HTTP API (OpenAPI document at /openapi.json) until SIGINT or SIGTERM; callers authenticate with the bearer tokens of serve.tokens')
    .option('--port <port>', 'port of the API', portArgument, ServeDefaults.port)
    .option('--host <address>', 'address of the API', ServeDefaults.host)
    .action(async (options: { port: number; host: string }) => {
      const config = loadConfig(program.opts().config);
      const client = await connect(config);
      try {
        // Loaded on demand: Fastify and its plugins are not needed by the other commands.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { runServe } = require('../serve/main') as typeof import('../serve/main');
        await runServe(config, client, options);
      } finally {
        await client.close();
      }
    });
  serve
    .command('hash-token')
    .description('print the SHA-256 of the token given on stdin, for serve.tokens[].sha256 (the token itself never goes in the file)')
    .action(async () => {
      if (process.stdin.isTTY) throw new BadInputError('pipe the token in, e.g. `printf %s "$TOKEN" | tandem serve hash-token` (a typed token would show on the screen)');
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { hashToken, tokenFromInput } = require('../serve/auth/token-hash') as typeof import('../serve/auth/token-hash');
      let token: string;
      try {
        token = tokenFromInput(readFileSync(0, 'utf8'));
      } catch (err) {
        throw new BadInputError((err as Error).message);
      }
      out(hashToken(token));
    });

  program
    .command('schema')
    .description('print the JSON Schema of tandem.yaml (for editors)')
    .action(async () => {
      out(JSON.stringify(specJsonSchema(), null, 2));
    });

  return program;
}
