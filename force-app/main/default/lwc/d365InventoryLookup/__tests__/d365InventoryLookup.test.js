// Tests drive the getRecord test adapter directly (emit, getLastConfig), which this rule forbids in components.
/* eslint-disable @lwc/lwc/no-unexpected-wire-adapter-usages */
import { createElement } from 'lwc';
import D365InventoryLookup, { describeAge, parseItemNumbers } from 'c/d365InventoryLookup';
import { refreshApex } from '@salesforce/apex';
import { getRecord } from 'lightning/uiRecordApi';
import getInventory from '@salesforce/apex/D365InventoryController.getInventory';
import searchItems from '@salesforce/apex/D365InventoryController.searchItems';

const mockInventory = require('./data/getInventory.json');
const mockStaleInventory = require('./data/getInventoryStale.json');
const mockProduct = require('./data/getRecordProduct.json');
const mockSearchResults = require('./data/searchItems.json');

const PRODUCT_ID = '01tHs00000AbCdEIAV';
const ACCOUNT_ID = '001Hs00003FzKJkIAN';

jest.mock(
    '@salesforce/apex/D365InventoryController.getInventory',
    () => {
        const { createApexTestWireAdapter } = require('@salesforce/sfdx-lwc-jest');
        return { default: createApexTestWireAdapter(jest.fn()) };
    },
    { virtual: true }
);
jest.mock(
    '@salesforce/apex/D365InventoryController.searchItems',
    () => {
        const { createApexTestWireAdapter } = require('@salesforce/sfdx-lwc-jest');
        return { default: createApexTestWireAdapter(jest.fn()) };
    },
    { virtual: true }
);
jest.mock('@salesforce/apex', () => ({ refreshApex: jest.fn(() => Promise.resolve()) }), {
    virtual: true
});

function flushPromises() {
    // eslint-disable-next-line @lwc/lwc/no-async-operation
    return new Promise((resolve) => setTimeout(resolve, 0));
}

async function renderOn(objectApiName, recordId) {
    const element = createElement('c-d365-inventory-lookup', { is: D365InventoryLookup });
    element.objectApiName = objectApiName;
    element.recordId = recordId;
    document.body.appendChild(element);
    await flushPromises();
    return element;
}

function byDataId(element, dataId) {
    return element.shadowRoot.querySelector(`[data-id="${dataId}"]`);
}

function type(element, dataId, value) {
    byDataId(element, dataId).dispatchEvent(new CustomEvent('change', { detail: { value } }));
}

async function checkStock(element, itemNumbers, legalEntity) {
    type(element, 'itemNumbers', itemNumbers);
    if (legalEntity !== undefined) {
        type(element, 'legalEntity', legalEntity);
    }
    byDataId(element, 'checkStock').click();
    await flushPromises();
}

async function showInventory(element, inventory, itemNumbers = 'A0001, a0001, D0003') {
    await checkStock(element, itemNumbers);
    getInventory.emit(inventory);
    await flushPromises();
}

function trimmedText(element, selector) {
    return element.shadowRoot.querySelector(selector).textContent.replace(/\s+/g, ' ').trim();
}

