// A test client that speaks exactly what Huawei's PHP SDK (iotyun/iot-huawei-php V1.5.1, src/client/NorthApiClient.php and invokeapi/*) sends and how it reads answers.
import http from 'node:http';
import https from 'node:https';

/**
 * What the PHP SDK does, transcribed in our own code (read from the SDK, not copied):
 * - login (`Authentication::getAuthToken`): POST with the body built by concatenation, `appId=…&secret=…`
 *   (not URL-encoded), `Content-Type: application/x-www-form-urlencoded`, no app_key, no Authorization;
 * - refresh (`refreshAuthToken`): POST JSON `{appId, secret, refreshToken}`, `Content-Type: application/json`;
 * - every other call (`invokeAPI7`): headers `app_key:<appId>` and `Authorization:Bearer <accessToken>`;
 *   POST/PUT add `Content-Type: application/json` and send `json_encode(dto)` only when the DTO has a
 *   field (an empty DTO goes with no body at all); DELETE sends a body only when it has one, with no
 *   Content-Type; GET sends the DTO's fields as the query (`http_build_query`, which leaves out nulls);
 * - the answer (`invokeAPI10`): 204 → null; a JSON body with `error_code` → a NorthApiException holding
 *   `error_code`, `error_desc` and the HTTP status, WHATEVER the status; otherwise < 300 → the decoded body
 *   (an empty one → null); a non-JSON answer → the SDK's own code 1011; any other failure → its 1005.
 * Field spellings are the SDK DTOs' (`callbackurl` in SubDeviceManagementDataInDTO, `totalSize` in
 * Pagination, `appId` in the query of the data-collection calls).
 */

/** NorthApiException: what the SDK hands its caller instead of a DTO. */
export class NorthApiException extends Error {
  constructor(
    readonly httpStatusCode: number,
    readonly error_code: string,
    readonly error_desc: string,
  ) {
    super(`${error_code} ${error_desc} (HTTP ${httpStatusCode})`);
    this.name = 'NorthApiException';
  }
}

/** The SDK's own codes (src/constant/ExceptionEnum.php): never sent by the platform. */
export const SDK_CODES = { CLIENT_ERROR_BUT_NO_ERRORCODE: '1005', PORT_ERROR: '1011' } as const;

export interface ClientInfo {
  /** `https://ip:port` as the SDK builds it from platformIp/platformPort (http for a plain test port). */
  baseUrl: string;
  appId: string;
  /** Behind the gateway: the service's gateway API key. */
  secret: string;
  /** For the HTTPS port: the CA to trust and, for mutual TLS, the client certificate and key (the SDK's client.pem/client.key). */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
}

export interface AuthOutDTO {
  accessToken: string;
  tokenType: string;
  refreshToken: string;
  expiresIn: number;
  scope: string;
}

interface Raw {
  status: number;
  contentType: string;
  text: string;
  headers: http.IncomingHttpHeaders;
}

type Query = Record<string, string | number | boolean | null | undefined>;

export class SdkClient {
  /** The last answer's headers, for tests that look at them (the SDK itself ignores them). */
  lastHeaders: http.IncomingHttpHeaders = {};
  /** The last answer's HTTP status (kept by the SDK in NorthApiException only; tests compare it with the platform's). */
  lastStatus = 0;

  constructor(readonly info: ClientInfo) {}

