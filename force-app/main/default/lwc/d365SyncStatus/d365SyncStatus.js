import { LightningElement, api, wire } from 'lwc';
import { refreshApex } from '@salesforce/apex';
import { ShowToastEvent } from 'lightning/platformShowToastEvent';
import { isEmpEnabled, onError, subscribe, unsubscribe } from 'lightning/empApi';
import getSyncStatus from '@salesforce/apex/D365SyncStatusController.getSyncStatus';
import requestResync from '@salesforce/apex/D365SyncStatusController.requestResync';
import { reduceErrors } from 'c/d365LdsUtils';

/** Channel the relay publishes to after each write-back (docs/contracts.md). */
export const SYNC_RESULT_CHANNEL = '/event/D365_Sync_Result__e';
/** empApi replay id -1: only events published after subscribing; older ones are already in the record. */
const REPLAY_NEW_EVENTS_ONLY = -1;
/** Salesforce ids: the first 15 characters identify a record, an 18-character id adds a checksum. */
const RECORD_KEY_LENGTH = 15;

const STATUS_THEMES = {
    Synced: 'slds-theme_success',
    Pending: 'slds-theme_warning',
    Error: 'slds-theme_error'
};

const LABELS = {
    title: 'D365 sync',
    resyncNow: 'Resync now',
    customerNumber: 'D365 customer number',
    notInD365: 'Not yet in D365',
    legalEntity: 'Legal entity',
    defaultLegalEntity: 'Default',
    status: 'Status',
    lastSynced: 'Last synced',
    never: 'Never',
    lastSyncFailed: 'Last sync failed',
    syncWarning: 'Sync warning',
    paymentStatus: 'Payment status',
    openBalance: 'Open balance',
    overdueBalance: 'Overdue balance',
    creditLimit: 'Credit limit',
    loading: 'Loading D365 sync status',
    loadFailed: 'The D365 sync status could not be loaded.',
    resyncRequested: 'Resync requested',
    resyncFailed: 'Resync could not be requested',
    liveUpdatesUnavailable:
        'Live updates are not available here. Reload the page to see new sync results.',
    liveUpdatesStopped: 'Live updates stopped. Reload the page to see new sync results.'
};

function sameRecord(firstId, secondId) {
    return (
        !!firstId &&
        !!secondId &&
        firstId.substring(0, RECORD_KEY_LENGTH) === secondId.substring(0, RECORD_KEY_LENGTH)
    );
}

/**
 * D365 sync status of one Account: customer number, status, last error, balances.
 * Refreshes itself when the relay reports a sync result for this Account, and lets the
 * rep ask for a resync.
 */
export default class D365SyncStatus extends LightningElement {
    @api recordId;

    labels = LABELS;
    syncStatus;
    error;
    isResyncing = false;
    liveUpdatesMessage;

    wiredSyncStatus;
    subscription;
    connected = false;

    @wire(getSyncStatus, { accountId: '$recordId' })
    handleSyncStatus(result) {
        this.wiredSyncStatus = result;
        if (result.data) {
            this.syncStatus = result.data;
            this.error = undefined;
        } else if (result.error) {
            this.error = result.error;
            this.syncStatus = undefined;
        }
    }

    connectedCallback() {
        this.connected = true;
        this.subscribeToSyncResults();
    }

    disconnectedCallback() {
        this.connected = false;
        if (this.subscription) {
            unsubscribe(this.subscription);
            this.subscription = undefined;
        }
    }

    async subscribeToSyncResults() {
        try {
            if (!(await isEmpEnabled())) {
                this.liveUpdatesMessage = LABELS.liveUpdatesUnavailable;
                return;
            }
            onError(() => {
                this.liveUpdatesMessage = LABELS.liveUpdatesStopped;
            });
            const subscription = await subscribe(
                SYNC_RESULT_CHANNEL,
                REPLAY_NEW_EVENTS_ONLY,
                (message) => this.handleSyncResult(message)
            );
            if (this.connected) {
                this.subscription = subscription;
            } else {
                // The component left the page while the subscription was being opened.
                unsubscribe(subscription);
            }
        } catch {
            this.liveUpdatesMessage = LABELS.liveUpdatesUnavailable;
        }
    }

    handleSyncResult(message) {
        const payload = message?.data?.payload;
        if (payload && sameRecord(payload.Record_Id__c, this.recordId)) {
            this.refresh();
        }
    }

    async refresh() {
        try {
            await refreshApex(this.wiredSyncStatus);
        } catch (error) {
            this.error = error;
            this.syncStatus = undefined;
        }
    }

    async handleResync() {
        this.isResyncing = true;
        try {
            const confirmation = await requestResync({ accountId: this.recordId });
            this.showToast(LABELS.resyncRequested, confirmation, 'success');
        } catch (error) {
            this.showToast(LABELS.resyncFailed, reduceErrors(error).join(' '), 'error');
            return;
        } finally {
            this.isResyncing = false;
        }
        // The controller sets the status to Pending: show it straight away.
        await this.refresh();
    }

    showToast(title, message, variant) {
        this.dispatchEvent(new ShowToastEvent({ title, message, variant }));
    }

    get isLoading() {
        return !this.syncStatus && !this.error;
    }

    get customerNumber() {
        return this.syncStatus.customerNumber || LABELS.notInD365;
    }

    get legalEntity() {
        return this.syncStatus.legalEntity || LABELS.defaultLegalEntity;
    }

    get status() {
        return this.syncStatus.status || 'Not Synced';
    }

    get statusBadgeClass() {
        return STATUS_THEMES[this.status] || '';
    }

    get showLastError() {
        return this.status === 'Error' && !!this.syncStatus.lastError;
    }

    get paymentStatusClass() {
        return this.syncStatus.paymentStatus === 'Overdue'
            ? 'payment-status slds-text-color_error'
            : 'payment-status';
    }
}
