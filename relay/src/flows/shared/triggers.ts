/**
 * Jobs queued by a schedule or an operator carry `{ trigger, ... }` (`schedule`, `admin`, `cli`);
 * event jobs carry the event itself. Flows that take both tell them apart with this.
 */
export function isTriggeredRun(payload: unknown): payload is { trigger: string } {
  return (
    typeof payload === 'object' &&
    payload !== null &&
    typeof (payload as { trigger?: unknown }).trigger === 'string'
  );
}
