import { describe, expect, it } from 'vitest';
import { configuredSchedules } from '../../../src/schedule/index.ts';

describe('invoice and payment schedules', () => {
  it('queues the payment refresh hourly and the invoice reconciliation nightly by default', () => {
    const schedules = configuredSchedules({
      INVOICE_RECONCILE_CRON: '30 2 * * *',
      PAYMENT_STATUS_CRON: '0 * * * *'
    });
    expect(schedules).toEqual([
      expect.objectContaining({
        name: 'invoice-reconcile',
        cron: '30 2 * * *',
        flow: 'invoice',
        payload: { trigger: 'schedule' }
      }),
      expect.objectContaining({
        name: 'payment-status',
        cron: '0 * * * *',
        flow: 'payment',
        payload: { trigger: 'schedule' }
      })
    ]);
  });

  it('drops a schedule set to off', () => {
    expect(configuredSchedules({ PAYMENT_STATUS_CRON: 'off' })).toEqual([]);
  });
});
