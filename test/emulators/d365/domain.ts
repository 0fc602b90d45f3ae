// Entity behaviour: defaults, number sequences, validation (with D365's Infolog wording) and the
// posting operations the control API triggers. Create follows D365's order: InitValue, SetValue,
// ValidateField, DefaultRow, ValidateWrite, Write (shared/reference/d365-fo.md §1.7).
import { propertyLabel, type EntityDef } from './entities.ts';
import { methodNotAllowed, badRequest, writeFailed, type InfologLine } from './errors.ts';
import { Store, keyPart, type Row, type Table } from './store.ts';
import {
  EMPTY_DATE,
  nowDateTime,
  round2,
  toDateValue,
  today,
  type Value,
  type Values
} from './values.ts';

/** Per-company settings the entities above do not carry. */
export interface CompanySettings {
  /** Prefix of customer accounts from the number sequence, e.g. `US-` → `US-036`. */
  customerPrefix: string;
  currency: string;
  /** Flat sales tax rate applied when posting invoices (tax setup is out of scope). */
  taxRate: number;
}

export const COMPANY_SETTINGS: Record<string, CompanySettings> = {
  usmf: { customerPrefix: 'US-', currency: 'USD', taxRate: 0.08 },
  demf: { customerPrefix: 'DE-', currency: 'EUR', taxRate: 0.19 }
};

