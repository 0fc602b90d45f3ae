import { createElement } from 'lwc';
import D365SyncStatus from 'c/d365SyncStatus';
import { refreshApex } from '@salesforce/apex';
import { isEmpEnabled, onError, subscribe, unsubscribe } from 'lightning/empApi';
import getSyncStatus from '@salesforce/apex/D365SyncStatusController.getSyncStatus';
import requestResync from '@salesforce/apex/D365SyncStatusController.requestResync';

const mockSynced = require('./data/getSyncStatusSynced.json');
const mockError = require('./data/getSyncStatusError.json');

const ACCOUNT_ID = '001Hs00003FzKJkIAN';
const OTHER_ACCOUNT_ID = '001Hs00003FzKJlIAN';

jest.mock(
    '@salesforce/apex/D365SyncStatusController.getSyncStatus',
    () => {
        const { createApexTestWireAdapter } = require('@salesforce/sfdx-lwc-jest');
        return { default: createApexTestWireAdapter(jest.fn()) };
    },
    { virtual: true }
);
jest.mock(
    '@salesforce/apex/D365SyncStatusController.requestResync',
    () => ({ default: jest.fn() }),
    { virtual: true }
);
jest.mock('@salesforce/apex', () => ({ refreshApex: jest.fn(() => Promise.resolve()) }), {
    virtual: true
});

const SUBSCRIPTION = { id: 'sub-1', channel: '/event/D365_Sync_Result__e' };

function flushPromises() {
    // eslint-disable-next-line @lwc/lwc/no-async-operation
    return new Promise((resolve) => setTimeout(resolve, 0));
}

async function renderComponent() {
    const element = createElement('c-d365-sync-status', { is: D365SyncStatus });
    element.recordId = ACCOUNT_ID;
    document.body.appendChild(element);
    await flushPromises();
    return element;
}

function syncResultMessage(recordId, status) {
    return {
        channel: '/event/D365_Sync_Result__e',
        data: {
            payload: {
                Record_Id__c: recordId,
                Flow__c: 'account',
                Status__c: status,
                Message__c: null,
                D365_Key__c: 'US-027'
            }
        }
    };
}

function deliveredCallback() {
    return subscribe.mock.calls[0][2];
}

function text(element, selector) {
    return element.shadowRoot.querySelector(selector).textContent.trim();
}