describe('c-d365-inventory-lookup', () => {
    let setCustomValidity;

    beforeEach(() => {
        // The lightning-input stub's method does nothing: spy on it to see the validation message.
        setCustomValidity = jest.fn();
    });

    afterEach(() => {
        while (document.body.firstChild) {
            document.body.removeChild(document.body.firstChild);
        }
        jest.clearAllMocks();
        jest.useRealTimers();
    });

    function watchValidity(element) {
        byDataId(element, 'itemNumbers').setCustomValidity = setCustomValidity;
    }

    describe('looking up typed item numbers', () => {
        it('does not ask for stock before the rep submits an item', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);

            expect(getInventory.getLastConfig().itemNumbers).toBeUndefined();
            expect(element.shadowRoot.querySelector('lightning-datatable')).toBeNull();
            expect(byDataId(element, 'refresh').disabled).toBe(true);
        });

        it('asks for the distinct, trimmed item numbers and the legal entity, keeping their case', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);

            await checkStock(element, ' A0001 , a0001,,A0001, D0003 ', ' usmf ');

            expect(getInventory.getLastConfig()).toEqual({
                itemNumbers: 'A0001,a0001,D0003',
                legalEntity: 'usmf'
            });
        });

        it('leaves the legal entity blank so the default one is used', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);

            await checkStock(element, 'A0001');

            expect(getInventory.getLastConfig()).toEqual({ itemNumbers: 'A0001', legalEntity: '' });
        });

        it('looks up when the rep presses Enter in the item field', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);
            type(element, 'itemNumbers', 'A0001');

            byDataId(element, 'itemNumbers').dispatchEvent(
                new KeyboardEvent('keyup', { key: 'Enter' })
            );
            await flushPromises();

            expect(getInventory.getLastConfig().itemNumbers).toBe('A0001');
        });

        it('ignores other keys', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);
            type(element, 'itemNumbers', 'A0001');

            byDataId(element, 'itemNumbers').dispatchEvent(
                new KeyboardEvent('keyup', { key: 'A' })
            );
            await flushPromises();

            expect(getInventory.getLastConfig().itemNumbers).toBeUndefined();
        });

        it('shows a spinner while the stock is loading', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);

            await checkStock(element, 'A0001');
            expect(element.shadowRoot.querySelector('lightning-spinner')).not.toBeNull();

            getInventory.emit(mockInventory);
            await flushPromises();
            expect(element.shadowRoot.querySelector('lightning-spinner')).toBeNull();
        });
    });

    describe('validation', () => {
        it('asks for at least one item number and does not look up', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);
            watchValidity(element);

            await checkStock(element, ' , ');

            expect(setCustomValidity).toHaveBeenCalledWith('Enter at least one item number.');
            expect(getInventory.getLastConfig().itemNumbers).toBeUndefined();
        });

        it('refuses more than 50 item numbers', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);
            watchValidity(element);
            const fiftyOne = Array.from({ length: 51 }, (_, index) => `I${index}`).join(',');

            await checkStock(element, fiftyOne);

            expect(setCustomValidity).toHaveBeenCalledWith(
                'Enter at most 50 item numbers (you entered 51).'
            );
            expect(getInventory.getLastConfig().itemNumbers).toBeUndefined();
        });

        it('accepts exactly 50 item numbers', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);
            watchValidity(element);
            const fifty = Array.from({ length: 50 }, (_, index) => `I${index}`).join(',');

            await checkStock(element, fifty);

            expect(setCustomValidity).toHaveBeenCalledWith('');
            expect(getInventory.getLastConfig().itemNumbers.split(',')).toHaveLength(50);
        });

        it('refuses an item number longer than D365 allows', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);
            watchValidity(element);

            await checkStock(element, 'A0001, ABCDEFGHIJKLMNOPQRSTU');

            expect(setCustomValidity).toHaveBeenCalledWith(
                'Item numbers have at most 20 characters: ABCDEFGHIJKLMNOPQRSTU.'
            );
            expect(getInventory.getLastConfig().itemNumbers).toBeUndefined();
        });
    });

    describe('results', () => {
        it('shows one row per item, site and warehouse with available, reserved and ordered', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);

            await showInventory(element, mockInventory);

            const table = element.shadowRoot.querySelector('lightning-datatable');
            expect(table.keyField).toBe('key');
            expect(table.data).toEqual([
                {
                    key: 'A0001|1|11',
                    itemNumber: 'A0001',
                    siteId: '1',
                    warehouseId: '11',
                    available: 120,
                    reserved: 15,
                    ordered: 40
                },
                {
                    key: 'A0001|2|21',
                    itemNumber: 'A0001',
                    siteId: '2',
                    warehouseId: '21',
                    available: 8.5,
                    reserved: 0,
                    ordered: 0
                },
                {
                    key: 'a0001|1|11',
                    itemNumber: 'a0001',
                    siteId: '1',
                    warehouseId: '11',
                    available: 3,
                    reserved: 1,
                    ordered: 0
                }
            ]);
            expect(table.columns.map((column) => column.fieldName)).toEqual([
                'itemNumber',
                'siteId',
                'warehouseId',
                'available',
                'reserved',
                'ordered'
            ]);
        });

        it('shows when the figures were read and for which legal entity', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);

            await showInventory(element, mockInventory);

            expect(
                element.shadowRoot.querySelector('.as-of lightning-formatted-date-time').value
            ).toBe('2026-11-26T14:05:00.000Z');
            expect(trimmedText(element, '.result-legal-entity')).toBe('usmf');
        });

        it('names the requested items that have no stock', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);

            await showInventory(element, mockInventory, 'A0001, a0001, D0003, Z9999');

            expect(trimmedText(element, '.partial-no-stock')).toBe(
                'No on-hand stock in D365 for: D0003, Z9999.'
            );
        });

        it('shows an empty state instead of a table when no item has stock', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);

            await showInventory(
                element,
                { ...mockInventory, items: [{ itemNumber: 'D0003', sites: [] }] },
                'D0003'
            );

            expect(element.shadowRoot.querySelector('lightning-datatable')).toBeNull();
            expect(trimmedText(element, '.empty-state')).toBe(
                'No on-hand stock in D365 for: D0003.'
            );
        });

        it('warns that the figures may be out of date and says how old they are', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);

            await showInventory(element, mockStaleInventory, 'A0001');

            const notice = element.shadowRoot.querySelector('.stale-notice');
            expect(notice.getAttribute('role')).toBe('status');
            expect(trimmedText(element, '.stale-message')).toBe(
                'These figures are 2 hours old and may be out of date.'
            );
        });

        it('shows no stale notice for fresh figures', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);

            await showInventory(element, mockInventory);

            expect(element.shadowRoot.querySelector('.stale-notice')).toBeNull();
        });

        it('hides the earlier figures while a lookup of other items loads', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);
            await showInventory(element, mockInventory);

            await checkStock(element, 'B0002');

            expect(element.shadowRoot.querySelector('lightning-datatable')).toBeNull();
            expect(element.shadowRoot.querySelector('lightning-spinner')).not.toBeNull();
        });

        it('shows the reason in the error panel when stock cannot be loaded', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);
            await checkStock(element, 'A0001');

            getInventory.error({
                message: 'D365 did not answer within 10 seconds. Try again in a minute.'
            });
            await flushPromises();

            const panel = element.shadowRoot.querySelector('.inventory-error');
            expect(panel.friendlyMessage).toBe('Stock could not be loaded from D365.');
            expect(panel.errors.body.message).toBe(
                'D365 did not answer within 10 seconds. Try again in a minute.'
            );
            expect(element.shadowRoot.querySelector('lightning-datatable')).toBeNull();
            expect(element.shadowRoot.querySelector('lightning-spinner')).toBeNull();
        });
    });

    describe('refresh', () => {
        it('re-reads the current lookup from the server', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);
            await showInventory(element, mockInventory);
            const refreshButton = byDataId(element, 'refresh');
            expect(refreshButton.disabled).toBe(false);

            refreshButton.click();
            await flushPromises();

            expect(refreshApex).toHaveBeenCalledTimes(1);
            expect(refreshApex.mock.calls[0][0].data).toEqual(mockInventory);
        });

        it('shows a spinner and disables the button until the refresh completes', async () => {
            let finishRefresh;
            refreshApex.mockReturnValueOnce(
                new Promise((resolve) => {
                    finishRefresh = resolve;
                })
            );
            const element = await renderOn('Account', ACCOUNT_ID);
            await showInventory(element, mockInventory);

            byDataId(element, 'refresh').click();
            await flushPromises();
            expect(element.shadowRoot.querySelector('lightning-spinner')).not.toBeNull();
            expect(byDataId(element, 'refresh').disabled).toBe(true);

            finishRefresh();
            await flushPromises();
            expect(element.shadowRoot.querySelector('lightning-spinner')).toBeNull();
            expect(byDataId(element, 'refresh').disabled).toBe(false);
        });

        it('shows the error panel instead of the old figures when the refresh fails', async () => {
            refreshApex.mockRejectedValueOnce({
                body: { message: 'The D365 relay could not be reached.' }
            });
            const element = await renderOn('Account', ACCOUNT_ID);
            await showInventory(element, mockInventory);

            byDataId(element, 'refresh').click();
            await flushPromises();

            const panel = element.shadowRoot.querySelector('.inventory-error');
            expect(panel.errors.body.message).toBe('The D365 relay could not be reached.');
            expect(element.shadowRoot.querySelector('lightning-datatable')).toBeNull();
        });

        it('refreshes when the rep checks the same items again', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);
            await showInventory(element, mockInventory, 'A0001');

            byDataId(element, 'checkStock').click();
            await flushPromises();

            expect(refreshApex).toHaveBeenCalledTimes(1);
        });
    });

    describe('on a Product2 page', () => {
        it("reads the product's D365 item number", async () => {
            await renderOn('Product2', PRODUCT_ID);

            expect(getRecord.getLastConfig()).toEqual({
                recordId: PRODUCT_ID,
                fields: [{ objectApiName: 'Product2', fieldApiName: 'D365_Item_Number__c' }]
            });
        });

        it('prefills the item number and looks its stock up', async () => {
            const element = await renderOn('Product2', PRODUCT_ID);

            getRecord.emit(mockProduct);
            await flushPromises();

            expect(byDataId(element, 'itemNumbers').value).toBe('A0001');
            expect(getInventory.getLastConfig()).toEqual({ itemNumbers: 'A0001', legalEntity: '' });
        });

        it('explains that a product without an item number has no stock to show', async () => {
            const element = await renderOn('Product2', PRODUCT_ID);

            getRecord.emit({
                ...mockProduct,
                fields: { D365_Item_Number__c: { displayValue: null, value: null } }
            });
            await flushPromises();

            expect(trimmedText(element, '.no-item-number')).toBe(
                'This product has no D365 item number, so its stock cannot be shown.'
            );
            expect(getInventory.getLastConfig().itemNumbers).toBeUndefined();
        });

        it('does not read a product on other record pages', async () => {
            await renderOn('Opportunity', '006Hs00000AbCdEIAV');

            expect(getRecord.getLastConfig().recordId).toBeUndefined();
        });
    });

    describe('choosing a product', () => {
        it('searches products once the rep pauses typing at least two characters', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);
            jest.useFakeTimers();

            type(element, 'productSearch', 'm');
            type(element, 'productSearch', ' mountain ');
            jest.advanceTimersByTime(299);
            expect(searchItems.getLastConfig().searchTerm).toBe('');

            jest.advanceTimersByTime(1);
            await Promise.resolve();
            expect(searchItems.getLastConfig()).toEqual({ searchTerm: 'mountain' });
        });

        it('offers the matching products in the product picker', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);
            jest.useFakeTimers();
            expect(byDataId(element, 'product').disabled).toBe(true);
            type(element, 'productSearch', 'mountain');
            jest.advanceTimersByTime(300);

            searchItems.emit(mockSearchResults);
            await Promise.resolve();

            const picker = byDataId(element, 'product');
            expect(picker.options).toEqual(mockSearchResults);
            expect(picker.disabled).toBe(false);
        });

        it('offers the first products before the rep types anything', async () => {
            await renderOn('Account', ACCOUNT_ID);

            expect(searchItems.getLastConfig()).toEqual({ searchTerm: '' });
        });

        it('goes back to the first products when the search text gets too short', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);
            jest.useFakeTimers();
            type(element, 'productSearch', 'mountain');
            jest.advanceTimersByTime(300);
            await Promise.resolve();

            type(element, 'productSearch', 'm');
            jest.advanceTimersByTime(300);
            await Promise.resolve();

            expect(searchItems.getLastConfig()).toEqual({ searchTerm: '' });
        });

        it('adds the chosen product to the items and looks the stock up', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);
            type(element, 'itemNumbers', 'B0002');

            byDataId(element, 'product').dispatchEvent(
                new CustomEvent('change', { detail: { value: 'A0042' } })
            );
            await flushPromises();

            expect(byDataId(element, 'itemNumbers').value).toBe('B0002, A0042');
            expect(getInventory.getLastConfig().itemNumbers).toBe('B0002,A0042');
        });

        it('does not add a product that is already in the items', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);
            type(element, 'itemNumbers', 'A0042');

            byDataId(element, 'product').dispatchEvent(
                new CustomEvent('change', { detail: { value: 'A0042' } })
            );
            await flushPromises();

            expect(getInventory.getLastConfig().itemNumbers).toBe('A0042');
        });

        it('shows the error panel when products cannot be searched', async () => {
            const element = await renderOn('Account', ACCOUNT_ID);

            searchItems.error({ message: 'You do not have access to products.' });
            await flushPromises();

            const panel = element.shadowRoot.querySelector('.search-error');
            expect(panel.friendlyMessage).toBe('Products could not be searched.');
            expect(byDataId(element, 'product').options).toEqual([]);
        });
    });

    it('is accessible with stale results', async () => {
        const element = await renderOn('Account', ACCOUNT_ID);
        await showInventory(element, mockStaleInventory, 'A0001, D0003');

        await expect(element).toBeAccessible();
    });

    it('is accessible with an error', async () => {
        const element = await renderOn('Account', ACCOUNT_ID);
        await checkStock(element, 'A0001');
        getInventory.error();
        await flushPromises();

        await expect(element).toBeAccessible();
    });
});

describe('parseItemNumbers', () => {
    it('returns no item numbers for blank input', () => {
        expect(parseItemNumbers(undefined)).toEqual([]);
        expect(parseItemNumbers('  ')).toEqual([]);
    });
});

describe('describeAge', () => {
    it.each([
        [0, 'less than a minute'],
        [59, 'less than a minute'],
        [60, '1 minute'],
        [150, '2 minutes'],
        [3600, '1 hour'],
        [7260, '2 hours'],
        [86400, '1 day'],
        [200000, '2 days']
    ])('describes %i seconds as "%s"', (seconds, expected) => {
        expect(describeAge(seconds)).toBe(expected);
    });
});
