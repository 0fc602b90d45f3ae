import { LightningElement, api, wire } from 'lwc';
import { refreshApex } from '@salesforce/apex';
import { getRecord, getFieldValue } from 'lightning/uiRecordApi';
import ITEM_NUMBER_FIELD from '@salesforce/schema/Product2.D365_Item_Number__c';
import getInventory from '@salesforce/apex/D365InventoryController.getInventory';
import searchItems from '@salesforce/apex/D365InventoryController.searchItems';

/** The relay's inventory endpoint accepts 1 to 50 items per request (docs/contracts.md). */
export const MAX_ITEMS_PER_LOOKUP = 50;
/** D365 item numbers (ItemId) are at most 20 characters, as is Product2.D365_Item_Number__c. */
const MAX_ITEM_NUMBER_LENGTH = 20;
/** Shorter search terms match too many products to be useful; they list the first products instead. */
const MIN_SEARCH_LENGTH = 2;
/** Wait for the rep to pause typing before searching products. */
const SEARCH_DELAY_MS = 300;

const SECONDS_PER_MINUTE = 60;
const SECONDS_PER_HOUR = 3600;
const SECONDS_PER_DAY = 86400;

const COLUMNS = [
    { label: 'Item', fieldName: 'itemNumber' },
    { label: 'Site', fieldName: 'siteId' },
    { label: 'Warehouse', fieldName: 'warehouseId' },
    { label: 'Available', fieldName: 'available', type: 'number' },
    { label: 'Reserved', fieldName: 'reserved', type: 'number' },
    { label: 'Ordered', fieldName: 'ordered', type: 'number' }
];

const LABELS = {
    title: 'D365 stock',
    refresh: 'Refresh stock',
    searchProducts: 'Search products',
    searchPlaceholder: 'Product name or item number',
    product: 'Product',
    productPlaceholder: 'Choose a product',
    itemNumbers: 'Item numbers',
    itemNumbersHelp: `Separate several item numbers with commas (up to ${MAX_ITEMS_PER_LOOKUP}).`,
    legalEntity: 'Legal entity',
    legalEntityPlaceholder: 'Default',
    checkStock: 'Check stock',
    loading: 'Loading stock from D365',
    loadFailed: 'Stock could not be loaded from D365.',
    searchFailed: 'Products could not be searched.',
    noItemNumberOnProduct: 'This product has no D365 item number, so its stock cannot be shown.',
    enterItemNumber: 'Enter at least one item number.',
    tooManyItems: (count) =>
        `Enter at most ${MAX_ITEMS_PER_LOOKUP} item numbers (you entered ${count}).`,
    itemNumberTooLong: (itemNumber) =>
        `Item numbers have at most ${MAX_ITEM_NUMBER_LENGTH} characters: ${itemNumber}.`,
    noStockFor: (itemNumbers) => `No on-hand stock in D365 for: ${itemNumbers.join(', ')}.`,
    staleData: (age) => `These figures are ${age} old and may be out of date.`,
    asOf: 'As of'
};

/** Splits the rep's input into distinct item numbers; item numbers are case-sensitive in D365. */
export function parseItemNumbers(text) {
    const itemNumbers = (text || '')
        .split(',')
        .map((itemNumber) => itemNumber.trim())
        .filter((itemNumber) => itemNumber !== '');
    return [...new Set(itemNumbers)];
}

function validationMessage(itemNumbers) {
    if (itemNumbers.length === 0) {
        return LABELS.enterItemNumber;
    }
    if (itemNumbers.length > MAX_ITEMS_PER_LOOKUP) {
        return LABELS.tooManyItems(itemNumbers.length);
    }
    const tooLong = itemNumbers.find((itemNumber) => itemNumber.length > MAX_ITEM_NUMBER_LENGTH);
    return tooLong ? LABELS.itemNumberTooLong(tooLong) : '';
}

/** Age in the largest whole unit a rep reads at a glance, e.g. "3 hours". */
export function describeAge(ageSeconds) {
    const units = [
        [SECONDS_PER_DAY, 'day'],
        [SECONDS_PER_HOUR, 'hour'],
        [SECONDS_PER_MINUTE, 'minute']
    ];
    for (const [size, name] of units) {
        const count = Math.floor(ageSeconds / size);
        if (count >= 1) {
            return `${count} ${name}${count === 1 ? '' : 's'}`;
        }
    }
    return 'less than a minute';
}

/**
 * On-hand stock per site and warehouse from D365, for items the rep chooses or types.
 * On a Product2 page it starts with that product's item number.
 */
export default class D365InventoryLookup extends LightningElement {
    @api recordId;
    @api objectApiName;

    labels = LABELS;
    columns = COLUMNS;

    itemInput = '';
    legalEntityInput = '';
    // Blank lists the first products by name, so the rep can choose without typing.
    searchTerm = '';
    productOptions = [];
    searchError;
    productHasNoItemNumber = false;

    queryItemNumbers;
    queryLegalEntity = '';
    wiredInventory;
    inventory;
    error;
    isLoading = false;

