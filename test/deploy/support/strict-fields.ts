/**
 * Unknown-field check for rendered Kubernetes objects. kubernetes-models' JSON schema accepts unknown fields (a typo
 * such as `terminationGracePeriod` would pass it and be dropped or refused by the API server), so each object is also
 * type-checked as an object literal of its kubernetes-models TypeScript interface: TypeScript's excess-property check
 * names every field the API does not have, at any depth.
 */
import { join } from 'node:path';
import * as ts from 'typescript';
import { repoRoot } from '@lvseg/common';
import { K8sObject, objectId } from './kustomize';

/** One message per unknown or mistyped field; [] when every object has only fields its API type declares. */
export function unknownFieldViolations(objects: K8sObject[]): string[] {
  if (objects.length === 0) return [];
  // A virtual file inside the repository so that `kubernetes-models` resolves from its node_modules.
  const virtualFile = join(repoRoot(), 'test', 'deploy', '__rendered-objects__.ts');
  const imports = objects.map((o, i) => `import type { I${o.kind} as T${i} } from 'kubernetes-models/${o.apiVersion}/${o.kind}';`);
  const owners: Array<{ from: number; to: number; object: K8sObject }> = [];
  let line = imports.length; // 0-based line of the next declaration
  const declarations = objects.map((o, i) => {
    const text = `export const o${i}: T${i} = ${JSON.stringify(o, null, 2)};`;
    const count = text.split('\n').length;
    owners.push({ from: line, to: line + count, object: o });
    line += count;
    return text;
  });
  const source = [...imports, ...declarations].join('\n');

  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, onError) => (name === virtualFile ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, onError));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === virtualFile || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === virtualFile ? source : readFile(name));

  const program = ts.createProgram([virtualFile], options, host);
  const file = program.getSourceFile(virtualFile)!;
  const diagnostics = [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)];
  return diagnostics.map((d) => {
    const line = d.start === undefined ? -1 : file.getLineAndCharacterOfPosition(d.start).line;
    const owner = owners.find((x) => line >= x.from && line < x.to);
    // Keys are written as JSON strings; show them as field names.
    const text = ts.flattenDiagnosticMessageText(d.messageText, ' ').replace(/'"([^"']*)"'/g, "'$1'");
    return `${owner ? objectId(owner.object) : 'imports'}: fields: ${text}`;
  });
}
