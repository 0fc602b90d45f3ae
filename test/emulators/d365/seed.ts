// Seed data: a small Contoso-like 'demo' set and a generator for benchmark volumes. Everything is
// created through the domain, so seeded rows obey the same defaults and validation as OData writes.
import { seedCatalog } from './business-events.ts';
import type { Domain } from './domain.ts';
import type { Values } from './values.ts';

export type SeedOption = 'demo' | 'empty' | { customers: number; products: number };

function legalEntities(domain: Domain): void {
  const store = domain.store;
  for (const le of [
    {
      LegalEntityId: 'usmf',
      Name: 'Contoso Entertainment System USA',
      AccountingCurrency: 'USD',
      AddressCountryRegionId: 'USA',
      AddressCity: 'Seattle',
      LanguageId: 'en-us',
      PartyNumber: '000000001'
    },
    {
      LegalEntityId: 'demf',
      Name: 'Contoso Entertainment System Germany',
      AccountingCurrency: 'EUR',
      AddressCountryRegionId: 'DEU',
      AddressCity: 'Berlin',
      LanguageId: 'de',
      PartyNumber: '000000002'
    }
  ]) {
    store.insert('LegalEntities', store.newRow('LegalEntities', le));
  }
  seedCatalog(store);
  for (const [company, sites, warehouses] of [
    [
      'usmf',
      [
        ['1', 'Site 1'],
        ['2', 'Site 2']
      ],
      [
        ['11', 'Main warehouse', '1'],
        ['12', 'Overflow warehouse', '1'],
        ['21', 'East warehouse', '2']
      ]
    ],
    ['demf', [['1', 'Standort 1']], [['11', 'Hauptlager', '1']]]
  ] as const) {
    for (const [SiteId, SiteName] of sites)
      store.insert(
        'OperationalSites',
        store.newRow('OperationalSites', { dataAreaId: company, SiteId, SiteName })
      );
    for (const [WarehouseId, WarehouseName, OperationalSiteId] of warehouses) {
      store.insert(
        'Warehouses',
        store.newRow('Warehouses', {
          dataAreaId: company,
          WarehouseId,
          WarehouseName,
          OperationalSiteId
        })
      );
    }
  }
  for (const [company, groups] of [
    [
      'usmf',
      [
        ['10', 'Wholesales customers'],
        ['20', 'Major customers'],
        ['30', 'Retail customers'],
        ['80', 'Other customers'],
        ['90', 'Internet customers']
      ]
    ],
    [
      'demf',
      [
        ['10', 'Großhandelskunden'],
        ['20', 'Großkunden'],
        ['30', 'Einzelhandelskunden']
      ]
    ]
  ] as const) {
    for (const [id, description] of groups) {
      domain.create(
        'CustomerGroups',
        {
          CustomerGroupId: id,
          Description: description,
          PaymentTermId: 'Net30',
          ClearingPeriodPaymentTermName: 'Net30'
        },
        company
      );
    }
  }
}

