// OData error envelopes as F&O returns them (shared/reference/d365-fo.md §1.8).

export interface ErrorBody {
  error: {
    code: string;
    message: string;
    innererror?: { message: string; type: string; stacktrace: string };
  };
}

export class ODataError extends Error {
  readonly status: number;
  readonly body: ErrorBody;
  readonly headers: Record<string, string>;

  constructor(status: number, body: ErrorBody, headers: Record<string, string> = {}) {
    super(body.error.innererror?.message ?? body.error.message);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

const WRITE_EXCEPTION =
  'Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException';
const ODATA_EXCEPTION = 'Microsoft.OData.ODataException';

/** One Infolog line: D365 prefixes each with its severity and joins them with "; ". */
export interface InfologLine {
  severity: 'Info' | 'Warning' | 'Error';
  text: string;
}

export function infologText(lines: InfologLine[]): string {
  return lines.map((l) => `${l.severity}: ${l.text}`).join('; ');
}

/** Validation and write failures: HTTP 500 with AxODataWriteException, never 400 (§1.8). */
export function writeFailed(aotName: string, lines: InfologLine[], verb = 'Write'): ODataError {
  return new ODataError(500, {
    error: {
      code: '',
      message: 'An error has occurred.',
      innererror: {
        message: `${verb} failed for table row of type '${aotName}'. Infolog: ${infologText(lines)}`,
        type: WRITE_EXCEPTION,
        stacktrace:
          '   at Microsoft.Dynamics.Platform.Integration.Services.OData.Update.UpdateProcessor.CreateEntity_Save(ChangeOperationContext context, ChangeInfo changeInfo)'
      }
    }
  });
}

/** Query and payload syntax errors: the generic OData stack's 400 shape (F&O body UNCONFIRMED). */
export function badRequest(message: string): ODataError {
  return new ODataError(400, {
    error: {
      code: '',
      message,
      innererror: { message, type: ODATA_EXCEPTION, stacktrace: '' }
    }
  });
}

export function notFound(message: string): ODataError {
  return new ODataError(404, { error: { code: '', message } });
}

export function methodNotAllowed(message: string): ODataError {
  return new ODataError(405, { error: { code: '', message } });
}

export function preconditionFailed(): ODataError {
  return new ODataError(412, {
    error: {
      code: '',
      message:
        'The ETag value in the request header does not match with the current ETag value of the object.'
    }
  });
}
