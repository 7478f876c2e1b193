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
}

/** Quick-pick items: what is typed first (so Enter takes it as typed), then recent ones, then
 *  the configured suggestions, each once. */
export function instructionItems(
    typed: string,
    recent: readonly string[],
    suggested: readonly string[],
): InstructionItem[] {
    const items: InstructionItem[] = [];
    const seen = new Set<string>();
    const add = (label: string, description: string) => {
        if (!label.trim() || seen.has(label)) return;
        seen.add(label);
        items.push({ label, description });
    };
    add(typed.trim(), 'new instruction');
    for (const r of recent) add(r, 'recent');
    for (const s of suggested) add(s, 'suggested');
    return items;
}
