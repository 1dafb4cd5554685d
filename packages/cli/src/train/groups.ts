/**
 * Parameter groups as data. `--lr` takes either one number (every trainable parameter at that rate),
 * a list `head=1e-3,layer4=1e-4,backbone=1e-5` (group names below), or a JSON file:
 *   [{ "name": "head", "params": "head.**", "lr": 1e-3, "weightDecay": 1e-4 }, { "params": "backbone.**", "lr": 1e-5 }]
 * where `params` is a glob over parameter names (`*` within a segment, `**` across) or `/regex/`.
 * `--wd` takes the same `name=value` list for per-group weight decay.
 *
 * Short names: `head` -> head.**; `backbone` -> every trainable backbone parameter no other group
 * names; a unit name (`layer4`, `features.17`, `block5`, `stem`) -> that unit's parameters. Trainable
 * parameters no group names train at `default=` if given, else at the lowest rate listed
 * (fine-tuning's safe side).
 */
import { existsSync, readFileSync } from 'node:fs';
import { globToRegExp, type ParamGroupSpec } from '@graft/autograd';
import Table from 'cli-table3';

export class GroupSpecError extends Error {
  override name = 'GroupSpecError';
}

export interface GroupContext {
  /** Each backbone unit's parameter names under the model, e.g. 'layer4' -> ['backbone.layer4.0.conv1.weight', …]. */
  unitParams: ReadonlyMap<string, readonly string[]>;
  /** The names of the parameters that train. */
  trainable: readonly string[];
}

function parseNumber(text: string, what: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) throw new GroupSpecError(`${what}: expected a non-negative number, found '${text}'`);
  return value;
}

function pattern(p: unknown, where: string): string | RegExp {
  if (typeof p !== 'string' || p === '') throw new GroupSpecError(`${where}: "params" must be a glob or "/regex/" string, found ${JSON.stringify(p)}`);
  const regex = /^\/(.+)\/([a-z]*)$/.exec(p);
  if (!regex) return p;
  try {
    return new RegExp(regex[1]!, regex[2]);
  } catch (e) {
    throw new GroupSpecError(`${where}: bad regular expression ${p} (${(e as Error).message})`);
  }
}

function fromJson(file: string): ParamGroupSpec[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new GroupSpecError(`${file}: cannot read the parameter-group config (${(e as Error).message})`);
  }
  if (!Array.isArray(json) || json.length === 0) throw new GroupSpecError(`${file}: expected a non-empty JSON array of groups`);
  return json.map((g, i) => {
    const where = `${file}: group ${i}`;
    if (typeof g !== 'object' || g === null) throw new GroupSpecError(`${where}: expected an object`);
    const o = g as Record<string, unknown>;
    const spec: ParamGroupSpec = { params: pattern(o.params, where), name: typeof o.name === 'string' ? o.name : `group${i}` };
    if (o.lr !== undefined) spec.lr = parseNumber(String(o.lr), `${where}: lr`);
    if (o.weightDecay !== undefined) spec.weightDecay = parseNumber(String(o.weightDecay), `${where}: weightDecay`);
    if (o.frozen !== undefined) spec.frozen = o.frozen === true;
    return spec;
  });
}

function parsePairs(text: string, flag: string): Map<string, number> {
  const pairs = new Map<string, number>();
  for (const part of text.split(',')) {
    const [key, value, extra] = part.split('=');
    if (!key || value === undefined || extra !== undefined) throw new GroupSpecError(`${flag}: expected name=value pairs separated by commas (e.g. head=1e-3,layer4=1e-4), found '${part}'`);
    if (pairs.has(key.trim())) throw new GroupSpecError(`${flag}: '${key.trim()}' is given twice`);
    pairs.set(key.trim(), parseNumber(value, `${flag} ${key.trim()}`));
  }
  return pairs;
}

/**
 * The optimizer groups for `--lr` / `--wd` (see the file comment). `trainable` lists the trainable
 * parameter names, to resolve VGG blocks and to refuse a group that selects nothing trainable.
 */
export function parameterGroups(lr: string, wd: string | undefined, context: GroupContext): ParamGroupSpec[] {
  const { unitParams, trainable } = context;
  if (existsSync(lr) && !/^[\d.eE+-]+$/.test(lr)) return applyWd(fromJson(lr), wd);
  if (/^[\d.eE+-]+$/.test(lr.trim())) return applyWd([{ name: 'all', params: '**', lr: parseNumber(lr, '--lr') }], wd);
  const pairs = parsePairs(lr, '--lr');
  const groups: ParamGroupSpec[] = [];
  let fallback: number | undefined = pairs.get('default');
  for (const [name, rate] of pairs) {
    if (name === 'default') continue;
    let list: string[];
    if (name === 'head') list = ['head.**'];
    else if (name === 'backbone') list = ['backbone.**'];
    else if (unitParams.has(name)) list = unitParams.get(name)!.filter((p) => trainable.includes(p));
    else throw new GroupSpecError(`--lr: unknown group '${name}' (use head, backbone, default, or a unit: ${[...unitParams.keys()].join(', ')})`);
    const selects = trainable.some((t) => list.some((p) => globMatch(p, t)));
    if (!selects) throw new GroupSpecError(`--lr: group '${name}' selects no trainable parameter (is it frozen? see --unfreeze-last)`);
    groups.push({ name, params: list.length === 1 && list[0]!.includes('*') ? list[0]! : list, lr: rate });
    fallback = fallback === undefined ? rate : Math.min(fallback, rate);
  }
  // 'backbone' above is a catch-all over the backbone; everything else nobody named goes to the fallback.
  const named = new Set(groups.map((g) => g.name));
  if (named.has('backbone')) {
    const backbone = groups.find((g) => g.name === 'backbone')!;
    backbone.params = '**';
  } else if (trainable.some((t) => !groups.some((g) => [g.params as string | string[]].flat().some((p) => globMatch(p, t))))) {
    groups.push({ name: 'rest', params: '**', lr: fallback! });
  }
  return applyWd(groups, wd);
}

function applyWd(groups: ParamGroupSpec[], wd: string | undefined): ParamGroupSpec[] {
  if (wd === undefined) return groups;
  if (/^[\d.eE+-]+$/.test(wd.trim())) {
    const value = parseNumber(wd, '--wd');
    return groups.map((g) => ({ ...g, weightDecay: g.weightDecay ?? value }));
  }
  const pairs = parsePairs(wd, '--wd');
  for (const name of pairs.keys()) if (!groups.some((g) => g.name === name)) throw new GroupSpecError(`--wd: no group '${name}' (groups: ${groups.map((g) => g.name).join(', ')})`);
  return groups.map((g) => (pairs.has(g.name!) ? { ...g, weightDecay: pairs.get(g.name!)! } : g));
}

/** Whether a glob (autograd's rule: `*` within a segment, `**` across) matches a parameter name. */
export function globMatch(glob: string, name: string): boolean {
  return globToRegExp(glob).test(name);
}

export interface GroupRow {
  name: string;
  tensors: number;
  parameters: number;
  lr: number;
  weightDecay: number;
  batchNorm: string;
}

/** The `--dry-run` table: each group's tensors, parameter count, lr, weight decay and BN modes. */
export function formatGroupTable(rows: readonly GroupRow[]): string {
  const table = new Table({ head: ['group', 'tensors', 'parameters', 'lr', 'weight decay', 'batch norm'], style: { head: [], border: [] } });
  for (const r of rows) table.push([r.name, r.tensors, r.parameters.toLocaleString('en-US'), r.lr.toExponential(2), r.weightDecay.toExponential(2), r.batchNorm]);
  return table.toString();
}
