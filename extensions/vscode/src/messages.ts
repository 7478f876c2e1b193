// Messages that are never cut off: a short one is a plain notification; a long one is shown as
// its first sentence with a "Show details" button that opens the whole text in a modal dialog
// (with the same buttons). `summarize` is pure and unit-tested.
import * as vscode from 'vscode';

export const TOAST_CHARS = 160;
export const SHOW_DETAILS = 'Show details';

export type Kind = 'info' | 'warning' | 'error';

/** The whole message when it fits a notification; else its first sentence (or its first words)
 *  and `cut: true`. */
export function summarize(message: string, max = TOAST_CHARS): { text: string; cut: boolean } {
    const clean = message.trim();
    if (clean.length <= max) return { text: clean, cut: false };
    const sentence = /^(.+?[.!?])(\s|$)/s.exec(clean)?.[1];
    if (sentence && sentence.length <= max) return { text: sentence, cut: true };
    const words = clean.slice(0, max - 1);
    const space = words.lastIndexOf(' ');
    return { text: `${space > max / 2 ? words.slice(0, space) : words}…`, cut: true };
}

function show(kind: Kind, message: string, options: vscode.MessageOptions, buttons: string[]): Thenable<string | undefined> {
    if (kind === 'error') return vscode.window.showErrorMessage(message, options, ...buttons);
    if (kind === 'warning') return vscode.window.showWarningMessage(message, options, ...buttons);
    return vscode.window.showInformationMessage(message, options, ...buttons);
}

/** A notification with `buttons`; a long `message` gets "Show details" (the full text, modal). */
export async function notify(kind: Kind, message: string, ...buttons: string[]): Promise<string | undefined> {
    const { text, cut } = summarize(message);
    if (!cut) return show(kind, text, {}, buttons);
    const choice = await show(kind, text, {}, [...buttons, SHOW_DETAILS]);
    if (choice !== SHOW_DETAILS) return choice;
    return explain(kind, text, message, ...buttons);
}

/** A modal dialog: `title` in bold, `detail` in full below it. */
export function explain(kind: Kind, title: string, detail: string, ...buttons: string[]): Thenable<string | undefined> {
    return show(kind, title, { modal: true, detail }, buttons);
}
