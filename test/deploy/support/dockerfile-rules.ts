/** lvseg's rules for Dockerfile.gpu, checked on the dockerfile-ast parse; [] when the file follows them all. */
import { DockerfileParser, From, Instruction } from 'dockerfile-ast';
import { imagePinProblem } from './manifest-rules';

const substitute = (s: string, vars: Record<string, string>) =>
  s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, a: string | undefined, b: string | undefined) => vars[(a ?? b)!] ?? '');

export interface ParsedDockerfile {
  /** Defaults of the ARGs declared before the first FROM. */
  args: Record<string, string>;
  froms: From[];
  stageNames: Array<string | null>;
  /** The instructions of the stage a FROM starts. */
  stage(from: From): Instruction[];
  /** A FROM's image with the global ARGs substituted. */
  image(from: From, overrides?: Record<string, string>): string;
}

export function parseDockerfile(text: string): ParsedDockerfile {
  const d = DockerfileParser.parse(text);
  const args = Object.fromEntries(d.getInitialARGs().map((a) => [a.getProperty()!.getName(), a.getProperty()!.getValue() ?? '']));
  const froms = d.getFROMs();
  return {
    args,
    froms,
    stageNames: froms.map((f) => f.getBuildStage()),
    stage(from) {
      const start = from.getRange().start.line;
      const next = froms.find((f) => f.getRange().start.line > start)?.getRange().start.line ?? Infinity;
      return d.getInstructions().filter((i) => i.getRange().start.line >= start && i.getRange().start.line < next);
    },
    image: (from, overrides = {}) => substitute(from.getImage() ?? '', { ...args, ...overrides }),
  };
}

/** Pinned bases for every variant, a numeric non-root final user, a /health/live HEALTHCHECK, no compilers at run time. */
export function dockerfileViolations(text: string, variants: string[] = ['gpu', 'cpu']): string[] {
  const v: string[] = [];
  const p = parseDockerfile(text);
  if (p.froms.length === 0) return ['no FROM'];
  for (const variant of variants) {
    // Only the stages the final one needs are built (FROM <stage>, COPY --from=<stage>), so only they must resolve.
    const needed = new Set<number>();
    const visit = (k: number) => {
      if (needed.has(k)) return;
      needed.add(k);
      const uses = [p.image(p.froms[k], { VARIANT: variant }), ...p.stage(p.froms[k]).map((i) => /--from=(\S+)/.exec(i.getTextContent())?.[1])];
      for (const name of uses) {
        const j = p.stageNames.slice(0, k).lastIndexOf(name ?? null);
        if (name && j >= 0) visit(j);
      }
    };
    visit(p.froms.length - 1);
    for (const k of [...needed].sort((a, b) => a - b)) {
      const image = p.image(p.froms[k], { VARIANT: variant });
      if (p.stageNames.slice(0, k).includes(image)) continue;
      // Not an earlier stage, so an image from a registry: it must be pinned.
      const pin = imagePinProblem(image);
      if (pin) v.push(`VARIANT=${variant}: FROM ${pin}`);
    }
  }
  const final = p.stage(p.froms.at(-1)!);
  const users = final.filter((i) => i.getKeyword() === 'USER');
  const user = users.at(-1)?.getArgumentsContent()?.trim();
  if (!user) v.push('final stage: no USER (runs as root)');
  else {
    const uid = user.split(':')[0];
    if (!/^\d+$/.test(uid)) v.push(`final stage: USER ${user} is not numeric (Kubernetes cannot verify runAsNonRoot)`);
    else if (Number(uid) === 0) v.push(`final stage: USER ${user} is root`);
  }
  const healthchecks = final.filter((i) => i.getKeyword() === 'HEALTHCHECK');
  if (healthchecks.length === 0) v.push('final stage: no HEALTHCHECK');
  else if (!/\/health\/live\b/.test(healthchecks.at(-1)!.getArgumentsContent() ?? '')) v.push('final stage: HEALTHCHECK does not probe /health/live');
  for (const i of final) {
    if (i.getKeyword() === 'RUN' && /apt-get install[^&]*\s(g\+\+|gcc|make|python3|build-essential)(?=\s|$)/.test(i.getArgumentsContent() ?? '')) {
      v.push(`final stage: installs build tools (${(i.getArgumentsContent() ?? '').slice(0, 60)}…)`);
    }
  }
  return v;
}
