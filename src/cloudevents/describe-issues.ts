import type { z } from 'zod';

// Dead-letter descriptions travel as an application property; keep them well inside its limits.
const maxDescriptionLength = 2048;

/** `lines[0].quantity` from `['lines', 0, 'quantity']`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else text += text === '' ? String(key) : `.${String(key)}`;
  }
  return text;
}

/**
 * One line naming every failing field and what it expected, so an upstream team can fix the
 * publisher from the dead-letter description alone.
 */
export function describeIssues(
  error: z.ZodError,
  input: unknown,
  name: (path: readonly PropertyKey[]) => string = formatPath,
): string {
  const parts = error.issues.map((issue) => {
    const missing = issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined;
    return `${name(issue.path)}: ${missing ? 'is missing' : issue.message}`;
  });
  return truncate(parts.join('; '));
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** Cuts a description to what a dead-letter property carries, saying that it was cut. */
export function truncate(text: string, max = maxDescriptionLength): string {
  return text.length <= max ? text : `${text.slice(0, max - 15)}… (truncated)`;
}