const USMF_CUSTOMERS: Values[] = [
  {
    OrganizationName: 'Contoso Retail San Diego',
    CustomerGroupId: '30',
    AddressStreet: '456 Peach Road',
    AddressCity: 'San Diego',
    AddressState: 'CA',
    AddressZipCode: '92114',
    CreditLimit: 50000,
    PrimaryContactEmail: 'sandiego@contoso.com',
    PrimaryContactPhone: '123-555-0101'
  },
  {
    OrganizationName: 'Contoso Retail Los Angeles',
    CustomerGroupId: '30',
    AddressStreet: '123 Coffee Street',
    AddressCity: 'Los Angeles',
    AddressState: 'CA',
    AddressZipCode: '90012',
    CreditLimit: 40000
  },
  {
    OrganizationName: 'Forest Wholesales',
    CustomerGroupId: '10',
    AddressStreet: '789 Forest Drive',
    AddressCity: 'Portland',
    AddressState: 'OR',
    AddressZipCode: '97201',
    CreditLimit: 100000,
    PaymentTerms: 'Net45'
  },
  {
    OrganizationName: 'Cave Wholesales',
    CustomerGroupId: '10',
    AddressStreet: '1 Cave Way',
    AddressCity: 'Dallas',
    AddressState: 'TX',
    AddressZipCode: '75201',
    CreditLimit: 75000
  },
  {
    OrganizationName: 'Contoso Retail Seattle',
    CustomerGroupId: '30',
    AddressStreet: '99 Pine Street',
    AddressCity: 'Seattle',
    AddressState: 'WA',
    AddressZipCode: '98101',
    CreditLimit: 30000
  },
  {
    OrganizationName: 'Lamna Healthcare Company',
    CustomerGroupId: '20',
    AddressStreet: '2 Health Plaza',
    AddressCity: 'Chicago',
    AddressState: 'IL',
    AddressZipCode: '60601',
    CreditLimit: 250000
  },
  {
    OrganizationName: 'Trey Research',
    CustomerGroupId: '80',
    AddressStreet: '5 Lab Road',
    AddressCity: 'Boston',
    AddressState: 'MA',
    AddressZipCode: '02108',
    OnHoldStatus: 'Invoice'
  },
  {
    PartyType: 'Person',
    PersonFirstName: 'Charlie',
    PersonLastName: 'Carson',
    CustomerGroupId: '90',
    AddressStreet: '12 Elm Street',
    AddressCity: 'Miami',
    AddressState: 'FL',
    AddressZipCode: '33101',
    PrimaryContactEmail: 'charlie@example.com'
  }
];

const PRODUCTS: Values[] = [
  {
    ItemNumber: 'A0001',
    ProductName: "HDMI 6' Cables",
    SalesPrice: 14.99,
    UnitCost: 4.5,
    ProductGroupId: 'Audio'
  },
  {
    ItemNumber: 'A0002',
    ProductName: "HDMI 12' Cables",
    SalesPrice: 22.99,
    UnitCost: 6.5,
    ProductGroupId: 'Audio'
  },
  {
    ItemNumber: 'D0001',
    ProductName: 'MidRangeSpeaker2',
    SalesPrice: 280,
    UnitCost: 120,
    ProductGroupId: 'Speakers'
  },
  {
    ItemNumber: 'D0002',
    ProductName: 'Cabinet',
    SalesPrice: 110,
    UnitCost: 55,
    ProductGroupId: 'Speakers'
  },
  {
    ItemNumber: 'D0003',
    ProductName: 'Standard Speaker',
    SalesPrice: 210,
    UnitCost: 95,
    ProductGroupId: 'Speakers'
  },
  {
    ItemNumber: 'D0004',
    ProductName: 'High End Speaker',
    SalesPrice: 1800,
    UnitCost: 700,
    ProductGroupId: 'Speakers'
  },
  {
    ItemNumber: 'M0001',
    ProductName: 'Surround Sound Receiver',
    SalesPrice: 599,
    UnitCost: 250,
    ProductGroupId: 'TV&Video'
  },
  {
    ItemNumber: 'P0001',
    ProductName: 'Installation service',
    SalesPrice: 95,
    ProductType: 'Service',
    ProductGroupId: 'Services'
  },
  {
    ItemNumber: 'T0001',
    ProductName: 'Speaker Cable 10',
    SalesPrice: 9.99,
    UnitCost: 2.1,
    ProductGroupId: 'Audio'
  },
  {
    ItemNumber: 'L0001',
    ProductName: 'Mid-Range Speaker (blocked)',
    SalesPrice: 150,
    IsSalesBlocked: 'Yes',
    ProductGroupId: 'Speakers'
  }
];

function daysAgo(n: number): string {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() - n);
  return d.toISOString().slice(0, 10);
}