describe('c-d365-sync-status', () => {
    beforeEach(() => {
        isEmpEnabled.mockResolvedValue(true);
        subscribe.mockResolvedValue(SUBSCRIPTION);
    });

    afterEach(() => {
        while (document.body.firstChild) {
            document.body.removeChild(document.body.firstChild);
        }
        jest.clearAllMocks();
    });

    describe('status display', () => {
        it('asks the controller for the sync status of the page record', async () => {
            await renderComponent();

            expect(getSyncStatus.getLastConfig()).toEqual({ accountId: ACCOUNT_ID });
        });

        it('shows a spinner until the status arrives', async () => {
            const element = await renderComponent();

            expect(element.shadowRoot.querySelector('lightning-spinner')).not.toBeNull();
            getSyncStatus.emit(mockSynced);
            await flushPromises();
            expect(element.shadowRoot.querySelector('lightning-spinner')).toBeNull();
        });

        it('shows customer number, legal entity, status badge, payment status and balances', async () => {
            const element = await renderComponent();
            getSyncStatus.emit(mockSynced);
            await flushPromises();

            const badge = element.shadowRoot.querySelector('lightning-badge');
            expect(text(element, '.customer-number')).toBe('US-027');
            expect(text(element, '.legal-entity')).toBe('usmf');
            expect(badge.label).toBe('Synced');
            expect(badge.className).toContain('slds-theme_success');
            expect(element.shadowRoot.querySelector('lightning-formatted-date-time').value).toBe(
                '2026-11-26T09:15:00.000Z'
            );
            expect(element.shadowRoot.querySelector('[data-id="openBalance"]').value).toBe(1250.5);
            expect(element.shadowRoot.querySelector('[data-id="overdueBalance"]').value).toBe(300);
            expect(element.shadowRoot.querySelector('[data-id="creditLimit"]').value).toBe(50000);
        });

        it('highlights an overdue payment status', async () => {
            const element = await renderComponent();
            getSyncStatus.emit(mockSynced);
            await flushPromises();

            const paymentStatus = element.shadowRoot.querySelector('.payment-status');
            expect(paymentStatus.textContent).toBe('Overdue');
            expect(paymentStatus.classList).toContain('slds-text-color_error');
        });

        it('does not show a last-error or warning box for a synced account', async () => {
            const element = await renderComponent();
            getSyncStatus.emit(mockSynced);
            await flushPromises();

            expect(element.shadowRoot.querySelector('.last-error')).toBeNull();
            expect(element.shadowRoot.querySelector('.sync-warning')).toBeNull();
        });

        it('shows the last sync error prominently when the status is Error', async () => {
            const element = await renderComponent();
            getSyncStatus.emit(mockError);
            await flushPromises();

            const lastError = element.shadowRoot.querySelector('.last-error');
            expect(lastError.getAttribute('role')).toBe('alert');
            expect(text(element, '.last-error-message')).toBe(mockError.lastError);
            expect(element.shadowRoot.querySelector('lightning-badge').className).toContain(
                'slds-theme_error'
            );
        });

        it('shows the sync warning', async () => {
            const element = await renderComponent();
            getSyncStatus.emit(mockError);
            await flushPromises();

            expect(text(element, '.sync-warning-message')).toBe(
                'Name was truncated to 100 characters in D365.'
            );
        });

        it('says the account is not yet in D365 and was never synced when it has no customer number', async () => {
            const element = await renderComponent();
            getSyncStatus.emit({ ...mockError, status: null });
            await flushPromises();

            expect(text(element, '.customer-number')).toBe('Not yet in D365');
            expect(text(element, '.legal-entity')).toBe('Default');
            expect(text(element, '.last-synced')).toBe('Never');
            expect(element.shadowRoot.querySelector('lightning-badge').label).toBe('Not Synced');
        });

        it('shows the error panel when the status cannot be loaded', async () => {
            const element = await renderComponent();
            getSyncStatus.error({ message: 'You do not have access to the Apex class.' });
            await flushPromises();

            const panel = element.shadowRoot.querySelector('c-d365-error-panel');
            expect(panel.friendlyMessage).toBe('The D365 sync status could not be loaded.');
            expect(panel.errors.body.message).toBe('You do not have access to the Apex class.');
            expect(element.shadowRoot.querySelector('lightning-spinner')).toBeNull();
        });
    });

    describe('live updates', () => {
        it('subscribes to new sync result events when it is added to the page', async () => {
            await renderComponent();

            expect(subscribe).toHaveBeenCalledWith(
                '/event/D365_Sync_Result__e',
                -1,
                expect.any(Function)
            );
            expect(onError).toHaveBeenCalledTimes(1);
        });

        it('unsubscribes when it is removed from the page', async () => {
            const element = await renderComponent();
            document.body.removeChild(element);

            expect(unsubscribe).toHaveBeenCalledWith(SUBSCRIPTION);
        });

        it('unsubscribes at once when it left the page before the subscription opened', async () => {
            let openSubscription;
            subscribe.mockReturnValue(
                new Promise((resolve) => {
                    openSubscription = resolve;
                })
            );
            const element = await renderComponent();
            document.body.removeChild(element);
            expect(unsubscribe).not.toHaveBeenCalled();

            openSubscription(SUBSCRIPTION);
            await flushPromises();
            expect(unsubscribe).toHaveBeenCalledWith(SUBSCRIPTION);
        });

        it('refreshes the status when a sync result for this account arrives', async () => {
            await renderComponent();
            getSyncStatus.emit(mockSynced);
            await flushPromises();

            deliveredCallback()(syncResultMessage(ACCOUNT_ID, 'Synced'));

            expect(refreshApex).toHaveBeenCalledTimes(1);
            expect(refreshApex.mock.calls[0][0].data).toEqual(mockSynced);
        });

        it('shows the error panel when refreshing after a sync result fails', async () => {
            refreshApex.mockRejectedValueOnce({ body: { message: 'Session expired.' } });
            const element = await renderComponent();
            getSyncStatus.emit(mockSynced);
            await flushPromises();

            deliveredCallback()(syncResultMessage(ACCOUNT_ID, 'Synced'));
            await flushPromises();

            expect(element.shadowRoot.querySelector('c-d365-error-panel').errors.body.message).toBe(
                'Session expired.'
            );
            expect(element.shadowRoot.querySelector('.customer-number')).toBeNull();
        });

        it('matches a sync result that carries the 15-character form of the record id', async () => {
            await renderComponent();

            deliveredCallback()(syncResultMessage(ACCOUNT_ID.substring(0, 15), 'Error'));

            expect(refreshApex).toHaveBeenCalledTimes(1);
        });

        it('ignores sync results for other records', async () => {
            await renderComponent();

            deliveredCallback()(syncResultMessage(OTHER_ACCOUNT_ID, 'Synced'));
            deliveredCallback()({ channel: '/event/D365_Sync_Result__e', data: {} });

            expect(refreshApex).not.toHaveBeenCalled();
        });

        it('tells the rep when live updates are not available and does not subscribe', async () => {
            isEmpEnabled.mockResolvedValue(false);
            const element = await renderComponent();

            expect(subscribe).not.toHaveBeenCalled();
            expect(text(element, '.live-updates-message')).toBe(
                'Live updates are not available here. Reload the page to see new sync results.'
            );
        });

        it('tells the rep when the subscription cannot be opened', async () => {
            subscribe.mockRejectedValue(new Error('Handshake denied'));
            const element = await renderComponent();

            expect(text(element, '.live-updates-message')).toBe(
                'Live updates are not available here. Reload the page to see new sync results.'
            );
        });

        it('tells the rep when the streaming connection reports an error', async () => {
            const element = await renderComponent();

            const errorListener = onError.mock.calls[0][0];
            errorListener({ error: '403::Unknown client', successful: false });
            await flushPromises();

            expect(text(element, '.live-updates-message')).toBe(
                'Live updates stopped. Reload the page to see new sync results.'
            );
        });
    });

    describe('Resync now', () => {
        it('requests a resync of this account, confirms it in a toast and refreshes the status', async () => {
            requestResync.mockResolvedValue('Resync requested. D365 will be updated shortly.');
            const element = await renderComponent();
            getSyncStatus.emit(mockSynced);
            await flushPromises();
            const toastHandler = jest.fn();
            element.addEventListener('lightning__showtoast', toastHandler);

            element.shadowRoot.querySelector('[data-id="resync"]').click();
            await flushPromises();

            expect(requestResync).toHaveBeenCalledWith({ accountId: ACCOUNT_ID });
            expect(toastHandler.mock.calls[0][0].detail).toEqual({
                title: 'Resync requested',
                message: 'Resync requested. D365 will be updated shortly.',
                variant: 'success'
            });
            expect(refreshApex).toHaveBeenCalledTimes(1);
        });

        it('disables the button while the request is in flight', async () => {
            let finishRequest;
            requestResync.mockReturnValue(
                new Promise((resolve) => {
                    finishRequest = resolve;
                })
            );
            const element = await renderComponent();
            const button = element.shadowRoot.querySelector('[data-id="resync"]');

            button.click();
            await flushPromises();
            expect(button.disabled).toBe(true);

            finishRequest('Resync requested.');
            await flushPromises();
            expect(button.disabled).toBe(false);
        });

        it('shows the reason in an error toast when the resync cannot be requested', async () => {
            requestResync.mockRejectedValue({
                body: { message: 'Account sync is switched off in the D365 integration settings.' }
            });
            const element = await renderComponent();
            const toastHandler = jest.fn();
            element.addEventListener('lightning__showtoast', toastHandler);
            const button = element.shadowRoot.querySelector('[data-id="resync"]');

            button.click();
            await flushPromises();

            expect(toastHandler.mock.calls[0][0].detail).toEqual({
                title: 'Resync could not be requested',
                message: 'Account sync is switched off in the D365 integration settings.',
                variant: 'error'
            });
            expect(refreshApex).not.toHaveBeenCalled();
            expect(button.disabled).toBe(false);
        });
    });

    it('is accessible with an error status, a warning and live updates off', async () => {
        isEmpEnabled.mockResolvedValue(false);
        const element = await renderComponent();
        getSyncStatus.emit(mockError);
        await flushPromises();

        await expect(element).toBeAccessible();
    });

    it('is accessible with a synced status', async () => {
        const element = await renderComponent();
        getSyncStatus.emit(mockSynced);
        await flushPromises();

        await expect(element).toBeAccessible();
    });
});
