import type { TS } from "./parser.js";

type Node = import("ts-morph").ts.Node;
type SourceFile = import("ts-morph").ts.SourceFile;

/** A value read from source without running it, or why it cannot be: the node that is not a literal. */
export type Literal = { ok: true; value: unknown } | { ok: false; node: Node; why: string };

/**
 * Reads a JSON-like literal from syntax alone: strings, numbers, booleans, null, arrays and object literals of
 * those, through `as const`, `satisfies`, parentheses, and identifiers naming a top-level `const` of this file
 * holding such a literal. Pure, and it runs no code: what it cannot read is reported with its node.
 */
export function readLiteral(ts: TS, file: SourceFile, node: Node, depth = 0): Literal {
  const fail = (at: Node, why: string): Literal => ({ ok: false, node: at, why });
  if (depth > 8) return fail(node, "it refers to itself or nests too deeply");
  if (
    ts.isParenthesizedExpression(node) ||
    ts.isAsExpression(node) ||
    ts.isSatisfiesExpression(node) ||
    ts.isTypeAssertionExpression(node)
  ) {
    return readLiteral(ts, file, node.expression, depth);
  }
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return { ok: true, value: node.text };
  if (ts.isNumericLiteral(node)) return { ok: true, value: Number(node.text) };
  if (
    ts.isPrefixUnaryExpression(node) &&
    node.operator === ts.SyntaxKind.MinusToken &&
    ts.isNumericLiteral(node.operand)
  ) {
    return { ok: true, value: -Number(node.operand.text) };
  }
  if (node.kind === ts.SyntaxKind.TrueKeyword) return { ok: true, value: true };
  if (node.kind === ts.SyntaxKind.FalseKeyword) return { ok: true, value: false };
  if (node.kind === ts.SyntaxKind.NullKeyword) return { ok: true, value: null };
  if (ts.isArrayLiteralExpression(node)) {
    const values: unknown[] = [];
    for (const element of node.elements) {
      if (ts.isSpreadElement(element)) return fail(element, "a spread is not a literal");
      const item = readLiteral(ts, file, element, depth + 1);
      if (!item.ok) return item;
      values.push(item.value);
    }
    return { ok: true, value: values };
  }
  if (ts.isObjectLiteralExpression(node)) {
    const value: Record<string, unknown> = {};
    for (const property of node.properties) {
      if (!ts.isPropertyAssignment(property) && !ts.isShorthandPropertyAssignment(property)) {
        return fail(property, "only `name: value` properties are literals (no spreads, methods or accessors)");
      }
      const name = property.name;
      if (!ts.isIdentifier(name) && !ts.isStringLiteral(name) && !ts.isNumericLiteral(name)) {
        return fail(name, "a computed property name is not a literal");
      }
      const item = ts.isShorthandPropertyAssignment(property)
        ? readLiteral(ts, file, property.name, depth + 1)
        : readLiteral(ts, file, property.initializer, depth + 1);
      if (!item.ok) return item;
      value[name.text] = item.value;
    }
    return { ok: true, value };
  }
  if (ts.isIdentifier(node)) {
    if (node.text === "undefined") return { ok: true, value: undefined };
    const initializer = topLevelConst(ts, file, node.text);
    if (!initializer) return fail(node, `\`${node.text}\` is not a top-level const of this file holding a literal`);
    return readLiteral(ts, file, initializer, depth + 1);
  }
  return fail(node, "it is computed at run time, not a literal");
}

/** The initializer of `const name = ...` at the top level of the file, if there is one. */
function topLevelConst(ts: TS, file: SourceFile, name: string): Node | undefined {
  for (const statement of file.statements) {
    if (!ts.isVariableStatement(statement) || !(statement.declarationList.flags & ts.NodeFlags.Const)) continue;
    for (const declaration of statement.declarationList.declarations) {
      if (ts.isIdentifier(declaration.name) && declaration.name.text === name) return declaration.initializer;
    }
  }
  return undefined;
}
