import { describe, expect, it } from 'vitest';
import { BudgetGuard, parseLimitInfo } from '../../src/salesforce/budget.ts';

describe('parseLimitInfo', () => {
  it('reads api-usage used/max', () => {
    expect(parseLimitInfo('api-usage=18/5000')).toEqual({ used: 18, max: 5000 });
  });

  it('ignores the per-app and burst segments', () => {
    expect(
      parseLimitInfo('per-app-api-usage=17/250(appName=x); api-usage=25/5000; api-bursts=1/750')
    ).toEqual({ used: 25, max: 5000 });
  });

  it('returns undefined when absent or malformed', () => {
    expect(parseLimitInfo(undefined)).toBeUndefined();
    expect(parseLimitInfo('api-usage=a/b')).toBeUndefined();
    expect(parseLimitInfo('api-usage=1/0')).toBeUndefined();
  });
});

describe('BudgetGuard', () => {
  const guard = (now = (): number => 0): BudgetGuard =>
    new BudgetGuard({ reservePercent: 10, maxSlowDelayMs: 1000, probeIntervalMs: 60_000, now });

  it('lets everything through before any usage is known', () => {
    expect(guard().admit(false)).toEqual({ action: 'proceed', delayMs: 0 });
  });

  it('is normal above twice the reserve', () => {
    const g = guard();
    g.observe({ used: 700, max: 1000 });
    expect(g.state().status).toBe('normal');
    expect(g.admit(false)).toEqual({ action: 'proceed', delayMs: 0 });
  });

  it('slows non-urgent calls between the reserve and twice the reserve, more as the reserve nears', () => {
    const g = guard();
    g.observe({ used: 850, max: 1000 });
    expect(g.state().status).toBe('slow');
    expect(g.admit(false)).toEqual({ action: 'proceed', delayMs: 500 });
    g.observe({ used: 880, max: 1000 });
    expect(g.admit(false)).toEqual({ action: 'proceed', delayMs: 800 });
  });

  it('refuses non-urgent calls at or below the reserve with a retryable throttled error', () => {
    const g = guard();
    g.observe({ used: 950, max: 1000 });
    const decision = g.admit(false);
    expect(g.state()).toMatchObject({
      status: 'paused',
      used: 950,
      max: 1000,
      remainingPercent: 5
    });
    expect(decision.action).toBe('refuse');
    if (decision.action === 'refuse') {
      expect(decision.error).toMatchObject({
        kind: 'throttled',
        retryable: true,
        code: 'API_BUDGET_RESERVE'
      });
    }
  });

  it('still lets urgent calls through while paused', () => {
    const g = guard();
    g.observe({ used: 999, max: 1000 });
    expect(g.admit(true)).toEqual({ action: 'proceed', delayMs: 0 });
  });

  it('lets one probe call through per interval while paused so recovery is noticed', () => {
    let t = 0;
    const g = guard(() => t);
    g.observe({ used: 990, max: 1000 });
    expect(g.admit(false).action).toBe('refuse');
    t = 60_000;
    expect(g.admit(false).action).toBe('proceed');
    expect(g.admit(false).action).toBe('refuse');
  });
});
