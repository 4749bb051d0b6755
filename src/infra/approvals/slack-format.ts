/**
 * Escaping for Slack mrkdwn (https://api.slack.com/reference/surfaces/formatting#escaping).
 *
 * Everything interpolated into a notification — the statement, but also
 * subjects, connection names, table names and approvers' reasons — comes
 * from someone other than the approvers reading it, so each is treated as
 * hostile:
 *   - `&`, `<`, `>` become `&amp;` `&lt;` `&gt;` (Slack's own rule): no
 *     `<https://evil|click>` links, no `<!channel>` / `<@U123>` mentions;
 *   - every value is wrapped in inline code or a code block, so `*bold*`,
 *     `_italic_`, `~strike~` and `>` quotes are shown as typed; backticks
 *     inside are replaced by U+02CB (ˋ) so the value cannot close its own
 *     code span;
 *   - plain-text mentions (`@channel`, `@here`, `@everyone`, `@user`) get a
 *     U+2060 WORD JOINER after the `@`, so no client setting (`link_names`)
 *     turns them into a notification;
 *   - control characters are removed, values are truncated.
 */

const MODIFIER_GRAVE = '\u02CB';
const WORD_JOINER = '\u2060';

/** Slack's three entities, plus neutralised mentions and no control characters. */
export function escapeSlack(text: string): string {
  return (
    text
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\u200B-\u200F\u202A-\u202E\u2066-\u2069]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/@(?=[\p{L}\p{N}_.-])/gu, `@${WORD_JOINER}`)
  );
}

function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max).join('')}…`;
}

/** A single-line value as inline code. */
export function slackInline(value: string, max = 200): string {
  const v = escapeSlack(truncate(value.replace(/[\r\n\t]+/g, ' '), max)).replace(/`/g, MODIFIER_GRAVE);
  return `\`${v === '' ? ' ' : v}\``;
}

/** A multi-line value (a statement) as a code block. */
export function slackCodeBlock(value: string, max = 2000): string {
  const v = escapeSlack(truncate(value, max)).replace(/`/g, MODIFIER_GRAVE);
  return `\`\`\`\n${v}\n\`\`\``;
}
