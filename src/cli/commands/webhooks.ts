import type { Command } from 'commander';
import type { DeliveryList, Webhook, WebhookList } from '../../shared/api.js';
import { printable } from '../../shared/terminal.js';
import { WEBHOOK_EVENTS } from '../../shared/webhook-events.js';
import { ApiClient } from '../client.js';
import { CliError } from '../errors.js';
import { byIdPrefix } from '../id-prefix.js';
import { clientOptions } from '../options.js';
import { printJson, printTable } from '../table.js';
import { readValue } from './secrets.js';

/** The API's own bounds on a secret, said before asking. */
const SECRET_MIN = 16;
const SECRET_MAX = 256;

const WEBHOOK_ARGUMENT_HELP = 'a webhook id, or a unique prefix of it';

/** A server has a handful of webhooks: a prefix is resolved against the list, as a comment's is. */
async function webhookByRef(client: ApiClient, ref: string): Promise<Webhook> {
  const { webhooks } = await client.request<WebhookList>('GET', '/api/webhooks');
  return byIdPrefix(webhooks, ref, 'webhook', 'lazyaf webhooks list shows their ids');
}

function eventsFrom(list: string): string[] {
  const events = [...new Set(list.split(',').map((e) => e.trim()))].filter((e) => e !== '');
  const unknown = events.filter((e) => !(WEBHOOK_EVENTS as readonly string[]).includes(e));
  if (events.length === 0 || unknown.length > 0)
    throw new CliError(`${unknown.length ? `unknown event ${printable(unknown.join(', '))}` : 'no event given'}: the events are ${WEBHOOK_EVENTS.join(', ')}`);
  return events;
}

export function registerWebhooks(program: Command): void {
  const webhooks = program.command('webhooks');
  webhooks
    .command('add')
    .description('POST these events to URL, signed with a secret (from --secret, else stdin; never shown again)')
    .argument('<url>', 'an http(s) URL')
    .requiredOption('--events <list>', `comma-separated: ${WEBHOOK_EVENTS.join(', ')}`)
    .option('--secret <secret>', `the signing secret, ${SECRET_MIN}-${SECRET_MAX} characters (else read from stdin, which keeps it out of the process list)`)
    .option('--format <format>', 'json (default), or slack for a Slack incoming webhook', 'json')
    .option('--json', 'print JSON')
    .action(async (url: string, opts: { events: string; secret?: string; format: string; json?: boolean }, cmd: Command) => {
      const events = eventsFrom(opts.events);
      if (opts.format !== 'json' && opts.format !== 'slack') throw new CliError(`unknown format ${printable(opts.format)}: json or slack`);
      const secret = opts.secret ?? (await readValue('Signing secret: '));
      if (secret === '')
        throw new CliError(
          opts.secret === undefined
            ? `no secret: stdin was empty; pipe one in (openssl rand -hex 32 | lazyaf webhooks add ...) or give --secret`
            : 'the secret is empty (try: openssl rand -hex 32)',
        );
      if (secret.length < SECRET_MIN || secret.length > SECRET_MAX)
        throw new CliError(`the secret must be ${SECRET_MIN} to ${SECRET_MAX} characters (try: openssl rand -hex 32)`);
      const hook = await new ApiClient(clientOptions(cmd)).request<Webhook>('POST', '/api/webhooks', { url, events, secret, format: opts.format });
      if (opts.json) return printJson(hook);
      process.stdout.write(printable(`Added webhook ${hook.id} to ${hook.url} for ${hook.events.join(', ')}`) + '\n');
    });
  webhooks
    .command('list', { isDefault: true })
    .description('list the webhooks (never their secrets)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { webhooks: list } = await new ApiClient(clientOptions(cmd)).request<WebhookList>('GET', '/api/webhooks');
      if (opts.json) return printJson(list);
      if (list.length === 0) return void process.stdout.write('No webhooks. Add one with: lazyaf webhooks add URL --events job.finished\n');
      printTable(
        ['ID', 'URL', 'EVENTS', 'FORMAT', 'CREATED'],
        list.map((h) => [h.id, h.url, h.events.join(','), h.format, h.created_at]),
      );
    });
  webhooks
    .command('delete')
    .description('delete a webhook and its deliveries')
    .argument('<id>', WEBHOOK_ARGUMENT_HELP)
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const client = new ApiClient(clientOptions(cmd));
      const hook = await webhookByRef(client, ref);
      await client.request('DELETE', `/api/webhooks/${encodeURIComponent(hook.id)}`);
      process.stdout.write(printable(`Deleted webhook ${hook.id} (${hook.url})`) + '\n');
    });
  webhooks
    .command('deliveries')
    .description('the delivery log, newest first: status, attempts, the last answer, the next try')
    .option('--webhook <id>', `one webhook's deliveries: ${WEBHOOK_ARGUMENT_HELP}`)
    .option('--limit <n>', 'how many (1-500)', '50')
    .option('--json', 'print JSON')
    .action(async (opts: { webhook?: string; limit: string; json?: boolean }, cmd: Command) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500)
        throw new CliError(`--limit must be a whole number from 1 to 500, got ${printable(opts.limit)}`);
      const client = new ApiClient(clientOptions(cmd));
      const webhook = opts.webhook === undefined ? undefined : (await webhookByRef(client, opts.webhook)).id;
      const query = new URLSearchParams({ limit: String(limit), ...(webhook === undefined ? {} : { webhook_id: webhook }) });
      const { deliveries, total } = await client.request<DeliveryList>('GET', `/api/webhooks/deliveries?${query}`);
      if (opts.json) return printJson(deliveries);
      if (deliveries.length === 0) return void process.stdout.write('No deliveries yet.\n');
      printTable(
        ['ID', 'WEBHOOK', 'EVENT', 'STATUS', 'ATTEMPTS', 'LAST ANSWER', 'CREATED', 'NEXT TRY'],
        deliveries.map((d) => [
          d.id,
          d.webhook_id.slice(0, 8),
          d.event,
          d.status,
          String(d.attempts),
          d.last_status_code !== null ? `HTTP ${d.last_status_code}` : (d.last_error ?? '-'),
          d.created_at,
          d.next_attempt_at ?? '-',
        ]),
      );
      if (total > deliveries.length) process.stdout.write(`${deliveries.length} of ${total}; --limit for more\n`);
    });
}
