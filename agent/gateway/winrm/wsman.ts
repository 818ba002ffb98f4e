import { randomUUID } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';

/**
 * WS-Management messages for the Windows remote shell (MS-WSMV 3.1.4: Create, Command, Receive,
 * Signal, Delete), built as Windows' own client builds them, and the parts of the answers we read.
 */

export const NS = {
  s: 'http://www.w3.org/2003/05/soap-envelope',
  a: 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
  w: 'http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd',
  p: 'http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd',
  rsp: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell',
} as const;

export const SHELL_RESOURCE = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd';
export const Action = {
  Create: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Create',
  Delete: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete',
  Command: `${NS.rsp}/Command`,
  Receive: `${NS.rsp}/Receive`,
  Signal: `${NS.rsp}/Signal`,
} as const;
export const SIGNAL_TERMINATE = `${NS.rsp}/signal/terminate`;
export const COMMAND_DONE = `${NS.rsp}/CommandState/Done`;
/** The WSManFault code of a Receive that saw no output within OperationTimeout: ask again. */
export const OPERATION_TIMED_OUT = '2150858793';

const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export interface EnvelopeOptions {
  to: string;
  action: string;
  shellId?: string;
  options?: Record<string, string>;
  operationTimeoutSeconds: number;
  body: string;
  messageId?: string;
}

export function envelope(o: EnvelopeOptions): { xml: string; messageId: string } {
  const messageId = o.messageId ?? `uuid:${randomUUID().toUpperCase()}`;
  const selector = o.shellId
    ? `<w:SelectorSet><w:Selector Name="ShellId">${escapeXml(o.shellId)}</w:Selector></w:SelectorSet>`
    : '';
  const options = o.options
    ? `<w:OptionSet>${Object.entries(o.options)
        .map(([name, value]) => `<w:Option Name="${escapeXml(name)}">${escapeXml(value)}</w:Option>`)
        .join('')}</w:OptionSet>`
    : '';
  const xml =
    `<?xml version="1.0" encoding="utf-8"?>` +
    `<s:Envelope xmlns:s="${NS.s}" xmlns:a="${NS.a}" xmlns:w="${NS.w}" xmlns:p="${NS.p}" xmlns:rsp="${NS.rsp}">` +
    `<s:Header><a:To>${escapeXml(o.to)}</a:To>` +
    `<a:ReplyTo><a:Address s:mustUnderstand="true">${NS.a}/role/anonymous</a:Address></a:ReplyTo>` +
    `<w:MaxEnvelopeSize s:mustUnderstand="true">512000</w:MaxEnvelopeSize>` +
    `<a:MessageID>${messageId}</a:MessageID>` +
    `<w:Locale xml:lang="en-US" s:mustUnderstand="false"/><p:DataLocale xml:lang="en-US" s:mustUnderstand="false"/>` +
    `<w:OperationTimeout>PT${o.operationTimeoutSeconds}S</w:OperationTimeout>` +
    `<w:ResourceURI s:mustUnderstand="true">${SHELL_RESOURCE}</w:ResourceURI>` +
    `<a:Action s:mustUnderstand="true">${o.action}</a:Action>${selector}${options}</s:Header>` +
    `<s:Body>${o.body}</s:Body></s:Envelope>`;
  return { xml, messageId };
}

export const createShellBody = (codepage = 65001): { body: string; options: Record<string, string> } => ({
  body: `<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>`,
  options: { WINRS_NOPROFILE: 'TRUE', WINRS_CODEPAGE: String(codepage) },
});

export const commandBody = (command: string, args: string[]): string =>
  `<rsp:CommandLine><rsp:Command>${escapeXml(command)}</rsp:Command>` +
  args.map((a) => `<rsp:Arguments>${escapeXml(a)}</rsp:Arguments>`).join('') +
  `</rsp:CommandLine>`;

export const receiveBody = (commandId: string): string =>
  `<rsp:Receive><rsp:DesiredStream CommandId="${escapeXml(commandId)}">stdout stderr</rsp:DesiredStream></rsp:Receive>`;

export const signalBody = (commandId: string, code = SIGNAL_TERMINATE): string =>
  `<rsp:Signal CommandId="${escapeXml(commandId)}"><rsp:Code>${code}</rsp:Code></rsp:Signal>`;

// Namespace prefixes vary between peers (Windows uses s:, pywinrm env:), so we read local names.
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  textNodeName: '#text',
  isArray: (name) => name === 'Stream' || name === 'Selector' || name === 'Arguments' || name === 'Option',
});

// The parsed tree is loosely typed by nature; accessors below narrow it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type XmlNode = any;

export function parseEnvelope(xml: string): { header: XmlNode; body: XmlNode } {
  const doc = parser.parse(xml) as XmlNode;
  const env = doc?.Envelope;
  if (!env || typeof env !== 'object') throw new Error('not a SOAP envelope');
  return { header: env.Header ?? {}, body: env.Body ?? {} };
}

export const text = (node: XmlNode): string =>
  node === undefined || node === null
    ? ''
    : typeof node === 'object'
      ? String(node['#text'] ?? '')
      : String(node);

export interface Fault {
  code: string;
  subcode: string;
  wsmanCode: string | null;
  reason: string;
}

export function readFault(body: XmlNode): Fault | null {
  const fault = body?.Fault;
  if (!fault) return null;
  const detail = fault.Detail?.WSManFault;
  return {
    code: text(fault.Code?.Value),
    subcode: text(fault.Code?.Subcode?.Value),
    wsmanCode: detail?.['@Code'] ?? null,
    reason: (text(fault.Reason?.Text) || text(detail?.Message)).trim(),
  };
}

export interface ReceiveChunk {
  stdout: Buffer;
  stderr: Buffer;
  done: boolean;
  exitCode: number | null;
}

export function readReceive(body: XmlNode): ReceiveChunk {
  const response = body?.ReceiveResponse ?? {};
  const streams: XmlNode[] = response.Stream ?? [];
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  for (const s of streams) {
    const data = Buffer.from(text(s), 'base64');
    if (s['@Name'] === 'stdout') out.push(data);
    else if (s['@Name'] === 'stderr') err.push(data);
  }
  const state = response.CommandState;
  const done = typeof state?.['@State'] === 'string' && state['@State'].endsWith('CommandState/Done');
  const exit = done ? text(state.ExitCode) : '';
  return {
    stdout: Buffer.concat(out),
    stderr: Buffer.concat(err),
    done,
    exitCode: exit ? Number(exit) : null,
  };
}
