/** Salesforce sObject Collections: "up to 200 records" per request. */
export const SALESFORCE_COLLECTION_MAX_RECORDS = 200;
/** Salesforce Composite: "up to 25 subrequests in a single call". */
export const SALESFORCE_COMPOSITE_MAX_SUBREQUESTS = 25;
