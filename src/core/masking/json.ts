/**
 * Rewrites the string and number tokens of JSON text in place, leaving
 * everything else (whitespace, key order, duplicate keys of `json`) as it
 * was. A tokenizer rather than JSON.parse because parse/stringify would lose
 * big-number precision (a card number stored as a JSON number has 16-19
 * digits, beyond float64) and `json` formatting, and would cost an object
 * tree per value.
 *
 * Keys are offered too: `jsonb_object_agg(ssn, …)` puts values in keys.
 */

export interface JsonLeaf {
  kind: 'string' | 'number';
  /** Decoded string value, or the number's text. */
  text: string;
  /** True for an object key (must stay a string). */
  key: boolean;
}

/** `fn` returns replacement text (a string for strings/keys, a number literal for numbers), null for JSON null, or undefined to keep. */
export function rewriteJsonText(json: string, fn: (leaf: JsonLeaf) => string | null | undefined): string | undefined {
  let out: string[] | undefined;
  let last = 0;
  let i = 0;
  const n = json.length;
  while (i < n) {
    const c = json.charCodeAt(i);
    if (c === 0x22) {
      // String: find the closing quote, skipping escapes.
      let j = i + 1;
      while (j < n && json.charCodeAt(j) !== 0x22) j += json.charCodeAt(j) === 0x5c ? 2 : 1;
      const end = Math.min(j + 1, n);
      let k = end;
      while (k < n && /\s/.test(json[k]!)) k++;
      const key = json[k] === ':';
      let decoded: string;
      try {
        decoded = JSON.parse(json.slice(i, end)) as string;
      } catch {
        decoded = json.slice(i + 1, end - 1); // malformed escape: scan the raw text
      }
      const r = fn({ kind: 'string', text: decoded, key });
      if (r !== undefined) {
        out ??= [];
        out.push(json.slice(last, i), r === null ? (key ? '""' : 'null') : JSON.stringify(r));
        last = end;
      }
      i = end;
      continue;
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const m = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
      m.lastIndex = i;
      const hit = m.exec(json);
      if (hit === null) {
        i++;
        continue;
      }
      const end = i + hit[0].length;
      const r = fn({ kind: 'number', text: hit[0], key: false });
      if (r !== undefined) {
        out ??= [];
        out.push(json.slice(last, i), r === null ? 'null' : r);
        last = end;
      }
      i = end;
      continue;
    }
    i++;
  }
  if (out === undefined) return undefined;
  out.push(json.slice(last));
  return out.join('');
}
