/**
 * CSV as spreadsheets read it (RFC 4180: CRLF line ends, fields with a comma, quote or line break
 * quoted, quotes doubled), for every CSV download the companion offers. Text that users or
 * rosters supply goes through `inert`: a spreadsheet opening the file must not run it as a formula.
 */

export type Cell = string | number;

/** Text a spreadsheet will show as text, never evaluate: a leading = + - @ tab or CR gets a '. */
export const inert = (text: string) => (/^[=+\-@\t\r]/.test(text) ? `'${text}` : text);

export function csvField(value: Cell): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csv(rows: Cell[][]): string {
  return rows.map(r => r.map(csvField).join(',') + '\r\n').join('');
}
