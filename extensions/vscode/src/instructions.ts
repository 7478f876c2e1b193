// The instruction history: most recent first, no duplicates, bounded; pure so it is unit-tested.
export const MAX_RECENT = 20;

export function remember(recent: readonly string[], instruction: string, max = MAX_RECENT): string[] {
    const text = instruction.trim();
    if (!text) return [...recent];
    return [text, ...recent.filter((r) => r !== text)].slice(0, max);
}

export interface InstructionItem {
    label: string;
    description?: string;
    /** never filtered out by what is typed (the "as typed" item) */
    alwaysShow?: boolean;
    /** the item that stands for what is typed: accepting it runs the input box's text */
    typed?: boolean;
}

export const TYPED_PLACEHOLDER = 'Type an instruction (or pick a recent or suggested one below)';

/** Quick-pick items: first the one that stands for what is typed (always shown, so filtering by
 *  the input never puts a recent item first while the list catches up with fast typing, and
 *  Enter runs the text as typed), then recent ones, then the configured suggestions, each once. */
export function instructionItems(
    typed: string,
    recent: readonly string[],
    suggested: readonly string[],
): InstructionItem[] {
    const text = typed.trim();
    const items: InstructionItem[] = [
        text
            ? { label: text, description: 'run as typed', alwaysShow: true, typed: true }
            : { label: TYPED_PLACEHOLDER, alwaysShow: true, typed: true },
    ];
    const seen = new Set<string>([text]);
    const add = (label: string, description: string) => {
        if (!label.trim() || seen.has(label)) return;
        seen.add(label);
        items.push({ label, description });
    };
    for (const r of recent) add(r, 'recent');
    for (const s of suggested) add(s, 'suggested');
    return items;
}

/** Which instruction an accept runs, from the quick pick's events. The list lags behind fast
 *  typing (it is rebuilt by the extension after each keystroke), so the item VS Code highlights
 *  may be a recent one that merely matches the text. A recent or suggested item counts as chosen
 *  only when the user moved to it from the up-to-date "as typed" item (arrow keys, mouse);
 *  otherwise what is in the input box runs, as typed. */
export class InstructionChoice {
    private value = '';
    private fromFreshTyped = false;
    private chosen: InstructionItem | undefined;

    valueChanged(value: string): void {
        this.value = value;
        this.fromFreshTyped = false;
        this.chosen = undefined;
    }

    activeChanged(item: InstructionItem | undefined): void {
        if (!item || item.typed) {
            const text = this.value.trim();
            this.fromFreshTyped = !!item && (text ? item.label === text : item.label === TYPED_PLACEHOLDER);
            this.chosen = undefined;
        } else if (this.fromFreshTyped || this.chosen) {
            this.chosen = item;
        }
    }

    /** The instruction to run for an accept now; undefined: nothing to run (keep the pick open). */
    accepted(value: string): string | undefined {
        if (this.chosen) return this.chosen.label.trim() || undefined;
        return value.trim() || undefined;
    }
}
