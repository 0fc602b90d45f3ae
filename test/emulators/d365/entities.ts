// Entity definitions: the single source for OData payloads, validation, DMF mapping and $metadata.
// Names, keys and types follow the CSDL-derived spec and the MS entity pages collected in
// shared/reference/d365-fo.md §7; the property lists are the subset the connector's flows touch.

export const NAMESPACE = 'Microsoft.Dynamics.DataEntities';

export const ENUMS: Record<string, readonly string[]> = {
  NoYes: ['No', 'Yes'],
  CustVendorBlocked: ['No', 'Invoice', 'All', 'Payment', 'Requisition', 'Never', 'PurchOrder'],
  SalesStatus: ['None', 'Backorder', 'Delivered', 'Invoiced', 'Canceled'],
  SalesOrderProcessingStatus: [
    'None',
    'Active',
    'Confirmed',
    'Picked',
    'PartiallyDelivered',
    'Delivered',
    'Invoiced',
    'PartiallyInvoiced',
    'Canceled',
    'DeliveredPartiallyInvoiced'
  ],
  EcoResProductType: ['Item', 'Service'],
  EcoResProductSubtype: ['Product', 'ProductMaster', 'ProductVariant'],
  LedgerTransType: ['None', 'Sales', 'Payment', 'Cust', 'GeneralJournal'],
  PriceType: ['PricePurch', 'LineDiscPurch', 'MultiLineDiscPurch', 'EndDiscPurch', 'PriceSales'],
  TableGroupAll: ['Table', 'GroupId', 'All'],
  ModuleAxapta: ['None', 'Ledger', 'Cust', 'Vend', 'Invent', 'SalesOrder', 'PurchaseOrder', 'Bank']
};

export type PropertyType = 'String' | 'Decimal' | 'Int32' | 'Int64' | 'Enum' | 'Date' | 'DateTime';

export interface PropertyDef {
  name: string;
  type: PropertyType;
  enumType?: string;
  maxLength?: number;
  /** "Field '<label>' must be filled in." on create when empty. */
  required?: boolean;
  /** Label used in Infolog messages (D365 shows field labels, not names). */
  label?: string;
  /** Assigned by the server; a value in a PATCH body is ignored. */
  readOnly?: boolean;
}

export interface NavigationDef {
  name: string;
  target: string;
  many: boolean;
  /** Pairs of [local property, target property]. */
  on: Array<[string, string]>;
}

export interface EntityDef {
  entitySet: string;
  typeName: string;
  /** AOT entity name, used in "Write failed for table row of type '…'" and DMF TargetEntity. */
  aotName: string;
  /** DMF entity label (Manifest.xml EntityName). */
  dmfLabel: string;
  /** Table and its label for "Cannot create a record in <label> (<table>)". */
  table: string;
  tableLabel: string;
  keys: string[];
  companySpecific: boolean;
  properties: PropertyDef[];
  navigations: NavigationDef[];
  /** Data sources behind the entity: the ETag carries one RecVersion,RecId pair per source (§1.6). */
  dataSources: number;
  /** Entity sets that are read-only views (posted documents, transactions). */
  readOnly?: boolean;
}

/** D365's maximum string lengths (EDT sizes; §7 "Max lengths", configurable there, fixed here). */
export const MAX_LENGTH = {
  dataAreaId: 4,
  CustAccount: 20,
  CustGroupId: 10,
  ItemId: 20,
  SalesId: 20,
  InventLocationId: 10,
  CurrencyCode: 3,
  PartyName: 100,
  Description: 60,
  InventTransId: 20,
  ContactPersonId: 20,
  Email: 255,
  Phone: 255,
  Street: 250,
  City: 60,
  ZipCode: 10,
  CountryRegion: 10,
  CustomerRef: 60,
  PurchOrderFormNum: 20,
  InvoiceId: 20,
  Voucher: 20,
  SearchName: 20,
  NameAlias: 20,
  FirstName: 25,
  LastName: 25,
  IdentificationNumber: 50
} as const;