    searchTimeout;

    get productRecordId() {
        return this.objectApiName === 'Product2' ? this.recordId : undefined;
    }

    @wire(getRecord, { recordId: '$productRecordId', fields: [ITEM_NUMBER_FIELD] })
    handleProduct({ data }) {
        if (!data) {
            return;
        }
        const itemNumber = getFieldValue(data, ITEM_NUMBER_FIELD);
        this.productHasNoItemNumber = !itemNumber;
        if (itemNumber) {
            this.itemInput = itemNumber;
            this.lookUp([itemNumber]);
        }
    }

    @wire(searchItems, { searchTerm: '$searchTerm' })
    handleSearchResults({ data, error }) {
        if (data) {
            this.productOptions = data;
            this.searchError = undefined;
        } else if (error) {
            this.productOptions = [];
            this.searchError = error;
        }
    }

    @wire(getInventory, { itemNumbers: '$queryItemNumbers', legalEntity: '$queryLegalEntity' })
    handleInventory(result) {
        this.wiredInventory = result;
        if (result.data) {
            this.inventory = result.data;
            this.error = undefined;
            this.isLoading = false;
        } else if (result.error) {
            this.error = result.error;
            this.inventory = undefined;
            this.isLoading = false;
        }
    }

    disconnectedCallback() {
        clearTimeout(this.searchTimeout);
    }

    handleSearchChange(event) {
        const term = (event.detail.value || '').trim();
        clearTimeout(this.searchTimeout);
        // eslint-disable-next-line @lwc/lwc/no-async-operation
        this.searchTimeout = setTimeout(() => {
            this.searchTerm = term.length >= MIN_SEARCH_LENGTH ? term : '';
        }, SEARCH_DELAY_MS);
    }

    handleProductChosen(event) {
        const itemNumbers = parseItemNumbers(this.itemInput);
        if (!itemNumbers.includes(event.detail.value)) {
            itemNumbers.push(event.detail.value);
        }
        this.itemInput = itemNumbers.join(', ');
        this.submit(itemNumbers);
    }

    handleItemInputChange(event) {
        this.itemInput = event.detail.value;
    }

    handleLegalEntityChange(event) {
        this.legalEntityInput = event.detail.value;
    }

    handleCheckStock() {
        this.submit(parseItemNumbers(this.itemInput));
    }

    handleKeyUp(event) {
        if (event.key === 'Enter') {
            this.handleCheckStock();
        }
    }

    submit(itemNumbers) {
        const input = this.template.querySelector('[data-id="itemNumbers"]');
        const message = validationMessage(itemNumbers);
        input.setCustomValidity(message);
        input.reportValidity();
        if (!message) {
            this.lookUp(itemNumbers);
        }
    }

    lookUp(itemNumbers) {
        const query = itemNumbers.join(',');
        const legalEntity = (this.legalEntityInput || '').trim();
        if (query === this.queryItemNumbers && legalEntity === this.queryLegalEntity) {
            // Same parameters: the wire would not fire again, so fetch fresh figures instead.
            this.handleRefresh();
            return;
        }
        // Earlier figures belong to other items: do not show them while the new ones load.
        this.inventory = undefined;
        this.error = undefined;
        this.isLoading = true;
        this.queryItemNumbers = query;
        this.queryLegalEntity = legalEntity;
    }

    async handleRefresh() {
        this.isLoading = true;
        try {
            await refreshApex(this.wiredInventory);
        } catch (error) {
            this.error = error;
            this.inventory = undefined;
        } finally {
            this.isLoading = false;
        }
    }

    get hasQuery() {
        return !!this.queryItemNumbers;
    }

    get refreshDisabled() {
        return !this.hasQuery || this.isLoading;
    }

    get hasProductOptions() {
        return this.productOptions.length > 0;
    }

    get productComboboxDisabled() {
        return !this.hasProductOptions;
    }

    get rows() {
        return (this.inventory?.items || []).flatMap((item) =>
            (item.sites || []).map((site) => ({
                key: `${item.itemNumber}|${site.siteId}|${site.warehouseId}`,
                itemNumber: item.itemNumber,
                siteId: site.siteId,
                warehouseId: site.warehouseId,
                available: site.available,
                reserved: site.reserved,
                ordered: site.ordered
            }))
        );
    }

    get hasRows() {
        return this.rows.length > 0;
    }

    /** Requested items that D365 returned no site rows for (or did not return at all). */
    get itemsWithoutStock() {
        const withStock = new Set(this.rows.map((row) => row.itemNumber));
        return parseItemNumbers(this.queryItemNumbers).filter(
            (itemNumber) => !withStock.has(itemNumber)
        );
    }

    get noStockMessage() {
        return LABELS.noStockFor(this.itemsWithoutStock);
    }

    get showPartialNoStock() {
        return this.hasRows && this.itemsWithoutStock.length > 0;
    }

    get staleMessage() {
        return LABELS.staleData(describeAge(this.inventory.ageSeconds));
    }
}
