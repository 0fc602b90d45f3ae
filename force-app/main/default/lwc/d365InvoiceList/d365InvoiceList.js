import { LightningElement, api, wire } from 'lwc';
import getInvoices from '@salesforce/apex/D365InvoiceController.getInvoices';

/** D365InvoiceController.getInvoices returns at most this many invoices, newest first. */
export const MAX_INVOICE_ROWS = 2000;

/** How each payment status looks, and its rank when sorting (most urgent first). */
const PAYMENT_STATUS_DISPLAY = {
    Overdue: { iconName: 'utility:warning', className: 'slds-text-color_error', rank: 0 },
    Open: { iconName: 'utility:clock', className: '', rank: 1 },
    'Partially Paid': { iconName: 'utility:contrast', className: '', rank: 2 },
    Paid: { iconName: 'utility:success', className: 'slds-text-color_success', rank: 3 }
};
const UNKNOWN_STATUS_RANK = 4;

const DATE_FORMAT = { year: 'numeric', month: 'short', day: '2-digit' };
const MONEY_FORMAT = { currencyCode: { fieldName: 'currencyCode' } };

const COLUMNS = [
    {
        label: 'Invoice',
        fieldName: 'recordUrl',
        type: 'url',
        sortable: true,
        typeAttributes: { label: { fieldName: 'invoiceNumber' }, target: '_self' }
    },
    { label: 'Sales order', fieldName: 'salesOrderNumber', sortable: true },
    {
        label: 'Invoice date',
        fieldName: 'invoiceDate',
        type: 'date-local',
        sortable: true,
        typeAttributes: DATE_FORMAT
    },
    {
        label: 'Due date',
        fieldName: 'dueDate',
        type: 'date-local',
        sortable: true,
        typeAttributes: DATE_FORMAT
    },
    {
        label: 'Amount',
        fieldName: 'amount',
        type: 'currency',
        sortable: true,
        typeAttributes: MONEY_FORMAT
    },
    {
        label: 'Paid',
        fieldName: 'amountPaid',
        type: 'currency',
        sortable: true,
        typeAttributes: MONEY_FORMAT
    },
    {
        label: 'Balance due',
        fieldName: 'balanceDue',
        type: 'currency',
        sortable: true,
        typeAttributes: MONEY_FORMAT
    },
    {
        label: 'Payment status',
        fieldName: 'paymentStatus',
        sortable: true,
        cellAttributes: {
            iconName: { fieldName: 'statusIconName' },
            iconAlternativeText: { fieldName: 'paymentStatus' },
            class: { fieldName: 'statusClassName' }
        }
    }
];

/** The link column shows the invoice number, so it sorts by it. */
const SORT_KEYS = { recordUrl: 'invoiceNumber' };

const LABELS = {
    title: 'D365 invoices',
    loading: 'Loading invoices',
    loadFailed: 'The invoices could not be loaded.',
    totalOpen: 'Open',
    totalOverdue: 'Overdue',
    noInvoices: 'No invoices from D365 for this account yet.',
    truncated: `Showing the newest ${MAX_INVOICE_ROWS.toLocaleString('en-US')} invoices.`
};

function sortValue(row, fieldName) {
    if (fieldName === 'paymentStatus') {
        return PAYMENT_STATUS_DISPLAY[row.paymentStatus]?.rank ?? UNKNOWN_STATUS_RANK;
    }
    return row[SORT_KEYS[fieldName] || fieldName];
}

/** Compares two rows on one field; blank values always go last, whatever the direction. */
function compareRows(fieldName, direction) {
    const factor = direction === 'asc' ? 1 : -1;
    return (first, second) => {
        const a = sortValue(first, fieldName);
        const b = sortValue(second, fieldName);
        const aBlank = a === null || a === undefined || a === '';
        const bBlank = b === null || b === undefined || b === '';
        if (aBlank || bBlank) {
            return aBlank - bBlank;
        }
        if (typeof a === 'number' && typeof b === 'number') {
            return (a - b) * factor;
        }
        return String(a).localeCompare(String(b), undefined, { numeric: true }) * factor;
    };
}

function toRow(invoice) {
    const display = PAYMENT_STATUS_DISPLAY[invoice.paymentStatus];
    return {
        ...invoice,
        recordUrl: `/lightning/r/Invoice__c/${invoice.id}/view`,
        statusIconName: display?.iconName,
        statusClassName: display?.className
    };
}

/**
 * An Account's D365 invoices with their payment status at a glance, the open and
 * overdue totals, and sortable columns linking to each Invoice__c record.
 */
export default class D365InvoiceList extends LightningElement {
    @api recordId;

    labels = LABELS;
    columns = COLUMNS;
    summary;
    rows = [];
    error;
    // The controller returns the newest invoice first.
    sortedBy = 'invoiceDate';
    sortedDirection = 'desc';

    @wire(getInvoices, { accountId: '$recordId' })
    handleInvoices({ data, error }) {
        if (data) {
            this.summary = data;
            this.rows = (data.invoices || []).map(toRow);
            this.error = undefined;
        } else if (error) {
            this.error = error;
            this.summary = undefined;
            this.rows = [];
        }
    }

    handleSort(event) {
        const { fieldName, sortDirection } = event.detail;
        this.sortedBy = fieldName;
        this.sortedDirection = sortDirection;
        this.rows = [...this.rows].sort(compareRows(fieldName, sortDirection));
    }

    get isLoading() {
        return !this.summary && !this.error;
    }

    get hasInvoices() {
        return this.rows.length > 0;
    }

    get isTruncated() {
        return this.rows.length >= MAX_INVOICE_ROWS;
    }

    get cardTitle() {
        return this.summary ? `${LABELS.title} (${this.rows.length})` : LABELS.title;
    }

    get overdueClass() {
        return this.summary.totalOverdue > 0
            ? 'total-overdue slds-text-heading_small slds-text-color_error'
            : 'total-overdue slds-text-heading_small';
    }
}