function s(name: string, maxLength?: number, extra: Partial<PropertyDef> = {}): PropertyDef {
  return { name, type: 'String', ...(maxLength === undefined ? {} : { maxLength }), ...extra };
}
function d(name: string, extra: Partial<PropertyDef> = {}): PropertyDef {
  return { name, type: 'Decimal', ...extra };
}
function e(name: string, enumType: string, extra: Partial<PropertyDef> = {}): PropertyDef {
  return { name, type: 'Enum', enumType, ...extra };
}
function date(name: string, extra: Partial<PropertyDef> = {}): PropertyDef {
  return { name, type: 'Date', ...extra };
}
function dt(name: string, extra: Partial<PropertyDef> = {}): PropertyDef {
  return { name, type: 'DateTime', ...extra };
}
function i64(name: string, extra: Partial<PropertyDef> = {}): PropertyDef {
  return { name, type: 'Int64', ...extra };
}

const dataAreaId = s('dataAreaId', MAX_LENGTH.dataAreaId, { label: 'Company' });
const L = MAX_LENGTH;

export const ENTITIES: EntityDef[] = [
  {
    entitySet: 'LegalEntities',
    typeName: 'LegalEntity',
    aotName: 'OMLegalEntity',
    dmfLabel: 'Legal entities',
    table: 'CompanyInfo',
    tableLabel: 'Legal entities',
    keys: ['LegalEntityId'],
    companySpecific: false,
    dataSources: 1,
    readOnly: true,
    navigations: [],
    properties: [
      s('LegalEntityId', L.dataAreaId, { label: 'Company', required: true }),
      s('Name', L.PartyName, { label: 'Name', required: true }),
      s('AccountingCurrency', L.CurrencyCode),
      s('AddressCountryRegionId', L.CountryRegion),
      s('AddressCity', L.City),
      s('LanguageId', 7),
      s('PartyNumber', 40)
    ]
  },
  {
    entitySet: 'CustomerGroups',
    typeName: 'CustomerGroup',
    aotName: 'CustCustomerGroupEntity',
    dmfLabel: 'Customer groups',
    table: 'CustGroup',
    tableLabel: 'Customer groups',
    keys: ['dataAreaId', 'CustomerGroupId'],
    companySpecific: true,
    dataSources: 1,
    navigations: [],
    properties: [
      dataAreaId,
      s('CustomerGroupId', L.CustGroupId, { label: 'Customer group', required: true }),
      s('Description', L.Description),
      s('ClearingPeriodPaymentTermName', 10),
      s('CustomerAccountNumberSequence', 10),
      e('IsSalesTaxIncludedInPrice', 'NoYes'),
      s('PaymentTermId', 10),
      s('TaxGroupId', 10)
    ]
  },
  {
    entitySet: 'CustomersV3',
    typeName: 'CustomerV3',
    aotName: 'CustCustomerV3Entity',
    dmfLabel: 'Customers V3',
    table: 'CustTable',
    tableLabel: 'Customers',
    keys: ['dataAreaId', 'CustomerAccount'],
    companySpecific: true,
    dataSources: 4,
    navigations: [
      {
        name: 'CustomerGroup',
        target: 'CustomerGroups',
        many: false,
        on: [
          ['dataAreaId', 'dataAreaId'],
          ['CustomerGroupId', 'CustomerGroupId']
        ]
      }
    ],
    properties: [
      dataAreaId,
      s('CustomerAccount', L.CustAccount, { label: 'Customer account' }),
      s('PartyType', 20, { label: 'Party type' }),
      s('PartyNumber', 40, { label: 'Party', readOnly: true }),
      s('OrganizationName', L.PartyName, { label: 'Name' }),
      s('NameAlias', L.NameAlias, { label: 'Search name' }),
      s('KnownAs', L.PartyName, { label: 'Known as' }),
      s('PersonFirstName', L.FirstName, { label: 'First name' }),
      s('PersonLastName', L.LastName, { label: 'Last name' }),
      s('CustomerGroupId', L.CustGroupId, { label: 'Customer group', required: true }),
      s('SalesCurrencyCode', L.CurrencyCode, { label: 'Currency' }),
      d('CreditLimit', { label: 'Credit limit' }),
      e('CreditLimitIsMandatory', 'NoYes'),
      s('CreditRating', 10),
      s('PaymentTerms', 10, { label: 'Terms of payment' }),
      s('PaymentMethod', 10),
      s('DeliveryTerms', 10),
      s('DeliveryMode', 10),
      s('InvoiceAccount', L.CustAccount, { label: 'Invoice account' }),
      e('OnHoldStatus', 'CustVendorBlocked'),
      e('IsOneTimeCustomer', 'NoYes'),
      s('SalesTaxGroup', 10),
      s('TaxExemptNumber', 20),
      // The connector keeps the Salesforce Account Id here (CustTable.IdentificationNumber, 50).
      s('IdentificationNumber', L.IdentificationNumber, { label: 'Identification number' }),
      s('PrimaryContactEmail', L.Email, { label: 'Email' }),
      s('PrimaryContactPhone', L.Phone, { label: 'Telephone' }),
      s('PrimaryContactURL', L.Email, { label: 'Internet address' }),
      s('AddressDescription', 60),
      s('AddressStreet', L.Street, { label: 'Street' }),
      s('AddressCity', L.City, { label: 'City' }),
      s('AddressState', 10, { label: 'State' }),
      s('AddressZipCode', L.ZipCode, { label: 'ZIP/postal code' }),
      s('AddressCountryRegionId', L.CountryRegion, { label: 'Country/region' }),
      s('FullPrimaryAddress', 250, { readOnly: true }),
      s('LanguageId', 7),
      s('WarehouseId', L.InventLocationId),
      s('SiteId', 10),
      s('SalesDistrict', 10),
      dt('CustomerCreatedDateTime', { readOnly: true })
    ]
  },
  {
    entitySet: 'ContactPersons',
    typeName: 'ContactPerson',
    aotName: 'ContactPersonEntity',
    dmfLabel: 'Contact persons',
    table: 'ContactPerson',
    tableLabel: 'Contact persons',
    keys: ['dataAreaId', 'ContactPersonId'],
    companySpecific: true,
    dataSources: 2,
    navigations: [],
    properties: [
      dataAreaId,
      s('ContactPersonId', L.ContactPersonId, { label: 'Contact ID' }),
      s('ContactPersonPartyNumber', 40, { readOnly: true }),
      // Party number of the organization (customer) the contact belongs to.
      s('AssociatedPartyNumber', 40, { label: 'Organization', required: true }),
      s('ContactPersonName', L.PartyName, { readOnly: true }),
      s('FirstName', L.FirstName, { label: 'First name' }),
      s('MiddleName', L.FirstName, { label: 'Middle name' }),
      s('LastName', L.LastName, { label: 'Last name', required: true }),
      s('PrimaryEmailAddress', L.Email, { label: 'Email' }),
      s('PrimaryPhoneNumber', L.Phone, { label: 'Telephone' }),
      s('EmploymentJobTitle', 60, { label: 'Job title' }),
      e('IsInactive', 'NoYes'),
      dt('LastEditDateTime', { readOnly: true })
    ]
  },
  {
    entitySet: 'SalesOrderHeadersV2',
    typeName: 'SalesOrderHeaderV2',
    aotName: 'SalesOrderHeaderV2Entity',
    dmfLabel: 'Sales order headers V2',
    table: 'SalesTable',
    tableLabel: 'Sales orders',
    keys: ['dataAreaId', 'SalesOrderNumber'],
    companySpecific: true,
    dataSources: 6,
    navigations: [
      {
        name: 'SalesOrderLines',
        target: 'SalesOrderLines',
        many: true,
        on: [
          ['dataAreaId', 'dataAreaId'],
          ['SalesOrderNumber', 'SalesOrderNumber']
        ]
      }
    ],
    properties: [
      dataAreaId,
      s('SalesOrderNumber', L.SalesId, { label: 'Sales order' }),
      s('OrderingCustomerAccountNumber', L.CustAccount, {
        label: 'Customer account',
        required: true
      }),
      s('InvoiceCustomerAccountNumber', L.CustAccount, { label: 'Invoice account' }),
      s('CurrencyCode', L.CurrencyCode, { label: 'Currency' }),
      e('SalesOrderStatus', 'SalesStatus', { readOnly: true }),
      e('SalesOrderProcessingStatus', 'SalesOrderProcessingStatus', { readOnly: true }),
      // The connector keeps the Salesforce Opportunity Id here (SalesTable.CustomerRef, 60).
      s('CustomersOrderReference', L.CustomerRef, { label: 'Customer reference' }),
      s('CustomerRequisitionNumber', L.PurchOrderFormNum, { label: 'Customer requisition' }),
      s('SalesOrderName', L.PartyName, { label: 'Name' }),
      date('RequestedShippingDate'),
      date('RequestedReceiptDate'),
      date('ConfirmedShippingDate'),
      date('ConfirmedReceiptDate'),
      dt('OrderCreationDateTime', { readOnly: true }),
      s('DefaultShippingWarehouseId', L.InventLocationId, { label: 'Warehouse' }),
      s('DefaultShippingSiteId', 10, { label: 'Site' }),
      s('DeliveryModeCode', 10),
      s('DeliveryTermsCode', 10),
      s('PaymentTermsName', 10),
      s('CustomerPaymentMethodName', 10),
      s('SalesTaxGroupCode', 10),
      e('IsSalesProcessingStopped', 'NoYes'),
      d('OrderTotalAmount', { readOnly: true }),
      d('OrderTotalTaxAmount', { readOnly: true }),
      d('OrderTotalDiscountAmount', { readOnly: true }),
      d('OrderTotalChargesAmount', { readOnly: true }),
      d('TotalDiscountPercentage'),
      s('DeliveryAddressName', L.PartyName),
      s('DeliveryAddressStreet', L.Street),
      s('DeliveryAddressCity', L.City),
      s('DeliveryAddressStateId', 10),
      s('DeliveryAddressZipCode', L.ZipCode),
      s('DeliveryAddressCountryRegionId', L.CountryRegion),
      s('ContactPersonId', L.ContactPersonId),
      s('SalesOrderOriginCode', 10),
      s('SalesOrderPoolId', 10),
      s('LanguageId', 7)
    ]
  },
  {
    entitySet: 'SalesOrderLines',
    typeName: 'SalesOrderLine',
    aotName: 'SalesOrderLineV2Entity',
    dmfLabel: 'Sales order lines V2',
    table: 'SalesLine',
    tableLabel: 'Order lines',
    keys: ['dataAreaId', 'InventoryLotId'],
    companySpecific: true,
    dataSources: 4,
    navigations: [
      {
        name: 'SalesOrderHeaderV2',
        target: 'SalesOrderHeadersV2',
        many: false,
        on: [
          ['dataAreaId', 'dataAreaId'],
          ['SalesOrderNumber', 'SalesOrderNumber']
        ]
      }
    ],
    properties: [
      dataAreaId,
      s('InventoryLotId', L.InventTransId, { label: 'Lot ID' }),
      s('SalesOrderNumber', L.SalesId, { label: 'Sales order', required: true }),
      d('LineNumber'),
      s('ItemNumber', L.ItemId, { label: 'Item number', required: true }),
      s('LineDescription', 1000, { label: 'Text' }),
      d('OrderedSalesQuantity', { label: 'Quantity' }),
      s('SalesUnitSymbol', 10, { label: 'Unit' }),
      d('SalesPrice', { label: 'Unit price' }),
      d('SalesPriceQuantity', { label: 'Price unit' }),
      d('LineAmount', { label: 'Net amount' }),
      d('LineDiscountAmount', { label: 'Discount' }),
      d('LineDiscountPercentage', { label: 'Discount percentage' }),
      s('CurrencyCode', L.CurrencyCode, { label: 'Currency' }),
      e('SalesOrderLineStatus', 'SalesStatus', { readOnly: true }),
      s('ShippingWarehouseId', L.InventLocationId, { label: 'Warehouse' }),
      s('ShippingSiteId', 10, { label: 'Site' }),
      date('RequestedShippingDate'),
      date('RequestedReceiptDate'),
      date('ConfirmedShippingDate'),
      s('ProductColorId', 10),
      s('ProductConfigurationId', 10),
      s('ProductSizeId', 10),
      s('ProductStyleId', 10),
      s('SalesTaxGroupCode', 10),
      s('SalesTaxItemGroupCode', 10),
      s('ExternalItemNumber', L.ItemId),
      s('DeliveryAddressCountryRegionId', L.CountryRegion)
    ]
  },
  {
    entitySet: 'ReleasedProductsV2',
    typeName: 'ReleasedProductV2',
    aotName: 'EcoResReleasedProductV2Entity',
    dmfLabel: 'Released products V2',
    table: 'InventTable',
    tableLabel: 'Items',
    keys: ['dataAreaId', 'ItemNumber'],
    companySpecific: true,
    dataSources: 5,
    navigations: [],
    properties: [
      dataAreaId,
      s('ItemNumber', L.ItemId, { label: 'Item number', required: true }),
      s('ProductNumber', L.ItemId, { label: 'Product number' }),
      s('ProductName', 60, { label: 'Product name' }),
      s('SearchName', L.SearchName, { label: 'Search name' }),
      e('ProductType', 'EcoResProductType'),
      e('ProductSubType', 'EcoResProductSubtype'),
      s('ItemModelGroupId', 10),
      s('ProductGroupId', 10, { label: 'Item group' }),
      s('StorageDimensionGroupName', 10),
      s('TrackingDimensionGroupName', 10),
      s('InventoryUnitSymbol', 10),
      s('SalesUnitSymbol', 10),
      s('PurchaseUnitSymbol', 10),
      s('BOMUnitSymbol', 10),
      d('SalesPrice', { label: 'Price' }),
      d('SalesPriceQuantity'),
      date('SalesPriceDate'),
      d('UnitCost'),
      e('IsSalesPriceIncludingCharges', 'NoYes'),
      s('SalesSalesTaxItemGroupCode', 10),
      d('NetProductWeight'),
      s('ProductLifecycleStateId', 10),
      s('PrimaryVendorAccountNumber', L.CustAccount),
      e('IsSalesBlocked', 'NoYes')
    ]
  },
  {
    entitySet: 'OperationalSites',
    typeName: 'OperationalSite',
    aotName: 'InventOperationalSiteEntity',
    dmfLabel: 'Sites',
    table: 'InventSite',
    tableLabel: 'Sites',
    keys: ['dataAreaId', 'SiteId'],
    companySpecific: true,
    dataSources: 1,
    readOnly: true,
    navigations: [],
    properties: [dataAreaId, s('SiteId', 10, { label: 'Site' }), s('SiteName', 60)]
  },
  {
    entitySet: 'Warehouses',
    typeName: 'Warehouse',
    aotName: 'InventWarehouseEntity',
    dmfLabel: 'Warehouses',
    table: 'InventLocation',
    tableLabel: 'Warehouses',
    keys: ['dataAreaId', 'WarehouseId'],
    companySpecific: true,
    dataSources: 1,
    readOnly: true,
    navigations: [],
    properties: [
      dataAreaId,
      s('WarehouseId', L.InventLocationId, { label: 'Warehouse' }),
      s('WarehouseName', 60),
      s('OperationalSiteId', 10, { label: 'Site' })
    ]
  },
  {
    // Read view of released trade-agreement prices (PriceDiscTable). Key is UNCONFIRMED: RecordId
    // is the only stable identifier seen in community code, so the emulator keys on it.
    entitySet: 'SalesPriceAgreements',
    typeName: 'SalesPriceAgreement',
    aotName: 'SalesPriceAgreementEntity',
    dmfLabel: 'Sales price agreements',
    table: 'PriceDiscTable',
    tableLabel: 'Trade agreements',
    keys: ['dataAreaId', 'RecordId'],
    companySpecific: true,
    dataSources: 1,
    readOnly: true,
    navigations: [],
    properties: [
      dataAreaId,
      i64('RecordId'),
      s('ItemNumber', L.ItemId),
      e('PriceCustomerGroupCode', 'TableGroupAll'),
      s('CustomerAccountNumber', L.CustAccount),
      s('PriceCustomerGroupId', L.CustGroupId),
      d('Price'),
      s('PriceCurrencyCode', L.CurrencyCode),
      d('SalesPriceQuantity'),
      s('QuantityUnitySymbol', 10),
      d('FromQuantity'),
      d('ToQuantity'),
      date('PriceApplicableFromDate'),
      date('PriceApplicableToDate'),
      s('PriceSiteId', 10),
      s('PriceWarehouseId', L.InventLocationId)
    ]
  },
  {
    entitySet: 'WarehousesOnHandV2',
    typeName: 'WarehouseOnHandV2',
    aotName: 'InventWarehouseOnHandV2Entity',
    dmfLabel: 'Inventory on-hand by warehouse V2',
    table: 'InventSum',
    tableLabel: 'On-hand inventory',
    keys: [
      'dataAreaId',
      'ItemNumber',
      'ProductColorId',
      'ProductConfigurationId',
      'ProductSizeId',
      'ProductStyleId',
      'ProductVersionId',
      'InventorySiteId',
      'InventoryWarehouseId'
    ],
    companySpecific: true,
    dataSources: 1,
    readOnly: true,
    navigations: [],
    properties: [
      dataAreaId,
      s('ItemNumber', L.ItemId),
      s('ProductColorId', 10),
      s('ProductConfigurationId', 10),
      s('ProductSizeId', 10),
      s('ProductStyleId', 10),
      s('ProductVersionId', 10),
      s('InventorySiteId', 10),
      s('InventoryWarehouseId', L.InventLocationId),
      s('ProductName', 60),
      d('OnHandQuantity'),
      d('AvailableOnHandQuantity'),
      d('ReservedOnHandQuantity'),
      d('OrderedQuantity'),
      d('AvailableOrderedQuantity'),
      d('ReservedOrderedQuantity'),
      d('OnOrderQuantity'),
      d('TotalAvailableQuantity'),
      e('AreWarehouseManagementProcessesUsed', 'NoYes')
    ]
  },
  {
    // Key UNCONFIRMED for the header; the emulator uses the invoice number within the company.
    entitySet: 'SalesInvoiceHeadersV2',
    typeName: 'SalesInvoiceHeaderV2',
    aotName: 'SalesInvoiceHeaderV2Entity',
    dmfLabel: 'Sales invoice headers V2',
    table: 'CustInvoiceJour',
    tableLabel: 'Customer invoice journal',
    keys: ['dataAreaId', 'InvoiceNumber'],
    companySpecific: true,
    dataSources: 1,
    readOnly: true,
    navigations: [
      {
        name: 'SalesInvoiceLines',
        target: 'SalesInvoiceV2Lines',
        many: true,
        on: [
          ['dataAreaId', 'dataAreaId'],
          ['InvoiceNumber', 'InvoiceNumber']
        ]
      }
    ],
    properties: [
      dataAreaId,
      s('InvoiceNumber', L.InvoiceId),
      date('InvoiceDate'),
      date('DueDate'),
      s('SalesOrderNumber', L.SalesId),
      s('InvoiceCustomerAccountNumber', L.CustAccount),
      s('OrderingCustomerAccountNumber', L.CustAccount),
      s('CustomersOrderReference', L.CustomerRef),
      s('CustomerRequisitionNumber', L.PurchOrderFormNum),
      d('TotalInvoiceAmount'),
      d('TotalTaxAmount'),
      d('TotalDiscountAmount'),
      d('TotalChargeAmount'),
      s('PaymentTermsName', 10),
      s('CurrencyCode', L.CurrencyCode),
      s('LedgerVoucher', L.Voucher),
      s('InvoiceAddressCountryRegionId', L.CountryRegion)
    ]
  },
  {
    entitySet: 'SalesInvoiceV2Lines',
    typeName: 'SalesInvoiceV2Line',
    aotName: 'SalesInvoiceLineV2Entity',
    dmfLabel: 'Sales invoice lines V2',
    table: 'CustInvoiceTrans',
    tableLabel: 'Customer invoice lines',
    keys: [
      'dataAreaId',
      'InvoiceNumber',
      'LineCreationSequenceNumber',
      'InvoiceDate',
      'LedgerVoucher'
    ],
    companySpecific: true,
    dataSources: 1,
    readOnly: true,
    navigations: [],
    properties: [
      dataAreaId,
      s('InvoiceNumber', L.InvoiceId),
      d('LineCreationSequenceNumber'),
      date('InvoiceDate'),
      s('LedgerVoucher', L.Voucher),
      s('SalesOrderNumber', L.SalesId),
      s('ProductNumber', L.ItemId),
      s('ItemNumber', L.ItemId),
      s('ProductDescription', 1000),
      d('InvoicedQuantity'),
      d('SalesPrice'),
      s('SalesUnitSymbol', 10),
      d('LineAmount'),
      d('LineTotalTaxAmount'),
      d('LineTotalDiscountAmount'),
      s('CurrencyCode', L.CurrencyCode),
      s('InventorySiteId', 10),
      s('InventoryWarehouseId', L.InventLocationId)
    ]
  },
  {
    // No standard public customer-transaction entity is confirmed (§7); this mirrors the one
    // codebase seen querying `CustTransactions` with raw CustTrans field names, keyed by RecId.
    entitySet: 'CustTransactions',
    typeName: 'CustTransaction',
    aotName: 'CustTransEntity',
    dmfLabel: 'Customer transactions',
    table: 'CustTrans',
    tableLabel: 'Customer transactions',
    keys: ['dataAreaId', 'RecId'],
    companySpecific: true,
    dataSources: 1,
    readOnly: true,
    navigations: [],
    properties: [
      dataAreaId,
      i64('RecId'),
      s('AccountNum', L.CustAccount),
      s('OrderAccount', L.CustAccount),
      date('TransDate'),
      s('Voucher', L.Voucher),
      s('Invoice', L.InvoiceId),
      e('TransType', 'LedgerTransType'),
      s('Txt', 60),
      d('AmountCur'),
      d('AmountMST'),
      d('SettleAmountCur'),
      d('SettleAmountMST'),
      s('CurrencyCode', L.CurrencyCode),
      date('DueDate'),
      date('LastSettleDate'),
      s('LastSettleVoucher', L.Voucher),
      date('Closed'),
      s('PaymReference', 60)
    ]
  }
];

