import { isValidJobKey, JOB_KEY_RULE } from "@qjobs/runtime";
import { cronProblem } from "#local/project";
import { OPTION_NAMES } from "../options.js";
import type { DeclaredSchedule, ExtractedJob, FileExtraction } from "../types.js";
import { readLiteral } from "./literals.js";
import type { TS } from "./parser.js";
import { readDebounce, templateProblems } from "./templates.js";

type Node = import("ts-morph").ts.Node;
type SourceFile = import("ts-morph").ts.SourceFile;
type Problem = FileExtraction["problems"][number];

const RUNTIME = "@qjobs/runtime";

function scriptKind(ts: TS, path: string) {
  if (path.endsWith(".tsx")) return ts.ScriptKind.TSX;
  if (path.endsWith(".jsx")) return ts.ScriptKind.JSX;
  if (/\.[cm]?js$/.test(path)) return ts.ScriptKind.JS;
  return ts.ScriptKind.TS;
}

/** How this file can call createJob: local names of the function, and of namespace imports. */
function createJobBindings(ts: TS, file: SourceFile) {
  const functions = new Set<string>();
  const namespaces = new Set<string>();
  for (const statement of file.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    if (statement.moduleSpecifier.text !== RUNTIME) continue;
    const bindings = statement.importClause?.namedBindings;
    if (!bindings || statement.importClause?.isTypeOnly) continue;
    if (ts.isNamespaceImport(bindings)) namespaces.add(bindings.name.text);
    else {
      for (const element of bindings.elements) {
        if ((element.propertyName ?? element.name).text === "createJob" && !element.isTypeOnly)
          functions.add(element.name.text);
      }
    }
  }
  return { functions, namespaces };
}

/**
 * One declared schedule, checked (cron and zone as QStash takes them, known fields, unique names) and added to
 * `schedules`; returns what is wrong with it instead, if anything.
 */
function addSchedule(value: unknown, schedules: DeclaredSchedule[]): string | undefined {
  const declaration = typeof value === "string" ? { cron: value } : value;
  if (!declaration || typeof declaration !== "object" || Array.isArray(declaration)) {
    return "each schedule is a cron string or { cron, timezone?, payload?, name? }";
  }
  const { cron, timezone, payload, name, ...unknown } = declaration as Record<string, unknown>;
  const extra = Object.keys(unknown).map((field) => `"${field}"`);
  if (extra.length > 0) return `unknown field ${extra.join(", ")} (allowed: cron, timezone, payload, name)`;
  if (typeof cron !== "string") return '"cron" must be a string like "0 9 * * 1-5"';
  if (timezone !== undefined && typeof timezone !== "string") return '"timezone" must be a string like "Europe/Paris"';
  if (name !== undefined && (typeof name !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(name))) {
    return '"name" must be 1-64 characters from A-Z a-z 0-9 _ . -';
  }
  const invalid = cronProblem(cron, timezone);
  if (invalid) return invalid.startsWith("timezone") ? invalid : `cron ${invalid}`;
  if (name !== undefined && schedules.some((other) => other.name === name)) return `the name "${name}" is used twice`;
  schedules.push({
    ...(name !== undefined ? { name } : {}),
    cron,
    timezone: timezone ?? null,
    ...(payload !== undefined ? { payload } : {}),
  });
  return undefined;
}

/** Names under which each top-level local is exported: `export { x }`, `export { x as y }`, `export default x`. */
function localExports(ts: TS, file: SourceFile): Map<string, string[]> {
  const exports = new Map<string, string[]>();
  const add = (local: string, exported: string) => exports.set(local, [...(exports.get(local) ?? []), exported]);
  for (const statement of file.statements) {
    if (
      ts.isExportDeclaration(statement) &&
      !statement.moduleSpecifier &&
      !statement.isTypeOnly &&
      statement.exportClause &&
      ts.isNamedExports(statement.exportClause)
    ) {
      for (const element of statement.exportClause.elements) {
        if (!element.isTypeOnly) add((element.propertyName ?? element.name).text, element.name.text);
      }
    } else if (ts.isExportAssignment(statement) && !statement.isExportEquals && ts.isIdentifier(statement.expression)) {
      add(statement.expression.text, "default");
    }
  }
  return exports;
}

/** The expression a call's value flows into, past parentheses, `as`, `satisfies` and `!`. */
function consumerOf(ts: TS, node: Node): Node {
  let current = node;
  while (
    ts.isParenthesizedExpression(current.parent) ||
    ts.isAsExpression(current.parent) ||
    ts.isSatisfiesExpression(current.parent) ||
    ts.isNonNullExpression(current.parent)
  ) {
    current = current.parent;
  }
  return current.parent;
}

