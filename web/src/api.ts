// The one way this client talks to the API: a bearer token on every call, and every failure turned into an ApiError
// whose message is a sentence a person can read (the API's own `message`), never a JSON body.

interface FieldError {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    message: string,
    /** 0 when the service could not be reached at all. */
    readonly status: number,
    readonly code: string,
    readonly fields: FieldError[] = [],
  ) {
    super(message);
  }
}

const UNREACHABLE = "The service could not be reached. Check your connection; it will be tried again.";

export interface Api {
  readonly token: string;
  get<T>(path: string, signal?: AbortSignal): Promise<T>;
  send<T>(method: "POST" | "PUT" | "PATCH" | "DELETE", path: string, body?: unknown): Promise<T>;
}

export function createApi(token: string, onUnauthenticated: (message: string) => void): Api {
  async function request<T>(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? null : JSON.stringify(body),
        signal: signal ?? null,
        cache: "no-store",
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new ApiError(UNREACHABLE, 0, "UNREACHABLE");
    }
    if (res.ok) return (await res.json()) as T;
    const error = await errorOf(res);
    if (error.status === 401) onUnauthenticated(error.message);
    throw error;
  }
  return {
    token,
    get: (path, signal) => request("GET", path, undefined, signal),
    send: (method, path, body) => request(method, path, body ?? (method === "DELETE" ? undefined : {})),
  };
}

async function errorOf(res: Response): Promise<ApiError> {
  const payload = (await res.json().catch(() => null)) as {
    error?: { code?: string; message?: string; details?: { fields?: FieldError[] } };
  } | null;
  const error = payload?.error;
  const fields = Array.isArray(error?.details?.fields) ? error.details.fields : [];
  const message =
    fields.length > 0
      ? sentence(fields.map((f) => `${fieldName(f.path)} ${f.message}`).join("; "))
      : error?.message
        ? sentence(error.message)
        : `The service answered ${res.status}${res.statusText ? ` (${res.statusText})` : ""}.`;
  return new ApiError(message, res.status, error?.code ?? `HTTP_${res.status}`, fields);
}

/** `body.window.from` → `window from`: the field as a person filled it in. */
function fieldName(path: string): string {
  return path.replace(/^(body|query|params)\.?/, "").replace(/\./g, " ") || "the request";
}

function sentence(text: string): string {
  const trimmed = text.trim();
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

export const messageOf = (err: unknown): string =>
  err instanceof ApiError ? err.message : "Something went wrong in this page; reload it to go on.";