ENTITIES.push({
  // Shape from an SDK generated off a real $metadata: key BusinessEventId, no dataAreaId.
  entitySet: 'BusinessEventsCatalogs',
  typeName: 'BusinessEventsCatalog',
  aotName: 'BusinessEventsCatalogEntity',
  dmfLabel: 'Business events catalog',
  table: 'BusinessEventsTable',
  tableLabel: 'Business events',
  keys: ['BusinessEventId'],
  companySpecific: false,
  dataSources: 1,
  readOnly: true,
  navigations: [],
  properties: [
    s('BusinessEventId', 100),
    s('Name', 250),
    s('Description', 1000),
    e('Module', 'ModuleAxapta'),
    s('Contract', 100),
    s('NameParam1', 100),
    s('NameParam2', 100),
    s('DescParam1', 100),
    s('DescParam2', 100)
  ]
});

export const ENTITY_BY_SET: Map<string, EntityDef> = new Map(ENTITIES.map((x) => [x.entitySet, x]));

export interface EntityIndex {
  def: EntityDef;
  props: Map<string, PropertyDef>;
}

export const ENTITY_INDEX: Map<string, EntityIndex> = new Map(
  ENTITIES.map((def) => [
    def.entitySet,
    { def, props: new Map(def.properties.map((p) => [p.name, p])) }
  ])
);

export function propertyLabel(p: PropertyDef): string {
  if (p.label) return p.label;
  const words = p.name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
