import { createElement } from 'lwc';
import D365InvoiceList, { MAX_INVOICE_ROWS } from 'c/d365InvoiceList';
import getInvoices from '@salesforce/apex/D365InvoiceController.getInvoices';

const mockInvoices = require('./data/getInvoices.json');

const ACCOUNT_ID = '001Hs00003FzKJkIAN';

jest.mock(
    '@salesforce/apex/D365InvoiceController.getInvoices',
    () => {
        const { createApexTestWireAdapter } = require('@salesforce/sfdx-lwc-jest');
        return { default: createApexTestWireAdapter(jest.fn()) };
    },
    { virtual: true }
);

function flushPromises() {
    // eslint-disable-next-line @lwc/lwc/no-async-operation
    return new Promise((resolve) => setTimeout(resolve, 0));
}

async function renderWith(summary) {
    const element = createElement('c-d365-invoice-list', { is: D365InvoiceList });
    element.recordId = ACCOUNT_ID;
    document.body.appendChild(element);
    if (summary) {
        getInvoices.emit(summary);
    }
    await flushPromises();
    return element;
}

function datatableOf(element) {
    return element.shadowRoot.querySelector('lightning-datatable');
}

function invoiceNumbers(element) {
    return datatableOf(element).data.map((row) => row.invoiceNumber);
}

async function sortBy(element, fieldName, sortDirection) {
    datatableOf(element).dispatchEvent(
        new CustomEvent('sort', { detail: { fieldName, sortDirection } })
    );
    await flushPromises();
}