  private raw(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Raw> {
    const url = new URL(this.info.baseUrl + path);
    const lib = url.protocol === 'https:' ? https : http;
    const tls = this.info.tls ?? {};
    return new Promise((resolve, reject) => {
      const req = lib.request(
        url,
        {
          method,
          headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
          // The SDK turns peer verification off (CURLOPT_SSL_VERIFYPEER=false); the test trusts its CA instead.
          ...(url.protocol === 'https:' ? { ca: tls.ca, cert: tls.cert, key: tls.key, agent: false } : {}),
          timeout: 10_000,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (text += d));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text, headers: res.headers }),
          );
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  /** invokeAPI10's reading of an answer. */
  private read<T>(r: Raw): T | null {
    this.lastHeaders = r.headers;
    this.lastStatus = r.status;
    if (r.status === 204) return null;
    let content: unknown = null;
    try {
      content = r.text === '' ? null : JSON.parse(r.text);
    } catch {
      content = null;
    }
    if (content !== null && typeof content === 'object' && 'error_code' in content) {
      const c = content as { error_code: unknown; error_desc: unknown };
      throw new NorthApiException(r.status, String(c.error_code), String(c.error_desc));
    }
    if (r.status < 300) return (content as T) ?? null;
    if (!r.contentType.includes('json')) throw new NorthApiException(r.status, SDK_CODES.PORT_ERROR, 'The input port is not right.');
    throw new NorthApiException(r.status, SDK_CODES.CLIENT_ERROR_BUT_NO_ERRORCODE, 'Invoke API error but no error_code and error_desc.');
  }

  async getAuthToken(): Promise<AuthOutDTO> {
    const form = `appId=${this.info.appId}&secret=${this.info.secret}`;
    const r = await this.raw('POST', '/iocm/app/sec/v1.1.0/login', { 'Content-Type': 'application/x-www-form-urlencoded' }, form);
    return this.read<AuthOutDTO>(r) as AuthOutDTO;
  }

  async refreshAuthToken(refreshToken: string): Promise<AuthOutDTO> {
    const body = JSON.stringify({ appId: this.info.appId, secret: this.info.secret, refreshToken });
    const r = await this.raw('POST', '/iocm/app/sec/v1.1.0/refreshToken', { 'Content-Type': 'application/json' }, body);
    return this.read<AuthOutDTO>(r) as AuthOutDTO;
  }

  /** invokeAPI7: one API call with the session token. */
  async invoke<T = any>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, accessToken: string, query?: Query, dto?: object): Promise<T | null> {
    const headers: Record<string, string> = { app_key: this.info.appId, Authorization: `Bearer ${accessToken}` };
    let body: string | undefined;
    if (method === 'POST' || method === 'PUT') {
      headers['Content-Type'] = 'application/json';
      if (dto && Object.keys(dto).length > 0) body = JSON.stringify(dto);
    } else if (method === 'DELETE' && dto && Object.keys(dto).length > 0) {
      body = JSON.stringify(dto);
    }
    let url = path;
    const q = Object.entries(query ?? {}).filter(([, v]) => v !== null && v !== undefined);
    if (q.length > 0) url += `?${new URLSearchParams(q.map(([k, v]): [string, string] => [k, String(v)])).toString()}`;
    return this.read<T>(await this.raw(method, url, headers, body));
  }

  // The SDK's methods used by the tests, with its paths (src/constant/Constant.php) and DTO field names.

  queryUpgradePackageList(token: string, q: { fileType?: string; pageNo?: number; pageSize?: number } = {}) {
    return this.invoke('GET', '/iodm/northbound/v1.5.0/category', token, q);
  }
  queryUpgradePackage(token: string, fileId: string) {
    return this.invoke('GET', `/iodm/northbound/v1.5.0/category/${fileId}`, token);
  }
  createSoftwareUpgradeTask(token: string, dto: object) {
    return this.invoke('POST', '/iodm/northbound/v1.5.0/operations/softwareUpgrade', token, undefined, dto);
  }
  queryUpgradeTask(token: string, operationId: string) {
    return this.invoke('GET', `/iodm/northbound/v1.5.0/operations/${operationId}`, token);
  }
  queryUpgradeSubTask(token: string, operationId: string, q: { subOperationStatus?: string; pageNo?: number; pageSize?: number } = {}) {
    return this.invoke('GET', `/iodm/northbound/v1.5.0/operations/${operationId}/subOperations`, token, q);
  }
  regDirectDevice(token: string, dto: object) {
    return this.invoke('POST', '/iocm/app/reg/v1.1.0/deviceCredentials', token, undefined, dto);
  }
  querySingleDeviceInfo(token: string, deviceId: string) {
    return this.invoke('GET', `/iocm/app/dm/v1.4.0/devices/${deviceId}`, token);
  }
  deleteDirectDevice(token: string, deviceId: string) {
    return this.invoke('DELETE', `/iocm/app/dm/v1.4.0/devices/${deviceId}`, token);
  }
  postDeviceCommand(token: string, dto: object) {
    return this.invoke('POST', '/iocm/app/cmd/v1.4.0/deviceCommands', token, undefined, dto);
  }
  /** QueryDeviceCommandInDTO2: pageNo, pageSize, deviceId, startTime, endTime, appId. */
  queryDeviceCommand(token: string, q: Query) {
    return this.invoke('GET', '/iocm/app/cmd/v1.4.0/deviceCommands', token, q);
  }
  /** QueryDeviceDataHistoryInDTO: deviceId, gatewayId, serviceId, property, pageNo, pageSize, startTime, endTime, appId. */
  queryDeviceDataHistory(token: string, q: Query) {
    return this.invoke('GET', '/iocm/app/data/v1.2.0/deviceDataHistory', token, q);
  }
  /** SubDeviceManagementDataInDTO: notifyType and `callbackurl` (lower case, as the SDK spells it). */
  subDeviceManagementData(token: string, notifyType: string, callbackurl: string) {
    return this.invoke('POST', '/iodm/app/sub/v1.1.0/subscribe', token, undefined, { notifyType, callbackurl });
  }
  /**
   * SubscriptionManagement::subDeviceData3 with SubDeviceDataInDTO (appId, notifyType, `callbackUrl` in camel case
   * here, channel; nulls left out). Its `ownerFlag` query is built but never sent: postData ignores the query.
   */
  subDeviceData(token: string, dto: { notifyType: string; callbackUrl: string; appId?: string; channel?: string }) {
    return this.invoke('POST', '/iocm/app/sub/v1.2.0/subscriptions', token, undefined, dto);
  }
  /** querySingleSubscription: the SDK's appId argument never reaches the query (fillQueryParas works on a copy). */
  querySingleSubscription(token: string, subscriptionId: string) {
    return this.invoke('GET', `/iocm/app/sub/v1.2.0/subscriptions/${subscriptionId}`, token);
  }
  deleteSingleSubscription(token: string, subscriptionId: string) {
    return this.invoke('DELETE', `/iocm/app/sub/v1.2.0/subscriptions/${subscriptionId}`, token);
  }
  /** QueryBatchSubInDTO's fields as the query (appId, notifyType, pageNo, pageSize). */
  queryBatchSubscriptions(token: string, q: Query = {}) {
    return this.invoke('GET', '/iocm/app/sub/v1.2.0/subscriptions', token, q);
  }
  /** deleteBatchSubscriptions: DeleteBatchSubInDTO's filters are built as a query that deleteData never sends, so every one goes. */
  deleteBatchSubscriptions(token: string) {
    return this.invoke('DELETE', '/iocm/app/sub/v1.2.0/subscriptions', token);
  }
}
