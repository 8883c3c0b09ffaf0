/**
 * The OneMap API as the page sees it: URLs relative to the page (so a proxy prefix is kept),
 * the API key in the X-API-Key header (never in a URL, where it would end up in logs and
 * browser history), and the server's JSON errors turned into ApiError.
 */

const KEY_STORAGE = 'onemap.apiKey';

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code  the server's stable error code, or 'NetworkError'
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export class Api {
  constructor(base = document.baseURI) {
    this.base = base;
    /** The key in use; '' for none. */
    this.key = '';
  }

  /** The key saved by the user last time, if any. */
  static savedKey() {
    try { return localStorage.getItem(KEY_STORAGE) ?? ''; } catch { return ''; }
  }

  static saveKey(key) {
    try {
      if (key) localStorage.setItem(KEY_STORAGE, key);
      else localStorage.removeItem(KEY_STORAGE);
    } catch { /* storage disabled (private mode): the key lasts for this page only */ }
  }

  /** An absolute URL for a path relative to the page, with query parameters (undefined ones left out). */
  url(path, params = {}) {
    const u = new URL(path, this.base);
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== '') u.searchParams.set(name, String(value));
    }
    return u.href;
  }

  /** True for URLs of this service, the only ones that may carry the key. */
  isOwn(url) {
    try { return new URL(url, this.base).origin === new URL(this.base).origin; } catch { return false; }
  }

  headers(extra = {}) {
    return this.key ? { ...extra, 'X-API-Key': this.key } : extra;
  }

  /**
   * GET a JSON document. Throws ApiError with the server's code and message on any non-2xx.
   * @param {string} path
   * @param {Record<string, string | undefined>} [params]
   * @param {{ signal?: AbortSignal, key?: string }} [options]  key overrides the current key ('' for none)
   */
  async getJson(path, params = {}, options = {}) {
    const key = options.key ?? this.key;
    let res;
    try {
      res = await fetch(this.url(path, params), {
        headers: key ? { Accept: 'application/json', 'X-API-Key': key } : { Accept: 'application/json' },
        signal: options.signal,
      });
    } catch (err) {
      if (err?.name === 'AbortError') throw err;
      throw new ApiError(0, 'NetworkError', '无法连接服务器');
    }
    const text = await res.text();
    let body;
    try { body = text ? JSON.parse(text) : null; } catch { body = null; }
    if (!res.ok) {
      const e = body?.error;
      throw new ApiError(res.status, e?.code ?? `HTTP${res.status}`, e?.message ?? `HTTP ${res.status}`);
    }
    return body;
  }
}
