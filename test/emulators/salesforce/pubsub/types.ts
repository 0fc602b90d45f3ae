// Shared with the emulator core (sf-core builds these from force-app/**/objects/*__e/).

export type PlatformEventFieldType =
  | 'Text'
  | 'TextArea'
  | 'LongTextArea'
  | 'Number'
  | 'Checkbox'
  | 'Date'
  | 'DateTime'
  | 'Email'
  | 'Phone'
  | 'Url'
  | 'Picklist';

export interface PlatformEventField {
  /** e.g. 'Record_Id__c' */
  apiName: string;
  type: PlatformEventFieldType;
  length?: number;
  precision?: number;
  scale?: number;
}

export interface PlatformEventDefinition {
  /** e.g. 'D365_Sync_Result__e' */
  apiName: string;
  fields: PlatformEventField[];
}

export interface PubSubCaller {
  /** 18-character 005 id */
  userId: string;
  /** 18-character 00D id */
  orgId: string;
}

/** The gRPC call metadata the Pub/Sub API authenticates with (proto service comment). */
export interface PubSubAuthMetadata {
  accesstoken?: string;
  instanceurl?: string;
  tenantid?: string;
}

/** Field types a Change Data Capture event can carry, beyond those of platform events. */
export type ChangeEventFieldType = PlatformEventFieldType | 'Reference' | 'Currency' | 'Address';

export interface ChangeEventField {
  /** e.g. 'Name', 'BillingAddress', 'D365_Customer_Number__c' */
  apiName: string;
  type: ChangeEventFieldType;
  length?: number;
}

/** An object with Change Data Capture enabled, e.g. Account → topic /data/AccountChangeEvent. */
export interface ChangeEventEntity {
  entityName: string;
  /** In the order of the object's fields: bitmap positions follow this order. */
  fields: ChangeEventField[];
}