describe('c-d365-invoice-list', () => {
    afterEach(() => {
        while (document.body.firstChild) {
            document.body.removeChild(document.body.firstChild);
        }
        jest.clearAllMocks();
    });

    it('asks the controller for the invoices of the page record', async () => {
        await renderWith();

        expect(getInvoices.getLastConfig()).toEqual({ accountId: ACCOUNT_ID });
    });

    it('shows a spinner until the invoices arrive', async () => {
        const element = await renderWith();

        expect(element.shadowRoot.querySelector('lightning-spinner')).not.toBeNull();
    });

    it('lists every invoice newest first, each linking to its record', async () => {
        const element = await renderWith(mockInvoices);

        const table = datatableOf(element);
        expect(invoiceNumbers(element)).toEqual([
            'CIV-000130',
            'CIV-000125',
            'CIV-000119',
            'CIV-000098'
        ]);
        expect(table.data[0].recordUrl).toBe('/lightning/r/Invoice__c/a01Hs000001AbCdIAK/view');
        expect(table.columns[0].typeAttributes.label).toEqual({ fieldName: 'invoiceNumber' });
        expect(table.sortedBy).toBe('invoiceDate');
        expect(table.sortedDirection).toBe('desc');
        expect(element.shadowRoot.querySelector('lightning-card').title).toBe('D365 invoices (4)');
    });

    it('gives each payment status its own icon and colour', async () => {
        const element = await renderWith(mockInvoices);

        const looks = Object.fromEntries(
            datatableOf(element).data.map((row) => [
                row.paymentStatus,
                [row.statusIconName, row.statusClassName]
            ])
        );
        expect(looks).toEqual({
            Open: ['utility:clock', ''],
            Overdue: ['utility:warning', 'slds-text-color_error'],
            'Partially Paid': ['utility:contrast', ''],
            Paid: ['utility:success', 'slds-text-color_success']
        });
    });

    it('shows the open and overdue totals in the invoice currency, overdue in red', async () => {
        const element = await renderWith(mockInvoices);

        const open = element.shadowRoot.querySelector('.total-open lightning-formatted-number');
        const overdue = element.shadowRoot.querySelector('.total-overdue');
        expect(open.value).toBe(1550.5);
        expect(open.currencyCode).toBe('USD');
        expect(overdue.querySelector('lightning-formatted-number').value).toBe(300);
        expect(overdue.classList).toContain('slds-text-color_error');
    });

    it('does not colour the overdue total when nothing is overdue', async () => {
        const element = await renderWith({ ...mockInvoices, totalOverdue: 0 });

        expect(element.shadowRoot.querySelector('.total-overdue').classList).not.toContain(
            'slds-text-color_error'
        );
    });

    describe('sorting', () => {
        it('sorts by amount in both directions', async () => {
            const element = await renderWith(mockInvoices);

            await sortBy(element, 'amount', 'asc');
            expect(datatableOf(element).data.map((row) => row.amount)).toEqual([
                300, 780.25, 1200, 5000
            ]);
            expect(datatableOf(element).sortedBy).toBe('amount');
            expect(datatableOf(element).sortedDirection).toBe('asc');

            await sortBy(element, 'amount', 'desc');
            expect(datatableOf(element).data.map((row) => row.amount)).toEqual([
                5000, 1200, 780.25, 300
            ]);
        });

        it('sorts the link column by invoice number', async () => {
            const element = await renderWith(mockInvoices);

            await sortBy(element, 'recordUrl', 'asc');

            expect(invoiceNumbers(element)).toEqual([
                'CIV-000098',
                'CIV-000119',
                'CIV-000125',
                'CIV-000130'
            ]);
        });

        it('sorts payment status by urgency, overdue first', async () => {
            const element = await renderWith(mockInvoices);

            await sortBy(element, 'paymentStatus', 'asc');

            expect(datatableOf(element).data.map((row) => row.paymentStatus)).toEqual([
                'Overdue',
                'Open',
                'Partially Paid',
                'Paid'
            ]);
        });

        it('puts invoices without a value last in either direction', async () => {
            const element = await renderWith(mockInvoices);

            await sortBy(element, 'salesOrderNumber', 'asc');
            expect(datatableOf(element).data.map((row) => row.salesOrderNumber)).toEqual([
                'SO-000301',
                'SO-000377',
                'SO-000412',
                null
            ]);

            await sortBy(element, 'salesOrderNumber', 'desc');
            expect(datatableOf(element).data.map((row) => row.salesOrderNumber)).toEqual([
                'SO-000412',
                'SO-000377',
                'SO-000301',
                null
            ]);
        });

        it('sorts dates chronologically', async () => {
            const element = await renderWith(mockInvoices);

            await sortBy(element, 'dueDate', 'asc');

            expect(datatableOf(element).data.map((row) => row.dueDate)).toEqual([
                '2026-07-30',
                '2026-10-15',
                '2026-11-01',
                '2026-12-20'
            ]);
        });
    });

    it('shows an empty state and no table when the account has no invoices', async () => {
        const element = await renderWith({
            invoices: [],
            totalOpen: 0,
            totalOverdue: 0,
            currencyCode: 'USD'
        });

        expect(datatableOf(element)).toBeNull();
        expect(element.shadowRoot.querySelector('.empty-state').textContent.trim()).toBe(
            'No invoices from D365 for this account yet.'
        );
    });

    it('says only the newest invoices are shown when the controller limit is reached', async () => {
        const invoices = Array.from({ length: MAX_INVOICE_ROWS }, (_, index) => ({
            ...mockInvoices.invoices[0],
            id: `a01Hs00000${String(index).padStart(4, '0')}AAA`,
            invoiceNumber: `CIV-${index}`
        }));

        const element = await renderWith({ ...mockInvoices, invoices });

        expect(element.shadowRoot.querySelector('.truncated-notice').textContent.trim()).toBe(
            'Showing the newest 2,000 invoices.'
        );
    });

    it('does not show the limit notice below the controller limit', async () => {
        const element = await renderWith(mockInvoices);

        expect(element.shadowRoot.querySelector('.truncated-notice')).toBeNull();
    });

    it('shows the error panel and no totals when the invoices cannot be loaded', async () => {
        const element = await renderWith();
        getInvoices.error({ message: 'You do not have access to Invoice__c.' });
        await flushPromises();

        const panel = element.shadowRoot.querySelector('c-d365-error-panel');
        expect(panel.friendlyMessage).toBe('The invoices could not be loaded.');
        expect(panel.errors.body.message).toBe('You do not have access to Invoice__c.');
        expect(element.shadowRoot.querySelector('.total-open')).toBeNull();
        expect(element.shadowRoot.querySelector('lightning-spinner')).toBeNull();
    });

    it('is accessible with invoices', async () => {
        const element = await renderWith(mockInvoices);

        await expect(element).toBeAccessible();
    });

    it('is accessible when empty', async () => {
        const element = await renderWith({ ...mockInvoices, invoices: [] });

        await expect(element).toBeAccessible();
    });
});
