import type {
  AgentTaskMessage,
  CheckInRequest,
  CheckInResponse,
  EnrollRequest,
  EnrollResponse,
  ProgressRequest,
  ResultRequest,
  ResultResponse,
} from '../infra/wire/agent-protocol';

/** An HTTP answer the agent must act on (401: key revoked; 4xx: our bug; 5xx/429: retry). */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** The agent's side of /v1 over real HTTP. */
export class AgentApiClient {
  agentKey: string | null = null;

  constructor(
    private readonly baseUrl: string,
    private readonly fetchImpl: FetchLike = (url, init) => fetch(url, init),
  ) {}

  private async request<T>(
    method: string,
    route: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<{ status: number; body: T | null }> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.agentKey) headers.authorization = `Bearer ${this.agentKey}`;
    const res = await this.fetchImpl(new URL(route, this.baseUrl).toString(), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    if (res.status === 204) return { status: 204, body: null };
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as unknown) : null;
    if (!res.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
      const retryAfter = Number(res.headers.get('retry-after')) || undefined;
      throw new ApiError(
        res.status,
        error?.code ?? `HTTP_${res.status}`,
        error?.message ?? res.statusText,
        retryAfter,
      );
    }
    return { status: res.status, body: parsed as T };
  }

  async enroll(req: EnrollRequest): Promise<EnrollResponse> {
    return (await this.request<EnrollResponse>('POST', '/v1/enroll', req)).body!;
  }

  async checkIn(req: CheckInRequest): Promise<CheckInResponse> {
    return (await this.request<CheckInResponse>('POST', '/v1/agent/check-in', req)).body!;
  }

  async poll(waitSeconds: number, signal?: AbortSignal): Promise<AgentTaskMessage | null> {
    const res = await this.request<{ task: AgentTaskMessage }>(
      'GET',
      `/v1/agent/tasks?wait=${waitSeconds}`,
      undefined,
      signal,
    );
    return res.body?.task ?? null;
  }

  async progress(taskId: string, req: ProgressRequest): Promise<void> {
    await this.request('POST', `/v1/agent/tasks/${taskId}/progress`, req);
  }

  /**
   * Reports a task's result. With `waitSeconds`, the same request then long-polls for the next task
   * (one request per step instead of a result and a poll); returns it, or null.
   */
  async result(
    taskId: string,
    req: ResultRequest,
    waitSeconds?: number,
    signal?: AbortSignal,
  ): Promise<AgentTaskMessage | null> {
    const res = await this.request<ResultResponse>(
      'POST',
      `/v1/agent/tasks/${taskId}/result${waitSeconds === undefined ? '' : `?wait=${waitSeconds}`}`,
      req,
      signal,
    );
    return res.body?.task ?? null;
  }
}