const hasExportModifier = (ts: TS, node: import("ts-morph").ts.VariableStatement) =>
  node.modifiers?.some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword) ?? false;

/**
 * Finds the jobs in one file's text, syntax only: every call of `@qjobs/runtime`'s createJob
 * (also renamed or through a namespace import) with its literal key and the export that holds it.
 * Pure: returns problems with positions instead of throwing.
 */
export function extractJobs(ts: TS, path: string, text: string): FileExtraction {
  const file = ts.createSourceFile(
    path,
    text,
    { languageVersion: ts.ScriptTarget.Latest, jsDocParsingMode: ts.JSDocParsingMode.ParseNone },
    true,
    scriptKind(ts, path),
  );
  const position = (node: Node | number) => {
    const at = typeof node === "number" ? node : node.getStart(file);
    const { line, character } = file.getLineAndCharacterOfPosition(at);
    return { line: line + 1, column: character + 1 };
  };

  // parseDiagnostics is internal to TypeScript but stable for a decade; it holds the syntax errors.
  const syntaxErrors = (file as unknown as { parseDiagnostics: import("ts-morph").ts.DiagnosticWithLocation[] })
    .parseDiagnostics;
  if (syntaxErrors.length > 0) {
    return {
      jobs: [],
      problems: syntaxErrors.map((error) => ({
        ...position(error.start),
        message: `syntax error: ${ts.flattenDiagnosticMessageText(error.messageText, " ")}`,
      })),
    };
  }

  const { functions, namespaces } = createJobBindings(ts, file);
  if (functions.size === 0 && namespaces.size === 0) return { jobs: [], problems: [] };
  const exported = localExports(ts, file);
  const jobs: ExtractedJob[] = [];
  const problems: Problem[] = [];

  const isCreateJob = (callee: Node) =>
    (ts.isIdentifier(callee) && functions.has(callee.text)) ||
    (ts.isPropertyAccessExpression(callee) &&
      ts.isIdentifier(callee.expression) &&
      namespaces.has(callee.expression.text) &&
      callee.name.text === "createJob");

  const visit = (node: Node): void => {
    if (ts.isCallExpression(node) && isCreateJob(node.expression)) inspect(node);
    ts.forEachChild(node, visit);
  };

  function inspect(call: import("ts-morph").ts.CallExpression) {
    const [keyArgument] = call.arguments;
    if (!keyArgument || !(ts.isStringLiteral(keyArgument) || ts.isNoSubstitutionTemplateLiteral(keyArgument))) {
      problems.push({
        ...position(keyArgument ?? call),
        message: 'the job key must be a string literal, like createJob("send-email", ...)',
      });
      return;
    }
    const key = keyArgument.text;
    if (!isValidJobKey(key)) {
      const bad = [...new Set(key.replace(/[A-Za-z0-9._:/-]/g, ""))].map((char) => JSON.stringify(char));
      const why =
        bad.length > 0
          ? `${bad.join(", ")} ${bad.length === 1 ? "is" : "are"} not allowed`
          : `it has ${key.length} characters`;
      problems.push({
        ...position(keyArgument),
        message: `invalid job key ${JSON.stringify(key)}: ${why} (use ${JOB_KEY_RULE})`,
      });
      return;
    }
    const at = position(call);
    const definition = definitionOf(call.arguments[1]);
    const declared = readSchedules(key, definition);
    const bareCron = declared.some((schedule) => schedule.payload === undefined);
    const payloadNeed = bareCron ? payloadRequirement(definition) : "none";
    if (payloadNeed === "required") {
      problems.push({
        ...position(call),
        message: `job "${key}" has a schedule without a payload, but its handler requires one: give the schedule a payload ({ cron, payload }), or make the parameter optional`,
      });
    }
    const options = readOptions(key, definition);
    for (const message of templateProblems(key, options, declared)) problems.push({ ...position(call), message });
    const failureHook = hasProperty(definition, "onFailure");
    if (failureHook && options.failureCallback !== undefined) {
      problems.push({
        ...position(call),
        message: `job "${key}" declares both onFailure and failureCallback: QStash calls one failure callback per message; keep one`,
      });
    }
    const debounce = readDebounceOf(key, definition, options);
    const schedules = {
      ...(declared.length > 0 ? { schedules: declared } : {}),
      ...(payloadNeed === "unknown" ? { bareCronUnchecked: true } : {}),
      ...(Object.keys(options).length > 0 ? { options } : {}),
      ...(failureHook ? { failureHook: true } : {}),
      ...(debounce ? { debounce } : {}),
    };
    const consumer = consumerOf(ts, call);
    if (ts.isExportAssignment(consumer) && !consumer.isExportEquals) {
      jobs.push({ key, exportName: "default", ...at, ...schedules });
      return;
    }
    const notExported = `job "${key}" is not exported: define it as \`export const name = createJob(...)\` at the top level`;
    if (!ts.isVariableDeclaration(consumer) || !ts.isIdentifier(consumer.name)) {
      problems.push({ ...at, message: notExported });
      return;
    }
    const list = consumer.parent;
    const statement = list.parent;
    if (!ts.isVariableStatement(statement) || statement.parent !== file) {
      problems.push({ ...at, message: notExported });
      return;
    }
    const name = consumer.name.text;
    const exportNames = hasExportModifier(ts, statement) ? [name] : (exported.get(name) ?? []);
    if (exportNames.length === 0) {
      problems.push({ ...at, message: notExported });
      return;
    }
    if (!(list.flags & ts.NodeFlags.Const)) {
      problems.push({ ...at, message: `job "${key}" must be a const: \`export const ${name} = createJob(...)\`` });
      return;
    }
    // A job exported under several names is registered once, under its first name.
    jobs.push({ key, exportName: exportNames[0] as string, ...at, ...schedules });
  }

  /**
   * The object literal that defines a job: written inline, or a top-level const of this file. A handler (a
   * function, or a name this file does not define, which is taken for an imported handler) has no options.
   */
  function definitionOf(argument: Node | undefined): Node | undefined {
    let node = argument;
    for (let depth = 0; node && ts.isIdentifier(node) && depth < 4; depth++) {
      const name: string = node.text;
      const statement = file.statements.find(
        (candidate) =>
          ts.isVariableStatement(candidate) &&
          candidate.declarationList.declarations.some(
            (declaration) => ts.isIdentifier(declaration.name) && declaration.name.text === name,
          ),
      ) as import("ts-morph").ts.VariableStatement | undefined;
      node = statement?.declarationList.declarations.find(
        (declaration) => ts.isIdentifier(declaration.name) && declaration.name.text === name,
      )?.initializer;
    }
    while (node && (ts.isAsExpression(node) || ts.isSatisfiesExpression(node) || ts.isParenthesizedExpression(node))) {
      node = node.expression;
    }
    return node;
  }

  /**
   * Whether a job's handler needs a payload, as far as the text tells without the type checker (a bare cron
   * fires with none, issue 21): "required" when its parameter is annotated in place with a type that plainly
   * excludes undefined (an object literal type, an array, string...), "none" when it takes none or an optional
   * one, "unknown" when a schema or a named type decides (tsc checks that, under strictNullChecks).
   */
  function payloadRequirement(definition: Node | undefined): "required" | "none" | "unknown" {
    let handler = definition;
    if (definition && ts.isObjectLiteralExpression(definition)) {
      if (hasProperty(definition, "schema")) return "unknown";
      const property = propertyNamed(definition, "handler");
      handler =
        property && ts.isPropertyAssignment(property)
          ? property.initializer
          : property && ts.isMethodDeclaration(property)
            ? property
            : undefined;
    }
    if (
      !handler ||
      !(ts.isArrowFunction(handler) || ts.isFunctionExpression(handler) || ts.isMethodDeclaration(handler))
    )
      return "unknown";
    const [parameter] = handler.parameters;
    if (!parameter || parameter.questionToken || parameter.initializer) return "none";
    const type = parameter.type;
    if (!type) return "none"; // the payload type defaults to undefined
    return plainlyRequired(type) ? "required" : isOptionalType(type) ? "none" : "unknown";
  }

  function plainlyRequired(type: import("ts-morph").ts.TypeNode): boolean {
    const { SyntaxKind } = ts;
    if (ts.isTypeLiteralNode(type) || ts.isArrayTypeNode(type) || ts.isTupleTypeNode(type)) return true;
    if (ts.isLiteralTypeNode(type)) return type.literal.kind !== SyntaxKind.NullKeyword;
    if (ts.isParenthesizedTypeNode(type)) return plainlyRequired(type.type);
    if (ts.isUnionTypeNode(type)) return type.types.every(plainlyRequired);
    return [SyntaxKind.StringKeyword, SyntaxKind.NumberKeyword, SyntaxKind.BooleanKeyword].includes(type.kind);
  }

  function isOptionalType(type: import("ts-morph").ts.TypeNode): boolean {
    const { SyntaxKind } = ts;
    if (ts.isUnionTypeNode(type)) return type.types.some(isOptionalType);
    if (ts.isParenthesizedTypeNode(type)) return isOptionalType(type.type);
    return [
      SyntaxKind.UndefinedKeyword,
      SyntaxKind.VoidKeyword,
      SyntaxKind.UnknownKeyword,
      SyntaxKind.AnyKeyword,
    ].includes(type.kind);
  }

  /** A property of a job's definition object, named plainly or quoted (`handler`, `"handler"`), or undefined. */
  function propertyNamed(definition: Node | undefined, name: string) {
    if (!definition || !ts.isObjectLiteralExpression(definition)) return undefined;
    return definition.properties.find(
      (property) =>
        property.name !== undefined &&
        (ts.isIdentifier(property.name) || ts.isStringLiteral(property.name)) &&
        property.name.text === name,
    );
  }

  /** Whether a job's definition object declares a property (written inline or as a shorthand). */
  function hasProperty(definition: Node | undefined, name: string): boolean {
    return propertyNamed(definition, name) !== undefined;
  }

  /** The node holding a property's value: its initializer, or a shorthand's name; undefined for a method. */
  function propertyValue(definition: Node | undefined, name: string): Node | undefined {
    const property = propertyNamed(definition, name);
    if (property && ts.isPropertyAssignment(property)) return property.initializer;
    if (property && ts.isShorthandPropertyAssignment(property)) return property.name;
    return undefined;
  }

  /**
   * A job's declared QStash options (retries, timeout, flow control...), read statically so that every way of
   * dispatching (and its schedules) applies them without importing the job: each must be a literal, or a
   * same-file constant holding one; anything else is a diagnostic, never an option silently dropped.
   */
  function readOptions(key: string, definition: Node | undefined): Record<string, unknown> {
    if (!definition || !ts.isObjectLiteralExpression(definition)) return {};
    const options: Record<string, unknown> = {};
    for (const property of definition.properties) {
      if (ts.isSpreadAssignment(property)) {
        problems.push({
          ...position(property),
          message: `the options of job "${key}" cannot be spread in: write them out, as literals`,
        });
        continue;
      }
      if (!property.name || !(ts.isIdentifier(property.name) || ts.isStringLiteral(property.name))) continue;
      const name = property.name.text;
      if (!OPTION_NAMES.includes(name)) continue;
      const node = ts.isPropertyAssignment(property)
        ? property.initializer
        : ts.isShorthandPropertyAssignment(property)
          ? property.name
          : property;
      const literal = readLiteral(ts, file, node);
      if (!literal.ok) {
        problems.push({
          ...position(literal.node),
          message: `option "${name}" of job "${key}" must be a literal (or a same-file constant holding one), so that every dispatch applies it: ${literal.why}`,
        });
        continue;
      }
      if (literal.value !== undefined) options[name] = literal.value;
    }
    return options;
  }

  /** A job's `debounce`, read statically like its options; every problem becomes a diagnostic. */
  function readDebounceOf(key: string, definition: Node | undefined, options: Record<string, unknown>) {
    const node = propertyValue(definition, "debounce");
    if (!node) return undefined;
    const literal = readLiteral(ts, file, node);
    if (!literal.ok) {
      problems.push({
        ...position(literal.node),
        message: `the debounce of job "${key}" must be a literal, so that every dispatch applies it: ${literal.why}`,
      });
      return undefined;
    }
    const read = readDebounce(key, literal.value, options);
    if ("problem" in read) {
      problems.push({ ...position(node), message: read.problem });
      return undefined;
    }
    return read.debounce;
  }

  /**
   * A job's `schedule`, read statically: a cron string, `{ cron, timezone?, payload?, name? }`, or an array of
   * them, as literals (or same-file constants holding literals). Every problem becomes a diagnostic.
   */
  function readSchedules(key: string, definition: Node | undefined): DeclaredSchedule[] {
    const node = propertyValue(definition, "schedule");
    if (!node) return [];
    const literal = readLiteral(ts, file, node);
    if (!literal.ok) {
      problems.push({
        ...position(literal.node),
        message: `the schedule of job "${key}" must be a literal (a cron string, { cron, timezone?, payload?, name? }, or an array of them): ${literal.why}`,
      });
      return [];
    }
    const elements = ts.isArrayLiteralExpression(node) ? [...node.elements] : [node];
    const values = Array.isArray(literal.value) ? literal.value : [literal.value];
    const schedules: DeclaredSchedule[] = [];
    for (const [index, value] of values.entries()) {
      const problem = addSchedule(value, schedules);
      if (problem)
        problems.push({ ...position(elements[index] ?? node), message: `schedule of job "${key}": ${problem}` });
    }
    return schedules;
  }

  visit(file);
  return { jobs, problems };
}