function seedDemo(domain: Domain): void {
  legalEntities(domain);
  const store = domain.store;
  const accounts = USMF_CUSTOMERS.map((c) =>
    String(
      domain.create(
        'CustomersV3',
        {
          SalesCurrencyCode: 'USD',
          PaymentTerms: 'Net30',
          AddressCountryRegionId: 'USA',
          WarehouseId: '11',
          SiteId: '1',
          LanguageId: 'en-us',
          ...c
        },
        'usmf'
      ).values.CustomerAccount
    )
  );
  for (const c of [
    {
      OrganizationName: 'Contoso Europe',
      CustomerGroupId: '20',
      AddressStreet: 'Unter den Linden 1',
      AddressCity: 'Berlin',
      AddressZipCode: '10117'
    },
    {
      OrganizationName: 'Fabrikam Deutschland',
      CustomerGroupId: '10',
      AddressStreet: 'Hauptstraße 5',
      AddressCity: 'München',
      AddressZipCode: '80331'
    }
  ]) {
    domain.create(
      'CustomersV3',
      {
        ...c,
        AddressCountryRegionId: 'DEU',
        PaymentTerms: 'Net30',
        WarehouseId: '11',
        SiteId: '1',
        LanguageId: 'de'
      },
      'demf'
    );
  }
  const contacts: Array<[number, string, string, string]> = [
    [0, 'Julia', 'Funderburk', 'Purchasing manager'],
    [0, 'Mark', 'Hanson', 'Accounts payable'],
    [2, 'Anna', 'Forest', 'Owner'],
    [5, 'Ben', 'Miller', 'Procurement lead']
  ];
  for (const [i, first, last, title] of contacts) {
    const party = String(
      domain.find('CustomersV3', { dataAreaId: 'usmf', CustomerAccount: accounts[i]! })!.values
        .PartyNumber
    );
    domain.create(
      'ContactPersons',
      {
        AssociatedPartyNumber: party,
        FirstName: first,
        LastName: last,
        EmploymentJobTitle: title,
        PrimaryEmailAddress: `${first.toLowerCase()}.${last.toLowerCase()}@example.com`
      },
      'usmf'
    );
  }
  for (const company of ['usmf', 'demf']) {
    for (const p of PRODUCTS) {
      domain.create(
        'ReleasedProductsV2',
        {
          ...p,
          SalesPrice: Math.round(Number(p.SalesPrice) * (company === 'demf' ? 95 : 100)) / 100
        },
        company
      );
    }
  }
  // Trade agreements: an all-customer price, a group price and a customer-specific price.
  const agreement = (values: Values): void => {
    const row = store.newRow('SalesPriceAgreements', {
      dataAreaId: 'usmf',
      PriceCurrencyCode: 'USD',
      SalesPriceQuantity: 1,
      QuantityUnitySymbol: 'ea',
      ...values
    });
    row.values.RecordId = row.recId;
    store.insert('SalesPriceAgreements', row);
  };
  agreement({ ItemNumber: 'D0001', PriceCustomerGroupCode: 'All', Price: 270 });
  agreement({
    ItemNumber: 'A0001',
    PriceCustomerGroupCode: 'GroupId',
    PriceCustomerGroupId: '10',
    Price: 12.5
  });
  agreement({
    ItemNumber: 'D0001',
    PriceCustomerGroupCode: 'Table',
    CustomerAccountNumber: accounts[2]!,
    Price: 250
  });
  agreement({ ItemNumber: 'D0004', PriceCustomerGroupCode: 'All', Price: 1650, FromQuantity: 10 });
  const stock: Array<[string, string, string, number]> = [
    ['A0001', '1', '11', 500],
    ['A0001', '2', '21', 120],
    ['A0002', '1', '11', 300],
    ['D0001', '1', '11', 80],
    ['D0001', '1', '12', 15],
    ['D0002', '1', '11', 40],
    ['D0003', '2', '21', 65],
    ['D0004', '1', '11', 6],
    ['M0001', '1', '11', 25],
    ['T0001', '1', '11', 1000]
  ];
  for (const [item, site, warehouse, qty] of stock) {
    domain.setOnHand('usmf', item, site, warehouse, {
      onHand: qty,
      reserved: Math.floor(qty / 10),
      ordered: item === 'D0004' ? 10 : 0
    });
  }
  domain.setOnHand('demf', 'D0001', '1', '11', { onHand: 30 });
  domain.setOnHand('demf', 'A0001', '1', '11', { onHand: 200 });

  // Orders: two invoiced long ago (one paid in part), one invoiced and paid, two open.
  const order = (account: string, lines: Array<[string, number]>, reference = ''): string => {
    const h = domain.create(
      'SalesOrderHeadersV2',
      { OrderingCustomerAccountNumber: account, CustomersOrderReference: reference },
      'usmf'
    );
    for (const [item, qty] of lines)
      domain.create(
        'SalesOrderLines',
        {
          SalesOrderNumber: h.values.SalesOrderNumber!,
          ItemNumber: item,
          OrderedSalesQuantity: qty
        },
        'usmf'
      );
    return String(h.values.SalesOrderNumber);
  };
  const overdue = order(accounts[0]!, [
    ['D0001', 4],
    ['A0001', 10]
  ]);
  const partly = order(accounts[2]!, [['D0003', 10]]);
  const paid = order(accounts[1]!, [['M0001', 2]]);
  order(
    accounts[3]!,
    [
      ['D0002', 3],
      ['T0001', 20]
    ],
    '006Dn00000AbCdEFG1'
  );
  order(accounts[5]!, [['D0004', 1]]);
  domain.postSalesInvoice('usmf', overdue, daysAgo(75));
  const invPartly = domain.postSalesInvoice('usmf', partly, daysAgo(20));
  const invPaid = domain.postSalesInvoice('usmf', paid, daysAgo(40));
  domain.registerPayment('usmf', accounts[1]!, Number(invPaid.values.TotalInvoiceAmount), {
    invoiceNumber: String(invPaid.values.InvoiceNumber),
    date: daysAgo(10)
  });
  domain.registerPayment('usmf', accounts[2]!, 1000, {
    invoiceNumber: String(invPartly.values.InvoiceNumber),
    date: daysAgo(5)
  });
  domain.postFreeTextInvoice(
    'usmf',
    accounts[5]!,
    [{ description: 'Consulting services', amount: 1200 }],
    daysAgo(3)
  );
}

