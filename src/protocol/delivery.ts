/** The delivery API's JSON: what ordered consumption POSTs to the application, shared by the sidecar and the SDK. */

/** JSON of one message in the delivery contract; bytes that are not UTF-8 go as base64, flagged. */
export interface DeliveredMessage {
  offset: string;
  key: string | null;
  key_encoding?: 'base64';
  value: string | null;
  value_encoding?: 'base64';
  headers: Record<string, string>;
  timestamp: string;
}

/** The body a push subscription POSTs to the application's endpoint (docs/consumption.md). */
export interface DeliveryBody {
  subscription: string;
  topic: string;
  partition: number;
  message_group: string | null;
  attempt: number;
  messages: DeliveredMessage[];
}