function settingsOf(company: string): CompanySettings {
  return (
    COMPANY_SETTINGS[company] ?? {
      customerPrefix: `${company.slice(0, 2).toUpperCase()}-`,
      currency: 'USD',
      taxRate: 0
    }
  );
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

export interface BusinessEventSink {
  (businessEventId: string, legalEntity: string, contract: Record<string, Value>): void;
}

export interface DomainOptions {
  /**
   * Sales lines must name the item with its exact case. SQL collation would match `a0001` to
   * `A0001`; the emulator refuses it because the connector's item keys are case-sensitive
   * (docs/contracts.md, Product2.D365_Item_Number__c) and a mismatch is a mapping bug.
   */
  itemNumberCaseSensitive: boolean;
}

class Infolog {
  readonly lines: InfologLine[] = [];
  warn(text: string): void {
    this.lines.push({ severity: 'Warning', text });
  }
  error(text: string): void {
    this.lines.push({ severity: 'Error', text });
  }
  /** D365's validateField failure: the FK warning followed by the validateField line. */
  notFound(def: EntityDef, field: string, value: Value, relatedLabel: string): void {
    const p = def.properties.find((x) => x.name === field);
    this.warn(
      `The value '${value}' in field '${p ? propertyLabel(p) : field}' is not found in the related table '${relatedLabel}'.`
    );
    this.warn(`validateField failed on field '${def.aotName}.${field}'.`);
  }
  get failed(): boolean {
    return this.lines.length > 0;
  }
}

export class Domain {
  readonly store: Store;
  private readonly options: DomainOptions;
  onBusinessEvent: BusinessEventSink = () => {};

  constructor(store: Store, options: DomainOptions) {
    this.store = store;
    this.options = options;
  }

  companyExists(id: string): boolean {
    return this.store.table('LegalEntities').get({ LegalEntityId: id }) !== undefined;
  }

  find(set: string, values: Values): Row | undefined {
    return this.store.table(set).get(values);
  }

  // ---- OData writes -------------------------------------------------------------------------

  create(set: string, given: Values, company: string): Row {
    const t = this.store.table(set);
    if (t.def.readOnly) throw readOnly(t.def);
    const log = new Infolog();
    const values: Values = { ...given };
    if (t.def.companySpecific) {
      values.dataAreaId = keyPart(given.dataAreaId ?? company);
      if (!this.companyExists(String(values.dataAreaId))) {
        // Wording UNCONFIRMED: the ChangeCompany to an unknown company fails before any write.
        log.error(`Company '${given.dataAreaId}' does not exist.`);
        throw writeFailed(t.def.aotName, log.lines);
      }
    }
    checkLengths(t.def, values, log);
    if (log.failed) throw writeFailed(t.def.aotName, log.lines);
    const row = this.store.newRow(set, values);
    this.defaults(set, row.values, given, log);
    checkRequired(t.def, row.values, log);
    if (!log.failed && t.rows.has(t.keyOf(row.values))) duplicate(t, row.values, log);
    if (log.failed) throw writeFailed(t.def.aotName, log.lines);
    this.store.transaction(() => {
      this.store.insert(set, row);
      this.afterWrite(set, row);
    });
    return row;
  }

  update(set: string, row: Row, changes: Values): Row {
    const t = this.store.table(set);
    if (t.def.readOnly) throw readOnly(t.def);
    const log = new Infolog();
    const merged: Values = { ...row.values };
    for (const [name, value] of Object.entries(changes)) {
      const p = t.index.props.get(name);
      if (!p || p.readOnly) continue;
      if (t.def.keys.includes(name)) {
        if (keyPart(value) !== keyPart(row.values[name])) {
          throw badRequest(`The key property '${name}' cannot be changed.`);
        }
        continue;
      }
      merged[name] = value;
    }
    checkLengths(t.def, changes, log);
    if (log.failed) throw writeFailed(t.def.aotName, log.lines, 'Update');
    this.validateUpdate(set, row.values, merged, log);
    checkRequired(t.def, merged, log);
    if (log.failed) throw writeFailed(t.def.aotName, log.lines, 'Update');
    this.store.transaction(() => {
      this.store.update(set, row, merged);
      this.afterWrite(set, row);
    });
    return row;
  }

  delete(set: string, row: Row): void {
    const t = this.store.table(set);
    if (t.def.readOnly) throw readOnly(t.def);
    const log = new Infolog();
    this.validateDelete(set, row, log);
    if (log.failed) throw writeFailed(t.def.aotName, log.lines, 'Delete');
    this.store.transaction(() => {
      if (set === 'SalesOrderHeadersV2') {
        for (const line of [...this.linesOf(row)]) this.store.remove('SalesOrderLines', line);
      }
      this.store.remove(set, row);
      if (set === 'SalesOrderLines') this.recalculateOrder(row.values);
    });
  }

  /** DMF import semantics: insert, or update the existing row when the key is known. */
  upsert(set: string, given: Values, company: string): Row {
    const t = this.store.table(set);
    const probe: Values = { ...given };
    if (t.def.companySpecific) probe.dataAreaId = keyPart(given.dataAreaId ?? company);
    const hasKey = t.def.keys.every((k) => probe[k] !== undefined && probe[k] !== '');
    const existing = hasKey ? t.get(probe) : undefined;
    return existing ? this.update(set, existing, given) : this.create(set, given, company);
  }

  // ---- defaults and validation per entity ---------------------------------------------------

  private defaults(set: string, v: Values, given: Values, log: Infolog): void {
    const company = String(v.dataAreaId ?? '');
    switch (set) {
      case 'CustomersV3':
        return this.customerDefaults(v, company, log);
      case 'ContactPersons':
        return this.contactDefaults(v, company, log);
      case 'SalesOrderHeadersV2':
        return this.orderDefaults(v, company, log);
      case 'SalesOrderLines':
        return this.lineDefaults(v, given, company, log);
      case 'ReleasedProductsV2':
        if (!v.ProductNumber) v.ProductNumber = v.ItemNumber!;
        if (!v.SearchName) v.SearchName = String(v.ProductName || v.ItemNumber).slice(0, 20);
        if (!given.SalesPriceQuantity) v.SalesPriceQuantity = 1;
        for (const unit of [
          'InventoryUnitSymbol',
          'SalesUnitSymbol',
          'PurchaseUnitSymbol',
          'BOMUnitSymbol'
        ]) {
          if (!v[unit]) v[unit] = 'ea';
        }
        return;
    }
  }

  private customerDefaults(v: Values, company: string, log: Infolog): void {
    const def = this.store.table('CustomersV3').def;
    if (!v.CustomerAccount) {
      // Number sequence for customer accounts (the emulator assigns it on OData creates too).
      v.CustomerAccount = this.freeNumber(
        'CustomersV3',
        'CustomerAccount',
        company,
        `cust:${company}`,
        (n) => `${settingsOf(company).customerPrefix}${pad(n, 3)}`
      );
    }
    if (!v.PartyType) v.PartyType = 'Organization';
    if (v.PartyType !== 'Organization' && v.PartyType !== 'Person') {
      log.error(`The party type '${v.PartyType}' is not valid. Use Organization or Person.`);
    }
    if (v.PartyType === 'Person') {
      if (!v.PersonLastName) log.error(`Field 'Last name' must be filled in.`);
      v.OrganizationName = [v.PersonFirstName, v.PersonLastName].filter(Boolean).join(' ');
    } else if (!v.OrganizationName) {
      log.error(`Field 'Name' must be filled in.`);
    }
    if (!v.NameAlias) v.NameAlias = String(v.OrganizationName).slice(0, 20);
    v.PartyNumber = pad(this.store.nextNumber('party'), 9);
    if (!v.SalesCurrencyCode) v.SalesCurrencyCode = settingsOf(company).currency;
    if (
      v.CustomerGroupId &&
      !this.find('CustomerGroups', { dataAreaId: company, CustomerGroupId: v.CustomerGroupId })
    ) {
      log.notFound(def, 'CustomerGroupId', v.CustomerGroupId, 'Customer groups');
    }
    if (
      v.InvoiceAccount &&
      !this.find('CustomersV3', { dataAreaId: company, CustomerAccount: v.InvoiceAccount })
    ) {
      log.notFound(def, 'InvoiceAccount', v.InvoiceAccount, 'Customers');
    }
    v.FullPrimaryAddress = fullAddress(v);
    v.CustomerCreatedDateTime = nowDateTime();
  }

  private contactDefaults(v: Values, company: string, log: Infolog): void {
    const def = this.store.table('ContactPersons').def;
    if (!v.ContactPersonId) {
      v.ContactPersonId = this.freeNumber(
        'ContactPersons',
        'ContactPersonId',
        company,
        `contact:${company}`,
        (n) => pad(n, 6)
      );
    }
    v.ContactPersonPartyNumber = pad(this.store.nextNumber('party'), 9);
    if (
      v.AssociatedPartyNumber &&
      !this.customerByParty(company, String(v.AssociatedPartyNumber))
    ) {
      log.notFound(def, 'AssociatedPartyNumber', v.AssociatedPartyNumber, 'Party');
    }
    v.ContactPersonName = [v.FirstName, v.MiddleName, v.LastName].filter(Boolean).join(' ');
    v.LastEditDateTime = nowDateTime();
  }

  private orderDefaults(v: Values, company: string, log: Infolog): void {
    const def = this.store.table('SalesOrderHeadersV2').def;
    if (!v.SalesOrderNumber)
      v.SalesOrderNumber = this.freeNumber(
        'SalesOrderHeadersV2',
        'SalesOrderNumber',
        company,
        `salesorder:${company}`,
        (n) => pad(n, 6)
      );
    v.SalesOrderStatus = 'Backorder';
    v.SalesOrderProcessingStatus = 'Active';
    v.OrderCreationDateTime = nowDateTime();
    if (v.RequestedShippingDate === EMPTY_DATE) v.RequestedShippingDate = today();
    if (v.RequestedReceiptDate === EMPTY_DATE) v.RequestedReceiptDate = v.RequestedShippingDate!;
    if (!v.OrderingCustomerAccountNumber) return;
    const customer = this.find('CustomersV3', {
      dataAreaId: company,
      CustomerAccount: v.OrderingCustomerAccountNumber
    });
    if (!customer) {
      log.notFound(
        def,
        'OrderingCustomerAccountNumber',
        v.OrderingCustomerAccountNumber,
        'Customers'
      );
      return;
    }
    const c = customer.values;
    if (c.OnHoldStatus === 'All') {
      // Wording UNCONFIRMED; D365 refuses orders for customers blocked for 'All'.
      log.error(`Customer ${c.CustomerAccount} is on hold for All.`);
    }
    if (!v.InvoiceCustomerAccountNumber)
      v.InvoiceCustomerAccountNumber = c.InvoiceAccount || c.CustomerAccount!;
    else if (
      !this.find('CustomersV3', {
        dataAreaId: company,
        CustomerAccount: v.InvoiceCustomerAccountNumber
      })
    ) {
      log.notFound(
        def,
        'InvoiceCustomerAccountNumber',
        v.InvoiceCustomerAccountNumber,
        'Customers'
      );
    }
    if (!v.CurrencyCode) v.CurrencyCode = c.SalesCurrencyCode!;
    if (!v.SalesOrderName) v.SalesOrderName = c.OrganizationName!;
    if (!v.PaymentTermsName) v.PaymentTermsName = c.PaymentTerms!;
    if (!v.CustomerPaymentMethodName) v.CustomerPaymentMethodName = c.PaymentMethod!;
    if (!v.DeliveryModeCode) v.DeliveryModeCode = c.DeliveryMode!;
    if (!v.DeliveryTermsCode) v.DeliveryTermsCode = c.DeliveryTerms!;
    if (!v.SalesTaxGroupCode) v.SalesTaxGroupCode = c.SalesTaxGroup!;
    if (!v.DefaultShippingWarehouseId) v.DefaultShippingWarehouseId = c.WarehouseId!;
    if (!v.DefaultShippingSiteId) v.DefaultShippingSiteId = c.SiteId!;
    if (
      v.DefaultShippingWarehouseId &&
      !this.find('Warehouses', { dataAreaId: company, WarehouseId: v.DefaultShippingWarehouseId })
    ) {
      log.notFound(def, 'DefaultShippingWarehouseId', v.DefaultShippingWarehouseId, 'Warehouses');
    }
    if (!v.LanguageId) v.LanguageId = c.LanguageId!;
    if (!v.DeliveryAddressName) {
      v.DeliveryAddressName = c.OrganizationName!;
      v.DeliveryAddressStreet = c.AddressStreet!;
      v.DeliveryAddressCity = c.AddressCity!;
      v.DeliveryAddressStateId = c.AddressState!;
      v.DeliveryAddressZipCode = c.AddressZipCode!;
      v.DeliveryAddressCountryRegionId = c.AddressCountryRegionId!;
    }
  }

  private lineDefaults(v: Values, given: Values, company: string, log: Infolog): void {
    const def = this.store.table('SalesOrderLines').def;
    if (!v.InventoryLotId) {
      v.InventoryLotId = `${company.toUpperCase()}-${pad(this.store.nextNumber(`lot:${company}`), 6)}`;
    }
    v.SalesOrderLineStatus = 'Backorder';
    const header = v.SalesOrderNumber
      ? this.find('SalesOrderHeadersV2', {
          dataAreaId: company,
          SalesOrderNumber: v.SalesOrderNumber
        })
      : undefined;
    if (v.SalesOrderNumber && !header) {
      log.notFound(def, 'SalesOrderNumber', v.SalesOrderNumber, 'Sales orders');
    }
    if (header && header.values.SalesOrderStatus !== 'Backorder') {
      log.error(
        `Sales order ${header.values.SalesOrderNumber} is ${header.values.SalesOrderStatus}; lines cannot be added.`
      );
    }
    const product = v.ItemNumber ? this.product(company, String(v.ItemNumber)) : undefined;
    if (v.ItemNumber && !product) log.notFound(def, 'ItemNumber', v.ItemNumber, 'Items');
    if (!header || !product) return;
    const h = header.values;
    const p = product.values;
    if (p.IsSalesBlocked === 'Yes') log.error(`Item ${p.ItemNumber} is stopped for sales.`);
    if (given.LineNumber === undefined) {
      let max = 0;
      for (const line of this.linesOf(header)) max = Math.max(max, Number(line.values.LineNumber));
      v.LineNumber = max + 1;
    }
    if (given.OrderedSalesQuantity === undefined) v.OrderedSalesQuantity = 1;
    if (!v.SalesUnitSymbol) v.SalesUnitSymbol = p.SalesUnitSymbol!;
    if (!v.LineDescription) v.LineDescription = p.ProductName!;
    if (!v.CurrencyCode) v.CurrencyCode = h.CurrencyCode!;
    if (!v.ShippingWarehouseId) v.ShippingWarehouseId = h.DefaultShippingWarehouseId!;
    if (!v.ShippingSiteId) v.ShippingSiteId = h.DefaultShippingSiteId!;
    if (v.RequestedShippingDate === EMPTY_DATE) v.RequestedShippingDate = h.RequestedShippingDate!;
    if (v.RequestedReceiptDate === EMPTY_DATE) v.RequestedReceiptDate = h.RequestedReceiptDate!;
    if (!v.SalesTaxItemGroupCode) v.SalesTaxItemGroupCode = p.SalesSalesTaxItemGroupCode!;
    if (!v.SalesTaxGroupCode) v.SalesTaxGroupCode = h.SalesTaxGroupCode!;
    if (given.SalesPriceQuantity === undefined)
      v.SalesPriceQuantity = Number(p.SalesPriceQuantity) || 1;
    if (
      v.ShippingWarehouseId &&
      !this.find('Warehouses', { dataAreaId: company, WarehouseId: v.ShippingWarehouseId })
    ) {
      log.notFound(def, 'ShippingWarehouseId', v.ShippingWarehouseId, 'Warehouses');
    }
    if (given.SalesPrice === undefined) {
      v.SalesPrice = this.priceFor(
        company,
        p,
        String(h.OrderingCustomerAccountNumber),
        String(v.CurrencyCode),
        Number(v.OrderedSalesQuantity)
      );
    }
    v.LineAmount = lineAmount(v);
  }

  private validateUpdate(set: string, before: Values, v: Values, log: Infolog): void {
    const company = String(v.dataAreaId ?? '');
    const def = this.store.table(set).def;
    if (set === 'CustomersV3') {
      if (
        v.CustomerGroupId !== before.CustomerGroupId &&
        !this.find('CustomerGroups', { dataAreaId: company, CustomerGroupId: v.CustomerGroupId! })
      ) {
        log.notFound(def, 'CustomerGroupId', v.CustomerGroupId!, 'Customer groups');
      }
      if (v.PartyType === 'Person')
        v.OrganizationName = [v.PersonFirstName, v.PersonLastName].filter(Boolean).join(' ');
      else if (!v.OrganizationName) log.error(`Field 'Name' must be filled in.`);
      v.FullPrimaryAddress = fullAddress(v);
    } else if (set === 'ContactPersons') {
      v.ContactPersonName = [v.FirstName, v.MiddleName, v.LastName].filter(Boolean).join(' ');
      v.LastEditDateTime = nowDateTime();
    } else if (set === 'SalesOrderHeadersV2') {
      if (before.SalesOrderStatus === 'Invoiced' || before.SalesOrderStatus === 'Canceled') {
        log.error(
          `Sales order ${before.SalesOrderNumber} is ${before.SalesOrderStatus} and cannot be changed.`
        );
      }
    } else if (set === 'SalesOrderLines') {
      if (before.SalesOrderLineStatus !== 'Backorder') {
        log.error(
          `The line ${before.InventoryLotId} is ${before.SalesOrderLineStatus} and cannot be changed.`
        );
      }
      if (v.ItemNumber !== before.ItemNumber && !this.product(company, String(v.ItemNumber))) {
        log.notFound(def, 'ItemNumber', v.ItemNumber!, 'Items');
      }
      v.LineAmount = lineAmount(v);
    }
  }

  private validateDelete(set: string, row: Row, log: Infolog): void {
    const v = row.values;
    const t = this.store.table(set);
    if (set === 'CustomersV3') {
      const trans = this.store.table('CustTransactions').lookup('AccountNum', v.CustomerAccount!);
      const orders = this.store
        .table('SalesOrderHeadersV2')
        .lookup('OrderingCustomerAccountNumber', v.CustomerAccount!);
      const inCompany = (rows: Iterable<Row> | undefined): boolean =>
        [...(rows ?? [])].some((r) => r.values.dataAreaId === v.dataAreaId);
      if (inCompany(trans) || inCompany(orders)) {
        log.error(
          `Cannot delete a record in ${t.def.tableLabel} (${t.def.table}). Customer account: ${v.CustomerAccount}, ${v.OrganizationName}.\nThe record may not be deleted. Transactions exist in table '${inCompany(trans) ? 'Customer transactions' : 'Sales orders'}'.`
        );
      }
    } else if (set === 'SalesOrderHeadersV2' && v.SalesOrderStatus === 'Invoiced') {
      log.error(`Sales order ${v.SalesOrderNumber} has been invoiced and cannot be deleted.`);
    } else if (set === 'SalesOrderLines' && v.SalesOrderLineStatus !== 'Backorder') {
      log.error(`The line ${v.InventoryLotId} is ${v.SalesOrderLineStatus} and cannot be deleted.`);
    }
  }

  private afterWrite(set: string, row: Row): void {
    if (set === 'SalesOrderLines') this.recalculateOrder(row.values);
  }

  private recalculateOrder(line: Values): void {
    const header = this.find('SalesOrderHeadersV2', {
      dataAreaId: line.dataAreaId!,
      SalesOrderNumber: line.SalesOrderNumber!
    });
    if (!header) return;
    let total = 0;
    let discount = 0;
    for (const l of this.linesOf(header)) {
      total += Number(l.values.LineAmount);
      discount += Number(l.values.LineDiscountAmount) * Number(l.values.OrderedSalesQuantity);
    }
    this.store.update('SalesOrderHeadersV2', header, {
      ...header.values,
      OrderTotalAmount: round2(total),
      OrderTotalDiscountAmount: round2(discount),
      OrderTotalTaxAmount: round2(total * settingsOf(String(line.dataAreaId)).taxRate)
    });
  }

  /**
   * Next number of a sequence that no row uses yet: values entered by hand (manual numbers,
   * DMF imports) are skipped rather than failing a later create as a duplicate.
   */
  private freeNumber(
    set: string,
    field: string,
    company: string,
    sequence: string,
    format: (n: number) => string
  ): string {
    for (;;) {
      const candidate = format(this.store.nextNumber(sequence));
      if (!this.find(set, { dataAreaId: company, [field]: candidate })) return candidate;
    }
  }

  // ---- lookups ------------------------------------------------------------------------------

  linesOf(header: Row): Row[] {
    const company = header.values.dataAreaId;
    return [
      ...(this.store
        .table('SalesOrderLines')
        .lookup('SalesOrderNumber', header.values.SalesOrderNumber!) ?? [])
    ]
      .filter((r) => r.values.dataAreaId === company)
      .sort((a, b) => Number(a.values.LineNumber) - Number(b.values.LineNumber));
  }

  private customerByParty(company: string, partyNumber: string): Row | undefined {
    for (const r of this.store.table('CustomersV3').lookup('PartyNumber', partyNumber) ?? []) {
      if (r.values.dataAreaId === company) return r;
    }
    return undefined;
  }

  private product(company: string, itemNumber: string): Row | undefined {
    const row = this.find('ReleasedProductsV2', { dataAreaId: company, ItemNumber: itemNumber });
    if (row && this.options.itemNumberCaseSensitive && row.values.ItemNumber !== itemNumber)
      return undefined;
    return row;
  }

  /** Trade agreement price: customer-specific, then customer group, then all; else the base price. */
  private priceFor(
    company: string,
    product: Values,
    customerAccount: string,
    currency: string,
    qty: number
  ): number {
    const customer = this.find('CustomersV3', {
      dataAreaId: company,
      CustomerAccount: customerAccount
    })?.values;
    const now = today();
    let best: { rank: number; price: number } | undefined;
    for (const r of this.store
      .table('SalesPriceAgreements')
      .lookup('ItemNumber', product.ItemNumber!) ?? []) {
      const a = r.values;
      if (a.dataAreaId !== company || a.PriceCurrencyCode !== currency) continue;
      if (a.PriceApplicableFromDate !== EMPTY_DATE && String(a.PriceApplicableFromDate) > now)
        continue;
      if (a.PriceApplicableToDate !== EMPTY_DATE && String(a.PriceApplicableToDate) < now) continue;
      if (Number(a.FromQuantity) > qty || (Number(a.ToQuantity) > 0 && Number(a.ToQuantity) <= qty))
        continue;
      let rank = -1;
      if (
        a.PriceCustomerGroupCode === 'Table' &&
        keyPart(a.CustomerAccountNumber) === keyPart(customerAccount)
      )
        rank = 3;
      else if (
        a.PriceCustomerGroupCode === 'GroupId' &&
        customer &&
        keyPart(a.PriceCustomerGroupId) === keyPart(customer.CustomerGroupId)
      )
        rank = 2;
      else if (a.PriceCustomerGroupCode === 'All') rank = 1;
      if (rank > 0 && (!best || rank > best.rank)) best = { rank, price: Number(a.Price) };
    }
    return best ? best.price : Number(product.SalesPrice);
  }

  // ---- posting operations (control API) ------------------------------------------------------

  postSalesInvoice(company: string, salesOrderNumber: string, invoiceDate?: string): Row {
    const header = this.find('SalesOrderHeadersV2', {
      dataAreaId: company,
      SalesOrderNumber: salesOrderNumber
    });
    if (!header) throw badRequest(`Sales order ${salesOrderNumber} does not exist in ${company}.`);
    const h = header.values;
    if (h.SalesOrderStatus !== 'Backorder' && h.SalesOrderStatus !== 'Delivered') {
      throw badRequest(
        `Sales order ${salesOrderNumber} is ${h.SalesOrderStatus} and cannot be invoiced.`
      );
    }
    const lines = this.linesOf(header);
    if (lines.length === 0)
      throw badRequest(`Sales order ${salesOrderNumber} has no lines to invoice.`);
    const date = invoiceDate ? (toDateValue(invoiceDate) ?? today()) : today();
    const invoice = this.store.transaction(() => {
      const inv = this.writeInvoice(company, {
        prefix: 'CIV-',
        date,
        customer: String(h.InvoiceCustomerAccountNumber),
        orderingCustomer: String(h.OrderingCustomerAccountNumber),
        salesOrderNumber: salesOrderNumber,
        reference: String(h.CustomersOrderReference),
        requisition: String(h.CustomerRequisitionNumber),
        currency: String(h.CurrencyCode),
        paymentTerms: String(h.PaymentTermsName),
        lines: lines.map((l) => ({
          item: String(l.values.ItemNumber),
          description: String(l.values.LineDescription),
          quantity: Number(l.values.OrderedSalesQuantity),
          price: Number(l.values.SalesPrice),
          unit: String(l.values.SalesUnitSymbol),
          amount: Number(l.values.LineAmount),
          discount: Number(l.values.LineDiscountAmount) * Number(l.values.OrderedSalesQuantity),
          site: String(l.values.ShippingSiteId),
          warehouse: String(l.values.ShippingWarehouseId)
        }))
      });
      for (const l of lines) {
        this.store.update('SalesOrderLines', l, { ...l.values, SalesOrderLineStatus: 'Invoiced' });
        this.adjustOnHand(
          company,
          String(l.values.ItemNumber),
          String(l.values.ShippingSiteId),
          String(l.values.ShippingWarehouseId),
          -Number(l.values.OrderedSalesQuantity)
        );
      }
      this.store.update('SalesOrderHeadersV2', header, {
        ...header.values,
        SalesOrderStatus: 'Invoiced',
        SalesOrderProcessingStatus: 'Invoiced'
      });
      return inv;
    });
    this.emitInvoiceEvent('SalesInvoicePostedBusinessEvent', invoice.values);
    return invoice;
  }

  postFreeTextInvoice(
    company: string,
    customerAccount: string,
    lines: Array<{ description: string; amount: number }>,
    invoiceDate?: string
  ): Row {
    const customer = this.find('CustomersV3', {
      dataAreaId: company,
      CustomerAccount: customerAccount
    });
    if (!customer) throw badRequest(`Customer ${customerAccount} does not exist in ${company}.`);
    if (lines.length === 0) throw badRequest('A free text invoice needs at least one line.');
    const c = customer.values;
    const date = invoiceDate ? (toDateValue(invoiceDate) ?? today()) : today();
    const invoice = this.store.transaction(() =>
      this.writeInvoice(company, {
        prefix: 'FTI-',
        date,
        customer: String(c.InvoiceAccount || c.CustomerAccount),
        orderingCustomer: String(c.CustomerAccount),
        salesOrderNumber: '',
        reference: '',
        requisition: '',
        currency: String(c.SalesCurrencyCode),
        paymentTerms: String(c.PaymentTerms),
        lines: lines.map((l) => ({
          item: '',
          description: l.description,
          quantity: 1,
          price: l.amount,
          unit: '',
          amount: l.amount,
          discount: 0,
          site: '',
          warehouse: ''
        }))
      })
    );
    this.emitInvoiceEvent('CustFreeTextInvoicePostedBusinessEvent', invoice.values);
    return invoice;
  }

  private writeInvoice(
    company: string,
    input: {
      prefix: string;
      date: string;
      customer: string;
      orderingCustomer: string;
      salesOrderNumber: string;
      reference: string;
      requisition: string;
      currency: string;
      paymentTerms: string;
      lines: Array<{
        item: string;
        description: string;
        quantity: number;
        price: number;
        unit: string;
        amount: number;
        discount: number;
        site: string;
        warehouse: string;
      }>;
    }
  ): Row {
    const rate = settingsOf(company).taxRate;
    const invoiceNumber = `${input.prefix}${pad(this.store.nextNumber(`invoice:${input.prefix}${company}`), 6)}`;
    const voucher = `ARI-${pad(this.store.nextNumber(`voucher:ari:${company}`), 6)}`;
    const dueDate = addDays(input.date, termDays(input.paymentTerms));
    let net = 0;
    let tax = 0;
    let discount = 0;
    input.lines.forEach((l, i) => {
      const lineTax = round2(l.amount * rate);
      net += l.amount;
      tax += lineTax;
      discount += l.discount;
      this.store.insert(
        'SalesInvoiceV2Lines',
        this.store.newRow('SalesInvoiceV2Lines', {
          dataAreaId: company,
          InvoiceNumber: invoiceNumber,
          LineCreationSequenceNumber: i + 1,
          InvoiceDate: input.date,
          LedgerVoucher: voucher,
          SalesOrderNumber: input.salesOrderNumber,
          ProductNumber: l.item,
          ItemNumber: l.item,
          ProductDescription: l.description,
          InvoicedQuantity: l.quantity,
          SalesPrice: l.price,
          SalesUnitSymbol: l.unit,
          LineAmount: round2(l.amount),
          LineTotalTaxAmount: lineTax,
          LineTotalDiscountAmount: round2(l.discount),
          CurrencyCode: input.currency,
          InventorySiteId: l.site,
          InventoryWarehouseId: l.warehouse
        })
      );
    });
    const total = round2(net + tax);
    const header = this.store.newRow('SalesInvoiceHeadersV2', {
      dataAreaId: company,
      InvoiceNumber: invoiceNumber,
      InvoiceDate: input.date,
      DueDate: dueDate,
      SalesOrderNumber: input.salesOrderNumber,
      InvoiceCustomerAccountNumber: input.customer,
      OrderingCustomerAccountNumber: input.orderingCustomer,
      CustomersOrderReference: input.reference,
      CustomerRequisitionNumber: input.requisition,
      TotalInvoiceAmount: total,
      TotalTaxAmount: round2(tax),
      TotalDiscountAmount: round2(discount),
      PaymentTermsName: input.paymentTerms,
      CurrencyCode: input.currency,
      LedgerVoucher: voucher
    });
    this.store.insert('SalesInvoiceHeadersV2', header);
    this.insertTrans(company, {
      AccountNum: input.customer,
      OrderAccount: input.orderingCustomer,
      TransDate: input.date,
      Voucher: voucher,
      Invoice: invoiceNumber,
      TransType: 'Sales',
      Txt: input.salesOrderNumber ? `Sales order ${input.salesOrderNumber}` : 'Free text invoice',
      AmountCur: total,
      AmountMST: total,
      CurrencyCode: input.currency,
      DueDate: dueDate
    });
    return header;
  }

  private insertTrans(company: string, values: Values): Row {
    const row = this.store.newRow('CustTransactions', { ...values, dataAreaId: company });
    row.values.RecId = row.recId;
    this.store.insert('CustTransactions', row);
    return row;
  }

  /**
   * Posts a customer payment and settles it against open invoices: the named invoice first,
   * then the oldest by due date. Returns the payment transaction.
   */
  registerPayment(
    company: string,
    customerAccount: string,
    amount: number,
    options: { invoiceNumber?: string; date?: string } = {}
  ): Row {
    const customer = this.find('CustomersV3', {
      dataAreaId: company,
      CustomerAccount: customerAccount
    });
    if (!customer) throw badRequest(`Customer ${customerAccount} does not exist in ${company}.`);
    if (!(amount > 0)) throw badRequest('The payment amount must be positive.');
    const date = options.date ? (toDateValue(options.date) ?? today()) : today();
    const settled: string[] = [];
    const payment = this.store.transaction(() => {
      const voucher = `ARP-${pad(this.store.nextNumber(`voucher:arp:${company}`), 6)}`;
      const open = [
        ...(this.store.table('CustTransactions').lookup('AccountNum', customerAccount) ?? [])
      ]
        .filter(
          (r) =>
            r.values.dataAreaId === company &&
            r.values.TransType === 'Sales' &&
            r.values.Closed === EMPTY_DATE
        )
        .sort((a, b) => {
          const pa = a.values.Invoice === options.invoiceNumber ? 0 : 1;
          const pb = b.values.Invoice === options.invoiceNumber ? 0 : 1;
          return pa - pb || String(a.values.DueDate).localeCompare(String(b.values.DueDate));
        });
      let remaining = amount;
      for (const r of open) {
        if (remaining <= 0) break;
        const openAmount = round2(Number(r.values.AmountCur) - Number(r.values.SettleAmountCur));
        const settle = Math.min(openAmount, remaining);
        remaining = round2(remaining - settle);
        const settledTotal = round2(Number(r.values.SettleAmountCur) + settle);
        this.store.update('CustTransactions', r, {
          ...r.values,
          SettleAmountCur: settledTotal,
          SettleAmountMST: settledTotal,
          LastSettleDate: date,
          LastSettleVoucher: voucher,
          Closed: settledTotal >= Number(r.values.AmountCur) ? date : EMPTY_DATE
        });
        settled.push(String(r.values.Invoice));
      }
      const used = round2(amount - remaining);
      return this.insertTrans(company, {
        AccountNum: customerAccount,
        OrderAccount: customerAccount,
        TransDate: date,
        Voucher: voucher,
        TransType: 'Payment',
        Txt: 'Customer payment',
        AmountCur: -amount,
        AmountMST: -amount,
        SettleAmountCur: -used,
        SettleAmountMST: -used,
        CurrencyCode: String(customer.values.SalesCurrencyCode),
        LastSettleDate: used > 0 ? date : EMPTY_DATE,
        LastSettleVoucher: used > 0 ? voucher : '',
        Closed: remaining <= 0 ? date : EMPTY_DATE,
        PaymReference: options.invoiceNumber ?? ''
      });
    });
    const p = payment.values;
    this.onBusinessEvent(PAYMENT_EVENT_ID, company, {
      CustomerAccount: customerAccount,
      LegalEntity: company,
      PaymentAmount: amount,
      CurrencyCode: p.CurrencyCode!,
      TransactionDate: p.TransDate!,
      Voucher: p.Voucher!,
      SettledInvoices: settled.join(',')
    });
    return payment;
  }

  /** Sets or shifts on-hand quantities for one item in one warehouse (creates the row if new). */
  setOnHand(
    company: string,
    itemNumber: string,
    siteId: string,
    warehouseId: string,
    quantities: { onHand?: number; reserved?: number; ordered?: number }
  ): Row {
    const t = this.store.table('WarehousesOnHandV2');
    const key = onHandKey(company, itemNumber, siteId, warehouseId);
    const existing = t.get(key);
    const base = existing?.values ?? this.store.newRow('WarehousesOnHandV2', key).values;
    const product = this.find('ReleasedProductsV2', {
      dataAreaId: company,
      ItemNumber: itemNumber
    });
    const onHand = quantities.onHand ?? Number(base.OnHandQuantity);
    const reserved = quantities.reserved ?? Number(base.ReservedOnHandQuantity);
    const ordered = quantities.ordered ?? Number(base.OrderedQuantity);
    const values: Values = {
      ...base,
      ProductName: product ? String(product.values.ProductName) : String(base.ProductName),
      OnHandQuantity: onHand,
      ReservedOnHandQuantity: reserved,
      AvailableOnHandQuantity: round2(onHand - reserved),
      OrderedQuantity: ordered,
      AvailableOrderedQuantity: ordered,
      TotalAvailableQuantity: round2(onHand - reserved + ordered)
    };
    if (existing) {
      this.store.update('WarehousesOnHandV2', existing, values);
      return existing;
    }
    const row = this.store.newRow('WarehousesOnHandV2', values);
    this.store.insert('WarehousesOnHandV2', row);
    return row;
  }

  private adjustOnHand(
    company: string,
    item: string,
    site: string,
    warehouse: string,
    delta: number
  ): void {
    const row = this.store
      .table('WarehousesOnHandV2')
      .get(onHandKey(company, item, site, warehouse));
    if (!row) return;
    this.setOnHand(company, item, site, warehouse, {
      onHand: round2(Number(row.values.OnHandQuantity) + delta)
    });
  }

  private emitInvoiceEvent(eventId: string, inv: Values): void {
    this.onBusinessEvent(eventId, String(inv.dataAreaId), {
      InvoiceAccount: inv.InvoiceCustomerAccountNumber!,
      InvoiceAmountInAccountingCurrency: inv.TotalInvoiceAmount!,
      InvoiceDate: inv.InvoiceDate!,
      InvoiceDueDate: inv.DueDate!,
      InvoiceId: inv.InvoiceNumber!,
      InvoiceTaxAmount: inv.TotalTaxAmount!,
      LegalEntity: inv.dataAreaId!,
      ...(eventId === 'SalesInvoicePostedBusinessEvent'
        ? { SalesOrderId: inv.SalesOrderNumber! }
        : {})
    });
  }
}

/**
 * Business event ID of the customer payment event. The catalog name of "Payment posted" is
 * UNCONFIRMED (§6.4); the emulator uses this name and documents it in the README.
 */
export const PAYMENT_EVENT_ID = 'CustomerPaymentPostedBusinessEvent';

function onHandKey(
  company: string,
  itemNumber: string,
  siteId: string,
  warehouseId: string
): Values {
  return {
    dataAreaId: company,
    ItemNumber: itemNumber,
    ProductColorId: '',
    ProductConfigurationId: '',
    ProductSizeId: '',
    ProductStyleId: '',
    ProductVersionId: '',
    InventorySiteId: siteId,
    InventoryWarehouseId: warehouseId
  };
}

function lineAmount(v: Values): number {
  const qty = Number(v.OrderedSalesQuantity);
  const priceUnit = Number(v.SalesPriceQuantity) || 1;
  const gross = (Number(v.SalesPrice) / priceUnit) * qty - Number(v.LineDiscountAmount) * qty;
  return round2(gross * (1 - Number(v.LineDiscountPercentage) / 100));
}

function fullAddress(v: Values): string {
  const cityLine = [v.AddressCity, v.AddressState, v.AddressZipCode].filter(Boolean).join(', ');
  return [v.AddressStreet, cityLine, v.AddressCountryRegionId].filter(Boolean).join('\n');
}

function termDays(terms: string): number {
  const m = /(\d+)/.exec(terms);
  return m ? Number(m[1]) : 30;
}

function addDays(date: string, days: number): string {
  const d = new Date(date);
  d.setUTCDate(d.getUTCDate() + days);
  return `${d.toISOString().slice(0, 10)}T12:00:00Z`;
}

function checkLengths(def: EntityDef, values: Values, log: Infolog): void {
  for (const p of def.properties) {
    const v = values[p.name];
    if (p.maxLength !== undefined && typeof v === 'string' && v.length > p.maxLength) {
      // Wording UNCONFIRMED: D365 rejects values longer than the field's EDT string size.
      log.error(
        `The value '${v}' in field '${propertyLabel(p)}' is too long. The maximum length is ${p.maxLength} characters.`
      );
    }
  }
}

function checkRequired(def: EntityDef, values: Values, log: Infolog): void {
  for (const p of def.properties) {
    const required = p.required || (def.keys.includes(p.name) && p.type === 'String');
    if (required && values[p.name] === '')
      log.warn(`Field '${propertyLabel(p)}' must be filled in.`);
  }
}

function duplicate(t: Table, values: Values, log: Infolog): void {
  const keyText = t.def.keys
    .filter((k) => k !== 'dataAreaId')
    .map((k) => `${propertyLabel(t.index.props.get(k)!)}: ${values[k]}`)
    .join(', ');
  log.lines.push({
    severity: 'Info',
    text: `Cannot create a record in ${t.def.tableLabel} (${t.def.table}). ${keyText}.\nThe record already exists.`
  });
}

function readOnly(def: EntityDef) {
  // Status and wording UNCONFIRMED for read-only entities; 405 is what the OData stack uses.
  return methodNotAllowed(`The entity set '${def.entitySet}' is read-only.`);
}