/** Benchmark volumes: customers and products in usmf, one on-hand row per product. */
function seedGenerated(domain: Domain, counts: { customers: number; products: number }): void {
  legalEntities(domain);
  const groups = ['10', '20', '30', '80', '90'];
  for (let i = 0; i < counts.customers; i++) {
    domain.create(
      'CustomersV3',
      {
        OrganizationName: `Customer ${i + 1}`,
        CustomerGroupId: groups[i % groups.length]!,
        AddressStreet: `${i + 1} Main Street`,
        AddressCity: 'Seattle',
        AddressState: 'WA',
        AddressZipCode: '98101',
        AddressCountryRegionId: 'USA',
        PaymentTerms: 'Net30'
      },
      'usmf'
    );
  }
  for (let i = 0; i < counts.products; i++) {
    const item = `G${String(i + 1).padStart(6, '0')}`;
    domain.create(
      'ReleasedProductsV2',
      { ItemNumber: item, ProductName: `Generated product ${i + 1}`, SalesPrice: 10 + (i % 90) },
      'usmf'
    );
    domain.setOnHand('usmf', item, '1', '11', { onHand: 100 + (i % 50) });
  }
}

export function seed(domain: Domain, option: SeedOption): void {
  if (option === 'empty') {
    legalEntities(domain);
    return;
  }
  if (option === 'demo') seedDemo(domain);
  else seedGenerated(domain, option);
}
