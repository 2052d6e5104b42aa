/**
 * A browser reduced to what sign-in needs, over plain HTTP: a cookie jar per origin, redirects
 * followed by hand (so a test can stop at, inspect or alter any hop), and HTML forms submitted with
 * their hidden fields plus the ones the test fills in. Enough to drive oidc-provider's login and
 * consent pages and tandem serve's /auth routes as a person's browser would.
 */
export interface Hop {
  status: number;
  url: string;
  location?: string;
  setCookies: string[];
  body: string;
}

export class Browser {
  /** origin -> cookie name -> value */
  private readonly jars = new Map<string, Map<string, string>>();

  /** The cookies this browser holds for the origin of `url`. */
  cookies(url: string): Map<string, string> {
    const origin = new URL(url).origin;
    let jar = this.jars.get(origin);
    if (!jar) this.jars.set(origin, (jar = new Map()));
    return jar;
  }

  cookieHeader(url: string): string {
    return [...this.cookies(url)].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** One request, no redirect followed; the answer's cookies are kept (Max-Age=0 removes one). */
  async request(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Hop> {
    const headers: Record<string, string> = { ...init.headers };
    const cookie = this.cookieHeader(url);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const response = await fetch(url, { method: init.method ?? (init.form ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    const setCookies = response.headers.getSetCookie();
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const removed = value === '' || attributes.some((a) => /^\s*max-age=0\s*$/i.test(a)) || attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (removed) this.cookies(url).delete(name);
      else this.cookies(url).set(name, value);
    }
    const location = response.headers.get('location');
    return { status: response.status, url, ...(location ? { location: new URL(location, url).href } : {}), setCookies, body: await response.text() };
  }

  /**
   * Follows redirects and submits the forms of the pages on the way (each with its hidden fields
   * and `fill`), until a redirect leads to a URL that `stop` accepts; returns that URL.
   */
  async travel(start: string, stop: (url: string) => boolean, fill: Record<string, string> = {}, maxHops = 20): Promise<string> {
    let hop = await this.request(start);
    for (let i = 0; i < maxHops; i++) {
      if (hop.location) {
        if (stop(hop.location)) return hop.location;
        hop = await this.request(hop.location);
        continue;
      }
      const form = /<form[^>]*action="([^"]+)"[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/i.exec(hop.body);
      if (hop.status !== 200 || !form) throw new Error(`stuck at ${hop.url}: ${hop.status} ${hop.body.slice(0, 500)}`);
      const fields: Record<string, string> = {};
      for (const input of form[2]!.matchAll(/<input[^>]*>/gi)) {
        const name = /name="([^"]+)"/.exec(input[0])?.[1];
        if (!name) continue;
        fields[name] = fill[name] ?? /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
      }
      hop = await this.request(new URL(decodeEntities(form[1]!), hop.url).href, { form: fields });
    }
    throw new Error(`no stop after ${maxHops} hops from ${start}`);
  }
}

function decodeEntities(text: string): string {
  return text.replace(/&amp;/g, '&').replace(/&#x2F;/gi, '/').replace(/&#47;/g, '/').replace(/&quot;/g, '"');
}
